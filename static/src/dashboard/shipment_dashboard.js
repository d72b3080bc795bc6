import { Component, onWillStart, onWillUnmount, useEffect, useRef, useState } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { _t } from "@web/core/l10n/translation";
import { serializeDateTime } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";
import { formatFloat } from "@web/core/utils/numbers";
import { formatInteger } from "@web/views/fields/formatters";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

const { DateTime } = luxon;

export const PERIODS = [
    { value: "7", label: _t("Last 7 days") },
    { value: "30", label: _t("Last 30 days") },
    { value: "90", label: _t("Last 90 days") },
    { value: "custom", label: _t("Custom") },
];

export function formatHours(value) {
    return value === null || value === undefined ? "–" : `${formatFloat(value, { digits: [0, 1] })} h`;
}

export function formatPercent(value) {
    return value === null || value === undefined ? "–" : `${formatFloat(value, { digits: [0, 1] })} %`;
}

/**
 * Partner performance dashboard: the page a logistics manager opens every morning.
 *
 * One call to `shipment.performance.report.get_dashboard_data` gives every figure of
 * the page (tiles, per-carrier table, charts and the filter choices), so the data
 * paints after a single round trip; Chart.js is loaded in parallel.
 */
export class ShipmentDashboard extends Component {
    static template = "shipment_visibility.ShipmentDashboard";
    static components = { Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.actionService = useService("action");
        this.periods = PERIODS;
        this.state = useState({
            period: "30",
            dateFrom: "",
            dateTo: "",
            companyId: "",
            carrierId: "",
            data: null,
            loading: false,
        });
        this.dailyCanvas = useRef("dailyChart");
        this.reasonCanvas = useRef("reasonChart");
        this.charts = [];
        this.requestId = 0;

        onWillStart(() => Promise.all([loadBundle("web.chartjs_lib"), this.load()]));
        useEffect(
            () => {
                this.renderCharts();
            },
            () => [this.state.data]
        );
        onWillUnmount(() => this.destroyCharts());
    }

    // ------------------------------------------------------------------ //
    // Data
    // ------------------------------------------------------------------ //

    get range() {
        if (this.state.period === "custom") {
            return [this.state.dateFrom || false, this.state.dateTo || false];
        }
        const today = DateTime.local().startOf("day");
        const days = parseInt(this.state.period, 10);
        return [today.minus({ days: days - 1 }).toISODate(), today.toISODate()];
    }

    async load() {
        const requestId = ++this.requestId;
        const [dateFrom, dateTo] = this.range;
        this.state.loading = true;
        const data = await this.orm.call("shipment.performance.report", "get_dashboard_data", [], {
            date_from: dateFrom,
            date_to: dateTo,
            company_ids: this.state.companyId ? [parseInt(this.state.companyId, 10)] : [],
            carrier_ids: this.state.carrierId ? [parseInt(this.state.carrierId, 10)] : [],
        });
        if (requestId !== this.requestId) {
            return; // a newer filter change is on its way
        }
        this.state.data = data;
        this.state.dateFrom = data.filters.date_from;
        this.state.dateTo = data.filters.date_to;
        this.state.loading = false;
    }

    onPeriodChange(ev) {
        this.state.period = ev.target.value;
        if (this.state.period !== "custom") {
            this.load();
        }
    }

    onDateChange(field, ev) {
        this.state[field] = ev.target.value;
        if (this.state.dateFrom && this.state.dateTo) {
            this.load();
        }
    }

    onCompanyChange(ev) {
        this.state.companyId = ev.target.value;
        this.load();
    }

    onCarrierChange(ev) {
        this.state.carrierId = ev.target.value;
        this.load();
    }

    // ------------------------------------------------------------------ //
    // Display
    // ------------------------------------------------------------------ //

    get kpis() {
        return this.state.data.kpis;
    }

