"""Event subscriptions through the REST API: a consumer's system manages where our events go.

Accounts with the scope *manage subscriptions* list, create, change, test, replay and
remove subscriptions of their partition: a company-wide account those of its companies,
an account bound to a customer only the subscriptions filtered on that customer (every
one it creates is), and any other id is a 404. The account's record rules choose the
subscriptions; the subscription model then does the work as the system, because its
secrets, delivery log and chatter are the system's (see ``models/shipment_subscription.py``).
"""

from odoo import _, http
from odoo.exceptions import UserError, ValidationError
from odoo.http import request

from ..integration import api_contract as contract
from ..integration import api_subscriptions as subs_contract
from ..integration import netguard, signatures
from ..integration.api_contract import ApiProblem
from .api import PREFIX, ShipmentApiController

SUBSCRIPTIONS_GROUP = "shipment_visibility.group_shipment_api_subscriptions"
_ROUTE = {"type": "http", "auth": "public", "csrf": False, "save_session": False}


def _iso(value):
    return contract.canonical.iso_utc(value or None)


def _invalid(pointer, detail):
    return ApiProblem("validation-failed", f"'{pointer or '/'}': {detail}", [{"detail": detail, "pointer": pointer}])


class ShipmentApiSubscriptionsController(ShipmentApiController):

    # ------------------------------------------------------------------ routes

    @http.route(f"{PREFIX}/subscriptions", methods=["GET"], readonly=True, **_ROUTE)
    def list_subscriptions(self, **_kwargs):
        return self._handle(self._list_subscriptions, group=SUBSCRIPTIONS_GROUP)

    @http.route(f"{PREFIX}/subscriptions", methods=["POST"], readonly=False, **_ROUTE)
    def create_subscription(self, **_kwargs):
        return self._handle(self._create_subscription, group=SUBSCRIPTIONS_GROUP)

    @http.route(f"{PREFIX}/subscriptions/<string:subscription_id>", methods=["GET"], readonly=True, **_ROUTE)
    def get_subscription(self, subscription_id, **_kwargs):
        return self._handle(self._get_subscription, subscription_id, group=SUBSCRIPTIONS_GROUP)

    @http.route(f"{PREFIX}/subscriptions/<string:subscription_id>", methods=["PATCH"], readonly=False, **_ROUTE)
    def update_subscription(self, subscription_id, **_kwargs):
        return self._handle(self._update_subscription, subscription_id, group=SUBSCRIPTIONS_GROUP)

    @http.route(f"{PREFIX}/subscriptions/<string:subscription_id>", methods=["DELETE"], readonly=False, **_ROUTE)
    def delete_subscription(self, subscription_id, **_kwargs):
        return self._handle(self._delete_subscription, subscription_id, group=SUBSCRIPTIONS_GROUP)

    @http.route(f"{PREFIX}/subscriptions/<string:subscription_id>/rotate-secret", methods=["POST"],
                readonly=False, **_ROUTE)
    def rotate_subscription_secret(self, subscription_id, **_kwargs):
        return self._handle(self._rotate_secret, subscription_id, group=SUBSCRIPTIONS_GROUP)

    @http.route(f"{PREFIX}/subscriptions/<string:subscription_id>/test", methods=["POST"], readonly=False,
                **_ROUTE)
    def test_subscription(self, subscription_id, **_kwargs):
        return self._handle(self._test_subscription, subscription_id, group=SUBSCRIPTIONS_GROUP)

    @http.route(f"{PREFIX}/subscriptions/<string:subscription_id>/replay", methods=["POST"], readonly=False,
                **_ROUTE)
    def replay_subscription(self, subscription_id, **_kwargs):
        return self._handle(self._replay_subscription, subscription_id, group=SUBSCRIPTIONS_GROUP)

    # ------------------------------------------------------------------ documents

    def _subscription_documents(self, subscriptions):
        """The API's view of subscriptions: filters, state and health; never a secret or a broker URL."""
        if not subscriptions:
            return []
        # The account's rules chose these subscriptions; their event types and delivery
        # counts are part of what it may see of them, without rights on those models.
        records = subscriptions.sudo()
        counts = records._delivery_counts()
        documents = []
        for subscription in records:
            mine = counts.get(subscription.id, {})
            documents.append({
                "id": subscription.id, "name": subscription.name, "kind": subscription.kind,
                "url": subscription.url or None if subscription.kind == "webhook" else None,
                "event_types": subscription.event_type_ids.mapped("code"),
                "customer_id": subscription.customer_id.id or None,
                "enabled": subscription.enabled, "disabled_reason": subscription.disabled_reason or None,
                "disabled_at": _iso(subscription.disabled_at), "strict_ordering": subscription.strict_ordering,
                "rotation_window_hours": subscription.rotation_hours, "has_secret": subscription.has_secret,
                "secret_set_at": _iso(subscription.secret_set_at),
                "previous_secret_expires_at": _iso(subscription.previous_secret_expires_at),
                "health": {
                    "last_success_at": _iso(subscription.last_success_at),
                    "last_failure_at": _iso(subscription.last_failure_at),
                    "failing_since": _iso(subscription.failing_since),
                    "consecutive_failures": subscription.consecutive_failures,
                    "last_error": subscription.last_error or None,
                    "pending": mine.get("pending", 0) + mine.get("sending", 0),
                    "failed": mine.get("failed", 0), "delivered": mine.get("delivered", 0),
                },
                "href": f"{PREFIX}/subscriptions/{subscription.id}",
            })
        return documents

    def _visible_subscription(self, raw_id):
        subscription_id = contract.parse_id("subscription_id", raw_id)
        # Searched as the account: its rules are the partition, another's id is not there.
        subscription = request.env["shipment.subscription"].search([("id", "=", subscription_id)])
        if not subscription:
            raise ApiProblem("not-found", f"No subscription {subscription_id}.")
        return subscription

    # ------------------------------------------------------------------ reads

    def _list_subscriptions(self, call):
        args = self._args({"limit", "cursor"})
        limit = contract.parse_limit(args.get("limit"))
        filters = {"_subscriptions": True}
        domain = []
        secret = self._cursor_secret()
        if args.get("cursor") is not None:
            domain.append(("id", ">", contract.read_cursor(secret, args["cursor"], filters)))
        records = request.env["shipment.subscription"].search(domain, order="id", limit=limit + 1)
        page = records[:limit]
        next_cursor = contract.make_cursor(secret, page[-1].id, filters) if len(records) > limit else None
        return self._answer(call, {"data": self._subscription_documents(page), "next_cursor": next_cursor})

    def _get_subscription(self, call, raw_id):
        self._args(set())
        return self._answer(call, self._subscription_documents(self._visible_subscription(raw_id))[0])

    # ------------------------------------------------------------------ writes

    def _check_url(self, url):
        """Our outbound policy, answered with the reason and the member that broke it."""
        try:
            request.env["shipment.connector"]._outbound_policy().check_url(url)
        except netguard.BlockedDestination as exc:
            raise _invalid("/url", f"refused destination ({exc.reason}): {exc}") from None

    def _customer(self, document):
        """The customer filter to store: forced for a bound account, checked for a company-wide one."""
        bound = request.env.user.shipment_api_partner_id
        if "customer_id" not in document:
            return bound
        wanted = document["customer_id"]
        if bound:
            if wanted != bound.id:
                raise _invalid("/customer_id", "an account bound to a customer subscribes for that customer only")
            return bound
        if wanted is None:
            return request.env["res.partner"]
        # Customers are not the account's to read: the system checks the id names a
        # customer of the account's company (or a shared one).
        partner = request.env["res.partner"].sudo().browse(wanted).exists()
        if not partner or (partner.company_id and partner.company_id != request.env.company):
            raise _invalid("/customer_id", "unknown customer")
        return partner.commercial_partner_id

    def _values(self, document, subscription=None):
        values = {}
        if "name" in document:
            values["name"] = document["name"].strip()
        if "url" in document:
            if subscription and subscription.kind != "webhook":
                raise ApiProblem("conflict", "This subscription publishes to a broker: it has no URL.")
            self._check_url(document["url"].strip())
            values["url"] = document["url"].strip()
        if "event_types" in document:
            # The catalogue of event types is shipped data, read as the system.
            types = request.env["shipment.outbox.event.type"].sudo().search([("code", "in", document["event_types"])])
            values["event_type_ids"] = [(6, 0, types.ids)]
        if "customer_id" in document or subscription is None:
            values["customer_id"] = self._customer(document).id or False
        if "strict_ordering" in document:
            values["strict_ordering"] = document["strict_ordering"]
        if "rotation_window_hours" in document:
            values["rotation_hours"] = document["rotation_window_hours"]
        return values

    def _body(self, schema_name):
        self._args(set())
        _body, document = self._json_body()
        self._validate(schema_name, document)
        return document

    def _create_subscription(self, call):
        document = self._body("CreateSubscription")
        env = request.env
        values = self._values(document)
        secret = signatures.generate_webhook_secret()
        values.update(kind="webhook", company_id=env.company.id, secret=secret,
                      # The person who set the account up hears when its subscription is disabled.
                      user_id=env.user.sudo().create_uid.id or False)
        try:
            # Subscriptions and their encrypted secrets are the system's configuration;
            # the account's partition was applied to every value above.
            subscription = env["shipment.subscription"].sudo().create(values)
        except (ValidationError, UserError) as exc:
            raise _invalid("", str(exc)) from None
        visible = env["shipment.subscription"].search([("id", "=", subscription.id)])
        payload = dict(self._subscription_documents(visible)[0], secret=secret)
        return self._answer(call, payload, status=201,
                            extra_headers=[("Location", f"{PREFIX}/subscriptions/{subscription.id}")])

    def _update_subscription(self, call, raw_id):
        subscription = self._visible_subscription(raw_id)
        document = self._body("UpdateSubscription")
        values = self._values(document, subscription)
        # Writes as the system on a subscription the account's rules let it see (see the module docstring).
        system = subscription.sudo()
        try:
            if values:
                system.write(values)
            if document.get("enabled") is True and not system.enabled:
                system.action_enable()
            elif document.get("enabled") is False and system.enabled:
                system._disable(_("Disabled through the API by %s.", request.env.user.name))
        except (ValidationError, UserError) as exc:
            raise _invalid("", str(exc)) from None
        return self._answer(call, self._subscription_documents(subscription)[0])

    def _delete_subscription(self, call, raw_id):
        self._args(set())
        subscription = self._visible_subscription(raw_id)
        # Archived, not deleted: its delivery log stays for the operators; nothing more is sent.
        system = subscription.sudo()
        system.write({"active": False})
        system._message_log(body=_("Removed through the API by %s.", request.env.user.name))
        headers = [("X-Correlation-ID", call.correlation_id), ("Cache-Control", "no-store"), *call.rate_headers]
        return request.make_response(b"", headers=headers, status=204)

    def _rotate_secret(self, call, raw_id):
        self._args(set())
        subscription = self._visible_subscription(raw_id)
        if subscription.sudo().kind != "webhook":
            raise ApiProblem("conflict", "This subscription publishes to a broker: it has no signing secret.")
        secret = signatures.generate_webhook_secret()
        subscription.sudo()._set_secret(secret)
        payload = dict(self._subscription_documents(subscription)[0], secret=secret)
        return self._answer(call, payload)

    def _test_subscription(self, call, raw_id):
        self._args(set())
        subscription = self._visible_subscription(raw_id)
        system = subscription.sudo()
        Shipment = request.env["shipment.shipment"]
        domain = [("company_id", "=", system.company_id.id)]
        if system.customer_id:
            # The sample must be one the subscription could receive: the customer's own.
            # Orders are not the account's to read, so the customer's shipments are
            # found as the system; the account's rules then apply on top.
            customer = system.customer_id.ids
            domain.append(("id", "in", Shipment.sudo()._search(
                ["|", ("partner_id", "child_of", customer), ("picking_id.sale_id.partner_id", "child_of", customer)])))
        shipment = Shipment.search(domain, order="id desc", limit=1)
        if not shipment:
            raise ApiProblem("conflict", "No shipment to show yet: the test message carries one of your shipments.")
        outcome, message_id = system._send_test(shipment.sudo())
        return self._answer(call, {"delivered": outcome.success, "status_code": outcome.status_code or None,
                                   "error": outcome.error or None, "message_id": message_id,
                                   "event_type": subs_contract.outbound.SHIPMENT_CREATED})

    def _replay_subscription(self, call, raw_id):
        subscription = self._visible_subscription(raw_id)
        self._args(set())
        _body, document = self._json_body()
        # The schema's types first, then which of the three selections (with a precise pointer).
        schema = self._schema("ReplaySubscription")
        schema.pop("oneOf")
        errors = contract.validation_errors(schema, document)
        if errors:
            raise ApiProblem("validation-failed", f"{len(errors)} error(s), the first at "
                                                  f"'{errors[0]['pointer'] or '/'}': {errors[0]['detail']}",
                             errors=errors)
        mode, selection = subs_contract.replay_selection(document)
        values = {"mode": mode, "subscription_id": subscription.id}
        # Deliveries and their messages are the system's; all of them belong to this subscription.
        Delivery = request.env["shipment.outbox.delivery"].sudo()
        if mode == "message":
            delivery = Delivery.search([("subscription_id", "=", subscription.id),
                                        ("outbox_id.message_uid", "=", selection)], limit=1)
            if not delivery:
                raise _invalid("/message_id", "no message with this id was sent to this subscription")
            values["outbox_id"] = delivery.outbox_id.id
        elif mode == "range":
            values.update(date_from=selection[0], date_to=selection[1])
        wizard = request.env["shipment.outbox.replay"].sudo().create(values)
        deliveries = wizard._deliveries()
        deliveries._requeue()
        return self._answer(call, {"requeued": len(deliveries)}, status=202)
