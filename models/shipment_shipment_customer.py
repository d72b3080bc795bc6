"""What customers see of a shipment: portal access, the public tracking page and its data."""

import uuid
from datetime import datetime, timedelta, timezone

import babel.dates
import pytz

from odoo import _, api, fields, models
from odoo.tools import SQL
from odoo.tools.misc import babel_locale_parse

from ..integration import customer_view, reasons, taxonomy
from . import customer_texts
from .shipment_shipment import _aware

# Events shown on a customer page before "show all": long histories stay readable,
# and the page stays cheap.
CUSTOMER_EVENT_LIMIT = 20
# The columns of an event as customer pages show it (see _customer_events).
CUSTOMER_EVENT_COLUMNS = "milestone, occurred_at, utc_offset, city, region, postcode, country_code, description"


def _customer_event_filter():
    """The events a customer sees: actual ones, unmapped codes only with the carrier's words."""
    return SQL("event_class = %s AND (milestone <> %s OR COALESCE(description, '') <> '')",
               taxonomy.ACTUAL, taxonomy.UNKNOWN)


# What customer pages read of a shipment (see ShipmentShipment._customer_prefetch).
CUSTOMER_SHIPMENT_FIELDS = [
    "tracking_number", "status", "company_id", "carrier_id", "picking_id", "partner_id", "access_token",
    "eta", "eta_window_start", "eta_window_end", "promised_date", "delivered_at", "last_event_at",
    "last_event_id", "exception_reason", "pod_signed_by", "pod_url", "pod_attachment_id",
]
CUSTOMER_SHIPMENT_FIELDS += ["predicted_window_start", "predicted_window_end"]


