"""What customers see of a shipment: portal access, the public tracking page and its data."""

import hashlib
import uuid
from datetime import datetime, timedelta, timezone

import babel.dates
import pytz

from odoo import _, api, fields, models
from odoo.tools import SQL, consteq
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
    """The events a customer sees (:func:`integration.customer_view.shown_to_customer` in SQL)."""
    return SQL("event_class = %s AND (milestone <> %s OR COALESCE(description, '') <> '')",
               taxonomy.ACTUAL, taxonomy.UNKNOWN)


# What customer pages read of a shipment (see ShipmentShipment._customer_prefetch).
CUSTOMER_SHIPMENT_FIELDS = [
    "tracking_number", "status", "company_id", "carrier_id", "picking_id", "partner_id", "access_token",
    "eta", "eta_window_start", "eta_window_end", "promised_date", "delivered_at", "last_event_at",
    "last_event_id", "exception_reason", "pod_signed_by", "pod_url", "pod_attachment_id",
]
CUSTOMER_SHIPMENT_FIELDS += ["predicted_window_start", "predicted_window_end"]
# The history's summary (milestones reached, events shown) is kept on the shipment by
# the processor: the page reads only the events it shows, however long the history.
CUSTOMER_SHIPMENT_FIELDS += ["customer_milestones", "customer_event_count"]


def _customer_zone(tz_name):
    """The time zone a customer page speaks, UTC when the name is unknown.

    :return: (zone name, pytz zone)
    """
    tz_name = tz_name if tz_name in pytz.all_timezones_set else "UTC"
    return tz_name, pytz.timezone(tz_name)


