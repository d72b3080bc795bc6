"""Two floors under the webhook route, to read its throughput against.

``/web/health`` touches no database once the registry is loaded, so it is a ceiling no
route that stores anything can approach. These two routes receive the same signed
POST as the webhook and answer 202 like it, doing only what any storing route must:

* ``POST /shipment_visibility_bench/floor/transaction``: Odoo's cheapest database
  route, one statement in the request's read-write transaction, nothing written;
* ``POST /shipment_visibility_bench/floor/insert``: the same plus the raw body
  inserted into a bare table (no index, no constraint) and committed, the least any
  webhook that stores its message durably costs.

They verify nothing and must never exist outside benchmark databases.
"""

from odoo import http
from odoo.http import request

from odoo.addons.shipment_visibility.controllers.webhook import HARD_MAX_BODY

_ROUTE = {"type": "http", "auth": "none", "methods": ["POST"], "csrf": False, "save_session": False,
          "readonly": False, "max_content_length": HARD_MAX_BODY}


class ShipmentBenchFloorController(http.Controller):
    @http.route("/shipment_visibility_bench/floor/transaction", **_ROUTE)
    def floor_transaction(self, **_kwargs):
        request.httprequest.get_data(cache=True)
        request.env.cr.execute("SELECT 1")
        return request.make_json_response({"status": "accepted"}, status=202)

    @http.route("/shipment_visibility_bench/floor/insert", **_ROUTE)
    def floor_insert(self, **_kwargs):
        body = request.httprequest.get_data(cache=True)
        request.env.cr.execute("INSERT INTO shipment_visibility_bench_blob (body) VALUES (%s)",
                               (body.decode("utf-8"),))
        return request.make_json_response({"status": "accepted"}, status=202)
