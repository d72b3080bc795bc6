import json
from datetime import datetime, timedelta, timezone

from odoo import fields
from odoo.tests import tagged

from ..integration import api_contract
from .api_common import ApiHttpCommon

PROBLEM = api_contract.PROBLEM_TYPE_PREFIX


def native_message(number, event_id="evt-api-1", occurred_at=None, code="out_for_delivery"):
    # An hour ago: the shared fixtures' histories are dated from now too (a fixed date
    # fell behind their latest scan as the calendar moved on).
    sent = datetime.now(timezone(timedelta(hours=1))).replace(microsecond=0) - timedelta(minutes=59)
    return {
        "type": "shipment.tracking.updated",
        "timestamp": sent.isoformat(),
        "data": {"tracking_number": number, "events": [{
            "id": event_id, "code": code, "class": "actual",
            "occurred_at": occurred_at or (sent - timedelta(minutes=1)).isoformat(),
            "location": {"city": "Paris", "country": "FR"}, "description": "Out with the driver"}]},
    }


@tagged("post_install", "-at_install")
class TestApiAuth(ApiHttpCommon):

    def test_no_key_bad_key_revoked_key_person_key_are_401(self):
        response = self.call("GET", "/shipments")
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.json()["type"], PROBLEM + "unauthorized")
        self.assertIn("Bearer", response.headers["WWW-Authenticate"])
        self.assertEqual(self.call("GET", "/shipments", key="0" * 40).status_code, 401)
        key = self._new_key(self.wide_account, "soon revoked")
        self.assertEqual(self.call("GET", "/shipments", key=key).status_code, 200)
        self.wide_account.api_key_ids.filtered(lambda k: k.name == "soon revoked").action_shipment_api_revoke()
        self.assertEqual(self.call("GET", "/shipments", key=key).status_code, 401)
        # A key verified before (and remembered by the process) still ends when it expires.
        expiring = self._new_key(self.wide_account, "expiring")
        self.assertEqual(self.call("GET", "/exceptions", key=expiring).status_code, 200)
        self.env.cr.execute("UPDATE res_users_apikeys SET expiration_date = now() at time zone 'utc' "
                            "- interval '1 minute' WHERE name = 'expiring'")
        self.assertEqual(self.call("GET", "/exceptions", key=expiring).status_code, 401)
        # A person's global key (an administrator's, even) does not open this API.
        admin_key = self.env["res.users.apikeys"].with_user(self.env.ref("base.user_admin")).sudo()._generate(
            None, "admin rpc", None)
        self.assertEqual(self.call("GET", "/shipments", key=admin_key).status_code, 401)

    def test_missing_write_scope_is_403(self):
        response = self.call("POST", "/shipments", key=self.wide_key, body={"tracking_number": "NEW1"})
        self.assertEqual(response.status_code, 403)
        self.assertEqual(response.json()["type"], PROBLEM + "forbidden")
        response = self.call("POST", "/events", key=self.wide_key, body=native_message("PARCELA1"))
        self.assertEqual(response.status_code, 403)

    def test_rate_limit_headers_and_429(self):
        self.env["ir.config_parameter"].sudo().set_param("shipment_visibility.api_rate_limit_per_minute", "2")
        key = self._new_key(self.wide_account, "limited")
        first = self.call("GET", "/exceptions", key=key)
        self.assertEqual(first.headers["RateLimit-Limit"], "2")
        self.assertEqual(first.headers["RateLimit-Remaining"], "1")
        self.assertEqual(self.call("GET", "/exceptions", key=key).status_code, 200)
        limited = self.call("GET", "/exceptions", key=key)
        self.assertEqual(limited.status_code, 429)
        self.assertGreaterEqual(int(limited.headers["Retry-After"]), 1)
        self.assertEqual(limited.headers["RateLimit-Remaining"], "0")
        # Per key: another key of the same account is not limited by this one.
        self.assertEqual(self.call("GET", "/exceptions", key=self._new_key(self.wide_account, "other")).status_code,
                         200)


