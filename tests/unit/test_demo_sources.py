"""``exchange demo-sources``: the demo city's agency sources served for an Airflow started beside it,
their connections in an env file only its owner can read."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import httpx

from tests.conftest import REPO


def test_the_demo_sources_are_served_with_their_connections_in_a_private_env_file(tmp_path: Path, settings,
                                                                                  project: Path) -> None:
    from exchange.demo import generate_city
    from exchange.spec.catalog import load_catalog
    from exchange.workspace.demo import serve_demo_sources

    shutil.copytree(REPO / "feeds", project / "feeds", dirs_exist_ok=True)
    generate_city(settings.landing_dir, persons=60, seed=7)
    env_file = tmp_path / "conns.env"
    seen: dict[str, object] = {}

    def until() -> None:  # what Airflow's worker would do: read the file, call the API with its URL
        lines = [line for line in env_file.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
        env = dict(line.split("=", 1) for line in lines)
        url = env["EXCHANGE_CONN_JUSTICE_MEDIATION"].strip("'")
        base, _, query = url.partition("?")
        token = dict(p.split("=", 1) for p in query.split("&"))["token"]
        seen["mode"] = stat.S_IMODE(env_file.stat().st_mode)
        seen["status"] = httpx.get(f"{base}/disputes", headers={"Authorization": f"Bearer {token}"}).status_code
        seen["refused"] = httpx.get(f"{base}/disputes").status_code
        seen["sql"] = env.get("EXCHANGE_CONN_MARKET_REGISTRY", "")

    shown = serve_demo_sources(settings, load_catalog(project), env_file, until=until)
    assert seen["mode"] == 0o600 and seen["status"] == 200 and seen["refused"] == 401
    assert str(seen["sql"]).startswith("'sqlite:///")
    assert all("token" not in v for v in shown.values()), "what is shown holds no token"
