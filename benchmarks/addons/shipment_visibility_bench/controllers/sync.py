"""The synchronous comparison point of the webhook benchmark.

``POST /shipment_visibility_bench/sync/<token>`` runs exactly the checks of the real
route (it calls the real controller's ``_receive``: size, content type, token,
signature, rate limit, then ``shipment.inbox._enqueue``), then processes the stored
message inside the request with the inbox's own ``_process_batch`` instead of leaving
it to the cron worker, and answers once events and statuses are written. This is what
a webhook doing its business work inline costs; it exists only to be measured.
"""

import json
import uuid

from odoo import http
from odoo.http import request

from odoo.addons.shipment_visibility.controllers.webhook import HARD_MAX_BODY, ShipmentWebhookController

from ..models.shipment_inbox import SYNC_CONTEXT_KEY


class ShipmentBenchSyncController(http.Controller):
    @http.route("/shipment_visibility_bench/sync/<string:token>", type="http", auth="none", methods=["POST"],
                csrf=False, save_session=False, readonly=False, max_content_length=HARD_MAX_BODY)
    def receive_sync(self, token, **_kwargs):
        request.update_context(**{SYNC_CONTEXT_KEY: True})
        correlation_id = uuid.uuid4().hex
        # An instance of the real controller, not a subclass: subclassing would re-route
        # the production URL through this benchmark module.
        response = ShipmentWebhookController()._receive(token, request.httprequest, correlation_id)
        if response.status_code != 202:
            return response
        message_id = json.loads(response.get_data())["message_id"]
        message = request.env["shipment.inbox"].sudo().browse(message_id)
        # What _claim does for the cron worker: the message is leased to this request.
        message.write({"state": "processing", "attempts": message.attempts + 1})
        message._process_batch()
        return request.make_json_response(
            {"status": "processed", "message_id": message.id, "state": message.state,
             "event_count": message.event_count, "correlation_id": correlation_id},
            headers=[("X-Correlation-ID", correlation_id), ("Cache-Control", "no-store")],
            status=200 if message.state == "done" else 500)
