"""Render the main screens of the addon to PNG for the README (`make screenshots`).

Starts a throwaway PostgreSQL + Odoo 18.0 with the addon and its demo data (bench/server.py's
BenchServer), adds a little live traffic on top of the demo history (a test delivery per endpoint;
a signed, a repeated and an unsigned call on the demo Standard Webhooks rule; a few XML-RPC and
JSON-RPC calls for the legacy API screens), logs in as admin and drives
headless Chromium over the DevTools protocol: each screen is shot once its view has rendered.
"""
import argparse
import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import xmlrpc.client
from datetime import datetime, timezone
from pathlib import Path

import requests
import websocket
from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from server import BenchServer  # noqa: E402 - the throwaway instance the benchmarks use

sys.path.insert(0, str(ROOT / "tools"))
from api_traffic import FLUSH_SECONDS  # noqa: E402 - how often a process writes its API counts

ECHO_ROUTE = "/integration_suite/demo/echo"
# screens whose subject is below the fold: scrolled to it before the shot
SCROLL_TO_READY = {"delivery_attempts"}
OUTPUT = ROOT / "static/description/screenshots"
CHROMES = ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable")


def action_url(xmlid, res_id=None, view_type=None):
    url = f"/odoo/action-{xmlid}" + (f"/{res_id}" if res_id else "")
    return url + (f"?view_type={view_type}" if view_type else "")


