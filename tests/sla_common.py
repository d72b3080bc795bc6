from datetime import datetime, timedelta, timezone

from .common import ShipmentCommon


class SlaHistoryCommon(ShipmentCommon):
    """A small shipping history whose SLA figures are worked out by hand in the tests.

    ``T0`` is 20 days ago (whole hour, naive UTC as Odoo stores it); ``at(h)`` is ``T0``
    plus ``h`` hours. Every event is received some hours after it occurred, shown as
    "+r" below. Policies: Test Express (carrier) transit 48 h; connector Test Generic to
    France transit 120 h; generic transit 72 h; proof of delivery due 24 h after delivery.

    ======  =======  ====  =========================================  ==================
    name    carrier  done  actual events (occurred +received)         outcome
    ======  =======  ====  =========================================  ==================
    A1      Express  0     picked_up 2 +0.5, in_transit 10 +1,        transit 38 h, on
                           delivered 40 +0.5; POD signed              time (≤ 48)
    A2      Express  24    picked_up 30 +2, delivery_attempted 70 +1  transit 60 h, late;
                           (recipient unavailable), delivered 90 +3   POD missing
    A3      Express  48    picked_up 49 +1, exception 60 +2 (damaged) not delivered
    A4      Express  72    none                                       awaiting 1st scan
    B1      Freight  0     picked_up 4 +4, delivered 70 +2 (and an    transit 66 h, on
                           estimate received 50 h late: not actual)   time (≤ 72); POD
    B2      Freight  12    picked_up 20 +1, customs_hold 50 +5        France: transit
            (to FR)        (customs documents), delivered 150 +1      130 h, late (120)
    B3      Freight  now   picked_up now-48 +0.5, delivered now-3 +0  transit 45 h, on
            -50 h                                                     time; POD not due
    B4      Freight  -240  picked_up -239, delivered -200             before the period
    X1      Express  (no delivery order, other company) picked_up 5,  other company
                           delivered 20
    ======  =======  ====  =========================================  ==================
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        cls.t0 = (cls.now - timedelta(days=20)).replace(minute=0, second=0)
        cls.country_de = cls.env.ref("base.de")
        cls.country_fr = cls.env.ref("base.fr")
        cls.customer_de = cls.env["res.partner"].create({"name": "Kunde GmbH", "country_id": cls.country_de.id})
        cls.customer_fr = cls.env["res.partner"].create({"name": "Client SARL", "country_id": cls.country_fr.id})
        cls.connector_b = cls.env["shipment.connector"].create({
            "name": "Test Generic",
            "connector_type": "generic_json",
            "carrier_ids": [(6, 0, cls.other_carrier.ids)],
            "mode": "shadow",
        })
        cls.other_company = cls.env["res.company"].create({"name": "SLA Other Co"})

        Policy = cls.env["shipment.sla.policy"]
        cls.policy_generic = Policy.create({
            "name": "Generic", "sequence": 10, "transit_hours": 72, "first_scan_hours": 24,
            "max_silence_hours": 48, "pod_hours": 24})
        cls.policy_express = Policy.create({
            "name": "Express", "sequence": 10, "carrier_id": cls.carrier.id, "transit_hours": 48,
            "first_scan_hours": 12, "max_silence_hours": 24, "pod_hours": 24})
        cls.policy_generic_fr = Policy.create({
            "name": "Generic to France", "sequence": 10, "connector_id": cls.connector_b.id,
            "country_ids": [(6, 0, cls.country_fr.ids)], "transit_hours": 120, "pod_hours": 24})

        cls.a1 = cls._seed("SLAA1", cls.carrier, cls.customer_de, done=0, events=[
            ("picked_up", 2, 0.5), ("in_transit", 10, 1), ("delivered", 40, 0.5)], pod_signed_by="M. MUELLER")
        cls.a2 = cls._seed("SLAA2", cls.carrier, cls.customer_de, done=24, events=[
            ("picked_up", 30, 2), ("delivery_attempted", 70, 1, "recipient_unavailable"), ("delivered", 90, 3)])
        cls.a3 = cls._seed("SLAA3", cls.carrier, cls.customer_de, done=48, events=[
            ("picked_up", 49, 1), ("exception", 60, 2, "damaged")])
        cls.a4 = cls._seed("SLAA4", cls.carrier, cls.customer_de, done=72, events=[])
        cls.b1 = cls._seed("SLAB1", cls.other_carrier, cls.customer_de, done=0, events=[
            ("picked_up", 4, 4), ("delivered", 70, 2)], pod_url="https://pod.example.com/b1.pdf")
        cls._add_event(cls.b1, "delivered", 60, 50, event_class="estimated")
        cls.b2 = cls._seed("SLAB2", cls.other_carrier, cls.customer_fr, done=12, events=[
            ("picked_up", 20, 1), ("customs_hold", 50, 5, "customs_documents"), ("delivered", 150, 1)])
        recent = (cls.now - cls.t0).total_seconds() / 3600  # hours from T0 to now
        cls.b3 = cls._seed("SLAB3", cls.other_carrier, cls.customer_de, done=recent - 50, events=[
            ("picked_up", recent - 48, 0.5), ("delivered", recent - 3, 0)])
        cls.b4 = cls._seed("SLAB4", cls.other_carrier, cls.customer_de, done=-240, events=[
            ("picked_up", -239, 1), ("delivered", -200, 1)])
        cls.x1 = cls.env["shipment.shipment"].create({
            "tracking_number": "SLAX1", "company_id": cls.other_company.id, "carrier_id": cls.carrier.id})
        cls._add_event(cls.x1, "picked_up", 5, 1)
        cls._add_event(cls.x1, "delivered", 20, 1)
        cls.env.flush_all()

    @classmethod
    def at(cls, hours):
        return cls.t0 + timedelta(hours=hours)

    @classmethod
    def _seed(cls, reference, carrier, customer, done, events, **shipment_values):
        picking = cls._create_picking(carrier_id=carrier.id, partner_id=customer.id, carrier_tracking_ref=reference)
        picking.write({"date_done": cls.at(done)})
        shipment = picking.shipment_ids
        assert len(shipment) == 1, "one tracking reference gives one shipment"
        for milestone, hours, received_after, *reason in events:
            cls._add_event(shipment, milestone, hours, received_after, reason=reason[0] if reason else False)
        if shipment_values:
            shipment.write(shipment_values)
        return shipment

    @classmethod
    def _add_event(cls, shipment, milestone, hours, received_after, event_class="actual", reason=False):
        return cls.env["shipment.event"].create({
            "shipment_id": shipment.id,
            "milestone": milestone,
            "event_class": event_class,
            "occurred_at": cls.at(hours),
            "received_at": cls.at(hours + received_after),
            "reason": reason,
            "source": "api",
        })
