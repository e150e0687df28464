import { registry } from "@web/core/registry";
import { openIntegrationsScreen } from "@integration_suite/../tests/tours/utils/integration_menu";

/**
 * Integrations › Outgoing Webhooks › Event Types: the action's event type with its sample; then
 * Webhook Endpoints: open an endpoint, "Send test", pick one of its event types instead of the
 * test event, check its sample and send it. The Python test checks
 * that the receiver got that type's sample, signed.
 */
registry.category("web_tour.tours").add("integration_suite_event_type_tour", {
    url: "/odoo",
    steps: () => [
        ...openIntegrationsScreen("menu_integration_webhook_event_type", "menu_integrations_outgoing"),
        {
            content: "The action's event type is in the catalogue, named after the model's description",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(Contact: Tour contact changed)",
            run: "click",
        },
        {
            content: "Its sample payload is the action's body",
            trigger: '.o_notebook a:contains(Sample Payload)',
            run: "click",
        },
        {
            content: "... with the action's fields",
            trigger: '.o_field_widget[name="sample_payload"]:contains("Tour contact changed(#")',
        },
        {
            content: "Back to the Outgoing Webhooks menu",
            trigger: 'button[data-menu-xmlid="integration_suite.menu_integrations_outgoing"]',
            run: "click",
        },
        {
            content: "Open Outgoing Webhooks › Webhook Endpoints",
            trigger: 'a[data-menu-xmlid="integration_suite.menu_integration_webhook_endpoint"]',
            run: "click",
        },
        {
            content: "Open the endpoint",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(Tour event types)",
            run: "click",
        },
        {
            content: "It receives all event types",
            trigger: '.o_notebook a:contains(Event Types)',
            run: "click",
        },
        {
            content: "All event types is selected",
            trigger: '.o_field_widget[name="event_subscription"] input[data-value="all"]:checked',
        },
        {
            content: "Send test",
            trigger: 'button[name="action_open_send_test"]',
            run: "click",
        },
        {
            content: "The dialog proposes the test event",
            trigger: '.modal .o_field_widget[name="event_type_id"] input:value(Test event)',
        },
        {
            content: "Pick the contact event type",
            trigger: '.modal .o_field_widget[name="event_type_id"] input',
            run: "edit Tour contact",
        },
        {
            content: "Select it",
            trigger: '.o-autocomplete--dropdown-item a:contains("Contact: Tour contact changed")',
            run: "click",
        },
        {
            content: "Its sample is shown: the action's body",
            trigger: '.modal .o_field_widget[name="sample_payload"]:contains("Tour contact changed(#")',
        },
        {
            content: "Send it",
            trigger: '.modal button[name="action_send"]',
            run: "click",
        },
        {
            content: "The delivery opens, queued for this endpoint",
            trigger: '.o_form_view .o_field_widget[name="endpoint_id"]:contains(Tour event types)',
        },
    ],
});