class Chrome:
    """A headless Chromium driven over its DevTools websocket: navigate, wait for a selector, shoot."""

    def __init__(self, width, height):
        executable = next(filter(None, map(shutil.which, CHROMES)), None)
        if not executable:
            sys.exit("No Chrome/Chromium on PATH (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="is-shots-")
        self.proc = subprocess.Popen([
            executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-extensions", "--hide-scrollbars", "--force-device-scale-factor=1",
            f"--window-size={width},{height}", "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
            "about:blank",
        ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile, "DevToolsActivePort")
        for _ in range(100):
            if port_file.is_file() and port_file.stat().st_size > 5:
                break
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        page = next(t for t in requests.get(f"http://127.0.0.1:{port}/json", timeout=10).json()
                    if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], suppress_origin=True, timeout=60)
        self.next_id = 0
        self.send("Emulation.setDeviceMetricsOverride",
                  width=width, height=height, deviceScaleFactor=1, mobile=False)

    def send(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    def wait_for(self, selector, timeout=60):
        """Until ``selector`` is visible and no RPC is running, then a moment for animations."""
        check = (f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
                 " return !!(el && el.offsetParent !== null) && !document.querySelector('.o_loading_indicator'); })()")
        deadline = time.monotonic() + timeout
        while not self.evaluate(check):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{selector!r} not shown at {self.evaluate('location.href')}")
            time.sleep(0.25)
        time.sleep(1.5)  # chart and notebook transitions

    def click(self, selector):
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def shoot(self, path):
        data = self.send("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def close(self):
        try:
            self.send("Browser.close")
        except (RuntimeError, websocket.WebSocketException):
            self.proc.terminate()
        self.ws.close()
        self.proc.wait(30)
        shutil.rmtree(self.profile, ignore_errors=True)


# In the demo database: point the echo endpoint at this server, send a test event to every
# endpoint and deliver it now; then the records to show and what the incoming calls need.
PREPARE = """
import json
from odoo import fields
echo = env.ref("integration_suite.demo_webhook_endpoint")
echo.url = {url!r} + {echo_route!r}
for endpoint in env["integration.webhook.endpoint"].search([]):
    endpoint.action_send_test()
env.cr.commit()
env["integration.worker"]._run(time_budget=30)
# two more attempts of the unreachable endpoint's test event, for an attempt history to show
unreachable = env.ref("integration_suite.demo_webhook_endpoint_unreachable")
retried = env["integration.webhook.delivery"].search(
    [("endpoint_id", "=", unreachable.id), ("event_type", "=", "webhook.test")], limit=1)
for _attempt in range(2):
    retried.next_attempt_at = fields.Datetime.now()
    env.cr.commit()
    env["integration.worker"]._run(time_budget=30)
rule = env.ref("integration_suite.demo_incoming_rule")
print("SCREENS=" + json.dumps({{
    "endpoint": echo.id, "unreachable": unreachable.id, "retried": retried.id,
    "rule": rule.id, "uuid": rule.webhook_uuid,
    "secret": rule.webhook_secret.splitlines()[0],
    "partner": env.ref("integration_suite.demo_partner_webhook").id,
}}))
"""


def add_live_traffic(srv):
    """A fresh delivery per endpoint; a signed, a repeated and an unsigned call on the demo rule."""
    out = srv.shell(PREPARE.format(url=srv.url, echo_route=ECHO_ROUTE))
    demo = json.loads(out.split("SCREENS=", 1)[1].splitlines()[0])
    body = json.dumps({"_model": "res.partner", "_id": demo["partner"], "note": "Sent by scripts/screenshots.py"})
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(timezone.utc)
    signed = {"Content-Type": "application/json", "webhook-id": msg_id,
              "webhook-timestamp": str(int(now.timestamp())),
              "webhook-signature": Webhook(demo["secret"]).sign(msg_id, now, body)}
    for headers in (signed, signed, {"Content-Type": "application/json"}):  # done, duplicate, rejected
        requests.post(f"{srv.url}/web/hook/{demo['uuid']}", data=body, headers=headers, timeout=60)
    return demo


LEGACY_CLIENT = """
key = env["res.users.apikeys"].with_user(env.ref("base.user_admin")).sudo()._generate("rpc", "legacy ERP sync", None)
env.cr.commit()
print("KEY=" + key)
"""


def add_legacy_traffic(srv):
    """Calls over the legacy doors (password and API key), then the wait for the server to write their counts."""
    key = srv.shell(LEGACY_CLIENT).split("KEY=", 1)[1].split()[0]
    proxy = xmlrpc.client.ServerProxy(f"{srv.url}/xmlrpc/2/object")
    for _ in range(3):
        proxy.execute_kw(srv.db, 2, "admin", "res.partner", "search_read", [[["is_company", "=", True]]],
                         {"fields": ["name", "email"], "limit": 5})
    proxy.execute_kw(srv.db, 2, "admin", "res.partner", "write", [[3], {"phone": "+32 2 290 34 90"}])
    for args in ([[["is_company", "=", True]]], [[["name", "ilike", "deco"]], ["name", "city"]]):
        requests.post(f"{srv.url}/jsonrpc", timeout=60, headers={"User-Agent": "erp-sync/2.3"}, json={
            "jsonrpc": "2.0", "method": "call", "params": {
                "service": "object", "method": "execute_kw",
                "args": [srv.db, 2, key, "res.partner", "search_count" if len(args) == 1 else "search_read", args]}})
    time.sleep(FLUSH_SECONDS + 2)  # each process writes its counts every FLUSH_SECONDS
    out = srv.shell('print("CLIENT=%s" % env["integration.legacy.client"].search('
                    '[("method", "=", "search_read"), ("auth_kind", "=", "password")], limit=1).id)')
    return int(out.split("CLIENT=", 1)[1].split()[0])


RESTRICTED_KEYS = """
admin = env.ref("base.user_admin")
partner = env.ref("base.model_res_partner").id
country = env.ref("base.model_res_country").id
keys = {}
for name, values in {
    "sales dashboard": {"read_only": True, "allowed_addresses": "127.0.0.1, 10.20.0.0/16", "rate_limit": 120,
                        "line_ids": [(0, 0, {"model_id": partner, "perm_read": True}),
                                     (0, 0, {"model_id": country, "perm_read": True})]},
    "web shop": {"allowed_addresses": "127.0.0.1", "rate_limit": 600,
                 "line_ids": [(0, 0, {"model_id": partner, "perm_read": True, "perm_write": True,
                                      "perm_create": True, "extra_methods": "message_post"})]},
    "prometheus": {"read_only": True, "allowed_addresses": "127.0.0.1"},
}.items():
    key = env["res.users.apikeys"].with_user(admin).sudo()._generate(None, name, None)
    env.cr.execute("SELECT max(id) FROM res_users_apikeys")
    keys[name] = (env["integration.apikey.policy"].create({"key_id": env.cr.fetchone()[0], **values}).id, key)
env.cr.commit()
print("RESTRICTED=" + json.dumps(keys))
"""


def add_restricted_keys(srv):
    """Three restricted keys, each used a few times (their last use shows once the server wrote it)."""
    out = srv.shell("import json\n" + RESTRICTED_KEYS)
    keys = json.loads(out.split("RESTRICTED=", 1)[1].splitlines()[0])
    for _policy, key in keys.values():
        for _ in range(3):
            requests.post(f"{srv.url}/json/2/res.partner/search_count", json={"domain": []}, timeout=60,
                          headers={"Authorization": f"bearer {key}", "X-Odoo-Database": srv.db})
    return keys["sales dashboard"][0]


def login_cookie(srv):
    response = requests.post(f"{srv.url}/web/session/authenticate", timeout=60, json={
        "jsonrpc": "2.0", "method": "call",
        "params": {"db": srv.db, "login": "admin", "password": "admin"},
    })
    response.raise_for_status()
    if response.json().get("error"):
        sys.exit(f"admin login failed: {response.json()['error']['data']['message']}")
    return response.cookies["session_id"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--size", default="1440x900", help="viewport WIDTHxHEIGHT (default 1440x900)")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    args.output.mkdir(parents=True, exist_ok=True)

    with BenchServer(workers=0, extra_args=["--max-cron-threads=0"], demo=True, api_key=False) as srv:
        demo = add_live_traffic(srv)
        endpoint_id, rule_id = demo["endpoint"], demo["rule"]
        dashboard_policy_id = add_restricted_keys(srv)
        legacy_client_id = add_legacy_traffic(srv)  # (waits for the counts to be written)
        screens = [
            ("home_menu", "/odoo", '.o_app[data-menu-xmlid="integration_suite.menu_integrations"]',
             ".o_navbar_apps_menu button"),
            ("endpoint_form", action_url("integration_suite.action_integration_webhook_endpoint", endpoint_id),
             '.o_form_view .o_field_widget[name="url"]', None),
            ("deliveries", action_url("integration_suite.action_integration_webhook_delivery"),
             ".o_list_view .o_data_row", None),
            ("delivery_attempts", action_url("integration_suite.action_integration_webhook_delivery",
                                             demo["retried"]),
             '.o_field_widget[name="attempt_ids"] .o_data_row', None),
            ("event_types", action_url("integration_suite.action_integration_webhook_event_type"),
             ".o_list_view .o_data_row", None),
            ("send_test", action_url("integration_suite.action_integration_webhook_endpoint", endpoint_id),
             '.modal .o_field_widget[name="sample_payload"]', 'button[name="action_open_send_test"]'),
            ("recover_failed", action_url("integration_suite.action_integration_webhook_endpoint",
                                          demo["unreachable"]),
             '.modal .o_field_widget[name="delivery_count"]', '.o_form_statusbar button[type="action"]'),
            ("incoming_rule", action_url("integration_suite.action_integration_incoming_rule", rule_id),
             '.o_form_view .o_field_widget[name="webhook_auth_mode"]',
             '.o_notebook_headers a[name="incoming_webhook"]'),
            ("incoming_calls", action_url("integration_suite.action_integration_webhook_call"),
             ".o_list_view .o_data_row", None),
            ("dashboard_graph", action_url("integration_suite.action_integration_dashboard"),
             ".o_graph_renderer canvas", None),
            ("dashboard_pivot", action_url("integration_suite.action_integration_dashboard", view_type="pivot"),
             ".o_pivot table", None),
            ("legacy_clients", action_url("integration_suite.action_integration_legacy_client"),
             ".o_list_view .o_data_row", None),
            ("apikeys", action_url("integration_suite.action_integration_api_keys"),
             '.o_list_view .o_data_row td[name="integration_restrictions"]', None),
            ("apikey_restrictions", action_url("integration_suite.action_integration_apikey_policy",
                                               dashboard_policy_id),
             '.o_form_view .o_field_widget[name="line_ids"] .o_data_row', None),
            ("apikey_new", action_url("base.action_res_users_keys_description"),
             '.o_field_widget[name="integration_read_only"]', None),
            ("legacy_client_form", action_url("integration_suite.action_integration_legacy_client", legacy_client_id),
             '.o_form_view .o_field_widget[name="json2_python"]', None),
        ]
        chrome = Chrome(width, height)
        try:
            chrome.send("Network.setCookie", name="session_id", value=login_cookie(srv), url=srv.url)
            for name, path, ready, tab in screens:
                chrome.send("Page.navigate", url=srv.url + path)
                if tab:
                    chrome.wait_for(tab)
                    chrome.click(tab)
                chrome.wait_for(ready)
                if name in SCROLL_TO_READY:
                    chrome.evaluate(f"document.querySelector({json.dumps(ready)}).scrollIntoView({{block: 'center'}})")
                    time.sleep(0.5)
                chrome.shoot(args.output / f"{name}.png")
                print(f"{args.output / name}.png")
        finally:
            chrome.close()


if __name__ == "__main__":
    main()
