import { registry } from "@web/core/registry";

/**
 * A logistics manager opens the dashboard, reads the partner table, then narrows the
 * tiles down to one carrier. The history and its expected figures come from the
 * Python test (tests/sla_common.py); other shipments (demo data) may be there too, so
 * only the seeded carriers' figures are checked.
 */
registry.category("web_tour.tours").add("shipment_visibility_dashboard", {
    steps: () => [
        {
            content: "The dashboard shows its tiles",
            trigger: ".o_shipment_dashboard .o_shipment_kpi[data-kpi='shipments']",
        },
        {
            content: "Test Express: on time 1 of 2",
            trigger: ".o_shipment_dashboard_carrier_row:contains('Test Express'):contains('Test AfterShip') td[data-column='on_time_rate']:contains('50.0 %')",
        },
        {
            content: "Test Freight: 90th percentile transit",
            trigger: ".o_shipment_dashboard_carrier_row:contains('Test Freight') td[data-column='p90_transit_hours']:contains('117.2 h')",
        },
        {
            content: "Filter on Test Express",
            trigger: "select.o_shipment_dashboard_carrier",
            run: "selectByLabel Test Express",
        },
        {
            content: "Shipments of Test Express: 4, 2 delivered",
            trigger: ".o_shipment_kpi[data-kpi='shipments']:contains('2 delivered') .o_shipment_kpi_value:contains('4')",
        },
        {
            trigger: ".o_shipment_kpi[data-kpi='on_time_rate'] .o_shipment_kpi_value:contains('50.0 %')",
        },
        {
            trigger: ".o_shipment_kpi[data-kpi='avg_transit_hours'] .o_shipment_kpi_value:contains('49.0 h')",
        },
        {
            trigger: ".o_shipment_kpi[data-kpi='p90_transit_hours'] .o_shipment_kpi_value:contains('57.8 h')",
        },
        {
            trigger: ".o_shipment_kpi[data-kpi='exception_rate'] .o_shipment_kpi_value:contains('50.0 %')",
        },
        {
            trigger: ".o_shipment_kpi[data-kpi='first_scan_latency_hours'] .o_shipment_kpi_value:contains('3.0 h')",
        },
        {
            trigger: ".o_shipment_kpi[data-kpi='event_latency_hours'] .o_shipment_kpi_value:contains('1.4 h')",
        },
        {
            trigger: ".o_shipment_kpi[data-kpi='pod_completeness'] .o_shipment_kpi_value:contains('50.0 %')",
        },
        {
            content: "Only Test Express is left in the partner table",
            trigger: ".o_shipment_dashboard_carriers tbody:not(:has(tr:contains('Test Freight')))",
        },
        {
            content: "Drill down into the report",
            trigger: ".o_shipment_kpi[data-kpi='exception_rate']",
            run: "click",
        },
        {
            content: "The report opens on the shipments with an exception",
            trigger: ".o_pivot_view th:contains('Test Express')",
        },
        {
            content: "Both shipments had an exception: the rate measure is 100",
            trigger: ".o_pivot_view .o_pivot_cell_value:contains('100.00')",
        },
    ],
});
