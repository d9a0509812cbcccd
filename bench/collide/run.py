"""Benchmark: multi-point collision (多点碰撞) and companions (同行) over the events of ``bench/events_load``
(100 M checkpoint passes by default), through the police grant, as ``POST /collisions`` and
``GET /vehicles/{plate}/companions`` run them.

    .venv/bin/python -m bench.events_load.run --events 100000000     # once: the events
    .venv/bin/python -m bench.collide.run --queries 40

Each query is what an investigator asks of a vehicle seen at five places: ``--points`` passes of one
plate drawn from the table, each a point (its checkpoint, or its town's division code) with a window
of ``--minutes`` either side, ``min_points`` 3 — who else was at three of them? The component reads
every point's events through the grant, ties them to vehicles (and owners through the register) and
counts. Reference measured in the same run: the same points as bare index lookups (``SELECT plate …
WHERE checkpoint_code = … AND passed_at BETWEEN …``, one statement per point, nothing tied or
checked). Prints p50/p95/p99 of both per kind of point and their ratio. Then the companions of each
query's plate over a 30-day window (within 5 minutes, twice at two places); reference: the plate's own
passes in that window (one index range). Targets (issue 19): 5 points over 100 M events, p95 < 2 s;
companions over one month, p95 < 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _line(label: str, ms: list[float]) -> str:
    return (f"{label:<34} p50 {_pct(ms, 0.5):8.1f} ms  p95 {_pct(ms, 0.95):8.1f} ms  p99 {_pct(ms, 0.99):8.1f} ms  "
            f"(n={len(ms)})")


def _queries(conn: Any, n: int, points: int, minutes: int, seed: int) -> list[list[tuple[str, str, dt.datetime]]]:
    """``n`` sets of (checkpoint, division, time) of ``points`` passes of one plate each."""
    from sqlalchemy import text

    rng = random.Random(seed)
    out = []
    while len(out) < n:
        picked = conn.execute(text("SELECT plate, passed_at FROM core.checkpoint_pass TABLESAMPLE SYSTEM (0.01) "
                                   "REPEATABLE (:s) LIMIT 1"), {"s": rng.randint(0, 2**30)}).first()
        if picked is None:
            continue
        plate, at = picked
        passes = conn.execute(text(
            "SELECT checkpoint_code, division_code, passed_at FROM core.checkpoint_pass WHERE plate = :p "
            "AND passed_at >= :a AND passed_at < :b ORDER BY passed_at"),
            {"p": plate, "a": at - dt.timedelta(days=15), "b": at + dt.timedelta(days=15)}).all()
        if len(passes) >= points:
            out.append([(str(c), str(d), t) for c, d, t in rng.sample(passes, points)])
    return out


def _measure(queries: list[Any], tool: Any, reference: Any) -> dict[str, list[Any]]:
    """Each query through ``tool`` (its time and the subjects it found), then through ``reference``."""
    times, refs, hits = [], [], []
    for q in queries:
        t0 = time.perf_counter()
        hits.append(tool(q)["total"])
        times.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        reference(q)
        refs.append((time.perf_counter() - t0) * 1000)
    return {"tool": times, "reference": refs, "found": hits}


def _run(conn: Any, lens: Any, schemas: dict[str, Any], queries: list[Any], args: Any) -> dict[str, Any]:
    """The collision of each query's points (checkpoints, then their towns), then its plate's companions."""
    from sqlalchemy import text

    from exchange.investigate.collide import Point, collide
    from exchange.investigate.companions import Terms, companions

    window = dt.timedelta(minutes=args.minutes)

    def points(q: list[Any], kind: str) -> list[Point]:
        return [Point(start=t - window, end=t + window, label=f"P{i}",
                      **({"place": c} if kind == "checkpoint" else {"division": d[:9]}))
                for i, (c, d, t) in enumerate(q, start=1)]

    def lookups(q: list[Any], kind: str) -> None:
        for p in points(q, kind):
            where, params = p.where(schemas["checkpoint_pass"])
            conn.execute(text(f"SELECT plate FROM core.checkpoint_pass WHERE {where}"), params).all()

    def month(q: list[Any]) -> tuple[str, Terms]:
        plate = conn.execute(text("SELECT plate FROM core.checkpoint_pass WHERE checkpoint_code = :c AND "
                                  "passed_at = :t LIMIT 1"), {"c": q[0][0], "t": q[0][2]}).scalar()
        return plate, Terms(start=q[0][2] - dt.timedelta(days=15), end=q[0][2] + dt.timedelta(days=15))

    def own_passes(vehicle: tuple[str, Terms]) -> None:
        plate, terms = vehicle
        conn.execute(text("SELECT * FROM core.checkpoint_pass WHERE plate = :p AND passed_at >= :a AND "
                          "passed_at <= :b"), {"p": plate, "a": terms.start, "b": terms.end}).all()

    results = {f"collide, {args.points} {kind} points": _measure(
        queries, lambda q, k=kind: collide(conn, lens, schemas, points(q, k), args.min_points),
        lambda q, k=kind: lookups(q, k)) for kind in ("checkpoint", "town")}
    vehicles = [month(q) for q in queries]  # each query's plate, found before the clock starts
    results["companions of a vehicle, 30 days"] = _measure(
        vehicles, lambda v: companions(conn, lens, schemas, None, *v), own_passes)
    return results


def _report(results: dict[str, Any]) -> None:
    print()
    for label, r in results.items():
        print(_line(label, r["tool"]))
        print(_line("  reference: bare index lookups", r["reference"]))
        print(f"  ratio at p95: {_pct(r['tool'], 0.95) / max(_pct(r['reference'], 0.95), 1e-9):.1f}x the "
              f"reference; subjects found per query: median {statistics.median(r['found']):.0f}, "
              f"max {max(r['found'])}")
    p95 = max(_pct(r["tool"], 0.95) for label, r in results.items() if label.startswith("collide"))
    print(f"\ncollision target p95 < 2000 ms over 100 M events: {'met' if p95 < 2000 else 'NOT met'} "
          f"(worst p95 {p95:.1f} ms)")
    c95 = _pct(results["companions of a vehicle, 30 days"]["tool"], 0.95)
    print(f"companions target p95 < 1000 ms: {'met' if c95 < 1000 else 'NOT met'} (p95 {c95:.1f} ms)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/exchange_events")
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--points", type=int, default=5)
    ap.add_argument("--min-points", type=int, default=3)
    ap.add_argument("--minutes", type=int, default=30, help="each point's window: this many minutes either side")
    ap.add_argument("--seed", type=int, default=20261206)
    args = ap.parse_args(argv)

    import os

    from sqlalchemy import text

    os.environ["EXCHANGE_WAREHOUSE_URL"] = args.url
    from exchange.access.lens import Lens
    from exchange.investigate import elements
    from exchange.spec.settings import Settings
    from exchange.workspace.sharing import load_grants
    from exchange.workspace.space import Workspace

    settings = Settings.from_env(ROOT)
    with Workspace(settings) as ws:
        engine = ws.migrated(ws.all_schemas())  # the register and the index: empty, as in a city without them
        elements.ensure(engine)  # as the tools' front doors do
        lens = Lens(load_grants(settings, ws.catalog).grants["police"])
        with engine.connect() as conn:
            total = conn.execute(text("SELECT sum(reltuples)::bigint FROM pg_class c JOIN pg_inherits i ON "
                                      "i.inhrelid = c.oid WHERE i.inhparent = 'core.checkpoint_pass'::regclass"
                                      )).scalar() or 0
            print(f"core.checkpoint_pass: about {total:,} events; drawing {args.queries} queries of {args.points} "
                  f"points (±{args.minutes} min, min {args.min_points})", flush=True)
            queries = _queries(conn, args.queries, args.points, args.minutes, args.seed)
            results = _run(conn, lens, ws.catalog.schemas, queries, args)
    _report(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
