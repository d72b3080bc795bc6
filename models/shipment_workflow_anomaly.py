from collections import defaultdict
from datetime import datetime

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..integration import anomalies, taxonomy

# Transaction cache key of the batch's anomaly inputs (see _run).
_ANOMALY_INPUTS = "shipment_visibility.anomaly_inputs"


class ShipmentWorkflow(models.AbstractModel):
    """Anomalies no carrier reports, opened on the exceptions desk with a plain explanation.

    Looping and estimate churn are looked for after every batch of events; stalled
    parcels and missing first scans are about time passing, and are looked for by the
    nightly run (:meth:`_cron_anomalies`).
    """

    _inherit = "shipment.workflow"

    @api.model
    def _run(self, shipments):
        # The events of the whole batch are read once, as rows: read per shipment through
        # the ORM, the anomaly checks cost the processor more than the policies themselves.
        cache = self.env.cr.cache
        previous = cache.get(_ANOMALY_INPUTS)
        cache[_ANOMALY_INPUTS] = self._anomaly_inputs(shipments)
        try:
            return super()._run(shipments)
        finally:
            cache[_ANOMALY_INPUTS] = previous

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
        inputs = (self.env.cr.cache.get(_ANOMALY_INPUTS) or {}).get(shipment.id)
        if inputs is None:  # a shipment outside the batch being run
            inputs = self._anomaly_inputs(shipment)[shipment.id]
        scans, estimated_days = inputs
        return list(filter(None, (anomalies.looping(scans), anomalies.estimate_churn(
            estimated_days, shipment.company_id.shipment_eta_churn_limit))))

    @api.model
    def _anomaly_inputs(self, shipments):
        """``{shipment id: (actual scans in time order, estimated delivery days in the
        order they were issued)}`` of ``shipments``, in one query."""
        inputs = {shipment_id: ([], []) for shipment_id in shipments.ids}
        if not inputs:
            return inputs
        self.env["shipment.event"].flush_model()
        rows = self.env.execute_query(SQL(
            """
            SELECT shipment_id, event_class, milestone, occurred_at, COALESCE(NULLIF(city, ''), postcode),
                   COALESCE(issued_at, received_at), id
              FROM shipment_event
             WHERE shipment_id = ANY(%s)
               AND (event_class = %s OR (event_class = %s AND milestone = %s))
             ORDER BY shipment_id, occurred_at, id
            """, list(inputs), taxonomy.ACTUAL, taxonomy.ESTIMATED, "delivered"))
        estimates = defaultdict(list)
        for shipment_id, event_class, milestone, occurred_at, place, issued, event_id in rows:
            if event_class == taxonomy.ACTUAL:
                inputs[shipment_id][0].append(anomalies.Scan(milestone, occurred_at, place or False))
            else:
                estimates[shipment_id].append((issued, event_id, occurred_at.date()))
        for shipment_id, issued in estimates.items():
            issued.sort(key=lambda estimate: (estimate[0] or datetime.min, estimate[1]))
            inputs[shipment_id][1].extend(day for _issued, _id, day in issued)
        return inputs

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

