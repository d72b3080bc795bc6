"""The canonical documents of shipments and their events, for the API and the outbox."""

from odoo import models

from ..integration import canonical


class ShipmentShipment(models.Model):
    _inherit = "shipment.shipment"

    def _canonical_documents(self):
        """``{shipment id: shipment.v1 document}`` of these shipments, read in batch.

        The caller has already decided these shipments may be shown; the delivery order,
        sale order and carrier names are part of a visible shipment even for an account
        (portal-like or machine) that cannot read those models, hence the sudo below.
        """
        documents = {}
        for shipment in self:
            picking = shipment.sudo().picking_id
            sale = picking.sale_id
            carrier = shipment.sudo().carrier_id
            documents[shipment.id] = canonical.shipment_document({
                "id": shipment.id,
                "tracking_number": shipment.tracking_number,
                "carrier_id": carrier.id,
                "carrier_name": carrier.name,
                "status": shipment.status,
                "exception_state": shipment.exception_state,
                "exception_reason": shipment.exception_reason,
                "eta": shipment.eta,
                "eta_window_start": shipment.eta_window_start,
                "eta_window_end": shipment.eta_window_end,
                "promised_date": shipment.promised_date,
                "shipped_at": shipment.shipped_at,
                "delivered_at": shipment.delivered_at,
                "last_event_at": shipment.last_event_at,
                "delivery_order": picking.name,
                "sale_order": sale.name,
                "customer_reference": sale.client_order_ref,
                "customer_id": shipment.partner_id.commercial_partner_id.id,
                "company_id": shipment.company_id.id,
                "company_name": shipment.company_id.name,
                "pod_signed_by": shipment.pod_signed_by,
                "pod_url": shipment.pod_url,
                "pod_document": shipment.pod_attachment_id.id,
                "tracking_url": shipment.tracking_url,
                "created_at": shipment.create_date,
                "updated_at": shipment.write_date,
            })
        return documents

    def _canonical_event_documents(self, event_classes=None):
        """``{shipment id: [event.v1 documents by occurrence time]}``, one query for all shipments."""
        domain = [("shipment_id", "in", self.ids)]
        if event_classes:
            domain.append(("event_class", "in", list(event_classes)))
        events = self.env["shipment.event"].search(domain, order="shipment_id, occurred_at, id")
        documents = {shipment_id: [] for shipment_id in self.ids}
        for event in events:
            documents[event.shipment_id.id].append(canonical.event_document({
                key: getattr(event, key) if key != "shipment_id" else event.shipment_id.id
                for key in canonical.EVENT_ROW_KEYS
            }))
        return documents
