"""Benchmark: latency of the person-profile API on PostgreSQL under concurrent clients.

    .venv/bin/python -m bench.profile_latency.run \
        --url postgresql+psycopg://postgres@127.0.0.1:5432/exchange_bench --clients 8

1. the warehouse: the city ``bench/link_scale`` loaded and linked (``--prepare --persons N``
   generates, loads and links it first; otherwise the database must hold it already);
2. the API (``exchange.api.serve:api_app``: the profile behind the sharing gate — key, purpose, grant,
   one ``audit.access`` row committed per request) under uvicorn on loopback, ``--workers``
   processes; ``--no-gate`` serves the same route without the gate (``app.py``) to isolate the
   profile's own cost;
3. ``--clients`` concurrent keep-alive HTTP/1.1 clients (one asyncio process), each asking
   ``GET /persons/{id}`` in a closed loop for random persons — half by person_uid, half by
   resident ID number — after a warm-up; every response must be 200 with the person asked.
   With the admin key by default; ``--agency police`` asks with a new API key of that agency, so
   its grant is applied to every profile (masks, rows: a person outside the agency's jurisdiction
   is answered 404, counted apart).

Prints p50 / p90 / p99 / max latency and throughput. Target: p99 under 20 ms with 8 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "bench-admin-key-" + "0123456789abcdefghij"  # 36 characters: the API refuses a weak key


def _sample_ids(url: str, n: int, seed: int) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM mdm.person WHERE status = 'active'")).scalar_one()
        if not total:
            raise SystemExit(f"{url}: mdm.person is empty — run with --prepare (or bench.link_scale.run) first")
        pct = min(100.0, 100.0 * n * 3 / total)
        conn.execute(text(f"SELECT setseed({(seed % 1000) / 1000})"))
        rows = conn.execute(text(f"SELECT person_uid, id_number FROM mdm.person TABLESAMPLE BERNOULLI ({pct}) "
                                 f"REPEATABLE ({seed}) WHERE status = 'active' LIMIT {n}")).all()
    engine.dispose()
    rng = random.Random(seed)
    ids = [uid if (rng.random() < 0.5 or not idn) else idn for uid, idn in rows]
    rng.shuffle(ids)
    return ids


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(url: str, port: int, workers: int, factory: str) -> subprocess.Popen:
    # pseudonym masks need a key: a benchmark-only one unless the caller set theirs
    env = {"EXCHANGE_PSEUDONYM_KEY": "bench-profile-latency-pseudonym-key", **os.environ,
           "EXCHANGE_WAREHOUSE_URL": url, "EXCHANGE_API_ADMIN_KEY": ADMIN_KEY, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                if b"200" in s.recv(100):
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the API did not start within 60 s")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _client(port: int, token: str, ids: list[str], start: int, count: int, latencies: list[float],
                  errors: list[str], outside: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i in range(count):
            ident = ids[(start + i) % len(ids)]
            request = (f"GET /persons/{ident} HTTP/1.1\r\nHost: bench\r\nX-API-Key: {token}\r\n"
                       f"X-Purpose: benchmark\r\n\r\n").encode()
            t = time.perf_counter()
            writer.write(request)
            status, body = await _read_response(reader)
            latencies.append((time.perf_counter() - t) * 1000)
            if status == 404 and token != ADMIN_KEY and b"within your grant" in body:
                outside.append(ident)
            elif status != 200:
                errors.append(f"{ident}: HTTP {status}")
            elif ident.encode() not in body[:400] and b'"person_uid"' not in body[:40]:
                errors.append(f"{ident}: unexpected body")
    finally:
        writer.close()


async def _load(port: int, token: str, ids: list[str], clients: int,
                per_client: int) -> tuple[list[float], list[str], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    outside: list[str] = []
    t = time.perf_counter()
    await asyncio.gather(*[_client(port, token, ids, c * per_client, per_client, latencies, errors, outside)
                           for c in range(clients)])
    return latencies, errors, outside, time.perf_counter() - t


def _agency_token(url: str, agency: str) -> str:
    """A new API key of ``agency`` (its grant must allow the profile: ``profile_api: true``)."""
    from exchange.access.keys import create_key
    from exchange.warehouse.engine import make_engine

    engine = make_engine(url, root=ROOT)
    with engine.begin() as conn:
        _, token = create_key(conn, agency, label="bench/profile_latency", by="bench")
    engine.dispose()
    return token


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/exchange_bench")
    ap.add_argument("--prepare", action="store_true", help="generate, load and link the city first")
    ap.add_argument("--persons", type=int, default=4_300_000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--requests", type=int, default=40_000, help="measured requests (after the warm-up)")
    ap.add_argument("--warmup", type=int, default=4_000)
    ap.add_argument("--sample", type=int, default=20_000, help="distinct persons asked for")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--agency", help="ask with a new API key of this agency (its grant applied) instead of the "
                                      "admin key; e.g. police or civil_affairs")
    ap.add_argument("--no-gate", action="store_true",
                    help="serve bench/profile_latency/app.py:ungated — the profile without the sharing gate "
                         "(no access-log write per request, no grant policy): isolates the profile's own cost")
    args = ap.parse_args(argv)
    if args.prepare:
        from bench.link_scale.run import link_once, prepare

        truth = ROOT / "var" / "bench" / "profile_latency_truth.parquet"
        print(json.dumps(prepare(args.url, args.persons, 20261128, truth)), flush=True)
        print(json.dumps(link_once(args.url, truth, None)), flush=True)
    from exchange.linking import ensure_profile_indexes
    from exchange.warehouse.engine import make_engine

    engine = make_engine(args.url, root=ROOT)
    created = ensure_profile_indexes(engine)  # what `exchange link` creates after linking
    engine.dispose()
    if created:
        print(f"created the profile's indexes: {', '.join(created)}", flush=True)
    if args.agency and args.no_gate:
        raise SystemExit("--agency needs the gate (it applies the agency's grant); drop --no-gate")
    token = _agency_token(args.url, args.agency) if args.agency else ADMIN_KEY
    ids = _sample_ids(args.url, args.sample, args.seed)
    port = _free_port()
    factory = "bench.profile_latency.app:ungated" if args.no_gate else "exchange.api.serve:api_app"
    server = _start_server(args.url, port, args.workers, factory)
    try:
        per = max(1, args.warmup // args.clients)
        asyncio.run(_load(port, token, ids, args.clients, per))
        per = max(1, args.requests // args.clients)
        latencies, errors, outside, seconds = asyncio.run(_load(port, token, ids[::-1], args.clients, per))
    finally:
        server.terminate()
        server.wait(timeout=30)
    from sqlalchemy import create_engine, text

    engine = create_engine(args.url)
    with engine.connect() as conn:
        persons = conn.execute(text("SELECT count(*) FROM mdm.person WHERE status = 'active'")).scalar_one()
        records = conn.execute(text("SELECT count(*) FROM mdm.person_link")).scalar_one()
    engine.dispose()
    report = {"app": factory, "caller": args.agency or "admin", "persons": persons, "records": records,
              "clients": args.clients, "workers": args.workers,
              "requests": len(latencies), "outside_grant_404": len(outside), "errors": len(errors),
              "seconds": round(seconds, 1),
              "throughput_rps": round(len(latencies) / seconds), "p50_ms": round(_pct(latencies, 0.50), 2),
              "p90_ms": round(_pct(latencies, 0.90), 2), "p99_ms": round(_pct(latencies, 0.99), 2),
              "max_ms": round(max(latencies), 2), "cpus": os.cpu_count(),
              "load_average": [round(x, 1) for x in os.getloadavg()]}
    print(json.dumps(report, indent=1))
    if errors:
        print("errors (first 5):", errors[:5])
    print(f"target (p99 < 20 ms with 8 clients): {'met' if report['p99_ms'] < 20 and not errors else 'NOT met'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