@tagged("post_install", "-at_install")
class TestApiReads(ApiHttpCommon):

    def ids(self, response):
        return [document["id"] for document in response.json()["data"]]

    def test_list_partition_and_filters(self):
        mine = {self.parcel_a.id, self.parcel_b.id}
        self.assertEqual(set(self.ids(self.call("GET", "/shipments", key=self.ada_key))), mine)
        wide = set(self.ids(self.call("GET", "/shipments?limit=200", key=self.wide_key)))
        self.assertTrue(mine | {self.stranger_shipment.id} <= wide)
        self.order.client_order_ref = "PO-ADA-77"
        cases = {
            "status=arrived_at_facility": [self.parcel_a.id],
            "status=picked_up,arrived_at_facility": sorted(mine),
            "tracking_number=parcel b2": [self.parcel_b.id],
            f"order_reference={self.order.name}": sorted(mine),
            f"order_reference={self.order_picking.name}": sorted(mine),
            "customer_reference=PO-ADA-77": sorted(mine),
            f"carrier={self.carrier.id}": sorted(mine),
            "carrier=test express": sorted(mine),
            "carrier=Test Freight": [],
            "exception=true": [],
            "exception=false": sorted(mine),
            "updated_since=2000-01-01T00:00:00Z": sorted(mine),
            "updated_since=2999-01-01T00:00:00%2B02:00": [],
            # Another customer's number, by filter, is simply not there.
            "tracking_number=STRANGER9": [],
        }
        for query, expected in cases.items():
            with self.subTest(query=query):
                response = self.call("GET", f"/shipments?{query}", key=self.ada_key, template="/shipments")
                self.assertEqual(response.status_code, 200, response.text)
                self.assertEqual(self.ids(response), expected)

    def test_invalid_parameters_name_the_parameter(self):
        for query, parameter in [("limit=0", "limit"), ("limit=201", "limit"), ("limit=ten", "limit"),
                                 ("status=lost", "status"), ("exception=yes", "exception"),
                                 ("updated_since=2026-12-01", "updated_since"), ("fields=id,secret", "fields"),
                                 ("connector=1", "connector"), ("limit=1&limit=2", "limit")]:
            with self.subTest(query=query):
                response = self.call("GET", f"/shipments?{query}", key=self.ada_key, template="/shipments")
                self.assertEqual(response.status_code, 400)
                problem = response.json()
                self.assertEqual(problem["type"], PROBLEM + "invalid-parameter")
                self.assertEqual(problem["errors"][0]["parameter"], parameter)
                self.assertEqual(response.headers["Content-Type"], "application/problem+json")

    def test_sparse_fields(self):
        response = self.call("GET", "/shipments?fields=status,tracking_number", key=self.ada_key,
                             template="/shipments")
        self.assertEqual({tuple(sorted(d)) for d in response.json()["data"]},
                         {("id", "status", "tracking_number")})
        one = self.call("GET", f"/shipments/{self.parcel_a.id}?fields=eta_window", key=self.ada_key,
                        template="/shipments/{shipment_id}").json()
        self.assertEqual(set(one), {"id", "eta_window"})
        self.assertTrue(one["eta_window"]["start"].endswith("Z"))

    def test_documents_expose_nothing_internal(self):
        document = self.call("GET", f"/shipments/{self.parcel_a.id}", key=self.ada_key,
                             template="/shipments/{shipment_id}").json()
        self.assertEqual(document["tracking_number"], "PARCELA1")
        self.assertEqual(document["sale_order"], self.order.name)
        self.assertEqual(document["customer_id"], self.customer.id)
        text = json.dumps(document)
        for secret in ("test-aftership-secret", "connector", "Test AfterShip", "raw_code", "Rue des Lilas"):
            self.assertNotIn(secret, text)

    def test_cursor_pages_are_stable_under_inserts(self):
        for index in range(5):
            self.env["shipment.shipment"].create({"tracking_number": f"PAGE{index}", "company_id": self.company.id})
        seen, cursor, inserted = [], None, False
        while True:
            query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
            page = self.call("GET", f"/shipments?{query}", key=self.wide_key, template="/shipments").json()
            seen += [document["id"] for document in page["data"]]
            if not inserted:
                # Created between two pages: seen once, at the end, never shifting a page.
                late = self.env["shipment.shipment"].create({"tracking_number": "LATE1", "company_id": self.company.id})
                inserted = True
            cursor = page["next_cursor"]
            if not cursor:
                break
        visible = self.env["shipment.shipment"].with_user(self.wide_account).search([], order="id")
        self.assertEqual(seen, visible.ids)
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(seen[-1], late.id)

    def test_cursor_tampering_and_transplant_are_refused(self):
        page = self.call("GET", "/shipments?limit=1", key=self.wide_key, template="/shipments").json()
        cursor = page["next_cursor"]
        forged = api_contract.make_cursor("guessed-secret", 0, {})
        for bad in (forged, cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB"), "not-a-cursor"):
            response = self.call("GET", f"/shipments?limit=1&cursor={bad}", key=self.wide_key, template="/shipments")
            self.assertEqual(response.status_code, 400)
            self.assertEqual(response.json()["type"], PROBLEM + "invalid-cursor")
        # A cursor is bound to its filters.
        response = self.call("GET", f"/shipments?limit=1&status=delivered&cursor={cursor}", key=self.wide_key,
                             template="/shipments")
        self.assertEqual(response.status_code, 400)
        # A valid cursor handed to a customer-bound key still shows only its own shipments.
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        start = api_contract.make_cursor(secret, 0, {})
        response = self.call("GET", f"/shipments?cursor={start}", key=self.ada_key, template="/shipments")
        self.assertEqual(set(self.ids(response)), {self.parcel_a.id, self.parcel_b.id})

    def test_get_shipment_partition_is_404(self):
        self.assertEqual(self.call("GET", f"/shipments/{self.parcel_a.id}", key=self.ada_key,
                                   template="/shipments/{shipment_id}").status_code, 200)
        other = self.call("GET", f"/shipments/{self.stranger_shipment.id}", key=self.ada_key,
                          template="/shipments/{shipment_id}")
        missing = self.call("GET", "/shipments/2147483000", key=self.ada_key, template="/shipments/{shipment_id}")
        self.assertEqual(other.status_code, 404)
        self.assertEqual(missing.status_code, 404)
        # Another customer's id and a free id are answered alike.
        self.assertEqual(other.json()["type"], missing.json()["type"])
        self.assertEqual(self.call("GET", f"/shipments/{self.stranger_shipment.id}/events", key=self.ada_key,
                                   template="/shipments/{shipment_id}/events").status_code, 404)
        self.assertEqual(self.call("GET", "/shipments/abc", key=self.ada_key,
                                   template="/shipments/{shipment_id}").status_code, 400)

    def test_events_actual_and_estimated_by_time(self):
        events = self.call("GET", f"/shipments/{self.parcel_a.id}/events", key=self.ada_key,
                           template="/shipments/{shipment_id}/events").json()["data"]
        self.assertEqual([e["milestone"] for e in events], ["picked_up", "arrived_at_facility", "delivered"])
        self.assertEqual([e["event_class"] for e in events], ["actual", "actual", "estimated"])
        self.assertEqual(events, sorted(events, key=lambda e: e["occurred_at"]))
        self.assertEqual(events[0]["location"]["city"], "Lyon")

    def test_etag_and_if_none_match(self):
        path = f"/shipments/{self.parcel_a.id}"
        first = self.call("GET", path, key=self.ada_key, template="/shipments/{shipment_id}")
        tag = first.headers["ETag"]
        again = self.call("GET", path, key=self.ada_key, headers={"If-None-Match": tag},
                          template="/shipments/{shipment_id}")
        self.assertEqual(again.status_code, 304)
        self.assertEqual(again.headers["ETag"], tag)
        self.parcel_a.sudo().pod_signed_by = "A. Lovelace"
        changed = self.call("GET", path, key=self.ada_key, headers={"If-None-Match": tag},
                            template="/shipments/{shipment_id}")
        self.assertEqual(changed.status_code, 200)
        self.assertNotEqual(changed.headers["ETag"], tag)

    def test_lookup_takes_the_carrier_and_answers_the_most_recent(self):
        second_company = self.env["res.company"].create({"name": "Ada Logistics Nordics"})
        self.wide_account.write({"company_ids": [(4, second_company.id)]})
        older = self.parcel_a
        newer = self.env["shipment.shipment"].create({
            "tracking_number": "PARCELA1", "company_id": second_company.id, "carrier_id": self.carrier.id})
        self.env.cr.execute("UPDATE shipment_shipment SET create_date = create_date - interval '90 days' "
                            "WHERE id = %s", [older.id])
        self.env.invalidate_all()
        result = self.call("GET", f"/lookup?carrier={self.carrier.id}&tracking_number=parcela1",
                           key=self.wide_key, template="/lookup").json()
        self.assertEqual(result["data"]["id"], newer.id)
        self.assertEqual(result["others"],
                         [{"id": older.id, "href": f"{api_contract.API_PREFIX}/shipments/{older.id}"}])
        # Another carrier, another customer's number, or a missing parameter.
        self.assertEqual(self.call("GET", "/lookup?carrier=Test Freight&tracking_number=PARCELA1", key=self.wide_key,
                                   template="/lookup").status_code, 404)
        self.assertEqual(self.call("GET", f"/lookup?carrier={self.carrier.id}&tracking_number=STRANGER9",
                                   key=self.ada_key, template="/lookup").status_code, 404)
        missing = self.call("GET", "/lookup?tracking_number=PARCELA1", key=self.ada_key, template="/lookup")
        self.assertEqual(missing.status_code, 400)
        self.assertEqual(missing.json()["errors"][0]["parameter"], "carrier")

    def test_open_exceptions_with_reason_and_age(self):
        Exception_ = self.env["shipment.exception"].sudo()
        opened = fields.Datetime.now() - timedelta(hours=5)
        mine = Exception_.create({"shipment_id": self.parcel_b.id, "reason": "weather", "opened_at": opened})
        Exception_.create({"shipment_id": self.stranger_shipment.id, "reason": "damaged"})
        Exception_.create({"shipment_id": self.parcel_a.id, "reason": "refused", "state": "resolved"})
        data = self.call("GET", "/exceptions", key=self.ada_key).json()["data"]
        self.assertEqual([item["id"] for item in data], [mine.id])
        self.assertEqual(data[0]["reason"], "weather")
        self.assertEqual(data[0]["tracking_number"], "PARCELB2")
        self.assertGreaterEqual(data[0]["age_seconds"], 5 * 3600)
        wide = self.call("GET", "/exceptions?limit=1", key=self.wide_key).json()
        self.assertEqual(len(wide["data"]), 1)
        self.assertTrue(wide["next_cursor"])
        rest = self.call("GET", f"/exceptions?limit=1&cursor={wide['next_cursor']}", key=self.wide_key).json()
        self.assertNotEqual(rest["data"][0]["id"], wide["data"][0]["id"])

    def test_openapi_document_is_public_and_3_1(self):
        response = self.url_open(self.base_url() + api_contract.API_PREFIX + "/openapi.json")
        self.assertEqual(response.status_code, 200)
        document = response.json()
        self.assertEqual(document["openapi"], "3.1.0")
        self.assertEqual(document["servers"][0]["url"], self.base_url() + api_contract.API_PREFIX)
        self.assertIn("webhooks", document)
        self.assertEqual(set(document["paths"]), {"/shipments", "/shipments/{shipment_id}",
                                                  "/shipments/{shipment_id}/events", "/lookup", "/exceptions",
                                                  "/events", "/subscriptions", "/subscriptions/{subscription_id}",
                                                  "/subscriptions/{subscription_id}/rotate-secret",
                                                  "/subscriptions/{subscription_id}/test",
                                                  "/subscriptions/{subscription_id}/replay"})


@tagged("post_install", "-at_install")
class TestApiWrites(ApiHttpCommon):

    def test_register_links_to_the_delivery_order_by_reference(self):
        body = {"tracking_number": "ada new 1", "order_reference": self.order.name}
        response = self.call("POST", "/shipments", key=self.ada_key, body=body)
        self.assertEqual(response.status_code, 201, response.text)
        document = response.json()
        shipment = self.env["shipment.shipment"].browse(document["id"])
        self.assertEqual(shipment.tracking_number, "ADANEW1")
        self.assertEqual(shipment.picking_id, self.order_picking)
        self.assertEqual(shipment.carrier_id, self.carrier)
        # Polling follows it where the carrier's connector polls.
        self.assertEqual(shipment.connector_id, self.connector)
        self.assertEqual(response.headers["Location"], f"{api_contract.API_PREFIX}/shipments/{shipment.id}")
        self.assertEqual(self.call("GET", f"/shipments/{shipment.id}", key=self.ada_key,
                                   template="/shipments/{shipment_id}").status_code, 200)

    def test_register_never_reaches_into_another_customers_order(self):
        body = {"tracking_number": "ADA-GUESS-1", "order_reference": self.stranger_picking.name}
        response = self.call("POST", "/shipments", key=self.ada_key, body=body)
        self.assertEqual(response.status_code, 201)
        shipment = self.env["shipment.shipment"].browse(response.json()["id"])
        self.assertFalse(shipment.picking_id, "an unmatched shipment, not one on the stranger's order")
        self.assertEqual(shipment.partner_id, self.customer)

    def test_idempotency_key(self):
        headers = {"Idempotency-Key": "order-4711-parcel-1"}
        body = {"tracking_number": "IDEM1", "carrier_id": self.carrier.id}
        first = self.call("POST", "/shipments", key=self.ada_key, body=body, headers=headers)
        again = self.call("POST", "/shipments", key=self.ada_key, body=body, headers=headers)
        self.assertEqual(first.status_code, 201)
        self.assertEqual(again.status_code, 201)
        self.assertEqual(again.json(), first.json())
        self.assertEqual(again.headers["Idempotent-Replayed"], "true")
        self.assertEqual(self.env["shipment.shipment"].search_count([("tracking_number", "=", "IDEM1")]), 1)
        other = self.call("POST", "/shipments", key=self.ada_key, body={"tracking_number": "IDEM2"}, headers=headers)
        self.assertEqual(other.status_code, 422)
        self.assertEqual(other.json()["type"], PROBLEM + "idempotency-key-reused")
        # Without the key, the same number again is a conflict.
        conflict = self.call("POST", "/shipments", key=self.ada_key, body=body)
        self.assertEqual(conflict.status_code, 409)
        self.assertEqual(conflict.json()["type"], PROBLEM + "conflict")

    def test_register_validation_errors_point_at_the_field(self):
        response = self.call("POST", "/shipments", key=self.ada_key,
                             body={"tracking_number": 42, "carrier_id": "x", "colour": "red"})
        self.assertEqual(response.status_code, 422)
        pointers = sorted(error["pointer"] for error in response.json()["errors"])
        self.assertEqual(pointers, ["", "/carrier_id", "/tracking_number"])
        unknown = self.call("POST", "/shipments", key=self.ada_key,
                            body={"tracking_number": "X1", "carrier_id": 999999})
        self.assertEqual(unknown.json()["errors"], [{"detail": "unknown carrier", "pointer": "/carrier_id"}])
        nul = self.call("POST", "/shipments", key=self.ada_key, body={"tracking_number": "NUL\x001"})
        self.assertEqual(nul.json()["errors"], [{"detail": "holds a NUL character", "pointer": "/tracking_number"}])
        # JSON has numbers, not integers: 7.0 is the integer 7.
        whole = self.call("POST", "/shipments", key=self.ada_key,
                          body={"tracking_number": "FLOAT1", "carrier_id": float(self.carrier.id)})
        self.assertEqual(whole.status_code, 201)
        self.assertEqual(whole.json()["carrier"]["id"], self.carrier.id)
        self.assertEqual(self.call("POST", "/shipments", key=self.ada_key, body=b"{not json").status_code, 400)
        self.assertEqual(self.call("POST", "/shipments", key=self.ada_key, body=b"tracking_number=X",
                                   content_type="application/x-www-form-urlencoded").status_code, 415)

    def test_push_events_goes_through_the_inbox(self):
        message = native_message("parcelb2")
        response = self.call("POST", "/events", key=self.ada_key, body=message)
        self.assertEqual(response.status_code, 202, response.text)
        accepted = response.json()
        inbox = self.env["shipment.inbox"].sudo().browse(accepted["message_id"])
        self.assertEqual(inbox.source, "api")
        self.assertEqual(inbox.state, "pending")
        self.assertEqual(json.loads(inbox.body), message)
        duplicate = self.call("POST", "/events", key=self.ada_key, body=message)
        self.assertEqual(duplicate.status_code, 200)
        self.assertEqual(duplicate.json()["message_id"], accepted["message_id"])
        inbox._process_now()
        self.assertEqual(inbox.state, "done", inbox.last_error)
        self.assertEqual(self.parcel_b.status, "out_for_delivery")
        self.assertEqual(self.parcel_b.event_ids.filtered(lambda e: e.milestone == "out_for_delivery").source, "api")

    def test_push_events_validation_and_partition(self):
        stored_before = self.env["shipment.inbox"].sudo().search_count([("source", "=", "api")])
        bad = native_message("PARCELB2", occurred_at="2026-12-06 09:30")
        response = self.call("POST", "/events", key=self.ada_key, body=bad)
        self.assertEqual(response.status_code, 422)
        self.assertIn("/data/events/0/occurred_at", [e["pointer"] for e in response.json()["errors"]])
        stranger = self.call("POST", "/events", key=self.ada_key, body=native_message("STRANGER9"))
        self.assertEqual(stranger.status_code, 422)
        self.assertEqual(stranger.json()["errors"][0]["pointer"], "/data/tracking_number")
        self.assertEqual(self.env["shipment.inbox"].sudo().search_count([("source", "=", "api")]), stored_before,
                         "nothing refused is stored")
