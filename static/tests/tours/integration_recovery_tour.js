import { registry } from "@web/core/registry";
import { openIntegrationsScreen } from "@integration_suite/../tests/tours/utils/integration_menu";

/**
 * After an outage: "Recover failed since…" on an endpoint whose deliveries died (prepared by
 * the Python test) queues them again, and the recovered deliveries are shown pending.
 */
registry.category("web_tour.tours").add("integration_suite_recovery_tour", {
    url: "/odoo",
    steps: () => [
        ...openIntegrationsScreen("menu_integration_webhook_endpoint", "menu_integrations_outgoing"),
        {
            content: "Open the endpoint that was down",
            trigger: '.o_list_view .o_data_row td[name="name"]:contains(Recovery receiver)',
            run: "click",
        },
        {
            content: "Recover its failed deliveries",
            trigger: '.o_form_view .o_form_statusbar button:contains(Recover failed since)',
            run: "click",
        },
        {
            content: "The wizard counts the dead and failed deliveries of the last 7 days",
            trigger: '.modal .o_field_widget[name="delivery_count"]:contains(3)',
        },
        {
            content: "Recover",
            trigger: '.modal button[name="action_recover"]',
            run: "click",
        },
        {
            content: "The recovered deliveries are listed, queued again",
            trigger: 'body:not(:has(.modal)) .o_list_view:has(.o_data_row:nth-child(3)):not(:has(.o_data_row:nth-child(4)))',
        },
        {
            content: "all pending",
            trigger: '.o_list_view:not(:has(td[name="state"] .badge:not(:contains(Pending))))',
        },
    ],
});
