# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0.html).
{
    "name": "Integration Suite",
    "summary": "JSON-2 API, reliable signed outgoing webhooks and safe incoming webhooks",
    "version": "1.6.0",
    "category": "Extra Tools",
    "website": "https://github.com/integration-suite/integration_suite",
    "author": "Integration Suite contributors",
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["web", "base_automation"],
    "external_dependencies": {
        "python": ["requests", "jsonschema", "standardwebhooks", "prometheus_client"],
    },
    "data": [
        "security/integration_suite_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron.xml",
        "data/integration_webhook_delivery_data.xml",
        "data/mail_activity_type_data.xml",
        "data/ir_config_parameter_data.xml",
        "views/integration_webhook_attempt_views.xml",
        "views/integration_webhook_recovery_views.xml",
        "views/integration_webhook_event_type_views.xml",
        "data/integration_webhook_event_type_data.xml",
        "views/integration_webhook_send_test_views.xml",
        "views/integration_webhook_endpoint_views.xml",
        "views/integration_webhook_delivery_views.xml",
        "views/ir_actions_server_views.xml",
        "views/integration_webhook_call_views.xml",
        "views/base_automation_views.xml",
        "views/integration_activity_report_views.xml",
        "views/integration_legacy_client_views.xml",
        "views/integration_trace_views.xml",
        "views/integration_apikey_policy_views.xml",
        "views/integration_menus.xml",
        "data/integration_series_data.xml",
    ],
    "demo": [
        "demo/integration_suite_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "integration_suite/static/src/**/*",
            ("remove", "integration_suite/static/src/worker_status_reports/**/*"),
        ],
        # the graph and pivot views are loaded lazily: so are their worker-state renderers
        "web.assets_backend_lazy": [
            "integration_suite/static/src/worker_status_reports/**/*",
        ],
        "web.assets_tests": [
            "integration_suite/static/tests/tours/**/*",
        ],
    },
    "post_load": "post_load",
    "installable": True,
}
