import logging

from odoo import http
from odoo.http import request

from ..integration import metrics

_logger = logging.getLogger(__name__)

TOKEN_PARAM = "shipment_visibility.metrics_token_sha256"
NETWORKS_PARAM = "shipment_visibility.metrics_allowed_networks"
_MESSAGES = {
    "disabled": "Metrics are disabled until a bearer token is set in the settings.",
    "missing_token": "Send Authorization: Bearer <token>.",
    "invalid_token": "Invalid bearer token.",
    "source_not_allowed": "Source address not allowed.",
}


class ShipmentMetricsController(http.Controller):
    """Prometheus scrape endpoint: bearer token, then the optional source allow-list."""

    _metrics_url = "/shipment_visibility/metrics"

    @http.route(_metrics_url, type="http", auth="none", methods=["GET"], csrf=False, save_session=False,
                readonly=True)
    def metrics(self, **_kwargs):
        # The scraper is no Odoo user: the token is its credential, and the figures cover
        # every company, so the system reads them.
        env = request.env(su=True)
        params = env["ir.config_parameter"]
        httprequest = request.httprequest
        refusal = metrics.check_access(
            httprequest.headers.get("Authorization"), httprequest.remote_addr,
            params.get_param(TOKEN_PARAM), params.get_param(NETWORKS_PARAM))
        if refusal:
            status, reason = refusal
            _logger.info("metrics scrape refused: %s from %s", reason, httprequest.remote_addr)
            headers = [("Cache-Control", "no-store")]
            if status == 401:
                headers.append(("WWW-Authenticate", 'Bearer realm="shipment_visibility"'))
            return request.make_json_response({"error": reason, "message": _MESSAGES[reason]},
                                              headers=headers, status=status)
        body = env["shipment.metrics"]._exposition()
        return request.make_response(body, headers=[("Content-Type", metrics.CONTENT_TYPE),
                                                    ("Cache-Control", "no-store")])
