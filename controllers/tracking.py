import re

from odoo import _, fields, http
from odoo.http import request
from odoo.tools import lazy

from ..integration import customer_view
from ..integration.events import EventError, normalize_tracking_number
from ..models.res_company import PublicFace
from ..models.shipment_shipment_customer import CUSTOMER_EVENT_LIMIT

# Tokens are uuid4 strings (portal.mixin); anything else is not looked up.
_TOKEN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{3,8}$")
_FIELD_MAX = 200
_MAX_MATCHES = 20
# Compared against when nothing was found, so that "unknown order" costs the same work
# as "known order, wrong e-mail".
_DUMMY_EMAIL = "nobody@invalid.invalid"
_DUMMY_POSTCODE = "00000-INVALID"


class ShipmentTrackingController(http.Controller):
    """The public tracking page: no login, readable without JavaScript, mobile first.

    * ``/track``: a lookup form. Order reference plus the e-mail or postcode of the
      delivery address opens the full page; a tracking number alone shows what the
      carrier's own page would (status, dates, city and country), no personal data.
      "Not found" and "wrong e-mail" get the same answer, and every lookup counts
      against the client's budget (429 with ``Retry-After`` past it).
    * ``/track/<access_token>``: one shipment's full page, the link e-mails carry.
    """

    # ------------------------------------------------------------------ #
    # Routes
    # ------------------------------------------------------------------ #

    @http.route("/track", type="http", auth="public", methods=["GET"], readonly=True, sitemap=False)
    def track_form(self, lang=None, **_kw):
        self._set_lang(lang)
        return self._render("shipment_visibility.tracking_lookup", self._lookup_values())

    # Reading a number from a link (GET) is a lookup as well: same budget, same answers.
    @http.route("/track/number/<string:number>", type="http", auth="public", methods=["GET"], readonly=False,
                sitemap=False)
    def track_number(self, number, lang=None, **_kw):
        self._set_lang(lang)
        return self._lookup(number=number)

    @http.route("/track", type="http", auth="public", methods=["POST"], readonly=False, sitemap=False)
    def track_lookup(self, reference="", contact="", number="", lang=None, **_kw):
        self._set_lang(lang)
        return self._lookup(reference=reference, contact=contact, number=number)

    @http.route("/track/<string:token>", type="http", auth="public", methods=["GET"], readonly=False,
                sitemap=False)
    def track_token(self, token, lang=None, show="", **_kw):
        limit = None if show == "all" else CUSTOMER_EVENT_LIMIT
        shipment, around = self._shipment_page_by_token(token, limit)
        if not shipment:
            return self._not_found_token()
        self._set_lang(lang, customer_lang=around["customer_lang"])
        shipment = shipment.with_context(lang=request.env.lang)  # found before the language was known
        brand = around["company"]
        tz_name = around["customer_tz"] or brand.tz or "UTC"
        now = fields.Datetime.now()
        # Worded and rendered only when QWeb has not kept this very page (t-cache).
        view = lazy(shipment._customer_view_values, tz_name, full=True, around=around, limit=limit, now=now)
        values = self._page_values(brand, view=view, token=token,
                                   all_url=f"/track/{token}?show=all",
                                   pod_url=f"/track/{token}/pod" if shipment.pod_url or shipment.pod_attachment_id
                                   else False)
        shipment_key = shipment._customer_page_cache_key(around, tz_name, now, limit)
        values["page_cache_key"] = shipment_key and (
            shipment_key, values["company"], tuple(values["languages"]), values["page_path"])
        return self._render("shipment_visibility.tracking_page", values, private=True, minimal_qcontext=True)

    @http.route("/track/<string:token>/pod", type="http", auth="public", methods=["GET"], readonly=False,
                sitemap=False)
    def track_pod(self, token, **_kw):
        shipment = self._shipment_by_token(token)
        if not shipment or not (shipment.pod_url or shipment.pod_attachment_id):
            return self._not_found_token()
        if shipment.pod_url and shipment.pod_url.startswith(("https://", "http://")):
            return request.redirect(shipment.pod_url, code=303, local=False)
        attachment = shipment.pod_attachment_id
        if attachment.type == "url" and (attachment.url or "").startswith(("https://", "http://")):
            return request.redirect(attachment.url, code=303, local=False)
        stream = request.env["ir.binary"]._get_stream_from(attachment)
        response = stream.get_response(as_attachment=False)
        self._private_headers(response)
        return response

    @http.route("/track/<string:token>/unsubscribe", type="http", auth="public", methods=["GET"], readonly=True,
                sitemap=False)
    def track_unsubscribe_form(self, token, lang=None, **_kw):
        shipment = self._shipment_by_token(token)
        if not shipment:
            raise request.not_found()
        self._set_lang(lang, shipment)
        values = self._page_values(shipment.company_id, token=token, done=False,
                                   subscribed=shipment.partner_id.shipment_notifications)
        return self._render("shipment_visibility.tracking_unsubscribe", values, private=True)

    # Mail clients' one-click unsubscribe (RFC 8058) posts without a session, hence no
    # CSRF token: the unguessable token in the URL is what authorizes the change.
    @http.route("/track/<string:token>/unsubscribe", type="http", auth="public", methods=["POST"],
                readonly=False, csrf=False, sitemap=False)
    def track_unsubscribe(self, token, lang=None, subscribe=None, **_kw):
        shipment = self._shipment_by_token(token)
        if not shipment:
            raise request.not_found()
        self._set_lang(lang, shipment)
        wanted = subscribe == "1"
        recipients = shipment.partner_id
        if recipients:
            # The customer opts out for themself, through the link of their own e-mail.
            recipients.sudo().shipment_notifications = wanted
            shipment.message_post(body=_("Shipment e-mails turned %(state)s by the customer from the tracking page.",
                                         state=_("on") if wanted else _("off")),
                                  subtype_xmlid="mail.mt_note")
        values = self._page_values(shipment.company_id, token=token, done=True, subscribed=wanted)
        return self._render("shipment_visibility.tracking_unsubscribe", values, private=True)

    # ------------------------------------------------------------------ #
    # Lookups
    # ------------------------------------------------------------------ #

    def _lookup(self, reference="", contact="", number=""):
        # PostgreSQL refuses NUL in text: it cannot be part of any reference anyway.
        reference, contact, number = (str(v or "").replace("\x00", "")[:_FIELD_MAX]
                                      for v in (reference, contact, number))
        if not (number.strip() or (reference.strip() and contact.strip())):
            values = self._lookup_values(reference=reference, number=number, error="incomplete")
            return self._render("shipment_visibility.tracking_lookup", values, status=400)
        wait = request.env["shipment.track.throttle"].sudo()._hit(request.httprequest.remote_addr)
        if wait:
            return self._too_many(wait)
        if reference.strip():
            return self._lookup_order(reference, contact)
        return self._lookup_number(number)

    def _lookup_order(self, reference, contact):
        ref = customer_view.normalize_reference(reference)
        # Lookups run as the system for anonymous visitors: the reference and the contact
        # together are the credential, checked below before anything is shown.
        Shipment = request.env["shipment.shipment"].sudo()
        shipments = Shipment.search([
            "|", ("picking_id.sale_id.name", "=", ref), ("picking_id.name", "=", ref),
        ], limit=_MAX_MATCHES, order="id") if ref else Shipment
        emails, postcodes = set(), set()
        for shipment in shipments:
            order = shipment.picking_id.sale_id
            for partner in (shipment.partner_id, shipment.picking_id.partner_id, order.partner_id,
                            order.partner_shipping_id, order.partner_id.commercial_partner_id):
                emails.add(partner.email or "")
                postcodes.add(partner.zip or "")
        matched = customer_view.verifier_matches(
            contact, emails=sorted(emails) or [_DUMMY_EMAIL], postcodes=sorted(postcodes) or [_DUMMY_POSTCODE])
        if not (shipments and matched):
            return self._not_found(reference=reference)
        for shipment in shipments:
            shipment._portal_ensure_token()
        if len(shipments) == 1:
            return request.redirect(f"/track/{shipments.access_token}", code=303)
        choices = []
        for shipment in shipments:
            view = shipment._customer_view_values(shipment.partner_id.tz or "UTC", full=False, limit=1)
            choices.append({"url": f"/track/{shipment.access_token}", "view": view})
        values = self._page_values(shipments[0].company_id, choices=choices, choices_message=_(
            "Your order travels in %(count)s parcels. Choose one to follow it.", count=len(choices)),
                                   order_name=shipments[0].picking_id.sale_id.name or shipments[0].picking_id.name)
        return self._render("shipment_visibility.tracking_choices", values, private=True)

    def _lookup_number(self, number):
        try:
            normalized = normalize_tracking_number(number)
        except EventError:
            normalized = ""
        # A tracking number alone shows the carrier-like view only, searched as the system.
        shipments = request.env["shipment.shipment"].sudo().search(
            [("tracking_number", "=", normalized), ("shadow", "=", False)], limit=5, order="id") if normalized else None
        if not shipments:
            return self._not_found(number=number)
        views = [shipment._customer_view_values(None, full=False) for shipment in shipments]
        company = shipments[0].company_id if len(shipments.company_id) == 1 else request.env.company
        values = self._page_values(company, minimal_views=views)
        return self._render("shipment_visibility.tracking_minimal", values, private=True)

    def _not_found(self, reference="", number=""):
        values = self._lookup_values(reference=reference, number=number, error="not_found")
        return self._render("shipment_visibility.tracking_lookup", values, status=404)

    def _not_found_token(self):
        wait = request.env["shipment.track.throttle"].sudo()._hit(request.httprequest.remote_addr)
        if wait:
            return self._too_many(wait)
        return self._render("shipment_visibility.tracking_lookup",
                            self._lookup_values(error="unknown_link"), status=404)

    def _too_many(self, wait):
        minutes = max(1, (wait + 59) // 60)
        values = self._lookup_values(error="too_many", too_many_message=_(
            "Too many attempts from your connection. Please try again in %(minutes)s minutes.", minutes=minutes))
        response = self._render("shipment_visibility.tracking_lookup", values, status=429)
        response.headers["Retry-After"] = str(int(wait))
        return response

    def _shipment_page_by_token(self, token, events_limit):
        """The shipment of an access token and what its page shows, in one query: the one
        place that decides what a token grants (uuid4 shape, constant-time comparison, not
        archived).

        :return: (shipment, surroundings), or (empty recordset, None)
        """
        Shipment = request.env["shipment.shipment"].sudo()  # the token is the credential
        if not token or not _TOKEN.match(token):
            return Shipment, None
        return Shipment._customer_page_by_token(token, events_limit)

    def _shipment_by_token(self, token):
        """The shipment of an access token (see :meth:`_shipment_page_by_token`); an empty
        recordset otherwise."""
        return self._shipment_page_by_token(token, events_limit=False)[0]

    # ------------------------------------------------------------------ #
    # Rendering
    # ------------------------------------------------------------------ #

    def _set_lang(self, lang=None, shipment=None, customer_lang=None):
        """The page speaks the visitor's choice, else the customer's language, else the browser's."""
        Lang = request.env["res.lang"]
        if shipment:
            customer_lang = shipment.partner_id.lang
        code = (Lang._get_code(lang) if isinstance(lang, str) and lang else False) \
            or Lang._get_code(customer_lang or "") \
            or Lang._get_code(request.best_lang or "") \
            or request.env.lang or "en_US"
        request.update_context(lang=code)

    def _lookup_values(self, **values):
        return self._page_values(request.env.company, **values)

    @staticmethod
    def _brand(company):
        """The company's public face (name, contact, colours, time zone), cached.

        :rtype: odoo.addons.shipment_visibility.models.res_company.PublicFace
        """
        if isinstance(company, PublicFace):
            return company
        return request.env["res.company"]._shipment_public_face(company.id)

    def _page_values(self, company, **values):
        company = self._brand(company)
        primary = company.primary_color if _COLOR.match(company.primary_color or "") else "#714B67"
        secondary = company.secondary_color if _COLOR.match(company.secondary_color or "") else "#017E84"
        current = request.env.lang
        langs = request.env["res.lang"].get_installed()
        return {
            "company": company,
            "brand_style": f"--sv-primary: {primary}; --sv-secondary: {secondary};",
            "logo_url": f"/web/binary/company_logo?company={company.id}",
            "languages": langs if len(langs) > 1 else [],
            "current_lang": current,
            "html_lang": (current or "en_US").replace("_", "-"),
            "page_path": request.httprequest.path,
            **values,
        }

    def _render(self, template, values, status=200, private=False, minimal_qcontext=False):
        """:param minimal_qcontext: the template reads only ``values``: QWeb then skips the
            globals of frontend pages (the user and company records, the request), which
            cost the page the public user's row."""
        if minimal_qcontext:
            request.update_context(minimal_qcontext=True)
        response = request.render(template, values, status=status)
        if private:
            self._private_headers(response)
        else:
            response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        return response

    @staticmethod
    def _private_headers(response):
        # Token URLs must not leak: no caching by shared caches, no Referer to carriers' sites.
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
