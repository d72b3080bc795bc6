import { registry } from "@web/core/registry";

/**
 * An integration administrator opens the health page, reads the seeded connector's
 * row (figures from tests/test_integration_health.py), switches periods and opens the
 * dead messages behind a figure.
 */
registry.category("web_tour.tours").add("shipment_visibility_integration_health", {
    steps: () => [
        {
            content: "The seeded connector's row: 4 received in 24 h",
            trigger: ".o_integration_health_row[data-connector='Health Partner'] td[data-column='received']:contains('4')",
        },
        {
            trigger: ".o_integration_health_row[data-connector='Health Partner'] td[data-column='dead']:contains('1')",
        },
        {
            trigger: ".o_integration_health_row[data-connector='Health Partner'] td[data-column='pending']:contains('2')",
        },
        {
            trigger: ".o_integration_health_row[data-connector='Health Partner'] td[data-column='unmapped_codes']:contains('1')",
        },
        {
            trigger: ".o_integration_health_row[data-connector='Health Partner'] td[data-column='breaker'] .badge:contains('open')",
        },
        {
            content: "The business tiles are there",
            trigger: ".o_integration_health_tile[data-tile='missing_pod']",
        },
        {
            content: "Over 7 days the older message counts too",
            trigger: ".o_integration_health_periods button[data-period='7d']",
            run: "click",
        },
        {
            trigger: ".o_integration_health_row[data-connector='Health Partner'] td[data-column='received']:contains('5')",
        },
        {
            content: "Open the dead messages",
            trigger: ".o_integration_health_row[data-connector='Health Partner'] td[data-column='dead'] a",
            run: "click",
        },
        {
            content: "The inbox list shows exactly the dead message",
            trigger: ".o_list_view .o_data_row:contains('Health Partner')",
        },
        {
            trigger: ".o_list_view:not(:has(.o_data_row:nth-child(2)))",
        },
    ],
});
