import { Component, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";
import { formatFloat } from "@web/core/utils/numbers";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

export const HEALTH_PERIODS = [
    { value: "1h", label: _t("1 hour") },
    { value: "24h", label: _t("24 hours") },
    { value: "7d", label: _t("7 days") },
];

export function formatDuration(seconds) {
    if (seconds === null || seconds === undefined) {
        return "–";
    }
    if (seconds < 120) {
        return `${formatFloat(seconds, { digits: [0, 1] })} s`;
    }
    if (seconds < 7200) {
        return `${formatFloat(seconds / 60, { digits: [0, 1] })} min`;
    }
    return `${formatFloat(seconds / 3600, { digits: [0, 1] })} h`;
}

export function formatRate(value) {
    return value === null || value === undefined ? "–" : `${formatFloat(value, { digits: [0, 1] })} %`;
}

/** SVG polyline points of a sparkline of `values` in a `width` × `height` box. */
export function sparklinePoints(values, width = 96, height = 20) {
    const max = Math.max(1, ...values);
    const step = values.length > 1 ? width / (values.length - 1) : width;
    return values
        .map((value, index) => `${(index * step).toFixed(1)},${(height - (value / max) * height).toFixed(1)}`)
        .join(" ");
}

/**
 * Integration health: which partner went silent, how far behind processing is, which
 * messages fail and why. One call to `shipment.integration.health.get_health_data`
 * gives the page; each figure opens the list behind it.
 */
export class IntegrationHealth extends Component {
    static template = "shipment_visibility.IntegrationHealth";
    static components = { Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.actionService = useService("action");
        this.periods = HEALTH_PERIODS;
        this.formatDuration = formatDuration;
        this.formatRate = formatRate;
        this.sparklinePoints = sparklinePoints;
        this.state = useState({ period: "24h", data: null });
        this.requestId = 0;
        onWillStart(() => this.load());
    }

    async load() {
        const requestId = ++this.requestId;
        const data = await this.orm.call("shipment.integration.health", "get_health_data", [], {
            period: this.state.period,
        });
        if (requestId === this.requestId) {
            this.state.data = data;
        }
    }

    onPeriodClick(period) {
        this.state.period = period;
        this.load();
    }

    formatWhen(value) {
        return value ? formatDateTime(deserializeDateTime(value)) : _t("never");
    }

    get tiles() {
        const labels = {
            missing_pod: _t("Deliveries without proof of delivery"),
            sla_breaches_today: _t("SLA breaches today"),
            duplicates_suppressed: _t("Messages with nothing new"),
            silent_after_done: _t("Shipped, no event yet"),
        };
        return this.state.data.tiles.map((tile) => ({ ...tile, label: labels[tile.key] || tile.key }));
    }

    openList(model, name, domain) {
        this.actionService.doAction({
            type: "ir.actions.act_window",
            name,
            res_model: model,
            views: [
                [false, "list"],
                [false, "form"],
            ],
            domain,
            context: { active_test: false },
        });
    }

    openTile(tile) {
        this.openList(tile.model, tile.label, tile.domain);
    }

    openInbox(row, figure) {
        const domain = [["connector_id", "=", row.id]];
        const since = ["received_at", ">=", this.state.data.since];
        const filters = {
            last: [],
            received: [since],
            failed: [since, ["state", "=", "failed"]],
            dead: [since, ["state", "=", "dead"]],
            pending: [["state", "=", "pending"]],
            lag: [since, ["state", "=", "done"]],
        };
        this.openList("shipment.inbox", _t("%s: messages", row.name), [...domain, ...filters[figure]]);
    }

    openRejections(row) {
        this.openList("shipment.webhook.rejection", _t("%s: rejections", row.name), [["connector_id", "=", row.id]]);
    }

    openUnmapped(row) {
        this.openList("shipment.event", _t("%s: unmapped codes", row.name), [
            ["connector_id", "=", row.id],
            ["milestone", "=", "unknown"],
        ]);
    }

    openConnector(row) {
        this.actionService.doAction({
            type: "ir.actions.act_window",
            res_model: "shipment.connector",
            res_id: row.id,
            views: [[false, "form"]],
        });
    }

    rejectionSummary(row) {
        return Object.entries(row.rejections)
            .sort((a, b) => b[1] - a[1])
            .map(([reason, count]) => `${reason}: ${count}`)
            .join(", ");
    }

    breakerTone(state) {
        return { open: "text-bg-danger", half_open: "text-bg-warning", closed: "text-bg-success" }[state];
    }
}

registry.category("actions").add("shipment_visibility.integration_health", IntegrationHealth);
