/** @odoo-module **/
/**
 * The worker's state above the dashboard's graph and pivot; these views are in Odoo's lazy
 * bundle (web.assets_backend_lazy), and so are these renderers.
 */
import { registry } from "@web/core/registry";
import { graphView } from "@web/views/graph/graph_view";
import { GraphRenderer } from "@web/views/graph/graph_renderer";
import { pivotView } from "@web/views/pivot/pivot_view";
import { PivotRenderer } from "@web/views/pivot/pivot_renderer";
import { IntegrationWorkerStatus } from "@integration_suite/worker_status/worker_status";

export class WorkerStatusGraphRenderer extends GraphRenderer {
    static template = "integration_suite.WorkerStatusGraphRenderer";
    static components = { ...GraphRenderer.components, IntegrationWorkerStatus };
}

export class WorkerStatusPivotRenderer extends PivotRenderer {
    static template = "integration_suite.WorkerStatusPivotRenderer";
    static components = { ...PivotRenderer.components, IntegrationWorkerStatus };
}

const views = registry.category("views");
views.add("integration_worker_status_graph", { ...graphView, Renderer: WorkerStatusGraphRenderer });
views.add("integration_worker_status_pivot", { ...pivotView, Renderer: WorkerStatusPivotRenderer });
