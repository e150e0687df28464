import { registry } from "@web/core/registry";
import { openIntegrationsScreen } from "@integration_suite/../tests/tours/utils/integration_menu";

/** The Integrations app › Dashboard: the graph and the pivot show real traffic. */
registry.category("web_tour.tours").add("integration_suite_dashboard_tour", {
    url: "/odoo",
    steps: () => [
        ...openIntegrationsScreen("menu_integrations_dashboard"),
        {
            content: "The graph draws the traffic, not sample data",
            trigger: ".o_graph_view:not(:has(.o_view_sample_data)) .o_graph_renderer canvas",
        },
        {
            content: "Succeeded is green, failed red, cancelled grey; the counts are whole numbers",
            trigger: ".o_graph_renderer canvas",
            run() {
                const chart = window.Chart.getChart(document.querySelector(".o_graph_renderer canvas"));
                const colors = Object.fromEntries(chart.data.datasets.map((d) => [d.label, d.backgroundColor]));
                const expected = { Succeeded: "#28A745", Failed: "#DC3545", Cancelled: "#ADB5BD" };
                if (Object.entries(colors).some(([label, color]) => expected[label] && color !== expected[label])
                    || colors.Succeeded !== expected.Succeeded || colors.Failed !== expected.Failed) {
                    throw new Error(`outcome colours: ${JSON.stringify(colors)}`);
                }
                const ticks = chart.scales.y.ticks.map((tick) => tick.label);
                if (ticks.some((label) => !/^\d+$/.test(label))) {
                    throw new Error(`count ticks: ${ticks}`);
                }
            },
        },
        {
            content: "Switch to the pivot",
            trigger: ".o_switch_view.o_pivot",
            run: "click",
        },
        {
            content: "The pivot has a row per endpoint",
            trigger: '.o_pivot:not(.o_view_sample_data) th:contains("Tour dashboard endpoint")',
        },
        {
            content: "and per rule",
            trigger: '.o_pivot th:contains("Tour dashboard rule")',
        },
        {
            content: "with the failure rate measure",
            trigger: '.o_pivot th:contains("Failure Rate (%)")',
        },
    ],
});
