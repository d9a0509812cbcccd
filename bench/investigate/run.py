"""Benchmark: element search and the relation graph at scale on PostgreSQL, under concurrent clients.

    .venv/bin/python -m bench.investigate.run --prepare --persons 1000000 --clients 8

1. ``--prepare``: the city of ``bench/link_scale`` (about 2.4 person records per resident, loaded into
   ``core.*``), a master person index written from its truth (what perfect linking gives: one
   person_uid per true person), vehicles for a quarter of the adults, ``--events`` activity events per
   resident (hotel stays, internet-café sessions, checkpoint passes of their cars; partitioned tables),
   and the element index built once (``exchange search-index --rebuild``; runs keep it current after);
2. search: ``--queries`` texts drawn from the warehouse — full ID numbers, their last 6 digits, names in
   characters, pinyin and fuzzy pinyin, phones, plates exactly and with one unreadable character,
   address fragments — searched through the police grant by ``--clients`` clients, each with its own
   connection: first as threads of this process (they share its interpreter lock), then as processes
   (as the workers of ``exchange serve --workers N`` are, which is what the target is read on).
   Reference measured in the same run: a B-tree lookup of ``mdm.person`` by ID number (the
   profile's first step) under the same concurrency. Prints p50/p95/p99 per kind and overall, and the
   ratio to the reference; and, for one client, the CPU a search costs this process and the server's
   backend (what concurrent clients queue for on few cores);
3. technology check: the address fragments through the pg_trgm GIN index, then with bitmap scans off
   (what a B-tree-only or scan-only index would do);
4. graph: depth 2 around sampled persons (households, cases, phones, co-presence...), single client
   and ``--clients`` clients; p50/p95/p99.

Targets (issue 18): search p99 < 50 ms with 8 clients over 10 M person records plus their events (the
4.3 M-resident city holds 10.2 M); graph depth 2 p99 < 200 ms at 4.3 M persons.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _say(message: str) -> None:
    print(message, flush=True)


# -- prepare ----------------------------------------------------------------------------------------------------


def _index_from_truth(engine: Any, truth_path: Path) -> None:
    """mdm.person and mdm.person_link from the city's truth: what a perfect linking run writes."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from sqlalchemy import text

    from exchange.linking import ensure_mdm_tables
    from exchange.linking.records import PERSON_SOURCES
    from exchange.linking.tables import person_link
    from exchange.warehouse.dialects import dialect_of

    ensure_mdm_tables(engine)
    truth = pq.read_table(truth_path)
    n = truth.num_rows
    uid = pc.binary_join_element_wise("MP", pc.utf8_lpad(pc.cast(truth["person"], pa.string()), 10, "0"), "")
    links = pa.table({"source_agency": truth["source_agency"], "entity": truth["entity"],
                      "source_record_id": truth["source_record_id"], "role": truth["role"],
                      "link_id": pa.array(range(1, n + 1), pa.int64()), "person_uid": uid,
                      "id_number": pa.nulls(n, pa.string()), "match_rule": pa.array(["truth"] * n),
                      "match_probability": pa.array([1.0] * n), "batch_id": pa.array(["bench"] * n),
                      "loaded_at": pa.nulls(n, pa.string()), "run_id": pa.array([1] * n, pa.int64())})
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE mdm.person_link, mdm.person")
        dialect_of(conn).bulk_insert(conn, person_link, links.to_batches(500_000), {})
        present = {r[0] for r in conn.execute(text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'core'"))}
        for s in PERSON_SOURCES:  # the validated ID number of each linked record
            if "id_number" not in s.columns or s.entity not in present:
                continue
            conn.execute(text(f'UPDATE mdm.person_link l SET id_number = c."{s.columns["id_number"]}" '
                              f'FROM core."{s.entity}" c WHERE l.entity = :e AND l.role = :r '
                              f"AND c.source_agency = l.source_agency AND c.source_record_id = l.source_record_id"),
                         {"e": s.entity, "r": s.role})
        conn.exec_driver_sql(
            "INSERT INTO mdm.person (person_uid, status, record_count, created_run, updated_run, name, id_number) "
            "SELECT l.person_uid, 'active', count(*), 1, 1, max(p.name), max(l.id_number) FROM mdm.person_link l "
            "LEFT JOIN core.person p ON l.entity = 'person' AND p.source_agency = l.source_agency "
            "AND p.source_record_id = l.source_record_id GROUP BY l.person_uid")


NOW = dt.datetime(2026, 11, 28, 8, 0, 0)
SHARES = {"hotel_stay": 0.1, "internet_session": 0.3, "checkpoint_pass": 0.6}
PLACES = {"hotel_stay": ("LG", 400), "internet_session": ("WB", 600), "checkpoint_pass": ("KK", 300)}


def lineage(n: int, entity: str) -> dict[str, Any]:
    """The lineage columns of ``n`` generated rows of ``entity`` (one bench batch)."""
    import numpy as np
    import pyarrow as pa

    return {"source_agency": pa.array(["police"] * n), "_batch_id": pa.array([f"police-{entity}-bench"] * n),
            "_source_file": pa.array([f"bench/{entity}"] * n), "_source_row": pa.array(np.arange(1, n + 1)),
            "_row_hash": pa.array(["bench"] * n), "_flags": pa.nulls(n, pa.string()),
            "_loaded_at": pa.array([NOW] * n, pa.timestamp("us"))}


def _put(engine: Any, schema: Any, cols: dict[str, Any]) -> int:
    """Replace ``core.<entity>`` with the generated columns (the rest null), through the warehouse's COPY."""
    import pyarrow as pa

    from exchange.warehouse.dialects import dialect_of
    from exchange.warehouse.partitions import ensure_partitions
    from exchange.warehouse.tables import EntityTables

    core = EntityTables(schema).core
    n = len(next(iter(cols.values())))
    data = {**cols, **lineage(n, schema.name)}
    table = pa.table({c.name: data[c.name] if c.name in data else pa.nulls(n, pa.string()) for c in core.columns})
    t = time.perf_counter()
    with engine.begin() as conn:
        if schema.event is not None:
            ensure_partitions(conn, schema.name, NOW.date())
        conn.exec_driver_sql(f'TRUNCATE core."{schema.name}"')
        dialect_of(conn).bulk_insert(conn, core, table.to_batches(500_000), {})
    _say(f"  core.{schema.name}: {n:,} rows in {time.perf_counter() - t:.1f}s")
    return n


def _vehicles(engine: Any, schema: Any, rng: Any, people: dict[str, Any]) -> Any:
    """A car for a quarter of the residents (unique plates), its owner linked in the index by the ID number
    the index holds; returns the plates."""
    import numpy as np
    import pyarrow as pa

    n_people = len(people["ids"])
    owners = rng.choice(n_people, size=n_people // 4, replace=False)
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"))
    plates = np.array(["陕G" + "".join(x) for x in letters[rng.integers(0, len(letters), (len(owners), 5))]],
                      dtype=object)
    plates, first = np.unique(plates, return_index=True)
    owners = owners[first]
    _put(engine, schema, {"source_record_id": pa.array([f"CL{i:09d}" for i in range(len(plates))]),
                          "plate": pa.array(plates.tolist()), "vehicle_use": pa.array(["private"] * len(plates)),
                          "owner_name": pa.array(people["names"][owners].tolist()),
                          "owner_id_number": pa.array(people["ids"][owners].tolist()),
                          "division_code": pa.array(people["divisions"][owners].tolist())})
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO mdm.person_link (source_agency, entity, source_record_id, role, link_id, person_uid, "
            "id_number, match_rule, match_probability, batch_id, run_id) "
            "SELECT 'police', 'vehicle', v.source_record_id, 'owner', "
            "(SELECT max(link_id) FROM mdm.person_link) + row_number() OVER (), o.person_uid, v.owner_id_number, "
            "'id_number', 1, 'bench', 1 FROM core.vehicle v JOIN LATERAL (SELECT person_uid FROM mdm.person_link "
            "WHERE id_number = v.owner_id_number LIMIT 1) o ON true")
    return plates


def _event_columns(entity: str, n: int, rng: Any, people: dict[str, Any], plates: Any) -> dict[str, Any]:
    """``n`` events of ``entity`` in the last 12 months at random places, by random residents (cars)."""
    import numpy as np
    import pyarrow as pa

    start = np.datetime64("2025-12-01T00:00:00")
    span = int((np.datetime64("2026-11-28T00:00:00") - start) / np.timedelta64(1, "s"))
    who = rng.integers(0, len(plates) if entity == "checkpoint_pass" else len(people["ids"]), n)
    prefix, count = PLACES[entity]
    place = rng.integers(0, count, n)
    codes = np.char.add(prefix, place.astype(str))
    times = pa.array((start + rng.integers(0, span, n).astype("timedelta64[s]")).astype("datetime64[us]"))
    cols: dict[str, Any] = {
        "source_record_id": pa.array(np.char.add(entity[:2].upper(), np.arange(n).astype(str))),
        "division_code": pa.array(np.char.add(np.char.add("6109020", (place % 90 + 10).astype(str)), "00001")),
        "longitude": pa.array(109.0 + place / 10000.0), "latitude": pa.array(32.6 + place / 10000.0)}
    if entity == "checkpoint_pass":
        return cols | {"plate": pa.array(plates[who].tolist()), "checkpoint_code": pa.array(codes),
                       "direction": pa.array(["inbound"] * n), "passed_at": times}
    ids, names = pa.array(people["ids"][who].tolist()), pa.array(people["names"][who].tolist())
    if entity == "hotel_stay":
        return cols | {"guest_id_number": ids, "guest_name": names, "hotel_code": pa.array(codes),
                       "hotel_name": pa.array(codes), "room": pa.array((who % 500).astype(str)), "check_in": times}
    return cols | {"user_id_number": ids, "user_name": names, "venue_code": pa.array(codes),
                   "venue_name": pa.array(codes), "start_time": times}


def _events(engine: Any, per_person: int, seed: int) -> dict[str, int]:
    """Vehicles for a quarter of the residents and ``per_person`` events per resident (on average)."""
    import numpy as np
    from sqlalchemy import text

    from exchange.spec.catalog import load_catalog
    from exchange.warehouse.load import ensure_tables

    rng = np.random.default_rng(seed)
    catalog = load_catalog(feeds=False)
    schemas = {n: catalog.schema(n) for n in ("vehicle", *SHARES)}
    ensure_tables(engine, list(schemas.values()))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT p.id_number, p.name, p.division_code FROM core.person p "
                                 "WHERE p.id_number IS NOT NULL AND p.source_agency = 'police'")).all()
    people = {"ids": np.array([r[0] for r in rows], dtype=object),
              "names": np.array([r[1] for r in rows], dtype=object),
              "divisions": np.array([r[2] or "610902001001" for r in rows], dtype=object)}
    plates = _vehicles(engine, schemas["vehicle"], rng, people)
    counts = {"vehicle": len(plates)}
    total = per_person * len(rows)
    for entity, share in SHARES.items():
        cols = _event_columns(entity, int(total * share), rng, people, plates)
        counts[entity] = _put(engine, schemas[entity], cols)
    return counts


def prepare(url: str, persons: int, events: int, seed: int) -> None:
    from bench.link_scale.run import prepare as load_city
    from exchange.investigate import elements
    from exchange.spec.catalog import load_catalog
    from exchange.warehouse.engine import make_engine

    truth = ROOT / "var" / "bench" / "investigate_truth.parquet"
    load_city(url, persons, seed, truth)
    engine = make_engine(url, root=ROOT)
    from exchange.warehouse.load import ensure_tables

    ensure_tables(engine, list(load_catalog(feeds=False).schemas.values()))
    t = time.perf_counter()
    _index_from_truth(engine, truth)
    _say(f"master person index from the truth in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    elements.ensure(engine)  # the element table and the lookups' indexes (the register's owners are found by them)
    _say(f"lookup indexes in {time.perf_counter() - t:.1f}s")
    _events(engine, events, seed)
    t = time.perf_counter()
    elements.ensure(engine)  # the vehicle register's indexes
    counts = elements.rebuild(engine, load_catalog(feeds=False).schemas.values(), say=_say)
    _say(f"element index: {sum(counts.values()):,} elements in {time.perf_counter() - t:.1f}s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
        size = conn.exec_driver_sql("SELECT pg_size_pretty(pg_total_relation_size('mdm.search_element'))").scalar()
    _say(f"mdm.search_element with its indexes: {size}")
    engine.dispose()


# -- measure ----------------------------------------------------------------------------------------------------


def _queries(engine: Any, n: int, seed: int) -> list[tuple[str, str, str | None]]:
    """(case, text, kind): drawn from the warehouse, independently of the search code."""
    from pypinyin import lazy_pinyin
    from sqlalchemy import text

    rng = random.Random(seed)
    with engine.connect() as conn:
        # the same sample for the same seed: two versions compared on the same queries
        persons = conn.execute(text("SELECT name, id_number, phone, address FROM core.person TABLESAMPLE SYSTEM (1) "
                                    "REPEATABLE (:seed) WHERE id_number IS NOT NULL LIMIT :n"),
                               {"n": n, "seed": seed}).all()
        plates = [r[0] for r in conn.execute(text("SELECT plate FROM core.vehicle TABLESAMPLE SYSTEM (5) "
                                                  "REPEATABLE (:seed) LIMIT :n"), {"n": n, "seed": seed})]
    out: list[tuple[str, str, str | None]] = []
    for name, id_number, phone, address in persons:
        case = rng.choice(("id_full", "id_last6", "name", "pinyin", "fuzzy", "phone", "address", "plate", "plate?"))
        if case == "id_full":
            out.append((case, id_number, None))
        elif case == "id_last6":
            out.append((case, id_number[-6:], "id"))
        elif case == "name":
            out.append((case, name, None))
        elif case == "pinyin":
            out.append((case, "".join(lazy_pinyin(name)), None))
        elif case == "fuzzy":
            out.append((case, "".join(lazy_pinyin(name)).replace("zh", "z").replace("sh", "s"), "name"))
        elif case == "phone" and phone:
            out.append((case, phone, None))
        elif case == "address" and address and len(address) > 16:
            i = rng.randrange(8, len(address) - 6)
            out.append((case, address[i:i + 5], "address"))
        elif case.startswith("plate") and plates:
            plate = rng.choice(plates)
            if case == "plate?":
                i = rng.randrange(2, len(plate))
                plate = plate[:i] + "?" + plate[i + 1:]
            out.append((case, plate, "plate"))
    return out[:n]


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] if values else float("nan")


def _concurrently(engine: Any, clients: int, items: list[Any], work: Any) -> tuple[list[tuple[Any, float]], float]:
    results: list[tuple[Any, float]] = []
    lock = threading.Lock()
    chunks = [items[i::clients] for i in range(clients)]

    def client(chunk: list[Any]) -> None:
        with engine.connect() as conn:
            for item in chunk:
                t = time.perf_counter()
                work(conn, item)
                took = (time.perf_counter() - t) * 1000
                with lock:
                    results.append((item, took))

    threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
    wall = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results, time.perf_counter() - wall


def _work(job: str, depth: int = 2) -> Any:
    """(conn, item) → one request through the police grant: a search of ``(case, text, kind)``, or the
    depth-``depth`` graph around a person_uid. What threads and processes both run."""
    from exchange.access.lens import Lens
    from exchange.investigate.graph import Limits, graph
    from exchange.investigate.persons import subject
    from exchange.investigate.search import search
    from exchange.spec.catalog import load_catalog
    from exchange.workspace.sharing import load_grants

    schemas = load_catalog(ROOT).schemas
    lens = Lens(load_grants().get("police"))

    def run(conn: Any, item: Any) -> None:
        if conn.in_transaction():  # what the caller read before (the backend's pid)
            conn.commit()
        with conn.begin():  # each request its own transaction, committed as `exchange serve` ends it (reading)
            if job == "search":
                search(conn, lens, schemas, item[1], item[2])
            else:
                who = subject(conn, lens, item)
                if who is not None:
                    graph(conn, lens, schemas, who, Limits(depth=depth))

    return run


def _process_client(url: str, job: str, chunk: list[Any], depth: int, barrier: Any, out: Any) -> None:
    """One client in its own process (its own interpreter, as each worker of ``exchange serve --workers N``
    is): warmed, then started with the others at the barrier; puts (item, ms) pairs on ``out``."""
    from exchange.warehouse.engine import make_engine

    run = _work(job, depth)
    engine = make_engine(url, root=ROOT)
    results = []
    with engine.connect() as conn:
        warm = [("warm", "张伟", None), ("warm", "zhangwei", None)] if job == "search" else []
        for item in warm + chunk[:3]:  # the pinyin tables (loaded on the first name), the caches, the connection
            run(conn, item)
        barrier.wait()
        for item in chunk:
            t = time.perf_counter()
            run(conn, item)
            results.append((item, (time.perf_counter() - t) * 1000))
    engine.dispose()
    out.put(results)


def _in_processes(url: str, clients: int, items: list[Any], job: str, depth: int = 2
                  ) -> tuple[list[tuple[Any, float]], float]:
    """``clients`` concurrent clients, each in its own process (no shared interpreter lock between them)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(clients + 1), ctx.Queue()
    procs = [ctx.Process(target=_process_client, args=(url, job, items[i::clients], depth, barrier, out))
             for i in range(clients)]
    for p in procs:
        p.start()
    barrier.wait()
    wall = time.perf_counter()
    results = [r for _ in procs for r in out.get()]
    wall = time.perf_counter() - wall
    for p in procs:
        p.join()
    return results, wall


def _line(label: str, times: list[float]) -> str:
    return (f"{label:28s} n={len(times):5d}  p50 {_pct(times, 50):7.1f} ms  p95 {_pct(times, 95):7.1f} ms  "
            f"p99 {_pct(times, 99):7.1f} ms  max {max(times):7.1f} ms")


def _say_cases(found: list[tuple[Any, float]], suffix: str = "") -> None:
    by_case: dict[str, list[float]] = {}
    for item, took in found:
        by_case.setdefault(item[0], []).append(took)
    for case, ts in sorted(by_case.items()):
        _say(_line(f"search {case}{suffix}", ts))


def _backend_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) the server's backend ``pid`` has used, when it runs on this machine."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_per_request(engine: Any, label: str, items: list[Any], work: Any) -> None:
    """One client, one request after another: wall time, this process's CPU and the server backend's CPU per
    request. On a machine of few cores, concurrent clients queue for that CPU: it is what bounds their p99."""
    from sqlalchemy import text

    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        for item in items[:20]:
            work(conn, item)
        server, client, wall = _backend_cpu(pid), time.process_time(), time.perf_counter()
        for item in items:
            work(conn, item)
        wall, client = time.perf_counter() - wall, time.process_time() - client
        after = _backend_cpu(pid)
    n = len(items)
    served = f"{(after - server) * 1000 / n:.2f} ms" if server is not None and after is not None else "not here"
    _say(f"{label}, 1 client, per request: wall {wall * 1000 / n:.2f} ms, client CPU {client * 1000 / n:.2f} ms, "
         f"server CPU {served}")


def _measure_search(engine: Any, url: str, clients: int, items: list[Any]) -> list[float]:
    """Search under ``clients`` threads, then processes, against the reference; the threads' times."""
    from sqlalchemy import text

    search = _work("search")
    for warm in items[:50]:  # warm the caches and the pinyin tables
        with engine.connect() as conn:
            search(conn, warm)
    ids = [(q[1],) for q in items if q[0] == "id_full"] or [(q[1],) for q in items[:100]]
    ref, _ = _concurrently(engine, clients, ids * max(1, len(items) // max(1, len(ids))),
                           lambda conn, item: conn.execute(text(  # the profile's own first step
                               "SELECT * FROM mdm.person WHERE id_number = :v"), {"v": item[0]}).all())
    ref_times = [t for _i, t in ref]
    _cpu_per_request(engine, "search", items, search)
    found, wall = _concurrently(engine, clients, items, search)
    times = [t for _i, t in found]
    _say(_line("reference: mdm.person by ID", ref_times))
    _say_cases(found)
    _say(_line("search, all kinds", times) + f"  ({len(times) / wall:.0f} queries/s)")
    _say(f"search p99 / reference p99: {_pct(times, 99) / _pct(ref_times, 99):.1f}x")
    found_p, wall_p = _in_processes(url, clients, items, "search")
    times_p = [t for _i, t in found_p]
    _say_cases(found_p, " (processes)")
    _say(_line(f"search, {clients} client processes", times_p) + f"  ({len(times_p) / wall_p:.0f} queries/s)")
    return times


def _measure_substrings(engine: Any, addresses: list[Any]) -> None:
    """The address fragments alone: through the pg_trgm GIN index, then with bitmap scans off."""
    from sqlalchemy import text

    def substring(conn: Any, item: Any, scan: bool) -> None:
        if scan:
            conn.exec_driver_sql("SET enable_bitmapscan = off")
        conn.execute(text("SELECT count(*) FROM mdm.search_element WHERE kind = 'address' AND key LIKE :v"),
                     {"v": f"%{item[1]}%"}).all()
        if scan:
            conn.exec_driver_sql("RESET enable_bitmapscan")

    gin, _ = _concurrently(engine, 1, addresses, lambda c, i: substring(c, i, False))
    scan, _ = _concurrently(engine, 1, addresses[:20], lambda c, i: substring(c, i, True))
    g, s = [t for _i, t in gin], [t for _i, t in scan]
    _say(_line("address fragment, pg_trgm GIN", g))
    _say(_line("address fragment, no GIN", s))
    _say(f"GIN speed-up on address fragments (p50): {_pct(s, 50) / _pct(g, 50):.0f}x")


def _measure_graph(engine: Any, url: str, clients: int, graphs: int) -> None:
    from sqlalchemy import text

    with engine.connect() as conn:
        uids = [r[0] for r in conn.execute(text(
            "SELECT l.person_uid FROM mdm.person_link l TABLESAMPLE SYSTEM (1) REPEATABLE (7) "
            "WHERE l.entity = 'person' LIMIT :n"), {"n": graphs})]
    depth2 = _work("graph", 2)
    _cpu_per_request(engine, "graph depth 2", uids, depth2)
    one, _ = _concurrently(engine, 1, uids, depth2)
    many, _ = _concurrently(engine, clients, uids, depth2)
    _say(_line("graph depth 2, 1 client", [t for _i, t in one]))
    _say(_line(f"graph depth 2, {clients} clients", [t for _i, t in many]))
    procs, _ = _in_processes(url, clients, uids, "graph")
    _say(_line(f"graph depth 2, {clients} client processes", [t for _i, t in procs]))


SERVER_SETTINGS = ("shared_buffers", "effective_cache_size", "work_mem", "jit")
"""Printed with the results: the server's memory decides how much of a warehouse's indexes a search finds
in its own buffers (PostgreSQL's default of 128 MB holds little of a million persons' 9 GB)."""


def measure(url: str, clients: int, queries: int, graphs: int, seed: int) -> None:
    from sqlalchemy import text

    from exchange.warehouse.engine import make_engine

    engine = make_engine(url, root=ROOT)
    with engine.connect() as conn:
        persons = conn.execute(text("SELECT count(*) FROM mdm.person")).scalar()
        events = sum(conn.execute(text(f'SELECT count(*) FROM core."{e}"')).scalar()
                     for e in ("hotel_stay", "internet_session", "checkpoint_pass"))
        server = ", ".join(f"{name} {conn.exec_driver_sql(f'SHOW {name}').scalar()}" for name in SERVER_SETTINGS)
        version = conn.exec_driver_sql("SHOW server_version").scalar()
    _say(f"warehouse: {persons:,} persons, {events:,} events; {clients} clients")
    _say(f"server: PostgreSQL {version}, {server}")
    items = _queries(engine, queries, seed) if queries > 0 else []  # --queries 0: no search measured
    times = _measure_search(engine, url, clients, items) if items else []
    addresses = [q for q in items if q[0] == "address"][:100]
    if addresses:
        _measure_substrings(engine, addresses)
    if graphs > 0:
        _measure_graph(engine, url, clients, graphs)
    engine.dispose()
    if times:
        _say(f"median search {statistics.median(times):.1f} ms")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/exchange_investigate")
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=10, help="activity events per resident (on average)")
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--prepare", action="store_true", help="generate and load the city first")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--graphs", type=int, default=200)
    args = ap.parse_args(argv)
    if args.prepare:
        prepare(args.url, args.persons, args.events, args.seed)
    measure(args.url, args.clients, args.queries, args.graphs, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
