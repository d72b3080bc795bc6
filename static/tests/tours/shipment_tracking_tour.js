import { registry } from "@web/core/registry";

/**
 * A warehouse clerk opens a delivery order, reads its tracking timeline and opens the
 * shipment. The delivery order and its events are created by the Python test.
 */
registry.category("web_tour.tours").add("shipment_visibility_picking_tracking", {
    steps: () => [
        {
            content: "The smart button shows the shipment status",
            trigger: ".o_shipment_smart_button:contains('Out for delivery')",
        },
        {
            content: "Open the Tracking page",
            trigger: ".o_notebook a[name='shipment_tracking']",
            run: "click",
        },
        {
            content: "The newest event comes first, with its milestone icon",
            trigger: ".o_shipment_picking_timeline tbody tr:first-child .o_shipment_milestone[data-milestone='out_for_delivery'] i.fa-road",
        },
        {
            content: "Older events follow, with their location",
            trigger: ".o_shipment_picking_timeline tbody tr:nth-child(2):contains('Hub Leipzig'):contains('Leipzig')",
        },
        {
            content: "Open the shipment",
            trigger: ".o_shipment_smart_button",
            run: "click",
        },
        {
            content: "The shipment form shows the tracking number and its timeline",
            trigger: ".o_form_view .o_field_widget[name='tracking_number']:contains('TOUR123')",
        },
        {
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Out for delivery')",
        },
    ],
});
