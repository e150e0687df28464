/** @odoo-module **/
/**
 * The integration worker's state above the Integrations dashboard and the endpoint list: workers
 * active or not, last run, each queue's oldest due job and its age, the last failure of a source.
 * (The graph and pivot views live in the lazy bundle: see ../worker_status_reports.)
 */
import { Component, onWillStart } from "@odoo/owl";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { listView } from "@web/views/list/list_view";
import { ListRenderer } from "@web/views/list/list_renderer";

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

export class WorkerStatusListRenderer extends ListRenderer {
    static template = "integration_suite.WorkerStatusListRenderer";
    static components = { ...ListRenderer.components, IntegrationWorkerStatus };
}

registry.category("views").add("integration_worker_status_list", { ...listView, Renderer: WorkerStatusListRenderer });
