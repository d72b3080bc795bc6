import { registry } from "@web/core/registry";

/**
 * A customer follows an order from the portal: My Account → Shipments → one parcel →
 * back to the order, which shows a card per parcel. Data comes from the Python test.
 */
registry.category("web_tour.tours").add("shipment_visibility_portal", {
    url: "/my",
    steps: () => [
        {
            content: "My Account lists the shipments with their count",
            trigger: ".o_portal_index_card a[href='/my/shipments']:contains('Shipments')",
            run: "click",
        },
        {
            content: "The list shows the customer's parcels",
            trigger: "tr.o_sv_shipment_row:contains('PARCELB2')",
        },
        {
            content: "Open the parcel with news",
            trigger: "a.o_sv_shipment_link:contains('PARCELA1')",
            run: "click",
        },
        {
            content: "The shipment page shows its status, progress and history",
            trigger: ".sv-headline:contains('Arrived at a carrier facility')",
        },
        {
            trigger: ".sv-events li:first-child:contains('Arrived at hub Orly')",
        },
        {
            content: "Back to the order",
            trigger: "a.o_sv_back_to_order",
            run: "click",
        },
        {
            content: "The order shows one card per parcel",
            trigger: "#sale_shipments .o_sv_shipment_card:contains('PARCELB2')",
        },
        {
            trigger: "#sale_shipments .o_sv_shipment_card:contains('PARCELA1')",
        },
    ],
});
