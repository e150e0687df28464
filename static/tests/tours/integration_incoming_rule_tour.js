import { registry } from "@web/core/registry";
import { cookie } from "@web/core/browser/cookie";
import {
    chooseSelection,
    openIntegrationsScreen,
    saveForm,
    selectionShows,
} from "@integration_suite/../tests/tours/utils/integration_menu";

/**
 * Integrations › Incoming Webhooks › Incoming Webhook Rules: create an "On webhook" rule on contacts
 * that only accepts Standard Webhooks signed calls. The secret comes from the Python test (a
 * cookie), which then signs a call with it.
 */
registry.category("web_tour.tours").add("integration_suite_incoming_rule_tour", {
    url: "/odoo",
    steps: () => [
        ...openIntegrationsScreen("menu_integration_incoming_rule", "menu_integrations_incoming"),
        {
            content: "Create a rule",
            trigger: ".o_list_view .o_list_button_add",
            run: "click",
        },
        {
            content: "Name it",
            trigger: '.o_field_widget[name="name"] input',
            run: "edit Tour incoming contacts",
        },
        {
            content: "On contacts",
            trigger: '.o_field_widget[name="model_id"] input',
            run: "edit res.partner",
        },
        {
            trigger: ".o-autocomplete--dropdown-item a:contains(/^Contact$/)",
            run: "click",
        },
        {
            content: "Once the model is picked, the rule keeps the 'On webhook' trigger its menu set",
            trigger: '.o_field_widget[name="model_id"] input:value(Contact)',
        },
        {
            content: "(the trigger is not chosen again: the saved rule must still be 'On webhook')",
            trigger: selectionShows("trigger", "On webhook"),
        },
        {
            content: "Open the sender security settings",
            trigger: '.o_notebook_headers a:contains("Webhook Security")',
            run: "click",
        },
        chooseSelection("webhook_auth_mode", '"standard_webhooks"', "Standard Webhooks signature",
                        "Require a Standard Webhooks signature"),
        {
            content: "Enter the signing secret",
            trigger: '.o_field_widget[name="webhook_secret"] input',
            run(helpers) {
                return helpers.edit(cookie.get("integration_suite_tour_secret"));
            },
        },
        ...saveForm(),
        {
            content: "The saved rule is an 'On webhook' rule",
            trigger: selectionShows("trigger", "On webhook"),
        },
        {
            content: "The saved rule shows its webhook URL",
            trigger: '.o_field_widget[name="url"]:contains(/web/hook/)',
        },
    ],
});

/** The rule's "Calls" button opens its call log, which shows the signed and the refused call. */
registry.category("web_tour.tours").add("integration_suite_incoming_calls_tour", {
    steps: () => [
        {
            content: "Open the rule's call log",
            trigger: 'button[name="action_view_webhook_calls"]:contains(2)',
            run: "click",
        },
        {
            content: "The signed call ran",
            trigger: '.o_list_view .o_data_row:has(td[name="state"]:contains(Done)):has(td[name="http_status"]:contains(200))',
        },
        {
            content: "The unsigned call was refused",
            trigger: '.o_list_view .o_data_row:has(td[name="state"]:contains(Rejected)):has(td[name="http_status"]:contains(401))',
        },
        {
            content: "Open the signed call",
            trigger: '.o_list_view .o_data_row td[name="state"]:contains(Done)',
            run: "click",
        },
        {
            content: "Its outcome is a green badge, not a step of a status bar",
            trigger: '.o_form_view:not(:has(.o_statusbar_status)) .o_field_widget[name="state"] .text-bg-success:contains(Done)',
        },
        {
            content: "Its payload is logged, indented over several lines",
            trigger: '.o_form_view .o_field_widget[name="payload_pretty"]:has(.ace_line + .ace_line):contains(tour-order-1)',
        },
        {
            content: "Back to the log",
            trigger: ".o_breadcrumb .o_back_button a",
            run: "click",
        },
        {
            content: "Open the refused call",
            trigger: '.o_list_view .o_data_row td[name="state"]:contains(Rejected)',
            run: "click",
        },
        {
            content: "Why it was refused is the first thing the form says",
            trigger: '.o_form_view .alert-warning:contains(Rejected before any action ran) .o_field_widget[name="error"] span:not(:empty)',
        },
    ],
});
