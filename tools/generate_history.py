#!/usr/bin/env python3
"""Generate a realistic, seeded multi-carrier shipping history straight into an Odoo database.

What it writes (company of ``--company-id``, default the first one):

* four delivery methods (two carriers, ground and express) and a road-freight carrier
  working Saturdays, each with its own transit behaviour;
* customers in twelve European cities (country + postcode), shipped to from two
  warehouses (Brussels, Cologne): lanes with different distances;
* one shipment per order over ``--months`` months up to ``--end``, each with its carrier
  scans (pickup, hub departures and arrivals, out for delivery, delivery), the carrier's
  estimates (biased, then revised the way carriers revise them), a promised date, and
  exceptions with the carrier's own words (failed attempts, weather, damage…);
* the last weeks' shipments are cut at ``--end``: still in transit, as in real life.

Parameters of the world (documented in :data:`CARRIERS`, :data:`DESTINATIONS`,
:data:`EXCEPTIONS`, :data:`HOLIDAYS`) are the generator's only: the model learns from
the events, never from these numbers. Same seed, same history.

Rows go in with SQL batches (shipments, then events, then each shipment's state derived
by the module's own pure :func:`integration.status.derive_unique`), so 100,000
shipments take a few minutes, not hours. Usage::

    python tools/generate_history.py -d DB [--shipments 100000] [--seed 7] [--end 2026-11-30] [--months 12]

Tests call :func:`simulate` (pure) and :func:`write` (with an Odoo environment) with a
few hundred shipments.
"""

import argparse
import math
import random
import sys
from collections import namedtuple
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

# --------------------------------------------------------------------------- the world

#: Carriers (delivery methods). ``base``: business days on the shortest lane; ``per_km``:
#: extra days per distance class; ``tail``: chance of each extra slow day (geometric);
#: ``bias``: days the first estimate is optimistic by (negative: pessimistic);
#: ``revise``: chance a scan brings a revised estimate; ``promise``: business days
#: promised to the customer; ``days``: ISO working weekdays.
Carrier = namedtuple("Carrier", "code name service base per_km tail bias revise promise days")
CARRIERS = (
    Carrier("swx", "SwiftAir Express", "express", 1, 0.35, 0.08, 0.3, 0.5, 2, "12345"),
    Carrier("swg", "SwiftAir Ground", "ground", 2, 0.9, 0.25, 1.0, 0.3, 5, "12345"),
    Carrier("epx", "EuroParcel Express", "express", 1, 0.5, 0.15, 0.0, 0.2, 3, "123456"),
    Carrier("eps", "EuroParcel Standard", "ground", 2, 1.1, 0.35, 1.5, 0.1, 6, "123456"),
)
#: Share of the orders each carrier gets.
CARRIER_WEIGHTS = (0.2, 0.35, 0.15, 0.3)

Place = namedtuple("Place", "country city postcode region")
ORIGINS = (
    Place("BE", "Brussels", "1000", 0),
    Place("DE", "Cologne", "50667", 1),
)
#: Destinations and their "region" on a line from west to east: the distance class of a
#: lane is how far apart origin and destination regions are.
DESTINATIONS = (
    Place("BE", "Antwerp", "2000", 0), Place("NL", "Amsterdam", "1011", 1), Place("NL", "Rotterdam", "3011", 0),
    Place("FR", "Paris", "75001", 1), Place("FR", "Lyon", "69001", 2), Place("FR", "Marseille", "13001", 3),
    Place("DE", "Berlin", "10115", 2), Place("DE", "Munich", "80331", 2), Place("AT", "Vienna", "1010", 3),
    Place("ES", "Madrid", "28001", 4), Place("IT", "Milan", "20121", 3), Place("PL", "Warsaw", "00-001", 4),
)
#: Public holidays the carriers do not work (the same for all, as in the company's calendar).
HOLIDAYS = frozenset(date.fromisoformat(day) for day in (
    "2025-01-01", "2025-04-21", "2025-05-01", "2025-05-29", "2025-06-09", "2025-08-15", "2025-11-01",
    "2025-11-11", "2025-12-25", "2025-12-26", "2026-01-01", "2026-04-06", "2026-05-01", "2026-05-14",
    "2026-05-25", "2026-08-15", "2026-11-01", "2026-11-11", "2026-12-25", "2026-12-26", "2027-01-01"))