def _customer_page_query(where, events_limit=False):
    """One shipment's customer page in one statement (see ``_customer_surroundings``).

    Everything around the shipment is read by scalar subqueries of one table each, not by
    joins: PostgreSQL plans a join of ten tables by trying their orders, which cost three
    times the query's execution on every request (measured with ``EXPLAIN (SUMMARY)``).
    Each table read still costs about 0.1 ms of planning and start-up, so the latest
    event's words, which only problem statuses explain, are read when needed instead
    (see ``_customer_explanation``), and the company's public face comes from a cache
    (``res.company._shipment_public_face``).
    """
    shown = _customer_event_filter()
    events = SQL(
        """,
           (SELECT json_agg(shown) FROM (
                SELECT %(columns)s FROM shipment_event
                 WHERE shipment_id = s.id AND %(shown)s
                 ORDER BY occurred_at DESC, id DESC LIMIT %(limit)s) shown) AS events
        """, columns=SQL(CUSTOMER_EVENT_COLUMNS), shown=shown, limit=events_limit,
    ) if events_limit is not False else SQL()
    return SQL(
        """
        SELECT %(shipment)s,
               (SELECT json_build_array(c.name, c.tracking_url) FROM delivery_carrier c
                 WHERE c.id = s.carrier_id) AS carrier,
               (SELECT json_build_array(p.name, (SELECT so.name FROM sale_order so WHERE so.id = p.sale_id))
                  FROM stock_picking p WHERE p.id = s.picking_id) AS picking,
               (SELECT json_build_array(a.name, a.street, a.street2, a.zip, a.city, a.lang, a.tz,
                                        (SELECT st.name FROM res_country_state st WHERE st.id = a.state_id),
                                        (SELECT co.name FROM res_country co WHERE co.id = a.country_id))
                  FROM res_partner a
                 WHERE a.id = COALESCE(s.partner_id, (SELECT p.partner_id FROM stock_picking p
                                                       WHERE p.id = s.picking_id))) AS address
               %(events)s
          FROM shipment_shipment s
         WHERE %(where)s
        """,
        shipment=SQL(", ").join(SQL.identifier("s", name) for name in ["id", *CUSTOMER_SHIPMENT_FIELDS]),
        events=events, where=where)


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
        """What a customer page shows around the shipment, in one query: carrier, order and
        delivery address; with the company's public face (``company``, cached).

        :param events_limit: unless ``False``, the same query also reads the events a
            customer sees (see :meth:`_customer_events`; ``None`` for all of them) into
            ``events`` and ``events_total``: one statement fewer for the tracking page.
        :rtype: dict
        """
        self.ensure_one()
        self.env.flush_all()
        row = self.env.execute_query_dict(_customer_page_query(SQL("s.id = %s", self.id), events_limit))[0]
        return self._customer_surroundings_from_row(row, events_limit)

    @api.model
    def _customer_page_by_token(self, token, events_limit=CUSTOMER_EVENT_LIMIT):
        """The shipment of a tracking link and everything its page shows, in one statement.

        The token is compared again in constant time once read. The shipment comes back
        with :data:`CUSTOMER_SHIPMENT_FIELDS` in cache (read by the same statement),
        so that the page costs one query of ours: the public page is meant to cost no
        more than Odoo's own login page.

        :return: (shipment, :meth:`_customer_surroundings` dict), or (empty recordset, None)
        """
        self.env.flush_all()
        rows = self.env.execute_query_dict(_customer_page_query(
            SQL("s.access_token = %s AND s.active", token), events_limit))
        if not rows or not consteq(rows[0]["access_token"] or "", token):
            return self.browse(), None
        row = rows[0]
        # The row holds everything of the database the page shows: its digest is what
        # keys the rendered page (see _customer_page_cache_key).
        digest = hashlib.sha256(repr(row).encode()).hexdigest()
        shipment = self.browse(row["id"])
        # What the ORM's own fetch does with the rows it reads: raw column values into
        # the cache, without overwriting what is there (there is nothing: just found).
        for name in CUSTOMER_SHIPMENT_FIELDS:
            self.env.cache.insert_missing(shipment, self._fields[name], [row[name]])
        around = self._customer_surroundings_from_row(row, events_limit)
        around["row_digest"] = digest
        return shipment, around

    def _customer_page_cache_key(self, around, tz_name, now, limit):
        """What the rendered tracking page depends on besides its template and language,
        or ``False`` when the page is not to be cached.

        QWeb keeps the rendered page under this key (``t-cache``, one cache per worker
        that Odoo empties with its templates and its default cache): the same key must
        mean the same page. Hence the digest of the statement's row (the shipment, its
        shown events, carrier, order, address), the time zone and event limit, and
        what changes with the clock or beyond that row: the "Expected delivery" line,
        decided now, and the explanation of a problem status, which may read the
        latest event. "Show all" pages are not kept: a long history would fill the
        cache with a few pages.

        :param around: :meth:`_customer_page_by_token`'s surroundings of this shipment.
        """
        self.ensure_one()
        if limit is None or not around.get("row_digest"):
            return False
        tz_name, tz = _customer_zone(tz_name)
        return (self.id, around["row_digest"], tz_name, limit,
                tuple(self._customer_expectation(tz=tz, now=now)), self._customer_explanation())

    @api.model
    def _customer_surroundings_from_row(self, row, events_limit):
        """The dict of ``_customer_surroundings`` from a row of :func:`_customer_page_query`."""
        carrier = row["carrier"] or [None] * 2
        picking = row["picking"] or [None] * 2
        address = row["address"] or [None] * 9
        company = self.env["res.company"]._shipment_public_face(row["company_id"])
        around = {
            "carrier_names": carrier[0], "carrier_tracking_url": carrier[1],
            "picking_name": picking[0], "order_name": picking[1],
            "address_name": address[0], "street": address[1], "street2": address[2], "zip": address[3],
            "city": address[4], "customer_lang": address[5], "customer_tz": address[6],
            "state_name": address[7], "country_names": address[8],
            "company_id": row["company_id"], "company": company,
        }
        if events_limit is not False:
            around["events_limit"] = events_limit
            around["events_total"] = row["customer_event_count"]
            # JSON carries timestamps as ISO text; the timeline formats datetimes.
            around["events"] = row["events"] or []
            for event in around["events"]:
                event["occurred_at"] = datetime.fromisoformat(event["occurred_at"])
        return around

    def _customer_translated(self, translations):
        """A translated name read as its raw jsonb value, in the environment's language."""
        if not translations:
            return False
        return translations.get(self.env.lang or "en_US") or translations.get("en_US") or False

    def _customer_progress(self):
        """Where the progress bar stands (see :func:`integration.customer_view.progress`),
        from the milestones the processor keeps on the shipment."""
        self.ensure_one()
        milestones = self.customer_milestones.split(",") if self.customer_milestones else []
        return customer_view.progress(self.status, milestones)

    def _customer_explanation(self):
        """What happened and what the customer can do, for problem statuses.

        :return: (what happened, what to do) translated in the environment's language,
            or None when the status needs no explanation.
        """
        self.ensure_one()
        if self.status not in customer_texts.EXPLAINED:
            return None
        reason = self.exception_reason
        if not reason:
            last = self.sudo().last_event_id  # the carrier's words are classified, never shown raw here
            last.fetch(["reason", "raw_code", "description"])
            reason = reasons.classify(last.reason, last.raw_code, last.description)
        texts = customer_texts.REASON_TEXTS.get(reason) or customer_texts.STATUS_TEXTS[self.status]
        return tuple(self.env._(text) for text in texts)

    def _customer_prefetch(self):
        """Read what customer pages show of the shipment itself, in one narrow query."""
        self.fetch(CUSTOMER_SHIPMENT_FIELDS)

    def _customer_view_values(self, tz_name=None, full=True, limit=CUSTOMER_EVENT_LIMIT, around=None, now=None):
        """Everything a customer page or e-mail shows of this shipment, already worded.

        Strings are in the environment's language, times in ``tz_name``; ``around`` is
        :meth:`_customer_surroundings` when the caller already read it. With
        ``full=False`` (a lookup by tracking number alone) only what a carrier's public
        page shows: status, dates, city and country; no address, signer or order.
        Queries do not grow with the number of events. ``now`` is the moment the
        "Expected delivery" line is decided for (the current time by default).

        :rtype: dict
        """
        self.ensure_one()
        env = self.env
        tz_name, tz = _customer_zone(tz_name)
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

        expectation = self._customer_expectation(tz=tz, now=now)
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

        progress = self._customer_progress()
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
            "explanation": self._customer_explanation(),
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
