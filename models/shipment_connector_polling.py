import json
import logging
import time
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..integration import payload, polling
from ..integration.netguard import AddressPolicy, BlockedDestination
from ..integration.transport import (
    CircuitBreaker,
    CircuitOpenError,
    RateLimitedError,
    Transport,
    TransportConfig,
    TransportConfigError,
    TransportError,
)

_logger = logging.getLogger(__name__)

OUTBOUND_ALLOWED_HOSTS_PARAM = "shipment_visibility.outbound_allowed_hosts"


class ShipmentConnector(models.Model):
    """Polling: partners with only a REST API are asked about open shipments.

    The cron picks due connectors and their open shipments in the API's batch size and
    stores each answer as an inbox message, through one HTTP session per connector with
    timeouts, retries of idempotent calls only, ``Retry-After``, a rate limit and a
    circuit breaker whose state survives the run. Parsing and business work happen in
    the inbox processor, exactly as for webhooks.
    """

    _inherit = "shipment.connector"

    # A cron run stays well under Odoo's default 120 s real-time limit for cron workers.
    _POLL_RUN_BUDGET_SECONDS = 60
    # Even the last connector of a long run gets time for a few calls.
    _POLL_MIN_SHARE_SECONDS = 10
    # Shipments per savepoint and commit, when the partner's batch is smaller (EasyPost).
    _POLL_MIN_UNIT = 25

    api_base_url = fields.Char(string="API Base URL")
    poll_interval_minutes = fields.Integer(default=60)
    poll_enabled = fields.Boolean(
        string="Poll Partner API", tracking=True,
        help="Ask the partner's API about open shipments every polling interval.")
    poll_batch_size = fields.Integer(
        string="Numbers per Call",
        help="Tracking numbers asked in one call; 0 uses the partner's default (AfterShip 50, "
             "17TRACK 40). EasyPost reads one tracker per call; generic REST batches only "
             "with a batch URL template.")
    poll_max_age_days = fields.Integer(
        string="Stop Polling After (days)", default=30,
        help="Shipments created longer ago than this without a final status are marked "
             "'No longer updated' and not polled any more.")
    last_poll_at = fields.Datetime(string="Last Poll", readonly=True, copy=False)
    last_poll_error = fields.Text(
        string="Last Poll or Import Error", readonly=True, copy=False,
        help="What went wrong the last time the partner's API or the inbound folder was read.")
    poll_not_before = fields.Datetime(
        string="Partner Asked to Wait Until", readonly=True, copy=False,
        help="The partner answered 429 or 503 with a Retry-After longer than a run waits: no call "
             "reaches it before this time (UTC), neither from the cron nor from Poll Now.")
    poll_url_template = fields.Char(
        string="URL Template", default=polling.GENERIC_URL_TEMPLATE,
        help="Generic REST: path of one shipment below the API base URL; {number} is the "
             "tracking number, an optional leading {base} stands for the base URL.")
    poll_batch_url_template = fields.Char(
        string="Batch URL Template",
        help="Generic REST: path asking several shipments at once, with {numbers} "
             "(comma-separated), e.g. {base}/track?numbers={numbers}.")
    poll_batch_items_path = fields.Char(
        string="Batch Items Path",
        help="Generic REST batch answers: dot path of the list of shipments (e.g. data.items); "
             "each item is stored as its own message and read with the adapter options.")
    poll_auth_header = fields.Char(
        string="Auth Header", default="Authorization",
        help="Generic REST: header carrying the API key.")
    poll_auth_scheme = fields.Selection(
        [("bearer", "Bearer token"), ("basic", "Basic (API key is user:password)"), ("raw", "Key as is")],
        string="Auth Scheme", default="bearer")
    rate_per_second = fields.Float(
        string="Calls per Second", default=5.0,
        help="Client-side limit of calls to the partner's API during one poll run; 0: no limit.")
    http_timeout_seconds = fields.Integer(
        string="HTTP Timeout (s)", default=30,
        help="Longest wait to connect to the partner and for each part of its answer.")
    http_max_retries = fields.Integer(
        string="HTTP Retries", default=2,
        help="Extra attempts of a failed call, for calls that are safe to repeat only.")
    # ------------------------------------------------------------------ #
    # CONSTRAINTS
    # ------------------------------------------------------------------ #

    @api.constrains("poll_batch_size", "poll_max_age_days", "poll_interval_minutes", "rate_per_second",
                    "http_timeout_seconds", "http_max_retries", "breaker_threshold", "breaker_cooldown_seconds")
    def _check_polling_settings(self):
        for connector in self:
            if min(connector.poll_batch_size, connector.http_max_retries) < 0 or connector.rate_per_second < 0:
                raise ValidationError(_("Batch size, retries and call rate cannot be negative."))
            if min(connector.poll_max_age_days, connector.poll_interval_minutes, connector.http_timeout_seconds,
                   connector.breaker_threshold, connector.breaker_cooldown_seconds) < 1:
                raise ValidationError(_("Maximum age, polling interval, timeout, breaker threshold and "
                                        "cool-down must be at least 1."))

    @api.constrains("api_base_url", "poll_url_template", "poll_batch_url_template")
    def _check_outbound_urls(self):
        policy = self._outbound_policy()
        for connector in self:
            if connector.api_base_url:
                try:
                    policy.check_url(connector.api_base_url.strip())
                except BlockedDestination as exc:
                    raise ValidationError(_("API base URL refused: %s", exc)) from None
            for template in (connector.poll_url_template, connector.poll_batch_url_template):
                # Templates are paths below the base URL ({base} stands for it): an absolute
                # URL here would send the API key to a host nobody checked.
                if template and "://" in template.replace("{base}", ""):
                    raise ValidationError(_(
                        "URL template %s must be a path below the API base URL (start it with / or {base}), "
                        "not a URL of its own.", template))

    @api.model
    def _outbound_policy(self):
        """Where this server may send requests (see :mod:`integration.netguard`).

        Public https addresses, plus the hosts an administrator allowed in the settings
        (system parameter ``shipment_visibility.outbound_allowed_hosts``), e.g. a
        partner's server on the company network.
        """
        # A system setting, read for whoever triggers a call (a poll, a test send).
        text = self.env["ir.config_parameter"].sudo().get_param(OUTBOUND_ALLOWED_HOSTS_PARAM, "")
        try:
            return AddressPolicy.from_text(text)
        except ValueError as exc:
            _logger.warning("ignoring the outbound allowlist, it is invalid: %s", exc)
            return AddressPolicy()

    # ------------------------------------------------------------------ #
    # ACTIONS
    # ------------------------------------------------------------------ #

    def action_poll_now(self):
        """Poll the partner at once (the shipments due), then queue the processor."""
        # Only those who may change the connector may make it call the partner.
        self.check_access("write")
        totals = {"requests": 0, "messages": 0, "polled": 0}
        errors = []
        for connector in self:
            result = connector._poll_once()
            for key in totals:
                totals[key] += result[key]
            if result["error"]:
                errors.append(f"{connector.name}: {result['error']}")
        message = _("%(polled)s shipment(s) polled in %(requests)s call(s); %(messages)s new message(s).", **totals)
        if errors:
            message = "\n".join([message, *errors])
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": _("Poll finished"), "message": message, "sticky": bool(errors),
                       "type": "warning" if errors else "success",
                       "next": {"type": "ir.actions.client", "tag": "soft_reload"}},
        }

    # ------------------------------------------------------------------ #
    # TRANSPORT
    # ------------------------------------------------------------------ #

    def _transport(self):
        """The HTTP client of this connector, with its circuit breaker restored from the record.

        Every breaker transition is written back at once (with a note and activities when it
        opens), so the state survives the run and shows on the form.

        Note: self.ensure_one()

        :rtype: integration.transport.Transport
        :raises UserError: when the connector cannot be polled or lacks its base URL.
        """
        self.ensure_one()
        if not self.support_polling:
            raise UserError(_("Connector %s cannot be polled: its partner has no tracking API.", self.name))
        if not self.api_base_url:
            raise UserError(_("Connector %s needs its API base URL before it can be polled.", self.name))
        params = self.env["ir.config_parameter"].sudo()  # tuning knobs are system settings
        try:
            auth = polling.auth_headers(self.connector_type, self._api_key(), header=self.poll_auth_header,
                                        scheme=self.poll_auth_scheme)
            config = TransportConfig(
                base_url=self.api_base_url.strip(),
                # One setting for both waits, so that the session sends a single number.
                connect_timeout=self.http_timeout_seconds,
                read_timeout=self.http_timeout_seconds,
                max_retries=self.http_max_retries,
                backoff_base=float(params.get_param("shipment_visibility.http_backoff_seconds", 0.5)),
                retry_after_max=float(params.get_param("shipment_visibility.http_retry_after_max_seconds", 30)),
                rate_per_second=self.rate_per_second,
                breaker_threshold=self.breaker_threshold,
                breaker_cooldown=self.breaker_cooldown_seconds,
                headers=dict(polling.DEFAULT_HEADERS),
                auth_headers=auth,
                address_policy=self._outbound_policy(),
            )
        except TransportConfigError as exc:
            raise UserError(_("Connector %(name)s cannot be polled: %(reason)s", name=self.name, reason=exc)) \
                from None
        return Transport(config, session=polling.PollSession(), breaker=self._breaker())

    # ------------------------------------------------------------------ #
    # POLLING
    # ------------------------------------------------------------------ #

    @api.model
    def _cron_poll_connectors(self):
        """Poll every due connector, fairly, within one run's time budget.

        A connector is due when polling is enabled, its breaker is not open (or its
        cool-down is over) and the partner did not ask to wait longer. Connectors polled
        longest ago go first and each gets a share of the budget, so a partner that is
        down costs at most its share and never stalls the others.

        :return: number of shipments polled.
        """
        now = fields.Datetime.now()
        connectors = self.search([("poll_enabled", "=", True), ("support_polling", "=", True)],
                                 order="last_poll_at asc nulls first, id")
        connectors = connectors.filtered(lambda c: c._poll_is_due(now))
        todo = {connector: connector._poll_due_shipments(now, count=True) for connector in connectors}
        progress = {"done": 0, "remaining": sum(todo.values())}
        Cron = self.env["ir.cron"]

        def report(count):
            progress["done"] += count
            progress["remaining"] = max(progress["remaining"] - count, 0)
            Cron._notify_progress(done=progress["done"], remaining=progress["remaining"])
            if not self._is_testing_run():
                self.env.cr.commit()

        budget = Cron._shipment_time_left(self._POLL_RUN_BUDGET_SECONDS)
        started = time.monotonic()
        for index, connector in enumerate(connectors):
            left = budget - (time.monotonic() - started)
            # The first connector gets its share whatever is left of the cron pass: each
            # call progresses.
            if left <= 0 and index:
                break
            share = max(left / (len(connectors) - index), self._POLL_MIN_SHARE_SECONDS)
            try:
                result = connector._poll_once(deadline=time.monotonic() + share, progress=report)
            except Exception:
                # A bug met with one partner's data must not stop the other connectors.
                _logger.exception("polling connector %s failed", connector.id)
                result = {"polled": 0, "error": True, "left": todo[connector]}
            if result["error"]:
                # Shipments a failing partner could not answer are no work for this run.
                progress["remaining"] = max(progress["remaining"] - result["left"], 0)
        Cron._shipment_notify_progress(done=progress["done"], remaining=progress["remaining"])
        return progress["done"]

    def _poll_is_due(self, now):
        self.ensure_one()
        if self.poll_not_before and self.poll_not_before > now:
            return False
        if self.breaker_state != CircuitBreaker.OPEN:
            return True
        return not self.breaker_next_attempt_at or self.breaker_next_attempt_at <= now

    def _poll_due_shipments(self, now, count=False):
        """Open shipments of this connector not polled within the interval, oldest poll first."""
        self.ensure_one()
        domain = [
            ("connector_id", "=", self.id),
            ("is_terminal", "=", False),
            ("polling_stopped", "=", False),
            ("create_date", ">=", now - timedelta(days=self.poll_max_age_days)),
            "|", ("last_polled_at", "=", False),
            ("last_polled_at", "<=", now - timedelta(minutes=self.poll_interval_minutes)),
        ]
        Shipment = self.env["shipment.shipment"]
        if count:
            return Shipment.search_count(domain)
        return Shipment.search(domain, order="last_polled_at asc nulls first, id")

    def _poll_adopt_live_shipments(self, now):
        """A shadow connector follows the open live shipments of its carriers.

        Trialling a partner that is only polled means asking it about the shipments the
        live partner follows. Each one gets its shadow twin here (on the same delivery
        order, see ``shipment.shipment._find_or_create_for_events``), which is polled
        like any shipment of this connector: the live shipment itself is never stamped,
        so the live connector's schedule is left alone.

        :return: the number of twins created.
        """
        self.ensure_one()
        if self.mode != "shadow" or not self.carrier_ids:
            return 0
        Shipment = self.env["shipment.shipment"]
        live = Shipment.search_fetch([
            ("company_id", "=", self.company_id.id),
            ("carrier_id", "in", self.carrier_ids.ids),
            ("shadow", "=", False),
            ("is_terminal", "=", False),
            ("create_date", ">=", now - timedelta(days=self.poll_max_age_days)),
        ], ["tracking_number"])
        numbers = set(live.mapped("tracking_number"))
        if not numbers:
            return 0
        twins = Shipment.with_context(active_test=False).search_fetch([
            ("connector_id", "=", self.id), ("shadow", "=", True), ("tracking_number", "in", list(numbers))],
            ["tracking_number"])
        missing = numbers - set(twins.mapped("tracking_number"))
        if missing:
            # Bookkeeping of the poll run, which "Poll now" also starts for connector editors.
            Shipment.sudo()._find_or_create_for_events(sorted(missing), connector=self)
        return len(missing)

    def _poll_stop_old_shipments(self, now):
        """Mark open shipments older than the maximum age as no longer updated."""
        self.ensure_one()
        old = self.env["shipment.shipment"].search([
            ("connector_id", "=", self.id),
            ("is_terminal", "=", False),
            ("polling_stopped", "=", False),
            ("create_date", "<", now - timedelta(days=self.poll_max_age_days)),
        ])
        old.sudo().write({"polling_stopped": True})  # processor bookkeeping, also from "Poll now"
        return len(old)

    def _poll_once(self, deadline=None, progress=None):
        """Poll the partner once about this connector's due shipments.

        Shipments go in units of the partner's batch size; each unit's answers are
        stored as inbox messages and its shipments stamped as polled in one savepoint,
        then ``progress(count)`` is called (the cron commits there). The run stops at
        ``deadline`` (monotonic seconds), when the breaker refuses calls, when the
        partner asks to slow down longer than we wait (remembered on the connector, and
        honoured by every later run), or on an answer that says our request is wrong;
        a failing unit does not undo the previous ones.

        Note: self.ensure_one()

        :return: dict with ``polled`` (shipments answered), ``requests`` (calls made),
            ``messages`` (new inbox messages), ``stopped`` (shipments past the maximum
            age), ``left`` (due shipments not polled) and ``error`` (text or False).
        """
        self.ensure_one()
        now = fields.Datetime.now()
        result = {"polled": 0, "requests": 0, "messages": 0, "left": 0, "error": False,
                  "stopped": self._poll_stop_old_shipments(now), "adopted": self._poll_adopt_live_shipments(now)}
        shipments = self._poll_due_shipments(now)
        result["left"] = len(shipments)
        if self.poll_not_before and self.poll_not_before > now:
            result["error"] = _("The partner asked us to wait: polling resumes at %s UTC.",
                                fields.Datetime.to_string(self.poll_not_before))
            return result
        if not shipments:
            self.write({"last_poll_at": now})
            return result
        try:
            transport = self._transport()
        except UserError as exc:
            result["error"] = str(exc)
            self.write({"last_poll_at": now, "last_poll_error": result["error"]})
            return result
        # A unit is what one savepoint (and one commit in the cron) covers: whole batches,
        # at least a few calls' worth when the partner answers one shipment per call.
        size = polling.batch_size(self.connector_type, self.poll_batch_size)
        unit = size * -(-self._POLL_MIN_UNIT // size)
        errors = []
        with transport:
            for start in range(0, len(shipments), unit):
                if deadline is not None and time.monotonic() > deadline:
                    break
                group = shipments[start:start + unit]
                with self.env.cr.savepoint():
                    polled, error, stop = self._poll_unit(transport, group, result)
                result["polled"] += len(polled)
                result["left"] -= len(polled)
                if error:
                    errors.append(error)
                if progress is not None:
                    progress(len(polled))
                if stop:
                    break
            self._save_breaker(transport.breaker)
        result["error"] = errors[-1] if errors else False
        self.write({"last_poll_at": now, "last_poll_error": result["error"]})
        if result["messages"]:
            self.env["shipment.inbox"]._trigger_processor()
        return result

    def _poll_unit(self, transport, shipments, result):
        """Send the calls for ``shipments`` and store the answers.

        :return: ``(polled shipments, error text or None, stop the run?)``.
        """
        by_number = {}
        for shipment in shipments:
            # Two carriers may reuse a number: one call answers for both shipments.
            by_number.setdefault(shipment.tracking_number, []).append(shipment.id)
        options = {"url_template": self.poll_url_template, "batch_url_template": self.poll_batch_url_template,
                   **self._partner_hook("poll_options", shipments, default={})}
        polled = self.env["shipment.shipment"]
        error, stop = None, False
        try:
            batches = polling.plan(self.connector_type, list(by_number), batch=self.poll_batch_size,
                                   options=options, tracker_ids=options.get("tracker_ids"))
        except TransportConfigError as exc:
            return polled, str(exc), True
        for batch in batches:
            try:
                answered = True
                for request in batch.requests:
                    response = transport.request(request.method, request.path, params=request.params,
                                                 json=request.json, idempotent=request.idempotent)
                    result["requests"] += 1
                    if request.purpose == polling.QUERY:
                        created, problem = self._store_poll_answer(request, response)
                        result["messages"] += created
                        if problem:
                            error, answered = problem, False
            except CircuitOpenError as exc:
                next_try = self._from_epoch(exc.next_attempt_at, round_up=True)
                until = fields.Datetime.to_string(next_try) + " UTC" if next_try else _("the next trial")
                error = _("Circuit breaker open: partner left alone until %s.", until)
                stop = True
            except TransportError as exc:
                # Timeouts, network errors and 5xx are counted by the breaker, which stops
                # the run once it opens; throttling and refusals of our request stop it now.
                error = str(exc)
                stop = isinstance(exc, RateLimitedError) or not exc.retryable
                if isinstance(exc, RateLimitedError) and exc.retry_after:
                    self._wait_for_partner(exc.retry_after)
                _logger.warning("polling connector %s: %s", self.id, error)
            else:
                if answered:
                    polled |= polled.browse([i for number in batch.numbers for i in by_number[number]])
            if stop:
                break
        polled.sudo().write({"last_polled_at": fields.Datetime.now()})  # as above
        return polled, error, stop

    def _wait_for_partner(self, seconds):
        """Remember the partner's Retry-After beyond this run: no call before it ends."""
        until = self._from_epoch(time.time() + seconds, round_up=True)
        if not self.poll_not_before or until > self.poll_not_before:
            self.write({"poll_not_before": until})

    def _store_poll_answer(self, request, response):
        """Store one answer as inbox message(s).

        A batch answer of the generic plan is split into one message per shipment; an
        answer that is not the JSON the partner documents is kept as a failed message,
        for the record.

        :return: ``(number of new messages, problem text or None)``.
        """
        Inbox = self.env["shipment.inbox"]
        headers = {
            "Content-Type": response.headers.get("Content-Type", ""),
            "X-Poll-Request": request.label,
            "X-Poll-Status": str(response.status_code),
        }
        body = response.content
        try:
            data = payload.loads(body)
        except payload.PayloadError as exc:
            problem = _("%(call)s answered malformed JSON (%(reason)s)", call=request.label, reason=exc)
            try:
                message_id, created, _correlation = Inbox._enqueue(self, body, headers, source="poll")
            except UnicodeError:
                return 0, problem
            if created:
                Inbox.browse(message_id)._set_state("failed", problem)
            return int(created), problem
        bodies = [body]
        batch_option = self._descriptor().poll.batch_option
        if self.poll_batch_items_path or (batch_option and self[f"poll_{batch_option}"]):
            try:
                items = polling.split_items(data, self.poll_batch_items_path)
            except ValueError as exc:
                return 0, _("%(call)s: %(reason)s", call=request.label, reason=exc)
            # ASCII escapes: any character of the answer, a lone surrogate included, survives.
            bodies = [json.dumps(item, separators=(",", ":")).encode() for item in items]
        created_count = 0
        for item in bodies:
            _message_id, created, _correlation = Inbox._enqueue(self, item, headers, source="poll")
            created_count += created
        return created_count, None