#: Exceptions: (chance, milestone, reason, extra business days, carrier's words).
EXCEPTIONS = (
    (0.035, "delivery_attempted", "recipient_unavailable", 1,
     ("Delivery attempted - recipient not at home", "Nobody available to sign, notice left",
      "Customer not available. Card left")),
    (0.01, "delivery_attempted", "business_closed", 1,
     ("Business closed - delivery will be re-attempted", "Company closed at time of delivery")),
    (0.012, "exception", "address_issue", 2,
     ("Incorrect address - contacting recipient", "Address incomplete, street number missing",
      "Consignee address could not be found")),
    (0.015, "delayed", "weather", 2,
     ("Delay due to severe weather", "Weather conditions prevent delivery", "Storm - hub closed")),
    (0.02, "delayed", "carrier_delay", 1,
     ("Operational delay at hub", "Shipment missed connection", "Delay in transit network")),
    (0.004, "exception", "damaged", 3,
     ("Package damaged in transit - under review", "Parcel damaged, contents being checked")),
    (0.004, "exception", "misrouted", 2,
     ("Shipment missorted - rerouted to correct hub", "Misrouted, sent back to sorting center")),
)
#: December volume and slowness: chance of one extra day in the peak weeks.
PEAK_EXTRA = 0.35
#: Orders handed over on a Friday wait over the weekend more often (chance of one extra day).
FRIDAY_EXTRA = 0.25
#: Chance the carrier never scans the pickup (the first scan is a later hub).
MISSING_FIRST_SCAN = 0.02

Event = namedtuple("Event", "milestone event_class occurred_at city postcode country description reason "
                            "issued_at")
Shipment = namedtuple("Shipment", "number carrier origin destination customer done_at promised events")


# --------------------------------------------------------------------------- simulation

def _working(day, carrier):
    return str(day.isoweekday()) in carrier.days and day not in HOLIDAYS


def _add_business_days(day, count, carrier):
    while count > 0:
        day += timedelta(days=1)
        if _working(day, carrier):
            count -= 1
    return day


def _at(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), timezone.utc)


def _geometric(rng, chance):
    extra = 0
    while rng.random() < chance and extra < 15:
        extra += 1
    return extra


def simulate(count, seed=7, end=date(2026, 11, 30), months=12):
    """Simulate ``count`` shipments handed over between ``end - months`` and ``end``.

    Pure: no database. Events later than ``end`` (noon UTC) are not written, so recent
    shipments are still on their way.

    :rtype: list of :class:`Shipment`
    """
    rng = random.Random(seed)
    start = end - timedelta(days=round(months * 30.4))
    cut = _at(end, 12)
    span = (end - start).days
    shipments = []
    for index in range(count):
        carrier = rng.choices(CARRIERS, CARRIER_WEIGHTS)[0]
        origin = ORIGINS[index % len(ORIGINS) if rng.random() < 0.5 else 0]
        destination = rng.choice(DESTINATIONS)
        customer = rng.randrange(3)
        done_day = start + timedelta(days=rng.randrange(span))
        while done_day.weekday() >= 5 or done_day in HOLIDAYS:  # warehouses ship on weekdays
            done_day += timedelta(days=1)
        done_at = _at(done_day, rng.randint(8, 16), rng.randrange(60))
        promised = _at(_add_business_days(done_day, carrier.promise, carrier), 18)
        distance = abs(origin.region - destination.region) + (origin.country != destination.country)
        transit = carrier.base + math.floor(carrier.per_km * distance + rng.random()) + _geometric(rng, carrier.tail)
        if done_day.weekday() == 4 and rng.random() < FRIDAY_EXTRA:
            transit += 1
        if done_day.month == 12 and done_day.day >= 5 and rng.random() < PEAK_EXTRA:
            transit += 1
        # Late handovers are picked up the next working day.
        pickup_day = done_day if done_at.hour < 15 else _add_business_days(done_day, 1, carrier)
        problem = None
        roll = rng.random()
        for exception in EXCEPTIONS:
            if roll < exception[0]:
                problem = exception
                break
            roll -= exception[0]
        if problem:
            transit += problem[3]
        delivery_day = _add_business_days(pickup_day, max(transit, 1), carrier)
        number = f"GEN{seed:02d}{index:08d}"
        events = _timeline(rng, carrier, origin, destination, pickup_day, delivery_day, problem, transit)
        events = [event for event in events if (event.issued_at or event.occurred_at) <= cut
                  and (event.event_class != "actual" or event.occurred_at <= cut)]
        shipments.append(Shipment(number, carrier, origin, destination, customer, done_at, promised, events))
    return shipments