    get tiles() {
        const k = this.kpis;
        return [
            {
                key: "shipments",
                label: _t("Shipments"),
                value: formatInteger(k.shipments),
                detail: _t("%s delivered", formatInteger(k.delivered)),
                domain: [],
            },
            {
                key: "on_time_rate",
                label: _t("On-time delivery"),
                value: formatPercent(k.on_time_rate),
                detail: _t("%(count)s of %(total)s delivered with a deadline", {
                    count: formatInteger(k.on_time_count),
                    total: formatInteger(k.on_time_base),
                }),
                domain: [["on_time_pct", "!=", false]],
                tone: this.rateTone(k.on_time_rate, 95, 85),
            },
            {
                key: "avg_transit_hours",
                label: _t("Average transit"),
                value: formatHours(k.avg_transit_hours),
                detail: _t("first scan to delivery"),
                domain: [["is_delivered", "=", true]],
            },
            {
                key: "p90_transit_hours",
                label: _t("90th percentile transit"),
                value: formatHours(k.p90_transit_hours),
                detail: _t("9 in 10 deliveries are faster"),
                domain: [["is_delivered", "=", true]],
            },
            {
                key: "exception_rate",
                label: _t("Exception rate"),
                value: formatPercent(k.exception_rate),
                detail: _t("%s shipments with an exception", formatInteger(k.exception_count)),
                domain: [["has_exception", "=", true]],
                tone: this.rateTone(k.exception_rate === null ? null : 100 - k.exception_rate, 95, 85),
            },
            {
                key: "first_scan_latency_hours",
                label: _t("First-scan latency"),
                value: formatHours(k.first_scan_latency_hours),
                detail: _t("%s shipments scanned after validation", formatInteger(k.first_scan_count)),
                domain: [["first_scan_latency_hours", "!=", false]],
            },
            {
                key: "event_latency_hours",
                label: _t("Event latency"),
                value: formatHours(k.event_latency_hours),
                detail: _t("received minus occurred, %s events", formatInteger(k.event_count)),
                domain: [["event_count", ">", 0]],
            },
            {
                key: "pod_completeness",
                label: _t("POD completeness"),
                value: formatPercent(k.pod_completeness),
                detail: _t("%(count)s of %(total)s deliveries with proof", {
                    count: formatInteger(k.pod_complete_count),
                    total: formatInteger(k.pod_base),
                }),
                domain: [["pod_complete_pct", "!=", false]],
                tone: this.rateTone(k.pod_completeness, 98, 90),
            },
            this.predictionTile,
        ].filter(Boolean);
    }

    get predictionTile() {
        const p = this.state.data.prediction;
        if (!p || !p.predicted) {
            return null;
        }
        const days = (value) => (value === null || value === undefined ? "–" : value.toFixed(2));
        return {
            key: "prediction_accuracy",
            label: _t("Predicted delivery error"),
            value: _t("%s d", days(p.ours_mae_days)),
            detail: _t("carrier estimates: %(carrier)s d; %(within)s within a day", {
                carrier: days(p.carrier_mae_days),
                within: formatPercent(p.ours_within_1_pct),
            }),
            action: "shipment_visibility.action_shipment_prediction_accuracy",
        };
    }

    rateTone(value, good, fair) {
        if (value === null || value === undefined) {
            return "";
        }
        return value >= good ? "success" : value >= fair ? "warning" : "danger";
    }

    formatHours(value) {
        return formatHours(value);
    }

    formatInteger(value) {
        return formatInteger(value);
    }

    formatPercent(value) {
        return formatPercent(value);
    }

    barWidth(value) {
        return `width: ${Math.max(0, Math.min(100, value || 0))}%`;
    }

    // ------------------------------------------------------------------ //
    // Drill-down
    // ------------------------------------------------------------------ //

