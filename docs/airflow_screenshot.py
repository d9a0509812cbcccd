"""Regenerate ``docs/airflow-dags.png`` and ``docs/airflow-feed-dag.png``: every feed DAG run
once by a real Airflow on the demo city, then the UI captured with headless Chromium.

    .venv/bin/python docs/airflow_screenshot.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Airflow (api-server, scheduler, dag-processor; LocalExecutor) runs natively as in
``tests/integration/test_airflow_scheduler.py``, with its metadata in a PostgreSQL database
made for the run and dropped after it; the demo city's files, SQLite registry and HTTP API
feed a temporary SQLite warehouse. Every DAG is unpaused: each feed runs its latest scheduled
interval and the downstream DAGs follow on the asset events. The browser logs in with a token
from the Simple auth manager (``POST /auth/token``, set as the UI's ``_token`` cookie).
Takes about ten minutes on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CHROMIUM = "/usr/bin/chromium"
WIDTH = 1600


def finished(stack: Any, dag_id: str) -> bool:
    runs = stack.runs(dag_id)
    return bool(runs) and all(r["state"] in ("success", "failed") for r in runs)


async def capture(debug_port: int, base: str, token: str, out: Path) -> None:
    import httpx
    import websockets

    for _ in range(100):
        with contextlib.suppress(httpx.HTTPError):
            targets = httpx.get(f"http://127.0.0.1:{debug_port}/json").json()
            break
        await asyncio.sleep(0.2)
    page = next(t for t in targets if t["type"] == "page")
    async with websockets.connect(page["webSocketDebuggerUrl"], max_size=100_000_000) as ws:
        counter = 0

        async def call(method: str, **params: Any) -> Any:
            nonlocal counter
            counter += 1
            await ws.send(json.dumps({"id": counter, "method": method, "params": params}))
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("id") == counter:
                    return msg.get("result")

        async def shot(path: Path, height: int) -> None:
            data = await call("Page.captureScreenshot", format="png",
                              clip={"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1})
            path.write_bytes(base64.b64decode(data["data"]))

        await call("Network.enable")
        await call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=1250, deviceScaleFactor=1, mobile=False)
        await call("Network.setCookie", name="_token", value=token, url=base + "/", path="/")
        await call("Page.navigate", url=base + "/dags")
        await asyncio.sleep(8)
        await call("Runtime.evaluate", expression="[...document.querySelectorAll('button')]"
                   ".find(b => b.getAttribute('aria-label') === 'Show table view')?.click()")
        await asyncio.sleep(5)
        await shot(out / "airflow-dags.png", 950)
        await call("Page.navigate", url=base + "/dags/feed.police.residents")
        await asyncio.sleep(10)
        await shot(out / "airflow-feed-dag.png", 720)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres", help="admin URL")
    ap.add_argument("--persons", type=int, default=400)
    args = ap.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    from sqlalchemy import create_engine, text

    from exchange.demo import generate_city
    from exchange.demo.sources import demo_sources
    from exchange.spec.catalog import load_catalog
    from tests.airflow_stack import AirflowStack, free_port, running

    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    name = f"exchange_screenshot_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    root = Path(tempfile.mkdtemp(prefix="airflow-screenshot-"))
    try:
        landing = root / "landing"
        generate_city(landing, persons=args.persons)
        with demo_sources(landing, load_catalog(REPO)):
            env = {"EXCHANGE_HOME": str(REPO), "EXCHANGE_WAREHOUSE_URL": f"sqlite:///{root}/warehouse/exchange.db",
                   "EXCHANGE_LANDING_DIR": str(landing), "EXCHANGE_STAGING_DIR": str(root / "staging"),
                   "EXCHANGE_REPORTS_DIR": str(root / "reports"),
                   **{k: v for k, v in os.environ.items() if k.startswith("EXCHANGE_CONN_")}}
            stack = AirflowStack(root, args.pg.rsplit("/", 1)[0] + f"/{name}", env=env)
            stack.prepare()
            with running(stack, ("api-server", "api-server"), ("scheduler", "scheduler"),
                         ("dag-processor", "dag-processor")):
                dags = [d["dag_id"] for d in stack.api("GET", "/dags", params={"limit": 100})["dags"]]
                for dag_id in dags:
                    stack.unpause(dag_id)
                stack.wait_until("every feed run", lambda: all(finished(stack, d) for d in dags
                                                                if d.startswith("feed.")), timeout=1800)
                time.sleep(5)
                stack.wait_until("the downstream runs", lambda: all(finished(stack, d) for d in dags
                                                                     if not d.startswith("feed.")), timeout=900)
                debug_port = free_port()
                profile = tempfile.mkdtemp(prefix="chromium-")
                chrome = subprocess.Popen(
                    [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={profile}", f"--remote-debugging-port={debug_port}", "about:blank"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                try:
                    asyncio.run(capture(debug_port, stack.base, stack.token(), REPO / "docs"))
                finally:
                    os.killpg(chrome.pid, 9)
                    chrome.wait()
                    shutil.rmtree(profile, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print("wrote docs/airflow-dags.png and docs/airflow-feed-dag.png")


if __name__ == "__main__":
    main()