def _timeline(rng, carrier, origin, destination, pickup_day, delivery_day, problem, transit):
    events = []
    pickup = _at(pickup_day, rng.randint(15, 19), rng.randrange(60))
    first_estimate = _add_business_days(pickup_day, max(1, round(transit - carrier.bias - rng.random() * 0.5)),
                                        carrier)
    if rng.random() >= MISSING_FIRST_SCAN:
        events.append(Event("picked_up", "actual", pickup, origin.city, origin.postcode, origin.country,
                            "Shipment picked up", None, None))
    events.append(Event("delivered", "estimated", _at(first_estimate, 18), "", "", "", "Estimated delivery",
                        None, pickup))
    departed = pickup + timedelta(hours=rng.randint(3, 6))
    events.append(Event("departed_facility", "actual", departed, origin.city, origin.postcode, origin.country,
                        "Departed origin hub", None, None))
    arrival_day = pickup_day if transit <= 1 else _add_business_days(pickup_day, max(1, transit - 1), carrier)
    arrived = max(_at(arrival_day, rng.randint(2, 6)), departed + timedelta(hours=4))
    if transit > 2:
        middle = departed + (arrived - departed) / 2
        events.append(Event("in_transit", "actual", middle, "", "", "", "In transit", None, None))
        if rng.random() < carrier.revise:
            revised = _add_business_days(pickup_day, transit + rng.choice((-1, 0, 0, 1)), carrier)
            events.append(Event("delivered", "estimated", _at(revised, 18), "", "", "", "Revised estimate",
                                None, middle))
    events.append(Event("arrived_at_facility", "actual", arrived, destination.city, destination.postcode,
                        destination.country, "Arrived at destination hub", None, None))
    if problem:
        _chance, milestone, reason, extra, texts = problem
        day = max(arrived.date(), delivery_day - timedelta(days=extra))
        when = max(_at(day, rng.randint(9, 16)), arrived + timedelta(hours=1))
        events.append(Event(milestone, "actual", when, destination.city, destination.postcode, destination.country,
                            rng.choice(texts), reason, None))
        events.append(Event("delivered", "estimated", _at(delivery_day, 18), "", "", "", "New delivery date",
                            None, when + timedelta(minutes=5)))
    out = _at(delivery_day, rng.randint(6, 8), rng.randrange(60))
    events.append(Event("out_for_delivery", "actual", out, destination.city, destination.postcode,
                        destination.country, "Out for delivery", None, None))
    events.append(Event("delivered", "actual", out + timedelta(minutes=rng.randint(30, 540)), destination.city,
                        destination.postcode, destination.country, "Delivered", None, None))
    return events


# --------------------------------------------------------------------------- database

def _references(env, company):
    """Carriers, customers, SLA policies and holidays of the generated world (created once)."""
    carriers = {}
    for carrier in CARRIERS:
        record = env["delivery.carrier"].search(
            [("name", "=", carrier.name), ("company_id", "in", [False, company.id])], limit=1)
        if not record:
            product = env["product.product"].create({"name": f"{carrier.name} shipping", "type": "service"})
            record = env["delivery.carrier"].create({
                "name": carrier.name, "product_id": product.id, "delivery_type": "fixed",
                "company_id": company.id, "shipment_working_days": carrier.days,
                "tracking_url": f"https://track.example.com/{carrier.code}/<shipmenttrackingnumber>"})
            env["shipment.sla.policy"].create({
                "name": f"{carrier.name} SLA", "carrier_id": record.id, "company_id": company.id,
                "transit_hours": 24 * carrier.promise})
        carriers[carrier.code] = record.id
    countries = {code: env["res.country"].search([("code", "=", code)], limit=1).id
                 for code in {place.country for place in DESTINATIONS}}
    customers = {}
    for place in DESTINATIONS:
        for index in range(3):
            name = f"Customer {place.city} {index + 1}"
            partner = env["res.partner"].search([("name", "=", name)], limit=1) or env["res.partner"].create({
                "name": name, "city": place.city, "zip": place.postcode, "country_id": countries[place.country],
                "company_id": company.id})
            customers[(place.city, index)] = partner.id
    Holiday = env["shipment.holiday"]
    for day in sorted(HOLIDAYS):
        if not Holiday.search_count([("date", "=", day), ("company_id", "=", company.id)]):
            Holiday.create({"name": "Public holiday", "date": day, "company_id": company.id})
    return carriers, customers


