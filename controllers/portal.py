from odoo import _, http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request
from odoo.osv import expression

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager

from ..integration import taxonomy
from ..models.shipment_shipment_customer import CUSTOMER_EVENT_LIMIT

# Statuses of the "Filter By" entries of the portal list.
_IN_TRANSIT = tuple(code for code in taxonomy.MILESTONE_CODES
                    if code not in taxonomy.TERMINAL and code not in taxonomy.EXCEPTION_MILESTONES)


class ShipmentCustomerPortal(CustomerPortal):
    """Customers' shipments on ``/my``: a counter, a list and one page per shipment.

    Portal users read shipments through the record rules of ``base.group_portal`` (their
    commercial partner's and its contacts'); the pages render under sudo only what
    :meth:`shipment.shipment._customer_view_values` hands out.
    """

    def _prepare_shipments_domain(self, partner):
        commercial = partner.commercial_partner_id.id
        # Portal users cannot read delivery orders: the path through them is searched as
        # the system, and the result still goes through the shipments' record rules.
        own_orders = request.env["stock.picking"].sudo()._search(
            [("sale_id.partner_id", "child_of", [commercial])])
        return ["|", ("partner_id", "child_of", [commercial]), ("picking_id", "in", own_orders)]

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "shipment_count" in counters:
            Shipment = request.env["shipment.shipment"]
            values["shipment_count"] = Shipment.search_count(
                self._prepare_shipments_domain(request.env.user.partner_id)) if Shipment.has_access("read") else 0
        return values

    def _shipment_searchbar_sortings(self):
        return {
            "latest": {"label": _("Latest update"), "order": "last_event_at desc nulls last, id desc"},
            "eta": {"label": _("Expected delivery"), "order": "eta asc nulls last, id desc"},
        }

    def _shipment_searchbar_filters(self):
        return {
            "all": {"label": _("All"), "domain": []},
            "in_transit": {"label": _("In transit"), "domain": [("status", "in", _IN_TRANSIT),
                                                                 ("exception_state", "=", "none")]},
            "delivered": {"label": _("Delivered"), "domain": [("status", "=", "delivered")]},
            "exception": {"label": _("Needs attention"), "domain": [
                "|", ("exception_state", "!=", "none"), ("status", "in", tuple(taxonomy.EXCEPTION_MILESTONES))]},
        }

    def _shipment_searchbar_inputs(self):
        return {
            "all": {"input": "all", "label": _("Search in order and tracking number")},
            "order": {"input": "order", "label": _("Search in order")},
            "tracking": {"input": "tracking", "label": _("Search in tracking number")},
        }

    def _shipment_search_domain(self, search_in, search):
        search = (search or "").replace("\x00", "").strip()[:100]
        if not search:
            return []
        # Searched as the system for the same reason as in _prepare_shipments_domain.
        pickings = request.env["stock.picking"].sudo()._search(
            ["|", ("sale_id.name", "ilike", search), ("name", "ilike", search)])
        order = [("picking_id", "in", pickings)]
        tracking = [("tracking_number", "ilike", search.replace(" ", "").upper())]
        if search_in == "order":
            return order
        if search_in == "tracking":
            return tracking
        return expression.OR([order, tracking])

    @http.route(["/my/shipments", "/my/shipments/page/<int:page>"], type="http", auth="user", website=True)
    def portal_my_shipments(self, page=1, sortby=None, filterby=None, search_in="all", search=None, **_kw):
        Shipment = request.env["shipment.shipment"]
        sortings = self._shipment_searchbar_sortings()
        filters = self._shipment_searchbar_filters()
        inputs = self._shipment_searchbar_inputs()
        sortby = sortby if sortby in sortings else "latest"
        filterby = filterby if filterby in filters else "all"
        search_in = search_in if search_in in inputs else "all"
        domain = expression.AND([
            self._prepare_shipments_domain(request.env.user.partner_id),
            filters[filterby]["domain"],
            self._shipment_search_domain(search_in, search),
        ])
        total = Shipment.search_count(domain) if Shipment.has_access("read") else 0
        pager = portal_pager(
            url="/my/shipments", total=total, page=page, step=self._items_per_page,
            url_args={"sortby": sortby, "filterby": filterby, "search_in": search_in, "search": search})
        shipments = Shipment.search(domain, order=sortings[sortby]["order"], limit=self._items_per_page,
                                    offset=pager["offset"]) if total else Shipment
        request.session["my_shipments_history"] = shipments.ids[:100]
        tz_name = request.env.user.tz or "UTC"
        values = self._prepare_portal_layout_values()
        values.update({
            # The rows show what the page shows: worded for the customer, nothing internal.
            "rows": [(shipment, shipment.sudo()._customer_view_values(tz_name, limit=1)) for shipment in shipments],
            "page_name": "shipment",
            "default_url": "/my/shipments",
            "pager": pager,
            "searchbar_sortings": sortings,
            "sortby": sortby,
            "searchbar_filters": filters,
            "filterby": filterby,
            "searchbar_inputs": inputs,
            "search_in": search_in,
            "search": search,
        })
        return request.render("shipment_visibility.portal_my_shipments", values)

    @http.route(["/my/shipments/<int:shipment_id>"], type="http", auth="public", website=True)
    def portal_my_shipment(self, shipment_id, access_token=None, show="", **_kw):
        try:
            shipment_sudo = self._document_check_access("shipment.shipment", shipment_id, access_token=access_token)
        except (AccessError, MissingError):
            # The same answer for "not yours" and "does not exist": ids are not an oracle.
            raise request.not_found() from None
        if not shipment_sudo.with_user(request.env.user).has_access("read"):
            # A valid link from an e-mail or a share: the public tracking page shows it.
            return request.redirect(f"/track/{shipment_sudo.access_token}", code=303)
        view = shipment_sudo._customer_view_values(request.env.user.tz or "UTC", full=True,
                                                   limit=None if show == "all" else CUSTOMER_EVENT_LIMIT)
        values = {
            "shipment": shipment_sudo,
            "view": view,
            "page_name": "shipment",
            "order_url": self._shipment_order_url(shipment_sudo),
            "all_url": f"/my/shipments/{shipment_sudo.id}?show=all",
            "pod_url": f"/track/{shipment_sudo.access_token}/pod" if view.get("pod_available") else False,
        }
        values = self._get_page_view_values(shipment_sudo, access_token, values, "my_shipments_history", False)
        return request.render("shipment_visibility.portal_my_shipment", values)

    def _shipment_order_url(self, shipment_sudo):
        order = shipment_sudo.picking_id.sale_id
        if order and order.with_user(request.env.user).has_access("read"):
            return order.access_url
        return False
