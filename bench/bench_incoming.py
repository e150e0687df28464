"""Incoming webhooks: 18.0's secret-URL-only rule vs a rule with Standard Webhooks + JSON Schema + dedupe.

Both rules run the same code action on the same payload; every call to the safe rule carries
a fresh ``webhook-id`` (so none is a duplicate) and a valid signature, produced before the
round starts so that client-side signing costs nothing in the measured time. Rounds alternate
the two rules so that drift hits both alike; each round runs CLIENTS keep-alive client threads
for SECONDS against Odoo with 2 workers and counts answered calls.
"""
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


def hook_throughput(srv, uuid_, body, headers_pool):
    def post(session):
        headers = {"Content-Type": "application/json", **(next(headers_pool) if headers_pool else {})}
        res = session.post(f"{srv.url}/web/hook/{uuid_}", data=body, headers=headers, timeout=30)
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


def main():
    with BenchServer(workers=2) as srv:
        setup = json.loads(srv.shell(SETUP % {"secret": SECRET, "schema": json.dumps(SCHEMA)})
                           .split("SETUP=")[1].splitlines()[0])
        body = json.dumps({"_model": "res.partner", "_id": setup["partner"],
                           "event": {"type": "tag.created", "name": "bench tag"}}).encode()
        for _ in range(2):  # warm both rules (registry, caches, validator)
            hook_throughput(srv, setup["native"], body, None)
            hook_throughput(srv, setup["safe"], body, signed_pool(body, 2000))
        totals = {"native": [], "safe": []}
        for r in range(ROUNDS):
            for name in (("native", "safe") if r % 2 == 0 else ("safe", "native")):
                pool = signed_pool(body) if name == "safe" else None
                totals[name].append(hook_throughput(srv, setup[name], body, pool))
        native, safe = (sum(totals[name]) / ROUNDS for name in ("native", "safe"))
        print(f"native rule (secret URL only)                          : {native:8.1f} calls/s")
        print(f"safe rule (Standard Webhooks + JSON Schema + dedupe)   : {safe:8.1f} calls/s")
        print(f"ratio safe / native                                    : {safe / native:8.2f}  (target >= 0.9)")
        print(f"({ROUNDS} alternating rounds of {SECONDS:.0f}s, {CLIENTS} keep-alive clients, 2 Odoo workers; "
              "both rules log every call)")


if __name__ == "__main__":
    main()
