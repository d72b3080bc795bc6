from datetime import datetime, timedelta, timezone

from odoo.tests import TransactionCase

from ..integration.events import CanonicalEvent

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def store_events(env, events, source="webhook", connector=None, shipments=None):
    """Store canonical events as the inbox processor does, without a partner message.

    Tests set up histories this way, with the processor's own steps: shipments matched
    (or created unmatched) by tracking number, rows inserted unless their fingerprint is
    known, the touched shipments' state derived once.

    :param dict shipments: tracking number → ``shipment.shipment``, to force the shipment.
    :return: the created ``shipment.event`` records.
    """
    env = env(su=True)
    Event = env["shipment.event"]
    if shipments is None:
        shipments = env["shipment.shipment"]._find_or_create_for_events(
            [event.tracking_number for event in events], connector=connector)
    rows = Event._rows_from_canonical(events, shipments, source)
    created = Event.browse([event_id for event_id, _row in Event._insert_rows(rows)])
    created._notify_created()
    return created


class ShipmentCommon(TransactionCase):
    """Carriers, a connector, a customer and helpers to build delivery orders and events."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.company
        cls.customer = cls.env["res.partner"].create({"name": "Ada Customer", "email": "ada@example.com"})
        cls.carrier = cls._prepare_carrier("Test Express")
        cls.other_carrier = cls._prepare_carrier("Test Freight")
        cls.connector = cls.env["shipment.connector"].create({
            "name": "Test AfterShip",
            "connector_type": "aftership",
            "carrier_ids": [(6, 0, cls.carrier.ids)],
            "mode": "live",
            "webhook_secret": "test-aftership-secret",
        })
        cls.product = cls.env["product.product"].create({"name": "Widget", "is_storable": True})
        cls.stock_location = cls.env.ref("stock.stock_location_stock")
        cls.customer_location = cls.env.ref("stock.stock_location_customers")
        cls.picking_type_out = cls.env.ref("stock.picking_type_out")

    @classmethod
    def _prepare_carrier(cls, name, **values):
        product = cls.env["product.product"].create({"name": f"{name} service", "type": "service"})
        return cls.env["delivery.carrier"].create(dict({
            "name": name,
            "product_id": product.id,
            "delivery_type": "fixed",
            "tracking_url": "https://track.example.com/?n=<shipmenttrackingnumber>",
        }, **values))

    @classmethod
    def _create_picking(cls, **values):
        return cls.env["stock.picking"].create(dict({
            "partner_id": cls.customer.id,
            "picking_type_id": cls.picking_type_out.id,
            "location_id": cls.stock_location.id,
            "location_dest_id": cls.customer_location.id,
            "carrier_id": cls.carrier.id,
            "move_ids": [(0, 0, {
                "name": cls.product.name,
                "product_id": cls.product.id,
                "product_uom_qty": 1,
                "product_uom": cls.product.uom_id.id,
                "location_id": cls.stock_location.id,
                "location_dest_id": cls.customer_location.id,
            })],
        }, **values))

    @staticmethod
    def _event(tracking_number, milestone, hours, **values):
        """A canonical event ``hours`` after :data:`NOW` (negative: before)."""
        return CanonicalEvent(
            tracking_number=tracking_number,
            milestone=milestone,
            occurred_at=NOW + timedelta(hours=hours),
            carrier="test",
            **values,
        )

    def _ingest(self, events, **kwargs):
        created = store_events(self.env, events, connector=kwargs.pop("connector", self.connector), **kwargs)
        self.env.flush_all()
        return created
