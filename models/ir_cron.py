import logging
import threading
import time

from odoo import SUPERUSER_ID, api, models

_logger = logging.getLogger(__name__)

# Odoo's watchdog kills a cron worker whose pass over a database outlasts
# ``limit_time_real_cron`` (``limit_time_real``, 120 s, by default), in the middle of
# whatever it was doing. A pass runs every due job, each called up to ten times in a row
# while it reports work left: our processor, dispatcher and poller, each within its own
# budget per call, could together take many minutes. Each of them works at most a series
# budget per pass, all of them together at most a pass budget, and what is left goes to
# the next pass, which starts at once.
DEFAULT_SERIES_BUDGET_SECONDS = 20
DEFAULT_PASS_BUDGET_SECONDS = 60
SERIES_BUDGET_PARAM = "shipment_visibility.cron_series_budget_seconds"
PASS_BUDGET_PARAM = "shipment_visibility.cron_pass_budget_seconds"

# The cron pass running in this thread: its cursor (a new one per pass), when it and the
# job being run started, and whether that job left work for the next pass.
_current = threading.local()


class IrCron(models.Model):
    _inherit = "ir.cron"

    @classmethod
    def _process_job(cls, db, cron_cr, job):
        now = time.monotonic()
        if getattr(_current, "cursor", None) is not cron_cr:
            _current.cursor, _current.pass_started = cron_cr, now
        _current.job_started, _current.handed_over = now, False
        try:
            return super()._process_job(db, cron_cr, job)
        finally:
            handed_over, _current.handed_over = _current.handed_over, False
            _current.job_started = None
            if handed_over:
                # Only now: rescheduling the job cleared the triggers its run consumed.
                api.Environment(cron_cr, SUPERUSER_ID, {})[cls._name].browse(job["id"])._trigger()
                cron_cr.commit()

    @api.model
    def _shipment_time_left(self, own_budget):
        """Seconds a call of one of our jobs may work: its own budget, cut to what is left
        of its series and of the pass (a call still does one unit of work, a batch or a
        file, when that is nothing). Outside a cron pass ("Run Manually", a script), only
        its own budget counts."""
        job_started = getattr(_current, "job_started", None)
        if job_started is None:
            return own_budget
        # Operators who raised limit_time_real_cron may allow longer passes.
        series = self._shipment_budget_param(SERIES_BUDGET_PARAM, DEFAULT_SERIES_BUDGET_SECONDS)
        whole = self._shipment_budget_param(PASS_BUDGET_PARAM, DEFAULT_PASS_BUDGET_SECONDS)
        now = time.monotonic()
        return min(own_budget, series - (now - job_started), whole - (now - _current.pass_started))

    @api.model
    def _shipment_budget_param(self, key, default):
        """A budget in seconds from the system parameters; a value that is not a number
        must not stop every cron of ours, so it counts as the default, with a warning."""
        value = self.env["ir.config_parameter"].sudo().get_param(key, default)
        try:
            return float(value)
        except (TypeError, ValueError):
            _logger.warning("system parameter %s = %r is not a number of seconds; using %s", key, value, default)
            return float(default)

    @api.model
    def _shipment_notify_progress(self, done, remaining):
        """:meth:`_notify_progress`, except that work left when the series or the pass is
        out of time goes to the next pass: reported as none, so that Odoo stops calling
        the job in this pass, and the job triggered again once this pass has rescheduled it."""
        if remaining and self._shipment_time_left(float("inf")) <= 0:
            _current.handed_over, remaining = True, 0
        self._notify_progress(done=done, remaining=remaining)