def write(env, shipments, company=None, batch=5000):
    """Write simulated ``shipments`` into the database of ``env`` (superuser), in SQL batches.

    :return: ids of the created ``shipment.shipment`` rows.
    """
    from odoo.tools import SQL

    from odoo.addons.shipment_visibility.integration import status as status_rules
    from odoo.addons.shipment_visibility.integration import taxonomy

    env = env(su=True)
    company = company or env.company
    carriers, customers = _references(env, company)
    env.flush_all()
    cr = env.cr
    ids = []
    for offset in range(0, len(shipments), batch):
        chunk = shipments[offset:offset + batch]
        cr.execute(SQL(
            """
            INSERT INTO shipment_shipment (tracking_number, company_id, carrier_id, partner_id, promised_date,
                                           status, exception_state, active, shadow, is_terminal, event_count,
                                           create_uid, write_uid, create_date, write_date)
            SELECT number, %(company)s, carrier, customer, promised, 'pending', 'none', TRUE, FALSE, FALSE, 0,
                   %(uid)s, %(uid)s, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
              FROM unnest(%(numbers)s::varchar[], %(carriers)s::int[], %(customers)s::int[],
                          %(promised)s::timestamp[]) AS t(number, carrier, customer, promised)
            RETURNING id, tracking_number
            """, company=company.id, uid=env.uid, numbers=[s.number for s in chunk],
            carriers=[carriers[s.carrier.code] for s in chunk],
            customers=[customers[(s.destination.city, s.customer)] for s in chunk],
            promised=[s.promised.replace(tzinfo=None) for s in chunk]))
        by_number = {number: shipment_id for shipment_id, number in cr.fetchall()}
        columns = {name: [] for name in ("shipment", "milestone", "class", "occurred", "city", "postcode",
                                         "country", "description", "reason", "issued", "fingerprint")}
        for shipment in chunk:
            for position, event in enumerate(shipment.events):
                columns["shipment"].append(by_number[shipment.number])
                columns["milestone"].append(event.milestone)
                columns["class"].append(event.event_class)
                columns["occurred"].append(event.occurred_at.replace(tzinfo=None))
                columns["city"].append(event.city or None)
                columns["postcode"].append(event.postcode or None)
                columns["country"].append(event.country or None)
                columns["description"].append(event.description)
                columns["reason"].append(event.reason)
                columns["issued"].append(event.issued_at.replace(tzinfo=None) if event.issued_at else None)
                columns["fingerprint"].append(f"generated:{shipment.number}:{position}")
        cr.execute(SQL(
            """
            INSERT INTO shipment_event (shipment_id, company_id, milestone, event_class, occurred_at, received_at,
                                        city, postcode, country_code, description, reason, issued_at, source,
                                        fingerprint, utc_offset, create_uid, write_uid, create_date, write_date)
            SELECT shipment, %(company)s, milestone, class, occurred, occurred + INTERVAL '7 minutes', city, postcode,
                   country, description, reason, issued, 'demo', fingerprint, 0, %(uid)s, %(uid)s,
                   now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
              FROM unnest(%(shipment)s::int[], %(milestone)s::varchar[], %(class)s::varchar[],
                          %(occurred)s::timestamp[], %(city)s::varchar[], %(postcode)s::varchar[],
                          %(country)s::varchar[], %(description)s::varchar[], %(reason)s::varchar[],
                          %(issued)s::timestamp[], %(fingerprint)s::varchar[])
                   AS t(shipment, milestone, class, occurred, city, postcode, country, description, reason, issued,
                        fingerprint)
            RETURNING id, shipment_id, fingerprint, milestone, event_class, occurred_at, issued_at, reason
            """, company=company.id, uid=env.uid, **columns))
        stored = {}
        for event_id, shipment_id, fingerprint, milestone, event_class, occurred, issued, reason in cr.fetchall():
            stored.setdefault(shipment_id, []).append(status_rules.StoredEvent(
                event_id, fingerprint, milestone, event_class, occurred.replace(tzinfo=timezone.utc),
                issued.replace(tzinfo=timezone.utc) if issued else None, None, None, reason))
        _update_state(env, stored, taxonomy, status_rules)
        ids.extend(by_number.values())
    env["shipment.shipment"].invalidate_model()
    env["shipment.event"].invalidate_model()
    return ids


