import { registry } from "@web/core/registry";
import { openIntegrationsScreen } from "@integration_suite/../tests/tours/utils/integration_menu";

/**
 * "What happened to my event?": a delivery answered 500 then 200 (prepared by the Python test),
 * opened from Integrations › Outgoing Webhooks › Webhook Deliveries, shows both attempts, newest
 * first, and one opens with what the receiver answered.
 */
registry.category("web_tour.tours").add("integration_suite_attempt_history_tour", {
    url: "/odoo",
    steps: () => [
        ...openIntegrationsScreen("menu_integration_webhook_delivery", "menu_integrations_outgoing"),
        {
            content: "Open the delivery to the Timeline receiver",
            trigger: '.o_list_view .o_data_row td[name="endpoint_id"]:contains(Timeline receiver)',
            run: "click",
        },
        {
            content: "The delivery is delivered, after two attempts",
            trigger: '.o_form_view .o_field_widget[name="state"] .badge:contains(Delivered)',
        },
        {
            content: "The timeline lists both attempts, newest first",
            trigger: '.o_field_widget[name="attempt_ids"] .o_data_row:first-child:contains(Delivered):contains(200)',
        },
        {
            content: "The first attempt failed with HTTP 500 and was retried",
            trigger: '.o_field_widget[name="attempt_ids"] .o_data_row:nth-child(2):contains(Failed, retried):contains(500)',
        },
        {
            content: "Open the failed attempt",
            trigger: '.o_field_widget[name="attempt_ids"] .o_data_row:nth-child(2) td[name="outcome"]',
            run: "click",
        },
        {
            content: "It shows the headers sent, the signature masked",
            trigger: '.modal .o_field_widget[name="request_headers"]:contains(webhook-signature: ••••••••)',
        },
        {
            content: "Look at the response headers",
            trigger: '.modal .nav-link:contains(Response Headers)',
            run: "click",
        },
        {
            content: "The receiver's answer headers are there",
            trigger: '.modal .o_field_widget[name="response_headers"]:contains(X-Attempt: one)',
        },
        {
            content: "Close the attempt",
            trigger: ".modal .btn-close",
            run: "click",
        },
        {
            content: "Back on the delivery",
            trigger: 'body:not(:has(.modal)) .o_form_view .o_field_widget[name="attempt_ids"]',
        },
    ],
});
