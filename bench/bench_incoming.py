"""Incoming webhooks, two comparisons on one server (2 workers, the addon loaded server-wide).

1. The addon's door against stock 18.0's: the same "Secret URL only" rule, whose action writes one
   field, in this database and in a second database of the same server without the addon (stock
   18.0's controller and ``_execute_webhook``). Senders send no X-Odoo-Database header: each
   database is reached by its host name (``--db-filter=^%d$``).
2. In the addon's database, a secret-URL-only rule vs a rule with Standard Webhooks + JSON Schema +
   dedupe, running the same code action on the same payload; every call to the safe rule carries
   a fresh ``webhook-id`` (so none is a duplicate) and a valid signature, produced before the
   round starts so that client-side signing costs nothing in the measured time.
Rounds alternate the two sides so that drift hits both alike; each round runs CLIENTS keep-alive
client threads for SECONDS and counts answered calls.
"""
import itertools
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from server import BenchServer, throughput  # noqa: E402
from webhook_signatures import sign_standard_webhooks  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 6))
SECONDS = float(os.environ.get("BENCH_SECONDS", 4))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 2))
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SCHEMA = {
    "type": "object",
    "required": ["_model", "_id", "event"],
    "properties": {
        "_model": {"const": "res.partner"},
        "_id": {"type": "integer"},
        "event": {"type": "object", "required": ["type", "name"],
                  "properties": {"type": {"type": "string"}, "name": {"type": "string", "maxLength": 64}}},
    },
}
STOCK_DB = "stock_bench"
ONE_FIELD = """
import json
partners = env["res.partner"].create([{"name": "bench webhook target %%d" %% i} for i in range(%(clients)d)])
model = env.ref("base.model_res_partner")
rule = env["base.automation"].create({"name": "bench one field", "model_id": model.id, "trigger": "on_webhook"})
env["ir.actions.server"].create({"name": "write one field", "model_id": model.id, "state": "code",
                                 "code": "record.write({'ref': 'hook'})", "base_automation_id": rule.id,
                                 "usage": "base_automation"})
env.cr.commit()
print("SETUP=" + json.dumps({"partners": partners.ids, "uuid": rule.webhook_uuid}))
"""
SETUP = """
import json
partner = env["res.partner"].create({"name": "bench webhook target"})
model = env.ref("base.model_res_partner")
code = "env['res.partner.category'].create({'name': payload['event']['name']})"
uuids = {}
for name, values in [
    ("native", {}),
    ("safe", {"webhook_auth_mode": "standard_webhooks", "webhook_secret": %(secret)r,
              "webhook_payload_schema": %(schema)r, "webhook_dedupe_source": "webhook_id"}),
]:
    rule = env["base.automation"].create({"name": "bench " + name, "model_id": model.id,
                                          "trigger": "on_webhook", **values})
    env["ir.actions.server"].create({"name": "bench action", "model_id": model.id, "state": "code",
                                     "code": code, "base_automation_id": rule.id, "usage": "base_automation"})
    uuids[name] = rule.webhook_uuid
env.cr.commit()
print("SETUP=" + json.dumps({"partner": partner.id, **uuids}))
"""


def hook_throughput(srv, uuid_, body, headers_pool, db=None):
    """Calls/s to a rule; ``body`` may be a list with one body per client thread, so that each
    client writes its own record (two writers of one row get serialization retries instead)."""
    host = srv.host_headers(db or srv.db)
    bodies, local, clients = (body if isinstance(body, list) else [body]), threading.local(), itertools.count()

    def post(session):
        if not hasattr(local, "body"):
            local.body = bodies[next(clients) % len(bodies)]
        headers = {"Content-Type": "application/json", **host, **(next(headers_pool) if headers_pool else {})}
        res = session.post(f"{srv.url}/web/hook/{uuid_}", data=local.body, headers=headers, timeout=30)
        assert res.status_code == 200 and res.json() == {"status": "ok"}, (res.status_code, res.text)

    return throughput(post, CLIENTS, SECONDS)


def signed_pool(body, size=20000):
    """Fresh ids and signatures for one round (the iterator is shared by the client threads)."""
    now = time.time()
    headers = [sign_standard_webhooks(SECRET, f"msg_{uuid.uuid4().hex}", now, body) for _ in range(size)]
    lock = threading.Lock()
    source = iter(headers)

    class Pool:
        def __next__(self):
            with lock:
                return next(source)

        def __bool__(self):
            return True

    return Pool()


def setup(srv, code, db=None):
    return json.loads(srv.shell(code, db=db).split("SETUP=")[1].splitlines()[0])


def alternate(measures):
    """Average calls/s of each ``{name: measure}``, measured in alternating rounds."""
    totals = {name: [] for name in measures}
    names = list(measures)
    for r in range(ROUNDS):
        for name in names[r % len(names):] + names[:r % len(names)]:
            totals[name].append(measures[name]())
    return {name: sum(values) / ROUNDS for name, values in totals.items()}


def main():
    with BenchServer(workers=2, extra_args=["--load=base,web,integration_suite"], db_filter="^%d$",
                     extra_dbs={STOCK_DB: "base_automation"}) as srv:
        code = ONE_FIELD % {"clients": CLIENTS}
        one = {"addon": setup(srv, code), "stock": setup(srv, code, db=STOCK_DB)}
        bodies = {side: [json.dumps({"_model": "res.partner", "_id": partner}).encode()
                         for partner in one[side]["partners"]] for side in one}
        sides = {"addon": srv.db, "stock": STOCK_DB}
        for side, db in sides.items():  # warm both databases (registries, caches)
            hook_throughput(srv, one[side]["uuid"], bodies[side], None, db=db)
        doors = alternate({side: (lambda side=side, db=db: hook_throughput(srv, one[side]["uuid"], bodies[side],
                                                                            None, db=db))
                           for side, db in sides.items()})

        rules = setup(srv, SETUP % {"secret": SECRET, "schema": json.dumps(SCHEMA)})
        body = json.dumps({"_model": "res.partner", "_id": rules["partner"],
                           "event": {"type": "tag.created", "name": "bench tag"}}).encode()
        for _ in range(2):  # warm both rules (registry, caches, validator)
            hook_throughput(srv, rules["native"], body, None)
            hook_throughput(srv, rules["safe"], body, signed_pool(body, 2000))
        modes = alternate({
            "native": lambda: hook_throughput(srv, rules["native"], body, None),
            "safe": lambda: hook_throughput(srv, rules["safe"], body, signed_pool(body)),
        })
    print(f"addon /web/hook, secret URL rule writing one field      : {doors['addon']:8.1f} calls/s")
    print(f"stock 18.0 /web/hook, same rule, database without addon : {doors['stock']:8.1f} calls/s")
    print(f"ratio addon / stock                                     : {doors['addon'] / doors['stock']:8.2f}  "
          "(target >= 1.0)")
    print(f"secret URL rule, code action (addon)                    : {modes['native']:8.1f} calls/s")
    print(f"safe rule (Standard Webhooks + JSON Schema + dedupe)    : {modes['safe']:8.1f} calls/s")
    print(f"ratio safe / secret URL                                 : {modes['safe'] / modes['native']:8.2f}  "
          "(target >= 0.9)")
    print(f"({ROUNDS} alternating rounds of {SECONDS:.0f}s, {CLIENTS} keep-alive clients, 2 Odoo workers; "
          "the addon logs every call)")


if __name__ == "__main__":
    main()