class ShipmentShipment(models.Model):
    _inherit = "shipment.shipment"

    # ------------------------------------------------------------------ #
    # PORTAL AND TRACKING PAGE
    # ------------------------------------------------------------------ #

    def _compute_access_url(self):
        super()._compute_access_url()
        for shipment in self:
            shipment.access_url = f"/my/shipments/{shipment.id}"

    def _get_share_url(self, redirect=False, signup_partner=False, pid=None, share_token=True):
        """Shared links open the public tracking page: it needs no account and shows
        the same shipment, so the share wizard and the e-mails hand out one URL."""
        self.ensure_one()
        if not share_token:
            return super()._get_share_url(redirect, signup_partner, pid, share_token)
        return f"/track/{self._portal_ensure_token()}"

    def _track_url(self, suffix=""):
        """Absolute URL of this shipment's public tracking page (for e-mails, slips)."""
        self.ensure_one()
        return f"{self.get_base_url()}/track/{self._portal_ensure_token()}{suffix}"

    @api.depends("access_token")
    def _compute_customer_tracking_url(self):
        for shipment in self:
            shipment.customer_tracking_url = shipment._track_url() if shipment.access_token else False

    def action_regenerate_access_token(self):
        """Revoke every link handed out so far (e-mails, shares): the next one differs."""
        for shipment in self:
            shipment.sudo().access_token = str(uuid.uuid4())  # portal.mixin keeps tokens system-written
            shipment._message_log(body=_("Tracking link regenerated: earlier links no longer work."))

    def action_preview_tracking_page(self):
        """Open the page the customer sees, from the backend."""
        self.ensure_one()
        return {"type": "ir.actions.act_url", "target": "new", "url": self._track_url()}

    def _customer_delivery_candidates(self):
        """Dates a customer may be told to expect, best first.

        The one place that decides where "Expected delivery" comes from: a new source
        (such as a predicted delivery window) is one more :class:`Candidate` here.

        :rtype: list of :class:`integration.customer_view.Candidate`
        """
        self.ensure_one()
        return [
            customer_view.Candidate("carrier", self.eta_window_start or self.eta, self.eta_window_end or self.eta),
            customer_view.Candidate("promised", self.promised_date, self.promised_date),
        ]

    def _customer_expectation(self, tz=None, now=None):
        """The "Expected delivery" line of :func:`integration.customer_view.expected_delivery`.

        :param tz: the customer's ``tzinfo`` (UTC when unknown).
        """
        self.ensure_one()
        return customer_view.expected_delivery(
            _aware(now or fields.Datetime.now()), self.status, self.delivered_at,
            self._customer_delivery_candidates(), tz or timezone.utc)

    def _customer_events(self, limit=None):
        """The events a customer sees, newest first, and how many there are, in one query.

        Actual events only (estimates are the expected date, not history); unmapped
        partner codes only when the carrier said something in words. Read as rows, not
        records: a history of 500 events costs the query a page of 50 costs.

        :return: (list of dicts, total count)
        """
        self.ensure_one()
        self.env["shipment.event"].flush_model()
        rows = self.env.execute_query_dict(SQL(
            """
            SELECT %s, count(*) OVER () AS total
              FROM shipment_event
             WHERE shipment_id = %s AND %s
             ORDER BY occurred_at DESC, id DESC
             LIMIT %s
            """, SQL(CUSTOMER_EVENT_COLUMNS), self.id, _customer_event_filter(), limit))
        return rows, rows[0]["total"] if rows else 0

    def _customer_surroundings(self, events_limit=False):
        """What a customer page shows around the shipment, in one query: carrier, order,
        delivery address, the latest event's reason and the milestones reached.

        The ORM would read each of these records whole, one table after the other; the
        public tracking page is meant to cost less than Odoo's own login page.

        :param events_limit: unless ``False``, the same query also reads the events a
            customer sees (see :meth:`_customer_events`; ``None`` for all of them) into
            ``events`` and ``events_total``: one statement fewer for the tracking page.
        :rtype: dict
        """
        self.ensure_one()
        self.env.flush_all()
        with_events = events_limit is not False
        events = SQL(
            """,
                   (SELECT COALESCE(json_agg(shown), '[]') FROM (
                        SELECT %(columns)s FROM shipment_event
                         WHERE shipment_id = s.id AND %(shown)s
                         ORDER BY occurred_at DESC, id DESC LIMIT %(limit)s) shown) AS events,
                   (SELECT count(*) FROM shipment_event WHERE shipment_id = s.id AND %(shown)s) AS events_total
            """, columns=SQL(CUSTOMER_EVENT_COLUMNS), shown=_customer_event_filter(),
            limit=events_limit) if with_events else SQL()
        row = self.env.execute_query_dict(SQL(
            """
            SELECT c.name AS carrier_names, c.tracking_url AS carrier_tracking_url,
                   p.name AS picking_name, so.name AS order_name,
                   a.name AS address_name, a.street, a.street2, a.zip, a.city, st.name AS state_name,
                   co.name AS country_names, a.lang AS customer_lang, a.tz AS customer_tz,
                   le.reason AS last_reason, le.raw_code AS last_raw_code, le.description AS last_description,
                   ARRAY(SELECT DISTINCT e.milestone FROM shipment_event e
                          WHERE e.shipment_id = s.id AND e.event_class = %(actual)s) AS milestones,
                   s.company_id AS company_id, company.name AS company_name,
                   company.primary_color AS company_primary_color,
                   company.secondary_color AS company_secondary_color,
                   cp.email AS company_email, cp.phone AS company_phone, cp.tz AS company_tz
                   %(events)s
              FROM shipment_shipment s
              JOIN res_company company ON company.id = s.company_id
              JOIN res_partner cp ON cp.id = company.partner_id
              LEFT JOIN delivery_carrier c ON c.id = s.carrier_id
              LEFT JOIN stock_picking p ON p.id = s.picking_id
              LEFT JOIN sale_order so ON so.id = p.sale_id
              LEFT JOIN res_partner a ON a.id = COALESCE(s.partner_id, p.partner_id)
              LEFT JOIN res_country_state st ON st.id = a.state_id
              LEFT JOIN res_country co ON co.id = a.country_id
              LEFT JOIN shipment_event le ON le.id = s.last_event_id
             WHERE s.id = %(id)s
            """, actual=taxonomy.ACTUAL, id=self.id, events=events))[0]
        if with_events:
            row["events_limit"] = events_limit
            # json_agg writes timestamps as ISO text; the timeline formats datetimes.
            for event in row["events"]:
                event["occurred_at"] = datetime.fromisoformat(event["occurred_at"])
        return row

    def _customer_translated(self, translations):
        """A translated name read as its raw jsonb value, in the environment's language."""
        if not translations:
            return False
        return translations.get(self.env.lang or "en_US") or translations.get("en_US") or False

    def _customer_progress(self, milestones=None):
        """Where the progress bar stands (see :func:`integration.customer_view.progress`)."""
        self.ensure_one()
        if milestones is None:
            milestones = self._customer_surroundings()["milestones"]
        return customer_view.progress(self.status, milestones)

    def _customer_explanation(self, surroundings=None):
        """What happened and what the customer can do, for problem statuses.

        :param dict surroundings: :meth:`_customer_surroundings`, when already read.
        :return: (what happened, what to do) translated in the environment's language,
            or None when the status needs no explanation.
        """
        self.ensure_one()
        if self.status not in customer_texts.EXPLAINED:
            return None
        if surroundings is None:
            last = self.sudo().last_event_id  # the carrier's words are classified, never shown raw here
            facts = (last.reason, last.raw_code, last.description)
        else:
            facts = (surroundings["last_reason"], surroundings["last_raw_code"], surroundings["last_description"])
        reason = self.exception_reason or reasons.classify(*facts)
        texts = customer_texts.REASON_TEXTS.get(reason) or customer_texts.STATUS_TEXTS[self.status]
        return tuple(self.env._(text) for text in texts)

    def _customer_prefetch(self):
        """Read what customer pages show of the shipment itself, in one narrow query."""
        self.fetch(CUSTOMER_SHIPMENT_FIELDS)

    def _customer_view_values(self, tz_name=None, full=True, limit=CUSTOMER_EVENT_LIMIT, around=None):
        """Everything a customer page or e-mail shows of this shipment, already worded.

        Strings are in the environment's language, times in ``tz_name``; ``around`` is
        :meth:`_customer_surroundings` when the caller already read it. With
        ``full=False`` (a lookup by tracking number alone) only what a carrier's public
        page shows: status, dates, city and country; no address, signer or order.
        Queries do not grow with the number of events.

        :rtype: dict
        """
        self.ensure_one()
        env = self.env
        tz_name = tz_name if tz_name in pytz.all_timezones_set else "UTC"
        tz = pytz.timezone(tz_name)
        locale = babel_locale_parse(env.lang or "en_US")
        self._customer_prefetch()
        around = around or self._customer_surroundings()

        days, clocks = {}, {}

        def day(value, zone=tz):
            # Babel formats slowly and a history has a few days and many scans per day.
            local = _aware(value).astimezone(zone)
            key = (local.date(), zone)
            if key not in days:
                days[key] = babel.dates.format_date(local, "EEE d MMM", locale=locale)
            return days[key]

        def clock(value, zone=tz):
            local = _aware(value).astimezone(zone)
            key = (local.hour, local.minute)
            if key not in clocks:
                clocks[key] = babel.dates.format_time(local, "short", locale=locale)
            return clocks[key]

        expectation = self._customer_expectation(tz=tz)
        if expectation.kind == "delivered":
            expected = env._("%(day)s at %(time)s", day=day(expectation.start), time=clock(expectation.start))
        elif expectation.kind == "expected":
            if day(expectation.start) == day(expectation.end):
                expected = day(expectation.end)
                if expectation.start != expectation.end:
                    expected = env._("%(day)s, %(start)s – %(end)s", day=expected,
                                     start=clock(expectation.start), end=clock(expectation.end))
            else:
                expected = env._("%(start)s – %(end)s", start=day(expectation.start), end=day(expectation.end))
        else:
            expected = False
        source = customer_texts.SOURCE_LABELS.get(expectation.source)

        progress = self._customer_progress(around["milestones"])
        if "events" in around and around["events_limit"] == limit:
            events, total = around["events"], around["events_total"]
        else:
            events, total = self._customer_events(limit=limit)
        labels = {}
        timeline = []
        for event in events:
            when = event["occurred_at"]
            if full:
                when_text = f"{day(when)} · {clock(when)}"
                place = ", ".join(part for part in (
                    " ".join(p for p in (event["postcode"], event["city"]) if p),
                    event["region"], event["country_code"]) if part)
            else:
                # What the carrier's page shows: the clock at the place of the scan.
                zone = timezone(timedelta(minutes=event["utc_offset"] or 0))
                when_text = f"{day(when, zone)} · {clock(when, zone)}"
                place = ", ".join(part for part in (event["city"], event["country_code"]) if part)
            milestone = event["milestone"]
            if milestone not in labels:
                labels[milestone] = env._(customer_texts.status_label(milestone))
            timeline.append({
                "when": when_text,
                "datetime": fields.Datetime.to_string(when),
                "label": labels[milestone],
                "description": event["description"] or False,
                "location": place or False,
                "milestone": milestone,
            })
        template = around["carrier_tracking_url"]
        carrier_url = (template.replace("<shipmenttrackingnumber>", self.tracking_number)
                       if template and self.tracking_number else False)
        values = {
            "shipment": self,
            "full": full,
            "tz_name": tz_name,
            "status": self.status,
            "headline": env._(customer_texts.status_label(self.status)),
            "tone": progress.tone,
            "steps": [{"label": env._(customer_texts.STEP_LABELS[code]),
                       "state": "done" if index < progress.step or (index == progress.step and progress.tone
                                                                     == customer_view.TONE_DONE)
                       else "current" if index == progress.step else "todo"}
                      for index, code in enumerate(customer_view.STEPS)],
            "step": progress.step,
            "expectation_kind": expectation.kind,
            "expected": expected,
            "expected_source": env._(source) if source else False,
            "explanation": self._customer_explanation(around),
            "events": timeline,
            "event_total": total,
            "more_label": env._("Show all %(count)s events", count=total),
            "tracking_number": self.tracking_number,
            "carrier_name": self._customer_translated(around["carrier_names"]),
            "carrier_url": carrier_url,
            "last_update": f"{day(self.last_event_at)} · {clock(self.last_event_at)}" if self.last_event_at else False,
        }
        if full:
            values.update({
                "order_name": around["order_name"] or around["picking_name"] or False,
                "address_name": around["address_name"] or False,
                "address_lines": [line for line in (around["street"], around["street2"],
                                                    " ".join(p for p in (around["zip"], around["city"]) if p),
                                                    around["state_name"],
                                                    self._customer_translated(around["country_names"])) if line],
                "pod_signed_by": self.pod_signed_by or False,
                "pod_available": bool(self.pod_url or self.pod_attachment_id),
            })
        return values
