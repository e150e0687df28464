"""Every place where the addon replaces, wraps or reaches into something of Odoo's it does not own.

Two kinds:

* **Process-wide wraps** (``patches/http.py``): applied by ``post_load`` only when the addon is
  loaded server-wide (``--load=base,web,integration_suite``), never merely because some database
  of the process installed it. Each one leaves a request for a database without the addon as
  stock 18.0 serves it.
* **Registry-bound overrides** (inherited models, inherited controllers): they exist only in the
  registries of databases where the addon is installed, and the routing of a database without the
  addon never includes the addon's controllers (``routing_rules`` below), so nothing else sees them.

``TOUCHES`` lists both kinds with why and what breaks without them; the README's section
"What the addon changes in Odoo" is the same list, and ``tests/test_patches.py`` checks that every
target still exists in the running Odoo and that the README names each one.
"""
import logging

from .. import series

_logger = logging.getLogger(__name__)

MODULE = "integration_suite"

# (target, kind, why, what breaks without it): the same on both series, then each series' own
TOUCHES = (
    ("odoo.http:db_list", "process-wide wrap, server-wide only",
     "the listing of databases that 18.0 makes on every sessionless request, reused for 10 s",
     "one extra PostgreSQL connection per sessionless call without the header"),
    ("odoo.service.db:exp_create_database", "process-wide wrap, server-wide only",
     "forgets the reused listing when this process creates a database (likewise exp_duplicate_database, "
     "exp_drop, exp_rename, exp_restore, restore_db)",
     "a database created here would be unreachable without the header for up to 10 s"),
    ("odoo.http:_generate_routing_rules", "process-wide wrap, server-wide only",
     "leaves the addon's controllers out of the routing of databases that did not install it",
     "a server-wide module's routes serve every database: /metrics, /json/2 (over 18.0's /json/<path>), "
     "the legacy doors' and /web/hook's overrides would answer in stock databases"),
    ("odoo.addons.base_automation.controllers.main:BaseAutomationController", "inherited controller",
     "/web/hook/<uuid>: sender authentication, validation, exactly-once, call log",
     "incoming webhooks run on URL secrecy alone, as in 18.0"),
    ("odoo.addons.base.models.ir_http:IrHttp._auth_method_bearer", "inherited model method",
     "19.0's bearer authentication: a per-process key cache, stateless calls, 401 with a challenge; "
     "a restricted key's source address, rate and read-only transaction",
     "pbkdf2 on every JSON/2 call and 18.0's 403 instead of 401; restricted keys unchecked on /json/2, "
     "/doc-bearer and /metrics"),
    ("odoo.addons.base.models.ir_http:IrHttp._auth_method_public", "inherited model method",
     "/web/hook runs as the Public user found by its cached xmlid (18.0 re-reads the user's row)",
     "one more query per incoming call"),
    ("odoo.addons.base.models.ir_http:IrHttp._pre_dispatch", "inherited model method",
     "reads /web/hook bodies before 18.0's form parser consumes them; keeps X-Odoo-Database calls "
     "stateless; answers broken legacy request framing with a 400; raises a restricted key's refusal "
     "(18.0's _authenticate would turn it into a bare AccessDenied)",
     "no signature check on form bodies; header calls would save a session"),
    ("odoo.addons.base.models.ir_http:IrHttp._post_dispatch", "inherited model method",
     "19.0's own JSON-2 calls counted and timed for the metrics and the traffic view (on 18.0 the "
     "addon's JSON/2 dispatcher counts them; nothing is done there)",
     "19.0's JSON-2 calls missing from /metrics and the JSON/2 share"),
    ("odoo.addons.base.models.ir_http:IrHttp._handle_error", "inherited model method",
     "the legacy doors' deprecation headers on their error answers too",
     "errors of legacy calls lack Deprecation and Sunset"),
    ("odoo.addons.base_automation.models.base_automation:BaseAutomation._compute_trigger",
     "inherited model method",
     "18.0 wipes the trigger of a new 'On webhook' rule when its model is picked (no trigger fields)",
     "a new incoming rule made from the addon's menu loses its trigger"),
    ("odoo.addons.base_automation.models.base_automation:BaseAutomation._check_trigger_fields",
     "inherited model method",
     "answers True without reading the watched fields when there are no old values (18.0's answer then)",
     "one more query per incoming call"),
    ("odoo.addons.base_automation.models.base_automation:BaseAutomation._execute_webhook",
     "copied (not overridden)",
     "rules in API-key mode run with the caller's rights: _webhook_execute_as repeats it without sudo",
     "an API-key rule would run as superuser"),
    ("odoo.addons.base.models.ir_actions:IrActionsServer._run_action_webhook", "inherited model method",
     "'Send Webhook Notification' queues a signed delivery in the transaction (outbox) instead of a "
     "blocking post-commit POST",
     "no outbox, no signature, no retries"),
    ("odoo.addons.base.models.ir_actions:IrActionsServer._get_eval_context", "inherited model method",
     "the code actions of an incoming rule see the validated payload",
     "code actions read the raw request instead of the checked payload"),
    ("werkzeug.wrappers:Request.get_data", "internal attribute written (_cached_data)",
     "request bodies read at most to a door's cap, chunked ones included",
     "a chunked body is read to its end, whatever its size"),
) + ((
    ("odoo.addons.rpc.controllers:RPC", "inherited controller",
     "the legacy doors /xmlrpc, /xmlrpc/2, /jsonrpc: inventory, deprecation headers, retirement",
     "no legacy inventory, no deprecation headers, no retirement"),
    ("odoo.addons.rpc.controllers.json2:WebJson2Controller.web_json_2_rpc", "inherited controller",
     "19.0's own JSON-2 door: a restricted key's call goes through the addon's checks of its models, "
     "rights and methods",
     "restricted keys unchecked on /json/2"),
    ("odoo.addons.api_doc.controllers.api_doc:DocController.doc_bearer_index", "inherited controller",
     "a restricted key reads the addon's index of what it may call (likewise doc_bearer_modec)",
     "a restricted key reads the whole index and every model's page"),
    ("odoo.addons.base.models.res_users:ResUsersApikeys.init", "inherited model method",
     "adds two columns to Odoo's API key table (created by its init: the ORM adds none to it): the "
     "revision of the key's restrictions and whether it is read-only, read by each call's key check",
     "a join on every authenticated call, and a round trip more for read-only keys"),
    ("odoo.addons.base.models.res_users:ResUsersApikeysDescription.make_key", "inherited model method",
     "New API Key: the restrictions the owner chose are saved with the key it generates",
     "a key created with restrictions would be created without them"),
) if series.V19 else (
    ("odoo.http:Request._get_session_and_dbname", "process-wide wrap, server-wide only",
     "19.0's X-Odoo-Database header: 18.0 picks the database before any addon code runs",
     "JSON/2 clients that name their database (odoo-client-lib, 19.0 clients) get 404 on "
     "multi-database servers"),
    ("odoo.addons.base.controllers.rpc:RPC", "inherited controller",
     "the legacy doors /xmlrpc, /xmlrpc/2, /jsonrpc: inventory, deprecation headers, retirement",
     "no legacy inventory, no deprecation headers, no retirement"),
    ("odoo.addons.web.controllers.json:WebJsonController.web_json", "route shadowed",
     "/json/2/<model>/<method> is 19.0's JSON-2 door; 18.0 sends /json/<path> to the web client's JSON view",
     "no JSON/2 door"),
    ("odoo.addons.base.models.res_users:APIKeys.init", "inherited model method",
     "adds two columns to 18.0's API key table (created by 18.0's init: the ORM adds none to it): the "
     "revision of the key's restrictions and whether it is read-only, read by each call's key check",
     "a join on every authenticated call, and a round trip more for read-only keys"),
    ("odoo.addons.base.models.res_users:APIKeyDescription.make_key", "inherited model method",
     "New API Key: the restrictions the owner chose are saved with the key it generates",
     "a key created with restrictions would be created without them"),
))


def server_wide():
    """Whether the addon is loaded server-wide in this process."""
    return MODULE in series.server_wide_modules()


def post_load():
    """The process-wide wraps, once per process, only when the addon is loaded server-wide.

    Odoo skips ``post_load`` when the package was imported before the server loaded it (test runners
    do that), so the package's import calls this too.
    """
    if not server_wide():
        return
    from . import http  # noqa: PLC0415 - imported only where the wraps apply

    if http.apply():
        _logger.debug("integration_suite: process-wide wraps applied (loaded server-wide)")
