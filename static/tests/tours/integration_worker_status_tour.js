import { registry } from "@web/core/registry";

/**
 * The worker's state above the Integrations dashboard (graph and pivot) and the endpoint list,
 * with a late outgoing delivery prepared by the Python test.
 */
registry.category("web_tour.tours").add("integration_suite_worker_status_tour", {
    url: "/odoo/action-integration_suite.action_integration_dashboard?debug=1",
    steps: () => [
        {
            content: "The dashboard's graph says whether the worker is active",
            trigger: ".o_graph_view .o_integration_worker_status .o_worker_state:contains(Worker active)",
        },
        {
            content: "and shows the late outgoing queue with the age of its oldest due delivery",
            trigger: ".o_integration_worker_status .o_worker_queue.text-danger:contains(3 d 0 h)",
        },
        {
            content: "Switch to the pivot",
            trigger: ".o_switch_view.o_pivot",
            run: "click",
        },
        {
            content: "The pivot shows the worker's state too",
            trigger: ".o_pivot_view .o_integration_worker_status .o_worker_last_run",
        },
    ],
});

registry.category("web_tour.tours").add("integration_suite_endpoint_backlog_tour", {
    url: "/odoo/action-integration_suite.action_integration_webhook_endpoint?debug=1",
    steps: () => [
        {
            content: "The endpoint list shows the worker's state",
            trigger: ".o_list_view .o_integration_worker_status .o_worker_state",
        },
        {
            content: "and, per endpoint, how long its oldest due delivery has waited",
            trigger: '.o_data_row:contains(Tour late endpoint) td[name="oldest_due_age"]:contains(3 d 0 h)',
        },
    ],
});
