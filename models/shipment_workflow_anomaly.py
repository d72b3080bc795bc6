from odoo import _, api, fields, models

from ..integration import anomalies


class ShipmentWorkflow(models.AbstractModel):
    """Anomalies no carrier reports, opened on the exceptions desk with a plain explanation.

    Looping and estimate churn are looked for after every batch of events; stalled
    parcels and missing first scans are about time passing, and are looked for by the
    nightly run (:meth:`_cron_anomalies`).
    """

    _inherit = "shipment.workflow"

    def _apply_policies(self, shipment):
        super()._apply_policies(shipment)
        shadow = shipment.shadow or shipment.connector_id.mode == "shadow"
        if not shipment.is_terminal:
            for anomaly in self._event_anomalies(shipment):
                self._open_anomaly(shipment, anomaly, shadow)

    @api.model
    def _cron_anomalies(self, company, now=None):
        """Look for stalled parcels and missing first scans among ``company``'s open shipments."""
        now = now or fields.Datetime.now()
        Shipment = self.env["shipment.shipment"]
        open_shipments = Shipment.search([("company_id", "=", company.id), ("is_terminal", "=", False),
                                          ("shadow", "=", False)])
        dwell = {(stat.carrier_id.id, stat.milestone): stat.p95_hours for stat in
                 self.env["shipment.dwell.stat"].search([("company_id", "=", company.id)])}
        limit = company.shipment_first_scan_anomaly_hours
        found = 0
        for shipment in open_shipments:
            shadow = shipment.connector_id.mode == "shadow"
            last = shipment.last_event_id
            candidates = [
                anomalies.stalled(now, last and anomalies.Scan(last.milestone, last.occurred_at, last.city),
                                  dwell.get((shipment.carrier_id.id, last.milestone))) if last else None,
                anomalies.first_scan_missing(now, shipment.picking_id.date_done, shipment.shipped_at, limit),
            ]
            for anomaly in filter(None, candidates):
                found += bool(self._open_anomaly(shipment, anomaly, shadow))
        return found

    def _open_exception(self, shipment, kind, reason, shadow, event=None, note=""):
        # Exceptions the system opens on its own inference carry their explanation on the desk.
        done = super()._open_exception(shipment, kind, reason, shadow, event=event, note=note)
        if done and note and kind in ("anomaly", "trending_late"):
            shipment.invalidate_recordset(["exception_ids"])
            opened = shipment.exception_ids.filtered(
                lambda e: e.kind == kind and e.reason == reason and e.state == "open" and not e.explanation)
            opened.sudo().explanation = note  # written by the system, like the exception itself
        return done

    def _event_anomalies(self, shipment):
        events = shipment.event_ids.sorted(lambda e: (e.occurred_at, e.id))
        scans = [anomalies.Scan(e.milestone, e.occurred_at, e.city or e.postcode or False)
                 for e in events if e.event_class == "actual"]
        estimates = events.filtered(lambda e: e.event_class == "estimated" and e.milestone == "delivered")
        days = [e.occurred_at.date() for e in estimates.sorted(lambda e: (e.issued_at or e.received_at, e.id))]
        return list(filter(None, (anomalies.looping(scans),
                                  anomalies.estimate_churn(days, shipment.company_id.shipment_eta_churn_limit))))

    def _open_anomaly(self, shipment, anomaly, shadow):
        """Open ``anomaly`` on the desk once: not again while one of its kind is unresolved."""
        if shipment.exception_ids.filtered(lambda e: e.kind == "anomaly" and e.reason == anomaly.kind
                                           and e.state != "resolved"):
            return False
        return self._open_exception(shipment, "anomaly", anomaly.kind, shadow,
                                    note=self._anomaly_explanation(anomaly)) or True

    def _anomaly_explanation(self, anomaly):
        """The anomaly in words a customer-service agent can repeat."""
        facts = dict(anomaly.facts)
        Event = self.env["shipment.event"]
        labels = dict(Event._fields["milestone"]._description_selection(self.env))
        for key in ("milestone", "after"):
            if key in facts:
                facts[key] = labels.get(facts[key], facts[key])
        if anomaly.kind == "stalled":
            place = _(" in %s", facts["place"]) if facts.get("place") else ""
            return _("No scan for %(hours)s hours since “%(milestone)s”%(place)s; this carrier's parcels usually "
                     "move on within %(usual)s hours.", hours=facts["hours"], milestone=facts["milestone"],
                     place=place, usual=facts["usual"])
        if anomaly.kind == "looping" and "left_for" in facts:
            return _("The parcel is back in %(place)s, which it had left for %(other)s.", place=facts["place"],
                     other=facts["left_for"])
        if anomaly.kind == "looping":
            return _("The parcel went back: “%(milestone)s” in %(place)s after “%(after)s”.",
                     milestone=facts["milestone"], place=facts.get("place") or _("an unknown place"),
                     after=facts["after"])
        if anomaly.kind == "estimate_churn":
            return _("The carrier changed its delivery estimate %(changes)s times (more than %(limit)s).",
                     changes=facts["changes"], limit=facts["limit"])
        return _("The delivery order was done %(hours)s hours ago and the carrier has not scanned the parcel yet.",
                 hours=facts["hours"])

