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

// an outcome keeps its colour whatever the groups shown: success green, failure red
const OUTCOME_COLORS = {
    done: "#28A745",
    error: "#DC3545",
    pending: "#F0AD4E",
    skipped: "#ADB5BD",
};

/**
 * The outcome a dataset stands for, read from its domains (its label is translated); a day
 * without data has an empty domain, so the first domain that names an outcome is used.
 */
function datasetOutcome(dataset) {
    for (const domain of dataset.domains || []) {
        const match = JSON.stringify(domain || []).match(/\["outcome","=","(\w+)"\]/);
        if (match) {
            return match[1];
        }
    }
    return null;
}

export class WorkerStatusGraphRenderer extends GraphRenderer {
    static template = "integration_suite.WorkerStatusGraphRenderer";
    static components = { ...GraphRenderer.components, IntegrationWorkerStatus };

    getBarChartData() {
        const data = super.getBarChartData();
        for (const dataset of data.datasets) {
            const color = OUTCOME_COLORS[datasetOutcome(dataset)];
            if (color) {
                dataset.backgroundColor = color;
            }
        }
        return data;
    }

    getLineChartData() {
        const data = super.getLineChartData();
        for (const dataset of data.datasets) {
            const color = OUTCOME_COLORS[datasetOutcome(dataset)];
            if (color) {
                Object.assign(dataset, { borderColor: color, pointBackgroundColor: color, hoverBackgroundColor: color });
            }
        }
        return data;
    }

    /** Counts are whole numbers: no "8.00", no tick between 7 and 8. */
    getScaleOptions() {
        const scales = super.getScaleOptions();
        const { fieldAttrs, measure } = this.model.metaData;
        if (scales.y && (measure === "__count" || this.model.metaData.measures[measure]?.type === "integer")
            && !fieldAttrs[measure]?.widget) {
            scales.y.ticks.precision = 0;
            scales.y.ticks.callback = (value) => this.formatValue(value, true);
        }
        return scales;
    }
}

export class WorkerStatusPivotRenderer extends PivotRenderer {
    static template = "integration_suite.WorkerStatusPivotRenderer";
    static components = { ...PivotRenderer.components, IntegrationWorkerStatus };
}

const views = registry.category("views");
views.add("integration_worker_status_graph", { ...graphView, Renderer: WorkerStatusGraphRenderer });
views.add("integration_worker_status_pivot", { ...pivotView, Renderer: WorkerStatusPivotRenderer });
