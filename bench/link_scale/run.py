"""Benchmark: link a city of millions of residents; print time, peak memory and accuracy.

    .venv/bin/python -m bench.link_scale.run --persons 4300000 \
        --url postgresql+psycopg://postgres@127.0.0.1:5432/exchange_bench

1. generate the city (numpy; ``bench/link_scale/city.py``) and bulk-load it into ``core.*``
   (a fresh database: ``--url`` names it; PostgreSQL databases are created if missing);
2. run ``exchange.linking.link_persons`` in a fresh child process (first run: trains and saves
   the model) and report its wall time, peak resident memory (``VmHWM`` of the child: Python and
   DuckDB; not ``ru_maxrss``, which on Linux keeps the high-water mark of the forked parent image
   from before ``exec`` — the generated city — and so reported 12.4 GB for a 3.7 GB run) and
   pairwise precision / recall / F1 against the generator's truth;
3. run it again on the unchanged warehouse (the stable-id path: nothing may change).

Targets on the 2-core reference machine: under 10 minutes and 8 GB at 4.3 million residents.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _create_pg_database(url: str, fresh: bool) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).first()
        if exists and fresh:
            conn.execute(text(f'DROP DATABASE "{parsed.database}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def _forget_links(url: str) -> None:
    """Drop the master person index of an already loaded warehouse, so the first run is a first run."""
    from sqlalchemy import text

    from exchange.warehouse.engine import make_engine, namespace_file

    if url.startswith("postgresql"):
        engine = make_engine(url, root=ROOT)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS mdm CASCADE"))
        engine.dispose()
    else:
        from sqlalchemy.engine import make_url

        namespace_file(Path(make_url(url).database), "mdm").unlink(missing_ok=True)
    print("dropped the master person index (mdm.*) of the loaded warehouse", flush=True)


def prepare(url: str, persons: int, seed: int, truth_path: Path) -> dict:
    """Generate and load the city into a fresh warehouse; write the truth as Parquet."""
    import pyarrow.parquet as pq

    from bench.link_scale.city import generate, load
    from exchange.warehouse.engine import make_engine, namespace_file

    if url.startswith("postgresql"):
        _create_pg_database(url, fresh=True)
    else:
        from sqlalchemy.engine import make_url

        main = Path(make_url(url).database)
        for f in [main, *(namespace_file(main, ns) for ns in ("core", "quarantine", "mdm", "audit"))]:
            f.unlink(missing_ok=True)
    print(f"generating a city of {persons:,} residents (seed {seed})", flush=True)
    city = generate(persons, seed=seed, say=lambda m: print(m, flush=True))
    print(f"  {city.records:,} person records in {city.seconds:.1f}s", flush=True)
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(city.truth, truth_path)
    engine = make_engine(url, root=ROOT)
    t = time.perf_counter()
    print("loading core.* tables", flush=True)
    counts = load(city, engine, say=lambda m: print(m, flush=True))
    engine.dispose()
    return {"persons": persons, "records": city.records, "generate_s": round(city.seconds, 1),
            "load_s": round(time.perf_counter() - t, 1), "core_rows": counts}


def _peak_rss_kb() -> int:
    """This process's own resident-memory high-water mark (kB), since its ``exec``."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def link_once(url: str, truth_path: Path, threads: int | None) -> dict:
    """One linking run in this process; prints one JSON line (run in a child process)."""
    import duckdb
    import pyarrow.parquet as pq

    from bench.link_scale.city import truth_pairs_sql
    from exchange.linking import LinkConfig, link_persons
    from exchange.linking.store import stream_query
    from exchange.warehouse.engine import make_engine

    engine = make_engine(url, root=ROOT)
    config = LinkConfig(duckdb_threads=threads) if threads else LinkConfig()
    t = time.perf_counter()
    result = link_persons(engine, config, say=lambda m: print(m, file=sys.stderr, flush=True))
    seconds = time.perf_counter() - t
    peak_gb = _peak_rss_kb() / 1024 / 1024
    # accuracy against the generator's truth (outside the timed part)
    con = duckdb.connect()
    con.register("truth", pq.read_table(truth_path))
    con.execute("CREATE TABLE links (source_agency VARCHAR, entity VARCHAR, source_record_id VARCHAR, role VARCHAR, "
                "person_uid VARCHAR)")
    for part in stream_query(engine, "SELECT source_agency, entity, source_record_id, role, person_uid "
                                     "FROM mdm.person_link"):
        con.register("part", part)
        con.execute("INSERT INTO links SELECT * FROM part")
        con.unregister("part")
    records, tp, pred, true = con.execute(truth_pairs_sql("truth", "links")).fetchall()[0]
    precision, recall = tp / pred, tp / true
    out = {"seconds": round(seconds, 1), "peak_rss_gb": round(peak_gb, 2), "records": result.records,
           "records_with_id": result.records_with_id, "persons": result.persons, "persons_new": result.persons_new,
           "merges": result.merges, "splits": result.splits, "pairs_scored": result.pairs_scored,
           "pairs_linked": result.pairs_linked, "model_trained": result.model_trained,
           "links_written": result.links_written, "persons_written": result.persons_written,
           "timings": result.timings, "peak_memory_mb": result.peak_memory_mb, "evaluated_records": records,
           "precision": round(precision, 5), "recall": round(recall, 5),
           "f1": round(2 * precision * recall / (precision + recall), 5)}
    engine.dispose()
    return out


def _child(url: str, truth: Path, threads: int | None) -> dict:
    cmd = [sys.executable, "-m", "bench.link_scale.run", "--link-once", "--url", url, "--truth", str(truth)]
    if threads:
        cmd += ["--threads", str(threads)]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=4_300_000)
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/exchange_bench")
    ap.add_argument("--truth", type=Path, default=ROOT / "var" / "bench" / "link_scale_truth.parquet")
    ap.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    ap.add_argument("--skip-prepare", action="store_true",
                    help="reuse the warehouse already loaded (its mdm.* is dropped first)")
    ap.add_argument("--link-once", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.link_once:
        print(json.dumps(link_once(args.url, args.truth, args.threads)), flush=True)
        return 0
    report: dict = {"machine": {"cpus": os.cpu_count()}, "url": args.url.split("@")[-1]}
    if not args.skip_prepare:
        report["city"] = prepare(args.url, args.persons, args.seed, args.truth)
    else:
        _forget_links(args.url)
    print("linking (first run: trains and saves the model)", flush=True)
    report["first_run"] = first = _child(args.url, args.truth, args.threads)
    print(f"  {first['records']:,} records → {first['persons']:,} persons in {first['seconds']}s, "
          f"peak {first['peak_rss_gb']} GB; precision {first['precision']}, recall {first['recall']}, "
          f"F1 {first['f1']}", flush=True)
    print("linking again on the unchanged warehouse", flush=True)
    report["second_run"] = second = _child(args.url, args.truth, args.threads)
    print(f"  {second['seconds']}s, peak {second['peak_rss_gb']} GB; new persons {second['persons_new']}, "
          f"merges {second['merges']}, splits {second['splits']}, links written {second['links_written']}",
          flush=True)
    print(json.dumps(report, indent=1))
    target_ok = first["seconds"] < 600 and first["peak_rss_gb"] < 8
    print(f"targets (< 600 s, < 8 GB): {'met' if target_ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
