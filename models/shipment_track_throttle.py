import hashlib
import hmac
import logging

from odoo import api, fields, models
from odoo.tools import SQL

from ..integration import customer_view

_logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 10
DEFAULT_WINDOW = 600


class ShipmentTrackThrottle(models.Model):
    """Lookups of the public tracking page per client, in fixed time windows.

    Guessing order references, e-mails or tracking numbers takes many tries: each client
    (an IPv4 address, an IPv6 /64) gets ``shipment_visibility.track_lookup_limit`` tries
    per ``shipment_visibility.track_lookup_window`` seconds, counted in the database so
    that every worker process and host of the server shares the count. Clients are
    stored as a keyed hash, never as addresses.
    """

    _name = "shipment.track.throttle"
    _description = "Tracking Page Lookup Counter"
    _log_access = False

    client_hash = fields.Char(required=True, readonly=True)
    window_start = fields.Datetime(required=True, readonly=True)
    hits = fields.Integer(required=True, readonly=True)

    _sql_constraints = [
        ("client_hash_unique", "unique(client_hash)", "One counter per client."),
    ]

    @api.model
    def _settings(self):
        ICP = self.env["ir.config_parameter"].sudo()  # server settings, read for a public route

        def number(key, default):
            try:
                return max(0, int(ICP.get_param(key, default)))
            except (TypeError, ValueError):
                return default

        return (number("shipment_visibility.track_lookup_limit", DEFAULT_LIMIT),
                max(1, number("shipment_visibility.track_lookup_window", DEFAULT_WINDOW)))

    @api.model
    def _client_hash(self, address):
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret", "")  # keyed, not stored
        key = customer_view.client_key(address)
        return hmac.new(secret.encode(), f"track:{key}".encode(), hashlib.sha256).hexdigest()

    @api.model
    def _hit(self, address):
        """Count one lookup of ``address``.

        :return: 0 when the lookup may proceed, else the seconds until the client's
            window ends (for ``Retry-After``).
        :rtype: int
        """
        limit, window = self._settings()
        if not limit:
            return 0
        # One statement: concurrent lookups of one client serialize on its row, and
        # a window that ended starts over at 1.
        row = self.env.execute_query(SQL(
            """
            INSERT INTO shipment_track_throttle (client_hash, window_start, hits)
                 VALUES (%(key)s, now() AT TIME ZONE 'UTC', 1)
            ON CONFLICT (client_hash) DO UPDATE SET
                   hits = CASE WHEN shipment_track_throttle.window_start
                                    > (now() AT TIME ZONE 'UTC') - make_interval(secs => %(window)s)
                               THEN shipment_track_throttle.hits + 1 ELSE 1 END,
                   window_start = CASE WHEN shipment_track_throttle.window_start
                                    > (now() AT TIME ZONE 'UTC') - make_interval(secs => %(window)s)
                               THEN shipment_track_throttle.window_start ELSE now() AT TIME ZONE 'UTC' END
            RETURNING hits,
                      GREATEST(1, CEIL(EXTRACT(EPOCH FROM window_start
                                       + make_interval(secs => %(window)s) - (now() AT TIME ZONE 'UTC'))))::int
            """, key=self._client_hash(address), window=window))[0]
        hits, remaining = row
        if hits > limit:
            _logger.info("tracking page lookups: client over %s per %ss", limit, window)
            return remaining
        return 0

    @api.autovacuum
    def _gc_windows(self):
        _limit, window = self._settings()
        self.env.execute_query(SQL(
            "DELETE FROM shipment_track_throttle WHERE window_start < (now() AT TIME ZONE 'UTC') - "
            "make_interval(secs => %s)", window))
