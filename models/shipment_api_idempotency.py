"""What the REST API answered to a write carrying an ``Idempotency-Key``."""

from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

#: How long an answer is kept for a retry with the same key.
RETENTION = timedelta(days=2)


class ShipmentApiIdempotency(models.Model):
    _name = "shipment.api.idempotency"
    _description = "Shipment API Idempotency Record"
    _log_access = False

    user_id = fields.Many2one("res.users", required=True, ondelete="cascade", index=True)
    key = fields.Char(required=True)
    route = fields.Char(required=True)
    request_sha256 = fields.Char(required=True)
    status = fields.Integer(required=True)
    response = fields.Text(required=True)
    created_at = fields.Datetime(required=True, default=fields.Datetime.now, index=True)

    _sql_constraints = [
        ("user_route_key_uniq", "UNIQUE(user_id, route, key)", "One answer per key, account and route."),
    ]

    @api.model
    def _lookup(self, user_id, route, key):
        """``(request hash, status, body)`` stored for this key, or ``None``; the row is locked.

        The lock makes a concurrent retry with the same key wait for the first request's
        transaction, then read its answer instead of doing the work twice.
        """
        rows = self.env.execute_query(SQL(
            "SELECT request_sha256, status, response FROM shipment_api_idempotency "
            "WHERE user_id = %s AND route = %s AND key = %s FOR UPDATE", user_id, route, key))
        return rows[0] if rows else None

    @api.model
    def _store(self, user_id, route, key, request_sha256, status, response):
        self.env.execute_query(SQL(
            "INSERT INTO shipment_api_idempotency (user_id, route, key, request_sha256, status, response, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, now() at time zone 'utc') ON CONFLICT DO NOTHING",
            user_id, route, key, request_sha256, status, response))

    @api.autovacuum
    def _gc_expired(self):
        self.env.execute_query(SQL(
            "DELETE FROM shipment_api_idempotency WHERE created_at < %s", fields.Datetime.now() - RETENTION))
