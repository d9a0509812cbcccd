"""Benchmark: loading activity events at volume into PostgreSQL, and what the tables then weigh.

    .venv/bin/python -m bench.events_load.run --events 100000000

Generates checkpoint passes (a plate, a checkpoint, a time in the last 12 months, a division,
coordinates) in chunks of ``--chunk`` rows — memory stays flat whatever ``--events`` — in time order as
daily feeds deliver them (``--order random`` spreads every chunk over the year: the worst case for the
indexes), and loads them
with the warehouse's own write path (binary ``COPY`` through ``exchange.warehouse.dialects``) into
``core.checkpoint_pass``: partitioned by month, with its primary key and the indexes that serve "this
vehicle's passes in a window" and "who passed this checkpoint in a window". Reference measured in the
same run: the first ``--reference`` rows through the same path into a plain copy of the table (no
partitions, no index). Prints rows/s of both and their ratio, the table's size with its indexes, rows
per partition, and two window queries on the loaded table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _chunks(total: int, size: int, seed: int, ordered: bool):
    import numpy as np
    import pyarrow as pa

    from bench.investigate.run import lineage

    rng = np.random.default_rng(seed)
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"))
    plates = np.array(["陕G" + "".join(x) for x in letters[rng.integers(0, len(letters), (200_000, 5))]], dtype=object)
    start = np.datetime64("2025-12-01T00:00:00")
    span = int((np.datetime64("2026-11-28T00:00:00") - start) / np.timedelta64(1, "s"))
    done = 0
    while done < total:
        n = min(size, total - done)
        place = rng.integers(0, 2000, n)
        if ordered:  # as feeds deliver them: each chunk the next stretch of the year, in time order
            first, last = span * done // total, span * (done + n) // total
            seconds = np.sort(rng.integers(first, max(first + 1, last), n))
        else:  # the worst case: every chunk spread over the whole year
            seconds = rng.integers(0, span, n)
        rec = np.char.add("KKGC", np.arange(done, done + n).astype(str))
        yield pa.table({
            "source_record_id": pa.array(rec),
            "plate": pa.array(plates[rng.integers(0, len(plates), n)].tolist()),
            "checkpoint_code": pa.array(np.char.add("KK", place.astype(str))),
            "checkpoint_name": pa.nulls(n, pa.string()), "direction": pa.array(["inbound"] * n),
            "passed_at": pa.array((start + seconds.astype("timedelta64[s]")).astype("datetime64[us]")),
            "speed_kmh": pa.array(rng.integers(20, 90, n)),
            "division_code": pa.array(np.char.add(np.char.add("6109021", (place % 90 + 10).astype(str)), "0001")),
            "longitude": pa.array(109.0 + place / 10000.0), "latitude": pa.array(32.6 + place / 10000.0),
            **lineage(n, "checkpoint_pass"), "_source_row": pa.array(np.arange(done + 1, done + n + 1))})
        done += n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/exchange_events")
    ap.add_argument("--events", type=int, default=100_000_000)
    ap.add_argument("--reference", type=int, default=10_000_000, help="rows loaded into the plain table")
    ap.add_argument("--chunk", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--order", choices=("time", "random"), default="time",
                    help="time: chunks follow each other in time, as daily feeds arrive (default); "
                         "random: every chunk spread over the year (the worst case for the indexes)")
    args = ap.parse_args(argv)

    from sqlalchemy import MetaData, Table, text

    from bench.link_scale.run import _create_pg_database
    from exchange.spec.catalog import load_catalog
    from exchange.warehouse.dialects import dialect_of
    from exchange.warehouse.engine import make_engine
    from exchange.warehouse.load import ensure_tables
    from exchange.warehouse.partitions import ensure_partitions
    from exchange.warehouse.tables import EntityTables

    _create_pg_database(args.url, fresh=True)
    engine = make_engine(args.url, root=ROOT)
    schema = load_catalog(feeds=False).schema("checkpoint_pass")
    ensure_tables(engine, [schema])
    core = EntityTables(schema).core
    with engine.begin() as conn:
        ensure_partitions(conn, "checkpoint_pass", dt.date(2026, 11, 28))
        conn.exec_driver_sql("CREATE TABLE core.bench_plain (LIKE core.checkpoint_pass)")
    plain = Table("bench_plain", MetaData(), *[c._copy() for c in core.columns], schema="core")

    def load(table: Table, total: int, label: str) -> float:
        t = time.perf_counter()
        done = 0
        for chunk in _chunks(total, args.chunk, args.seed, args.order == "time"):
            with engine.begin() as conn:
                done += dialect_of(conn).bulk_insert(conn, table, chunk.to_batches(200_000), {})
            if done % (10 * args.chunk) == 0 or done == total:
                took = time.perf_counter() - t
                print(f"  {label}: {done:,} rows in {took:.0f}s ({done / took:,.0f} rows/s)", flush=True)
        return done / (time.perf_counter() - t)

    print(f"reference: {args.reference:,} rows into a plain copy (no partitions, no index)", flush=True)
    ref = load(plain, args.reference, "plain")
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE core.bench_plain")
    print(f"core.checkpoint_pass: {args.events:,} rows (monthly partitions, primary key, 3 time-ordered indexes)",
          flush=True)
    rate = load(core, args.events, "core.checkpoint_pass")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE core.checkpoint_pass")
        size = conn.execute(text("SELECT sum(pg_total_relation_size(inhrelid)), sum(pg_relation_size(inhrelid)) "
                                 "FROM pg_inherits WHERE inhparent = 'core.checkpoint_pass'::regclass")).one()
        parts = conn.execute(text("SELECT tableoid::regclass::text, count(*) FROM core.checkpoint_pass "
                                  "GROUP BY 1 ORDER BY 1")).all()
        plate = conn.execute(text("SELECT plate FROM core.checkpoint_pass LIMIT 1")).scalar()
        queries = {
            "a vehicle's passes in one month": ("SELECT count(*) FROM core.checkpoint_pass WHERE plate = :p AND "
                                               "passed_at >= '2026-10-01' AND passed_at < '2026-11-01'", {"p": plate}),
            "who passed a checkpoint in one hour": ("SELECT count(DISTINCT plate) FROM core.checkpoint_pass WHERE "
                                                    "checkpoint_code = 'KK42' AND passed_at >= '2026-10-10 08:00' "
                                                    "AND passed_at < '2026-10-10 09:00'", {}),
        }
        timings = {}
        for label, (sql, params) in queries.items():
            conn.execute(text(sql), params).all()
            t = time.perf_counter()
            for _ in range(20):
                conn.execute(text(sql), params).all()
            timings[label] = (time.perf_counter() - t) / 20 * 1000
    print(f"\nreference (plain table): {ref:,.0f} rows/s", flush=True)
    print(f"core.checkpoint_pass:    {rate:,.0f} rows/s = {rate / ref:.2f}x the reference", flush=True)
    print(f"size: {size[0] / 2**30:.1f} GiB with indexes ({size[1] / 2**30:.1f} GiB of rows) = "
          f"{size[0] / max(1, args.events):.0f} bytes an event; {len(parts)} partitions, "
          f"largest {max(n for _p, n in parts):,} rows", flush=True)
    for label, ms in timings.items():
        print(f"{label}: {ms:.1f} ms", flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