def _update_state(env, stored, taxonomy, status_rules):
    from odoo.tools import SQL

    def naive(value):
        return value.replace(tzinfo=None) if value else None

    values = {name: [] for name in ("id", "status", "count", "last", "last_at", "eta", "shipped", "delivered",
                                    "exception", "reason", "terminal")}
    for shipment_id, events in stored.items():
        state = status_rules.derive_unique(events)
        values["id"].append(shipment_id)
        values["status"].append(state.status)
        values["count"].append(state.event_count)
        values["last"].append(state.last_event.record_id if state.last_event else None)
        values["last_at"].append(naive(state.last_event.occurred_at) if state.last_event else None)
        values["eta"].append(naive(state.eta))
        values["shipped"].append(naive(state.shipped_at))
        values["delivered"].append(naive(state.delivered_at))
        values["exception"].append(("final" if state.exception_final else "open")
                                   if state.has_open_exception else "none")
        values["reason"].append(state.exception_reason if state.has_open_exception else None)
        values["terminal"].append(state.status in taxonomy.TERMINAL)
    env.cr.execute(SQL(
        """
        UPDATE shipment_shipment s
           SET status = v.status, event_count = v.count, last_event_id = v.last, last_event_at = v.last_at,
               eta = v.eta, shipped_at = v.shipped, delivered_at = v.delivered, exception_state = v.exception,
               exception_reason = v.reason, is_terminal = v.terminal,
               sla_state = CASE WHEN s.promised_date IS NULL THEN 'no_promise'
                                WHEN v.delivered IS NOT NULL AND v.delivered <= s.promised_date THEN 'on_time'
                                WHEN v.delivered IS NOT NULL THEN 'late'
                                WHEN v.eta > s.promised_date THEN 'at_risk'
                                ELSE 'on_track' END
          FROM unnest(%(id)s::int[], %(status)s::varchar[], %(count)s::int[], %(last)s::int[],
                      %(last_at)s::timestamp[], %(eta)s::timestamp[], %(shipped)s::timestamp[],
                      %(delivered)s::timestamp[], %(exception)s::varchar[], %(reason)s::varchar[],
                      %(terminal)s::bool[])
               AS v(id, status, count, last, last_at, eta, shipped, delivered, exception, reason, terminal)
         WHERE s.id = v.id
        """, **values))
    # The SLA deadline and result, by the same rule as the partner performance report.
    env.cr.execute(SQL(
        """
        UPDATE shipment_shipment s
           SET sla_deadline = r.sla_deadline,
               sla_result = CASE WHEN r.sla_deadline IS NULL THEN 'no_target'
                                 WHEN s.delivered_at IS NULL THEN 'pending'
                                 WHEN s.delivered_at <= r.sla_deadline THEN 'met' ELSE 'missed' END
          FROM shipment_performance_report r
         WHERE r.id = s.id AND s.id = ANY(%s)
        """, list(stored)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("-c", "--config", help="Odoo configuration file")
    parser.add_argument("--addons-path", help="as for odoo-bin (this repository's parent is added)")
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 30))
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--company-id", type=int)
    args = parser.parse_args(argv)

    import odoo
    from odoo.tools import config

    options = ["-d", args.database]
    if args.config:
        options += ["-c", args.config]
    if args.addons_path:
        options += ["--addons-path", args.addons_path]
    config.parse_config(options)
    started = datetime.now()
    shipments = simulate(args.shipments, args.seed, args.end, args.months)
    simulated = datetime.now()
    registry = odoo.modules.registry.Registry(args.database)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        company = env["res.company"].browse(args.company_id) if args.company_id else env.company
        ids = write(env, shipments, company)
    done = datetime.now()
    events = sum(len(s.events) for s in shipments)
    print(f"{len(ids)} shipments, {events} events: simulated in {(simulated - started).total_seconds():.1f}s, "
          f"written in {(done - simulated).total_seconds():.1f}s", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