    get baseDomain() {
        const filters = this.state.data.filters;
        const start = DateTime.fromISO(filters.date_from).startOf("day");
        const stop = DateTime.fromISO(filters.date_to).plus({ days: 1 }).startOf("day");
        const domain = [
            ["date", ">=", serializeDateTime(start)],
            ["date", "<", serializeDateTime(stop)],
            ["company_id", "in", filters.company_ids],
        ];
        if (filters.carrier_ids.length) {
            domain.push(["carrier_id", "in", filters.carrier_ids]);
        }
        return domain;
    }

    openReport(extraDomain, name, viewType = "pivot") {
        const views = [
            [false, "pivot"],
            [false, "graph"],
            [false, "list"],
        ];
        this.actionService.doAction({
            type: "ir.actions.act_window",
            name: name || _t("Partner Performance"),
            res_model: "shipment.performance.report",
            views: [views.find((v) => v[1] === viewType), ...views.filter((v) => v[1] !== viewType)],
            domain: [...this.baseDomain, ...extraDomain],
            context: { pivot_row_groupby: ["carrier_id"], graph_groupbys: ["carrier_id"] },
        });
    }

    onTileClick(tile) {
        if (tile.action) {
            this.actionService.doAction(tile.action);
            return;
        }
        this.openReport(tile.domain, tile.label);
    }

    onCarrierRowClick(row) {
        this.openReport(
            [
                ["carrier_id", "=", row.carrier_id],
                ["connector_id", "=", row.connector_id],
            ],
            `${row.carrier_name} / ${row.connector_name}`,
            "list"
        );
    }

    onReasonClick(row) {
        this.openReport([["exception_reason", "=", row.reason]], row.label, "list");
    }

    // ------------------------------------------------------------------ //
    // Charts
    // ------------------------------------------------------------------ //

    destroyCharts() {
        for (const chart of this.charts) {
            chart.destroy();
        }
        this.charts = [];
    }

    renderCharts() {
        this.destroyCharts();
        const data = this.state.data;
        if (!data || !window.Chart) {
            return;
        }
        const style = getComputedStyle(document.documentElement);
        const primary = style.getPropertyValue("--bs-primary").trim() || "#714b67";
        const success = style.getPropertyValue("--bs-success").trim() || "#28a745";
        const danger = style.getPropertyValue("--bs-danger").trim() || "#dc3545";
        if (this.dailyCanvas.el) {
            this.charts.push(
                new window.Chart(this.dailyCanvas.el, {
                    type: "bar",
                    data: {
                        labels: data.days.map((d) =>
                            DateTime.fromISO(d.day).toLocaleString({ month: "short", day: "numeric" })
                        ),
                        datasets: [
                            {
                                type: "bar",
                                label: _t("Shipments"),
                                data: data.days.map((d) => d.shipments),
                                backgroundColor: primary,
                                yAxisID: "y",
                            },
                            {
                                type: "line",
                                label: _t("SLA met (%)"),
                                data: data.days.map((d) => d.on_time_rate),
                                borderColor: success,
                                backgroundColor: success,
                                spanGaps: true,
                                yAxisID: "rate",
                            },
                        ],
                    },
                    options: {
                        maintainAspectRatio: false,
                        animation: false,
                        scales: {
                            y: { beginAtZero: true, ticks: { precision: 0 } },
                            rate: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false } },
                        },
                    },
                })
            );
        }
        if (this.reasonCanvas.el && data.exceptions.length) {
            this.charts.push(
                new window.Chart(this.reasonCanvas.el, {
                    type: "bar",
                    data: {
                        labels: data.exceptions.map((r) => r.label),
                        datasets: [
                            {
                                label: _t("Shipments"),
                                data: data.exceptions.map((r) => r.shipments),
                                backgroundColor: danger,
                            },
                        ],
                    },
                    options: {
                        indexAxis: "y",
                        maintainAspectRatio: false,
                        animation: false,
                        plugins: { legend: { display: false } },
                        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
                    },
                })
            );
        }
    }
}

registry.category("actions").add("shipment_visibility.dashboard", ShipmentDashboard);
