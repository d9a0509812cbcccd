"""Benchmark: the full pipeline (validation included) against the warehouse table's own COPY and dlt.

    .venv/bin/python bench/load_vs_copy/run.py [--rows 1000000] [--no-dlt] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Generates N person rows as a CSV with Chinese headers (1 % with a broken ID check character), then in
the same run: `psql \\copy` of the file into a plain 10-text-column table; `exchange run --no-index` of the
file into a fresh warehouse database (the batch published: the feed's path), in a child process whose peak
RSS is measured, then `exchange search-index` (the element index, the batch's consumer, as Airflow's
exchange.index_elements DAG runs it) timed apart; `psql \\copy` of the rows it
loaded into an empty copy of core.person (typed columns, primary key: the bound of any pipeline into that
table); and dlt 1.31 loading the file through its Arrow path with COPY, no validation, in a virtualenv
of its own (requirements-dlt.txt). Prints each one's rows/s and the ratios against the targets (≥ 0.6×
the core.person copy, ≥ 2.5× dlt; peak memory < 1.5 GB whatever N). Then the steady state: the agency's
next full export with one row in ``--update-every`` (10) changed, through ``exchange run`` (the upsert path)
and, as its reference, psql's own upsert of the same snapshot into the copy of core.person.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from exchange import formats  # noqa: E402

HEADER = "人员编号,姓名,身份证号,性别,出生日期,民族,联系电话,住址,行政区划代码,户号"
FEED = """\
agency: bench
feed: residents
description: benchmark residents
source: {kind: file, path: bench/*.csv}
target: person@2
mapping:
  人员编号: source_record_id
  姓名: name
  身份证号: id_number
  性别: {field: gender, values: {男: M, 女: F}}
  出生日期: birth_date
  民族: ethnicity
  联系电话: phone
  住址: address
  行政区划代码: division_code
  户号: household_number
quality: {max_reject_ratio: 0.05}
"""


def generate(path: Path, n: int, seed: int = 1, changed_every: int = 0) -> int:
    """The file of ``n`` rows (the same rows for the same seed); with ``changed_every`` = k, every k-th row's
    phone number differs from the first file's (the agency's next full export: a tenth changed for k = 10)."""
    rng = np.random.default_rng(seed)
    chunk = 200_000
    bad = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEADER + "\n")
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            births = (np.datetime64("1940-01-01") + rng.integers(0, 29000, m)).astype("datetime64[D]").astype(str)
            seq = rng.integers(1, 1000, m)  # 000 is never issued
            first17 = [f"610902{b[:4]}{b[5:7]}{b[8:10]}{s:03d}" for b, s in zip(births, seq, strict=True)]
            checks = formats.resident_id_check_char(pa.array(first17)).to_pylist()
            lines = []
            for j in range(m):
                i = start + j
                check = checks[j]
                if i % 100 == 99:
                    check = "0" if check != "0" else "1"
                    bad += 1
                gender = "男" if int(first17[j][16]) % 2 else "女"
                carrier = 58 if changed_every and i % changed_every == 0 else 38
                lines.append(f"B{i:09d},居民{i},{first17[j]}{check},{gender},{births[j]},汉族,"
                             f"1{carrier + i % 2}{i % 100_000_000:08d},陕西省安康市汉滨区{i % 999}号,610902,"
                             f"H{i // 4:08d}")
            fh.write("\n".join(lines) + "\n")
    return bad


def psql_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://")


def timed_psql(url: str, *commands: str) -> float:
    t = time.perf_counter()
    subprocess.run(["psql", psql_url(url), "-q", *(a for c in commands for a in ("-c", c))], check=True)
    return time.perf_counter() - t


def dlt_python() -> Path:
    """The dlt reference's own virtualenv (bench/load_vs_copy/.venv-dlt), made from requirements-dlt.txt once."""
    venv = HERE / ".venv-dlt"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"making {venv} (dlt, pinned in requirements-dlt.txt) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(HERE / "requirements-dlt.txt")],
                       check=True)
    return python


def run_dlt(pg: str, csv: Path) -> float:
    """Seconds for dlt to load ``csv`` into a database of its own on the same server (Arrow path, COPY)."""
    from sqlalchemy import create_engine, text

    db = f"bench_dlt_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    try:
        url = psql_url(pg.rsplit("/", 1)[0] + f"/{db}").replace("postgres@", "postgres:trust@")  # dlt wants one
        out = subprocess.run([str(dlt_python()), str(HERE / "dlt_load.py"), str(csv), url, "csv"], check=True,
                             capture_output=True, text=True, cwd=tempfile.gettempdir())
        return float(out.stdout.strip().splitlines()[-1])
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


def tree_rss_mb(pid: int) -> float:
    """The resident memory of a process and all its descendants now, in MB (Linux ``/proc``)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status", encoding="ascii", errors="replace") as fh:
                total += next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:  # gone meanwhile
            continue
    return total / 1024


def run_pipeline(project: Path, work: Path, url: str, *command: str) -> tuple[float, float]:
    """(seconds, peak resident memory in MB) of ``exchange <command>`` in a child process. The peak is that of
    its processes together (the validation worker's included), sampled every 0.1 s, or the largest single
    process's peak if that is more (a short spike between samples)."""
    env = {**os.environ, "EXCHANGE_HOME": str(project), "EXCHANGE_WAREHOUSE_URL": url,
           "EXCHANGE_LANDING_DIR": str(work / "landing"), "EXCHANGE_STAGING_DIR": str(work / "staging"),
           "EXCHANGE_REPORTS_DIR": str(work / "reports")}
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-c", "from exchange.cli import run_cli; run_cli()", *command],
                                env=env, stdout=out, stderr=err, text=True)
        together = 0.0
        while proc.poll() is None:
            together = max(together, tree_rss_mb(proc.pid))
            time.sleep(0.1)
        seconds = time.perf_counter() - t
        if proc.returncode != 0:
            out.seek(0)
            err.seek(0)
            print(out.read()[-3000:], err.read()[-3000:])
            raise SystemExit(f"exchange {' '.join(command)} failed with exit code {proc.returncode}")
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, max(together, largest)


def steady_state(args: argparse.Namespace, project: Path, work: Path, url: str, csv: Path) -> None:
    """The agency's next full export (every ``--update-every``-th row changed) through ``exchange run``: the
    upsert path (a stage table, unchanged rows found by their hashes, superseded versions kept in history);
    reference in the same run: the table's own upsert of the same snapshot in psql — ``\\copy`` into a
    temporary table, then one ``INSERT … ON CONFLICT DO UPDATE`` of the changed rows into the copy of
    core.person the first reference filled (no history kept: a lower bound)."""
    from sqlalchemy import create_engine, text

    generate(csv, args.rows, changed_every=args.update_every)
    seconds, peak_mb = run_pipeline(project, work, url, "run", "bench.residents", "--no-index")
    engine = create_engine(url)
    with engine.connect() as conn:
        timings, updated, unchanged, inserted = conn.execute(text(
            "SELECT timings, rows_updated, rows_unchanged, rows_inserted FROM audit.batch "
            "ORDER BY started_at DESC LIMIT 1")).one()
        columns = [r[0] for r in conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' "
            "AND table_name = 'person' ORDER BY ordinal_position"))]
    engine.dispose()
    expected = len(range(0, args.rows, args.update_every))
    assert (updated, inserted, updated + unchanged) == (expected, 0, args.rows), (updated, unchanged, inserted)
    snapshot = work / "core_person_next.csv"
    timed_psql(url, f"\\copy core.person TO '{snapshot}' WITH (FORMAT csv)")
    keys = ("source_agency", "source_record_id")
    sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c not in keys)
    upsert_s = timed_psql(url, "CREATE TEMP TABLE snapshot (LIKE core.person)",
                          f"\\copy snapshot FROM '{snapshot}' WITH (FORMAT csv)",
                          f"INSERT INTO person_like SELECT * FROM snapshot ON CONFLICT ({', '.join(keys)}) DO UPDATE "
                          f"SET {sets} WHERE person_like._row_hash IS DISTINCT FROM EXCLUDED._row_hash")
    print(f"next export, 1 in {args.update_every} rows changed: exchange run --no-index {seconds:7.2f} s "
          f"{args.rows / seconds:12,.0f} rows/s  (stages: {timings}; {updated:,} updated, {unchanged:,} unchanged)")
    print(f"psql upsert of the snapshot: {upsert_s:7.2f} s  {args.rows / upsert_s:12,.0f} rows/s  (\\copy into a "
          f"temporary table + INSERT … ON CONFLICT DO UPDATE of the changed rows): {upsert_s / seconds:.2f}×; "
          f"peak memory of every run so far {peak_mb:,.0f} MB")


def make_project(work: Path) -> tuple[Path, Path]:
    """(project folder with the repository's schemas and the bench feed, where the feed's CSV goes)."""
    project = work / "project"
    shutil.copytree(REPO / "schemas", project / "schemas")
    (project / "feeds" / "bench").mkdir(parents=True)
    (project / "feeds" / "bench" / "residents.yaml").write_text(FEED, encoding="utf-8")
    csv = work / "landing" / "bench" / "residents.csv"
    csv.parent.mkdir(parents=True)
    return project, csv


def table_copy_seconds(url: str, work: Path) -> float:
    """The warehouse table's own cost, in the same run: the rows just loaded, exported as CSV and copied by
    psql into an empty table shaped like core.person (``person_like``: same columns and types, same primary
    key) — the bound issue 20 sets for any pipeline into that table (psql's CSV, not the binary COPY the
    exchange sends)."""
    typed_csv = work / "core_person.csv"
    timed_psql(url, f"\\copy core.person TO '{typed_csv}' WITH (FORMAT csv)",
               "CREATE TABLE person_like (LIKE core.person INCLUDING ALL)")
    return timed_psql(url, f"\\copy person_like FROM '{typed_csv}' WITH (FORMAT csv)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--no-dlt", action="store_true", help="skip the dlt reference")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder and database")
    ap.add_argument("--update-every", type=int, default=10, metavar="K",
                    help="then the next full export with every K-th row changed (0: skip the steady state)")
    args = ap.parse_args()

    from sqlalchemy import create_engine, text

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    db = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    url = args.pg.rsplit("/", 1)[0] + f"/{db}"
    try:
        project, csv = make_project(work)
        t = time.perf_counter()
        bad = generate(csv, args.rows)
        print(f"generated {args.rows:,} rows ({csv.stat().st_size / 1e6:.0f} MB, {bad:,} with a bad ID) in "
              f"{time.perf_counter() - t:.1f} s: {csv}", flush=True)

        cols = ", ".join(f"c{i} text" for i in range(10))
        timed_psql(url, f"CREATE TABLE raw_copy ({cols})")
        raw_s = timed_psql(url, f"\\copy raw_copy FROM '{csv}' WITH (FORMAT csv, HEADER true)")
        # the feed's path: the batch published (the element index is its consumer, as in Airflow) ...
        pipe_s, peak_mb = run_pipeline(project, work, url, "run", "bench.residents", "--no-index")
        # ... then the consumer: the element index takes the batch (what `exchange run` does after it)
        index_s, peak_all_mb = run_pipeline(project, work, url, "search-index")
        with create_engine(url).connect() as conn:
            loaded = conn.execute(text("SELECT count(*) FROM core.person")).scalar_one()
            quarantined = conn.execute(text("SELECT count(*) FROM quarantine.person")).scalar_one()
            timings, flagged = conn.execute(text("SELECT timings, rows_flagged FROM audit.batch")).one()
            elements = conn.execute(text("SELECT count(*) FROM mdm.search_element")).scalar_one()
        # a broken ID check character is flagged (person.id_number: on_invalid: flag), the row loaded
        assert loaded + quarantined == args.rows and quarantined + flagged == bad, (loaded, quarantined, flagged, bad)

        table_s = table_copy_seconds(url, work)
        dlt_s = None if args.no_dlt else run_dlt(args.pg, csv)

        rps = args.rows / pipe_s
        print(f"exchange run --no-index : {pipe_s:7.2f} s  {rps:12,.0f} rows/s  (stages: {timings}: the batch "
              f"published)")
        print(f"exchange search-index   : {index_s:7.2f} s  ({elements:,} search elements: the index takes the batch, "
              f"off its path; with it {args.rows / (pipe_s + index_s):,.0f} rows/s end to end)")
        print(f"psql \\copy, raw table    : {raw_s:7.2f} s  {args.rows / raw_s:12,.0f} rows/s  (10 text columns, no "
              f"index): {rps / (args.rows / raw_s):.2f}×")
        ratio = rps / (loaded / table_s)
        print(f"psql \\copy, core.person  : {table_s:7.2f} s  {loaded / table_s:12,.0f} rows/s  (the loaded rows into "
              f"an empty copy of core.person): {ratio:.2f}× (target ≥ 0.60×) "
              f"{'OK' if ratio >= 0.6 else 'BELOW TARGET'}")
        if dlt_s is not None:
            ratio = rps / (args.rows / dlt_s)
            print(f"dlt 1.31 (Arrow, COPY)  : {dlt_s:7.2f} s  {args.rows / dlt_s:12,.0f} rows/s  (no validation): "
                  f"{ratio:.2f}× (target ≥ 2.50×) {'OK' if ratio >= 2.5 else 'BELOW TARGET'}")
        print(f"peak memory             : {peak_mb:,.0f} MB (target < 1,536 MB) {'OK' if peak_mb < 1536 else 'OVER'}; "
              f"the index's run: {peak_all_mb:,.0f} MB" + (" or less" if peak_all_mb == peak_mb else ""))
        print(f"rows                    : {loaded:,} loaded ({flagged:,} with a flagged field) + {quarantined:,} "
              f"quarantined = {args.rows:,}")
        if args.update_every:
            steady_state(args, project, work, url, csv)
    finally:
        admin.dispose()
        if not args.keep:
            with create_engine(args.pg, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
