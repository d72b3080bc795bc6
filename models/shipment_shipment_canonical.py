"""The canonical documents of shipments and their events, for the API and the outbox."""

from odoo import api, models
from odoo.tools import SQL

from ..integration import canonical
from .shipment_shipment import carrier_tracking_url


class ShipmentShipment(models.Model):
    _inherit = "shipment.shipment"

    def _canonical_documents(self):
        """``{shipment id: shipment.v1 document}`` of these shipments, in one query.

        The caller has already decided these shipments may be shown; the delivery order,
        sale order and carrier names are part of a visible shipment even for an account
        (portal-like or machine) that cannot read those models, hence one query that
        joins them without record rules. Read as rows, not records: the processor
        publishes hundreds of documents per batch and the API a hundred per page, and the
        ORM's per-field reads cost more than the rest of either.
        """
        if not self:
            return {}
        self.env.flush_all()
        lang = self.env.lang or "en_US"
        rows = self.env.execute_query_dict(SQL(
            """
            SELECT s.id, s.tracking_number, s.carrier_id,
                   COALESCE(c.name->>%(lang)s, c.name->>'en_US') AS carrier_name, c.tracking_url AS carrier_url,
                   s.status, s.exception_state, s.exception_reason, s.eta, s.eta_window_start, s.eta_window_end,
                   s.promised_date, s.shipped_at, s.delivered_at, s.last_event_at,
                   p.name AS delivery_order, so.name AS sale_order, so.client_order_ref AS customer_reference,
                   customer.commercial_partner_id AS customer_id, s.company_id, company.name AS company_name,
                   s.pod_signed_by, s.pod_url, s.pod_attachment_id AS pod_document,
                   s.create_date AS created_at, s.write_date AS updated_at
              FROM shipment_shipment s
              JOIN res_company company ON company.id = s.company_id
              LEFT JOIN delivery_carrier c ON c.id = s.carrier_id
              LEFT JOIN stock_picking p ON p.id = s.picking_id
              LEFT JOIN sale_order so ON so.id = p.sale_id
              LEFT JOIN res_partner customer ON customer.id = s.partner_id
             WHERE s.id = ANY(%(ids)s)
            """, lang=lang, ids=self.ids))
        documents = {}
        for row in rows:
            row["tracking_url"] = carrier_tracking_url(row.pop("carrier_url"), row["tracking_number"])
            documents[row["id"]] = canonical.shipment_document(row)
        return documents

    def _canonical_event_documents(self, event_classes=None):
        """``{shipment id: [event.v1 documents by occurrence time]}``, one query for all shipments.

        Read as rows, not records: the API answers a shipment's history on every call, and
        building twenty fields per event through the ORM cost more than the rest of the
        request. Visibility is the caller's: these shipments' events are theirs to see.
        """
        where = SQL("shipment_id = ANY(%s)", self.ids)
        if event_classes:
            where = SQL("%s AND event_class = ANY(%s)", where, list(event_classes))
        documents = {shipment_id: [] for shipment_id in self.ids}
        for row in self.env["shipment.event"]._canonical_rows(where):
            documents[row["shipment_id"]].append(canonical.event_document(row))
        return documents

    @api.model
    def _visible_event_documents(self, shipment_id):
        """The event.v1 documents of shipment ``shipment_id`` when this environment may see
        it, else ``None``: one query when it has events (the API's history read).

        The record rules apply to the shipment, in the subquery; its events are then its
        own to see, as the rules on events say too.
        """
        visible = self._search([("id", "=", shipment_id)])
        rows = self.env["shipment.event"].sudo()._canonical_rows(SQL("shipment_id IN %s", visible.subselect()))
        if not rows and not self.search_count([("id", "=", shipment_id)], limit=1):
            return None
        return [canonical.event_document(row) for row in rows]
