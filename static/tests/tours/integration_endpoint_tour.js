import { registry } from "@web/core/registry";
import { cookie } from "@web/core/browser/cookie";
import { openIntegrationsScreen, saveForm } from "@integration_suite/../tests/tours/utils/integration_menu";

/**
 * Integrations › Outgoing Webhooks › Webhook Endpoints: create an endpoint and send a test
 * event. The receiver URL comes from the Python test (a cookie), so the delivery can really
 * be sent and verified there.
 */
registry.category("web_tour.tours").add("integration_suite_endpoint_tour", {
    url: "/odoo",
    steps: () => [
        ...openIntegrationsScreen("menu_integration_webhook_endpoint", "menu_integrations_outgoing"),
        {
            content: "Create an endpoint",
            trigger: ".o_list_view .o_list_button_add",
            run: "click",
        },
        {
            content: "Name it",
            trigger: '.o_field_widget[name="name"] input',
            run: "edit Tour receiver",
        },
        {
            content: "Point it at the test receiver",
            trigger: '.o_field_widget[name="url"] input',
            run(helpers) {
                return helpers.edit(cookie.get("integration_suite_tour_receiver"));
            },
        },
        ...saveForm(),
        {
            content: "A new endpoint gets a signing secret and no delivery yet",
            trigger: '.o_field_widget[name="pending_count"]:contains(0)',
        },
        {
            content: "Reveal its signing secret",
            trigger: 'button[name="action_reveal_secret"]',
            run: "click",
        },
        {
            content: "Odoo asks for the password first",
            trigger: '.modal .o_field_widget[name="password"] input',
            run: "edit admin",
        },
        {
            content: "Confirm it",
            trigger: '.modal button[name="run_check"]',
            run: "click",
        },
        {
            content: "The secret is shown in a notification",
            trigger: '.o_notification:contains("Signing secret of Tour receiver"):contains("whsec_")',
        },
        {
            content: "The form shows the endpoint again, the reveal noted in its chatter",
            trigger: '.o-mail-Message:contains("Signing secret revealed to")',
        },
        {
            content: "... on the same endpoint",
            trigger: '.o_form_view .o_field_widget[name="name"] input:value(Tour receiver)',
        },
        {
            content: "Send a test event",
            trigger: 'button[name="action_open_send_test"]',
            run: "click",
        },
        {
            content: "The dialog offers the test event, with its sample",
            trigger: '.modal .o_field_widget[name="event_type_id"] input:value(Test event)',
        },
        {
            content: "Send it",
            trigger: '.modal button[name="action_send"]',
            run: "click",
        },
        {
            content: "The test delivery opens, queued for this endpoint",
            trigger: '.o_form_view .o_field_widget[name="endpoint_id"]:contains(Tour receiver)',
        },
        {
            content: "It waits for the worker",
            trigger: '.o_form_view .o_field_widget[name="state"] .badge:contains(Pending)',
        },
        {
            content: "Back to the endpoint",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains(Tour receiver)",
            run: "click",
        },
        {
            content: "The endpoint counts one pending delivery",
            trigger: '.o_form_view .o_field_widget[name="pending_count"]:contains(1)',
        },
    ],
});
