#!/usr/bin/env python3
"""Predicted delivery on a generated year of history: ``python3 benchmarks/bench_prediction.py``.

What it does, all on this machine:

1. prepares Odoo 18 with ``tools/devenv.py`` (re-running itself with its Python) and a
   throwaway database with the module, without demo data;
2. writes ``--shipments`` shipments (default 100,000) over the twelve months before
   ``--end`` with ``tools/generate_history.py`` (seeded), then ``VACUUM ANALYZE``;
3. **refresh**: times learning every lane of the company from the whole year
   (``shipment.transit.lane._refresh``, target ≤ 60 s);
4. **backtest**: learns again from the first nine months only (deliveries after the
   cut-off count as still in transit), then for every shipment picked up in the last
   three months and delivered, predicts its delivery at pickup and at each later scan
   and compares, side by side, our prediction, the carrier's latest estimate at that
   moment and the promised date with the actual delivery day: mean absolute error in
   days, share exactly right, share within ±1 day, 80%-window coverage (ours only: the
   generated carriers give no windows) and late deliveries caught in advance (flagged
   at pickup or a scan before the promised day: ours when the risk passes the
   company's threshold, the carrier's when its estimate passes the promise);
5. **per-shipment update**: times ``shipment.shipment._update_predictions`` on open
   shipments one at a time, as after a new event (target ≤ 5 ms), then on batches of
   ``--batch`` open shipments at once, as the inbox processor calls it after each batch
   of messages;
6. drops its database (unless ``--keep-db``).

With ``--compare-gbm`` the backtest also trains scikit-learn's
``HistGradientBoostingRegressor`` (median and the window's quantiles) on the same nine
months and scores it on exactly the predictions scored for ours (:func:`gbm_backtest`).
scikit-learn is a benchmark-only dependency, installed into the benchmark's virtual
environment when the option is used; the module never imports it.

The backtest predicts with the same pure functions the module uses
(:mod:`integration.transit`) on the lanes the module learned, so that a quarter of
scans is scored in seconds rather than through one ORM write per scan.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for entry in (str(REPO / "tools"), str(REPO), str(HERE)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import devenv  # noqa: E402  (tools/devenv.py: standard library only)
import generate_history  # noqa: E402


def say(message):
    print(f"[bench-prediction] {message}", flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 30))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--updates", type=int, default=500, help="open shipments timed one by one")
    parser.add_argument("--batch", type=int, default=100, help="open shipments per timed batch update")
    parser.add_argument("--db", default=f"sv_bench_prediction_{os.getpid()}")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print where the per-shipment update spends its time")
    parser.add_argument("--compare-gbm", action="store_true",
                        help="also score scikit-learn's HistGradientBoostingRegressor on the same backtest "
                             "(installs scikit-learn into the benchmark's virtual environment if missing)")
    return parser.parse_args()


def create_database(tree, db, workdir):
    devenv.drop_db(db)
    log = workdir / "install.log"
    say(f"creating database {db} with shipment_visibility (no demo data)")
    with open(log, "w") as handle:
        rc = subprocess.call(
            devenv.odoo_cmd(tree, db, "-i", "shipment_visibility", "--without-demo=all", "--stop-after-init",
                            "--http-port", str(devenv.free_port()), "--log-level=warn"),
            stdout=handle, stderr=subprocess.STDOUT, timeout=900)
    if rc != 0:
        raise RuntimeError(f"module installation failed (exit {rc}), see {log}")


def backtest(env, company, shipments, cutoff, transit, points=None):
    """Score ours, the carrier's and the promise on every test shipment, at pickup and each scan.

    :param list points: when given, receives one entry per scored prediction (the shipment,
        its carrier, calendar, pickup day, scan and our prediction), for :func:`gbm_backtest`.
    """
    from odoo.tools import SQL

    Lane = env["shipment.transit.lane"]
    carriers = env["delivery.carrier"].search([])
    lanes = Lane._distributions(company.id, carriers.ids)
    calendars = carriers._shipment_calendars(company)
    policies = {p.carrier_id.id: p.transit_hours for p in env["shipment.sla.policy"].search([])}
    ids = {s.number: None for s in shipments}
    rows = env.execute_query(SQL(
        "SELECT tracking_number, id, carrier_id, partner_id FROM shipment_shipment WHERE tracking_number = ANY(%s)",
        list(ids)))
    by_number = {number: (shipment_id, carrier_id) for number, shipment_id, carrier_id, _partner in rows}
    threshold = company.shipment_at_risk_probability
    min_samples = company.shipment_prediction_min_samples
    scores = {"ours": [], "carrier": [], "promise": []}
    covered = []
    late_total = 0
    caught = {"ours": 0, "carrier": 0}
    for shipment in shipments:
        actual = [e for e in shipment.events if e.event_class == "actual"]
        delivered = next((e.occurred_at for e in actual if e.milestone == "delivered"), None)
        if not actual or not delivered or actual[0].occurred_at.date() <= cutoff:
            continue
        _shipment_id, carrier_id = by_number[shipment.number]
        calendar = calendars.get(carrier_id) or calendars[False]
        origin = next((e for e in actual if e.country), None)
        keys = transit.lane_keys(origin.country if origin else None, origin.postcode if origin else None,
                                 shipment.destination.country, shipment.destination.postcode)
        days = transit.policy_days(policies.get(carrier_id))
        distribution = transit.choose([lanes.get((carrier_id, level, key)) for level, key in keys.items()
                                       if key is not None], min_samples,
                                      transit.Distribution.point(days) if days else None)
        pickup = actual[0].occurred_at.date()
        promised = shipment.promised.date()
        is_late = delivered.date() > promised
        late_total += is_late
        flagged = {"ours": False, "carrier": False}
        for scan in actual:
            if scan.milestone == "delivered":
                break
            now = scan.occurred_at
            prediction = transit.predict(distribution, calendar, pickup, now.date(), promised)
            estimates = [e for e in shipment.events if e.event_class == "estimated" and e.issued_at <= now]
            carrier_day = estimates[-1].occurred_at.date() if estimates else None
            scores["ours"].append((prediction.delivery - delivered.date()).days)
            scores["promise"].append((promised - delivered.date()).days)
            if carrier_day:
                scores["carrier"].append((carrier_day - delivered.date()).days)
            covered.append(prediction.window_start <= delivered.date() <= prediction.window_end)
            if points is not None:
                points.append((shipment, carrier_id, calendar, pickup, scan, delivered.date(), prediction))
            if now.date() <= promised:
                flagged["ours"] |= prediction.late_probability * 100 > threshold
                flagged["carrier"] |= bool(carrier_day and carrier_day > promised)
        if is_late:
            caught["ours"] += flagged["ours"]
            caught["carrier"] += flagged["carrier"]
    figures = {}
    for name, errors in scores.items():
        if not errors:
            continue
        figures[name] = {
            "predictions": len(errors),
            "mae_days": statistics.fmean(abs(e) for e in errors),
            "exact": 100 * sum(1 for e in errors if e == 0) / len(errors),
            "within_1": 100 * sum(1 for e in errors if abs(e) <= 1) / len(errors),
        }
    figures["ours"]["window_coverage"] = 100 * sum(covered) / len(covered)
    figures["late"] = {"late_shipments": late_total,
                       "caught_ours": 100 * caught["ours"] / late_total if late_total else None,
                       "caught_carrier": 100 * caught["carrier"] / late_total if late_total else None}
    return figures


# --------------------------------------------------------------------------- gradient boosting (optional)

#: Features of a prediction, all known at that moment; the categorical ones first.
GBM_CATEGORICAL = ("carrier", "service", "origin_country", "origin_region", "dest_country", "dest_region",
                   "last_milestone")
GBM_NUMERIC = ("pickup_weekday", "elapsed", "month", "today_weekday")


def ensure_sklearn():
    """Import scikit-learn, installing it into this (the benchmark's) environment first if missing."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        say("scikit-learn is missing: installing it into the benchmark's virtual environment (benchmark only)")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "scikit-learn"], check=True)


def gbm_features(shipment, calendar, pickup, scan, transit):
    """The features of a prediction made at ``scan`` (the latest actual event) for ``shipment``."""
    actual = [e for e in shipment.events if e.event_class == "actual"]
    origin = next((e for e in actual if e.country), None)
    o_country = origin.country if origin else None
    return {
        "carrier": shipment.carrier.code,
        "service": shipment.carrier.service,
        "origin_country": o_country or "",
        "origin_region": transit.region(o_country, origin.postcode if origin else None),
        "dest_country": shipment.destination.country,
        "dest_region": transit.region(shipment.destination.country, shipment.destination.postcode),
        "last_milestone": scan.milestone,
        "pickup_weekday": pickup.weekday(),
        "elapsed": calendar.days_between(pickup, scan.occurred_at.date()),
        "month": scan.occurred_at.month,
        "today_weekday": scan.occurred_at.weekday(),
    }


def gbm_backtest(env, company, shipments, cutoff, transit, points):
    """Train HistGradientBoostingRegressor on the training months and score it on ``points``.

    Training rows: every shipment picked up by ``cutoff`` and delivered by then, at pickup
    and at each later scan before delivery (shipments still on their way at the cut-off
    are left out: the regressors cannot take censored rows, where the lanes count them).
    Target: business days from pickup to delivery (as the lanes); the point is the median
    (absolute error loss), the window the quantiles at :data:`transit.WINDOW`, each rounded
    to the nearest business day and kept at or after the days already elapsed, then placed
    on the carrier's calendar as ours is. Test rows are exactly ``points``, the predictions
    :func:`backtest` scored for ours.
    """
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingRegressor

    from odoo.tools import SQL

    carriers = env["delivery.carrier"].search([])
    calendars = carriers._shipment_calendars(company)
    rows = env.execute_query(SQL(
        "SELECT tracking_number, carrier_id FROM shipment_shipment WHERE tracking_number = ANY(%s)",
        [s.number for s in shipments]))
    carrier_of = dict(rows)
    train_features, train_target = [], []
    for shipment in shipments:
        actual = [e for e in shipment.events if e.event_class == "actual"]
        delivered = next((e.occurred_at.date() for e in actual if e.milestone == "delivered"), None)
        if not actual or not delivered or actual[0].occurred_at.date() > cutoff or delivered > cutoff:
            continue
        calendar = calendars.get(carrier_of.get(shipment.number)) or calendars[False]
        pickup = actual[0].occurred_at.date()
        total = calendar.days_between(pickup, delivered)
        for scan in actual:
            if scan.milestone == "delivered":
                break
            train_features.append(gbm_features(shipment, calendar, pickup, scan, transit))
            train_target.append(total)
    test_features = [gbm_features(shipment, calendar, pickup, scan, transit)
                     for shipment, _carrier, calendar, pickup, scan, _delivered, _ours in points]
    codes = {name: {} for name in GBM_CATEGORICAL}
    for row in train_features:
        for name in GBM_CATEGORICAL:
            codes[name].setdefault(row[name], len(codes[name]))

    def matrix(feature_rows):
        return np.array([[codes[name].get(row[name], np.nan) for name in GBM_CATEGORICAL]
                         + [row[name] for name in GBM_NUMERIC] for row in feature_rows], dtype=float)

    x_train, x_test = matrix(train_features), matrix(test_features)
    y_train = np.array(train_target, dtype=float)
    categorical = [True] * len(GBM_CATEGORICAL) + [False] * len(GBM_NUMERIC)
    models = {"point": HistGradientBoostingRegressor(loss="absolute_error", categorical_features=categorical,
                                                     random_state=0),
              "low": HistGradientBoostingRegressor(loss="quantile", quantile=transit.WINDOW[0],
                                                   categorical_features=categorical, random_state=0),
              "high": HistGradientBoostingRegressor(loss="quantile", quantile=transit.WINDOW[1],
                                                    categorical_features=categorical, random_state=0)}
    t0 = time.perf_counter()
    for model in models.values():
        model.fit(x_train, y_train)
    train_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    predicted = {name: model.predict(x_test) for name, model in models.items()}
    predict_seconds = time.perf_counter() - t0
    say(f"gbm: {len(train_target)} training rows, {len(points)} test rows; 3 models trained in "
        f"{train_seconds:.1f} s ({', '.join(f'{n} {m.n_iter_} iterations' for n, m in models.items())}), "
        f"predicted in {predict_seconds:.2f} s")
    scored = {"ours": [], "gbm": []}
    for index, (shipment, _carrier, calendar, pickup, scan, delivered, ours) in enumerate(points):
        elapsed = test_features[index]["elapsed"]
        days = max(round(predicted["point"][index]), elapsed)
        low = max(round(predicted["low"][index]), elapsed)
        high = max(round(predicted["high"][index]), low)
        at_pickup = scan is next(e for e in shipment.events if e.event_class == "actual")
        scored["gbm"].append(((calendar.add_days(pickup, days) - delivered).days,
                              calendar.add_days(pickup, low) <= delivered <= calendar.add_days(pickup, high),
                              at_pickup, high - low))
        scored["ours"].append(((ours.delivery - delivered).days,
                               ours.window_start <= delivered <= ours.window_end, at_pickup,
                               calendar.days_between(pickup, ours.window_end)
                               - calendar.days_between(pickup, ours.window_start)))
    figures = {}
    for name, results in scored.items():
        errors = [error for error, _covered, _pickup, _width in results]
        at_pickup = [covered for _error, covered, pickup, _width in results if pickup]
        figures[name] = {
            "predictions": len(errors),
            "mae_days": statistics.fmean(abs(e) for e in errors),
            "exact": 100 * sum(1 for e in errors if e == 0) / len(errors),
            "within_1": 100 * sum(1 for e in errors if abs(e) <= 1) / len(errors),
            "window_coverage": 100 * sum(covered for _e, covered, _p, _w in results) / len(results),
            "window_width": statistics.fmean(width for _e, _c, _p, width in results),
            "window_coverage_pickup": 100 * sum(at_pickup) / len(at_pickup) if at_pickup else float("nan"),
        }
    figures["gbm"]["train_rows"] = len(train_target)
    figures["gbm"]["train_seconds"] = train_seconds
    # Ablation: the point model without the last milestone, which the lanes do not use.
    keep = [index for index, name in enumerate(GBM_CATEGORICAL + GBM_NUMERIC) if name != "last_milestone"]
    ablation = HistGradientBoostingRegressor(loss="absolute_error", random_state=0,
                                             categorical_features=[categorical[index] for index in keep])
    ablation.fit(x_train[:, keep], y_train)
    errors = []
    for index, (day, (_shipment, _carrier, calendar, pickup, _scan, delivered, _ours)) in enumerate(
            zip(ablation.predict(x_test[:, keep]), points)):
        days = max(round(day), test_features[index]["elapsed"])
        errors.append((calendar.add_days(pickup, days) - delivered).days)
    figures["gbm_no_milestone"] = {
        "mae_days": statistics.fmean(abs(e) for e in errors),
        "exact": 100 * sum(1 for e in errors if e == 0) / len(errors),
        "within_1": 100 * sum(1 for e in errors if abs(e) <= 1) / len(errors),
    }
    return figures


def main():
    args = parse_args()
    tree = devenv.bootstrap()
    if os.path.realpath(sys.prefix) != os.path.realpath(devenv.VENV):
        os.execv(str(devenv.venv_python()), [str(devenv.venv_python()), str(Path(__file__).resolve()),
                                             *sys.argv[1:]])
    if args.compare_gbm:
        ensure_sklearn()
    workdir = Path(tempfile.mkdtemp(prefix="sv_bench_prediction_"))
    create_database(tree, args.db, workdir)
    if str(tree) not in sys.path:
        sys.path.insert(0, str(tree))
    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(devenv.odoo_cmd(tree, args.db, "--log-level=warn")[2:])
    registry = Registry(args.db)
    from odoo.addons.shipment_visibility.integration import transit
    try:
        started = time.perf_counter()
        shipments = generate_history.simulate(args.shipments, args.seed, args.end, 12)
        simulated = time.perf_counter()
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
            generate_history.write(env, shipments)
        written = time.perf_counter()
        events = sum(len(s.events) for s in shipments)
        say(f"{len(shipments)} shipments, {events} events: simulated in {simulated - started:.1f} s, "
            f"written in {written - simulated:.1f} s")
        with registry.cursor() as cr:
            cr._cnx.autocommit = True
            cr.execute("VACUUM ANALYZE shipment_shipment")
            cr.execute("VACUUM ANALYZE shipment_event")
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
            company = env.company
            Lane = env["shipment.transit.lane"]
            cutoff = args.end - timedelta(days=91)
            t0 = time.perf_counter()
            lanes = Lane._refresh(company, today=cutoff)
            train_seconds = time.perf_counter() - t0
            say(f"learned {lanes} lanes from the first nine months in {train_seconds:.1f} s")
            t0 = time.perf_counter()
            points = [] if args.compare_gbm else None
            figures = backtest(env, company, shipments, cutoff, transit, points)
            say(f"backtest scored in {time.perf_counter() - t0:.1f} s")
            if args.compare_gbm:
                gbm_figures = gbm_backtest(env, company, shipments, cutoff, transit, points)
                gbm_figures["ours"]["train_seconds"] = train_seconds
            t0 = time.perf_counter()
            lanes = Lane._refresh(company, today=args.end)
            env.cr.flush()
            refresh_seconds = time.perf_counter() - t0
            say(f"refresh: {lanes} lanes from {args.shipments} shipments in {refresh_seconds:.2f} s (target ≤ 60 s)")
            open_shipments = env["shipment.shipment"].search([("is_terminal", "=", False),
                                                             ("shipped_at", "!=", False)], limit=args.updates)
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
                for shipment in open_shipments[:50]:
                    shipment._update_predictions(now=datetime.combine(args.end, datetime.min.time()))
                    env.flush_all()
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            timings = []
            for shipment in open_shipments:
                t0 = time.perf_counter()
                shipment._update_predictions(now=datetime.combine(args.end, datetime.min.time()))
                env.flush_all()
                timings.append((time.perf_counter() - t0) * 1000)
            batch_timings = []
            for start in range(0, len(open_shipments) - args.batch + 1, args.batch):
                batch = open_shipments[start:start + args.batch]
                env.invalidate_all()  # as a processor batch: its shipments are not in the cache yet
                t0 = time.perf_counter()
                batch._update_predictions(now=datetime.combine(args.end, datetime.min.time()))
                env.flush_all()
                batch_timings.append((time.perf_counter() - t0) * 1000)
            cr.rollback()
        timings.sort()
        say(f"per-shipment update over {len(timings)} open shipments: median {statistics.median(timings):.2f} ms, "
            f"p95 {timings[int(len(timings) * 0.95) - 1]:.2f} ms (target ≤ 5 ms)")
        if batch_timings:
            say(f"batch update of {args.batch} shipments, {len(batch_timings)} batches: median "
                f"{statistics.median(batch_timings):.1f} ms per batch, max {max(batch_timings):.1f} ms")
        say("backtest (last three months, at pickup and each scan; error = predicted − actual day):")
        say(f"{'':10} {'predictions':>11} {'MAE (days)':>10} {'exact %':>8} {'±1 day %':>9} {'80% window %':>13}")
        for name in ("ours", "carrier", "promise"):
            row = figures.get(name)
            if row:
                say(f"{name:10} {row['predictions']:>11} {row['mae_days']:>10.2f} {row['exact']:>8.1f} "
                    f"{row['within_1']:>9.1f} {row.get('window_coverage', float('nan')):>13.1f}")
        if args.compare_gbm:
            say(f"lanes vs gradient boosting (same {len(points)} predictions; window "
                f"{transit.WINDOW[0]:.0%}-{transit.WINDOW[1]:.0%}, width in business days):")
            say(f"{'':10} {'MAE (days)':>10} {'exact %':>8} {'±1 day %':>9} {'window %':>9} "
                f"{'at pickup %':>11} {'width':>6} {'trained in':>10}")
            for name, label in (("ours", "lanes"), ("gbm", "gbm")):
                row = gbm_figures[name]
                say(f"{label:10} {row['mae_days']:>10.2f} {row['exact']:>8.1f} {row['within_1']:>9.1f} "
                    f"{row['window_coverage']:>9.1f} {row['window_coverage_pickup']:>11.1f} "
                    f"{row['window_width']:>6.2f} {row['train_seconds']:>8.1f} s")
            row = gbm_figures["gbm_no_milestone"]
            say(f"{'gbm, no last milestone (point only)':35} MAE {row['mae_days']:.2f}, exact {row['exact']:.1f} %, "
                f"±1 day {row['within_1']:.1f} %")
        late = figures["late"]
        say(f"late deliveries: {late['late_shipments']}, caught in advance: ours {late['caught_ours']:.1f} %, "
            f"carrier estimate {late['caught_carrier']:.1f} %")
    finally:
        Registry.delete(args.db)
        if not args.keep_db:
            devenv.drop_db(args.db)


if __name__ == "__main__":
    main()
