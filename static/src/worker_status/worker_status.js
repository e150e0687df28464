/** @odoo-module **/
/**
 * The integration worker's state above the Integrations dashboard and the endpoint list: workers
 * active or not, last run, each queue's oldest due job and its age, the last failure of a source.
 */
import { Component, onWillStart } from "@odoo/owl";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { graphView } from "@web/views/graph/graph_view";
import { GraphRenderer } from "@web/views/graph/graph_renderer";
import { listView } from "@web/views/list/list_view";
import { ListRenderer } from "@web/views/list/list_renderer";
import { pivotView } from "@web/views/pivot/pivot_view";
import { PivotRenderer } from "@web/views/pivot/pivot_renderer";

export class IntegrationWorkerStatus extends Component {
    static template = "integration_suite.WorkerStatus";
    static props = {};

    setup() {
        this.orm = useService("orm");
        onWillStart(async () => {
            this.status = await this.orm.call("integration.worker", "get_worker_status", []);
        });
    }

    /** A UTC datetime from the server, in the user's time zone and format. */
    formatDate(value) {
        return value ? formatDateTime(deserializeDateTime(value)) : "";
    }

    /** How long a job has waited: "12 s", "4 min", "3 h 05 min", "2 d 4 h". */
    formatAge(seconds) {
        const s = Math.max(Math.floor(seconds), 0);
        if (s < 60) {
            return `${s} s`;
        }
        if (s < 3600) {
            return `${Math.floor(s / 60)} min`;
        }
        if (s < 86400) {
            return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
        }
        return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
    }
}

const components = { IntegrationWorkerStatus };

export class WorkerStatusListRenderer extends ListRenderer {
    static template = "integration_suite.WorkerStatusListRenderer";
    static components = { ...ListRenderer.components, ...components };
}

export class WorkerStatusGraphRenderer extends GraphRenderer {
    static template = "integration_suite.WorkerStatusGraphRenderer";
    static components = { ...GraphRenderer.components, ...components };
}

export class WorkerStatusPivotRenderer extends PivotRenderer {
    static template = "integration_suite.WorkerStatusPivotRenderer";
    static components = { ...PivotRenderer.components, ...components };
}

const views = registry.category("views");
views.add("integration_worker_status_list", { ...listView, Renderer: WorkerStatusListRenderer });
views.add("integration_worker_status_graph", { ...graphView, Renderer: WorkerStatusGraphRenderer });
views.add("integration_worker_status_pivot", { ...pivotView, Renderer: WorkerStatusPivotRenderer });
