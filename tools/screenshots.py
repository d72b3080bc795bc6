#!/usr/bin/env python3
"""Screenshots of the customer pages, for the README: portal list, shipment page, public page.

Run against a server started with ``make run`` (demo data), in another terminal::

    python3 tools/screenshots.py                      # http://localhost:8069, database shipment_visibility
    python3 tools/screenshots.py --url http://localhost:8070 --db mydb --out docs

As the administrator (admin/admin) it picks the demo shipment with the richest history
and gives its customer a portal login (``portal.screenshots@example.com``), then
Playwright drives the distribution's Chromium: each page at 1280 px and at 360 px
wide, into ``docs/customer_*.png``. Needs Playwright in the virtual environment (it is
in requirements-dev.txt) and Chromium (``apt-get install chromium``).
"""

import argparse
import shutil
import sys
import xmlrpc.client
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PORTAL_LOGIN = "portal.screenshots@example.com"
PORTAL_PASSWORD = "screenshots-portal"
WIDTHS = {"desktop": (1280, 900), "mobile": (360, 740)}


def rpc(url, db, user, password):
    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
    uid = common.authenticate(db, user, password, {})
    if not uid:
        sys.exit(f"cannot log in to {url} database {db} as {user}: is `make run` serving it?")
    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)

    def call(model, method, *args, **kwargs):
        return models.execute_kw(db, uid, password, model, method, list(args), kwargs)
    return call


def prepare(call):
    """The shipment to show, and a portal login for its customer."""
    shipments = call("shipment.shipment", "search_read",
                     [("picking_id", "!=", False), ("partner_id", "!=", False), ("status", "not in",
                                                                                  ["pending", "cancelled"])],
                     fields=["tracking_number", "partner_id", "event_count", "access_token", "status"])
    if not shipments:
        sys.exit("no demo shipment with a delivery order: start the server with demo data (make run)")
    partners = {p["id"]: p["commercial_partner_id"][0] for p in call(
        "res.partner", "read", list({s["partner_id"][0] for s in shipments}), fields=["commercial_partner_id"])}
    # The customer with the most parcels makes the fullest list; its parcel still moving
    # with the longest history makes the fullest page.
    counts = {}
    for s in shipments:
        counts[partners[s["partner_id"][0]]] = counts.get(partners[s["partner_id"][0]], 0) + 1
    commercial_id = max(counts, key=counts.get)
    shipment = max((s for s in shipments if partners[s["partner_id"][0]] == commercial_id),
                   key=lambda s: (s["status"] != "delivered", s["event_count"]))
    portal_group = call("ir.model.data", "check_object_reference", "base", "group_portal")[1]
    users = call("res.users", "search", [("login", "=", PORTAL_LOGIN)])
    if users:
        call("res.users", "write", users, {"password": PORTAL_PASSWORD})
        user_id = users[0]
    else:
        contact = call("res.partner", "create", {"name": "Sam Customer", "parent_id": commercial_id,
                                                 "email": PORTAL_LOGIN, "tz": "Europe/Brussels"})
        user_id = call("res.users", "create", {"login": PORTAL_LOGIN, "password": PORTAL_PASSWORD,
                                               "partner_id": contact, "groups_id": [(6, 0, [portal_group])],
                                               "tz": "Europe/Brussels"})
    user = call("res.users", "read", [user_id], fields=["partner_id"])[0]
    call("res.partner", "write", [user["partner_id"][0]], {"parent_id": commercial_id})
    return shipment


def shoot(url, shipment, out, chromium):
    from playwright.sync_api import sync_playwright

    pages = {
        "portal_list": (True, "/my/shipments"),
        "portal_shipment": (True, f"/my/shipments/{shipment['id']}"),
        "public_page": (False, f"/track/{shipment['access_token']}"),
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for device, (width, height) in WIDTHS.items():
            for logged_in in (True, False):
                context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
                page = context.new_page()
                if logged_in:
                    page.goto(f"{url}/web/login", wait_until="load")
                    page.fill("input[name='login']", PORTAL_LOGIN)
                    page.fill("input[name='password']", PORTAL_PASSWORD)
                    page.click("button[type='submit']")
                    page.wait_for_load_state("load")
                for name, (needs_login, path) in pages.items():
                    if needs_login != logged_in:
                        continue
                    page.goto(f"{url}{path}", wait_until="load")
                    page.wait_for_timeout(300)
                    target = out / f"customer_{name}_{device}.png"
                    page.screenshot(path=str(target), full_page=True)
                    written.append(target)
                context.close()
        browser.close()
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://localhost:8069")
    parser.add_argument("--db", default="shipment_visibility")
    parser.add_argument("--admin", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--out", default=str(REPO / "docs"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    try:
        import playwright  # noqa: F401
    except ImportError:
        sys.exit("Playwright is missing: run this with the virtual environment's python "
                 "(~/.cache/shipment_visibility/venv/bin/python tools/screenshots.py)")
    url = args.url.rstrip("/")
    shipment = prepare(rpc(url, args.db, args.admin, args.password))
    for path in shoot(url, shipment, Path(args.out), args.chromium):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
