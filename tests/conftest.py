"""Shared fixtures: a throw-away project folder with the real schemas, and settings on it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with the repository's schemas and no feeds."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "schemas", root / "schemas")
    (root / "feeds").mkdir()
    return root


@pytest.fixture
def settings(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from exchange.spec.settings import Settings

    for var in ("EXCHANGE_WAREHOUSE_URL", "EXCHANGE_LANDING_DIR", "EXCHANGE_STAGING_DIR",
                "EXCHANGE_REPORTS_DIR", "EXCHANGE_BATCH_ROWS", "EXCHANGE_HOME"):
        monkeypatch.delenv(var, raising=False)
    return Settings.from_env(project)


@pytest.fixture
def audit_engine(settings):
    """The embedded warehouse of ``settings`` with the exchange's own tables (audit.*, mdm.*) migrated."""
    from exchange.warehouse.engine import make_engine
    from exchange.warehouse.load import ensure_tables

    eng = make_engine(settings.warehouse_url, root=settings.root)
    ensure_tables(eng, [])
    yield eng
    eng.dispose()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


ADMIN = "test-admin-key-kV3o9xQ2mZt8LpRw4YbNc7HsJd1F"
"""An admin key strong enough for the API to start (32+ characters, many different)."""
