"""The end-to-end tests' shared city: the demo of another seed and size than ``exchange demo``'s, on the
embedded warehouse, loaded once per session (the investigation tools and the console read it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exchange.spec.catalog import load_catalog
from exchange.spec.settings import Settings
from exchange.workspace.demo import run_demo
from tests.conftest import REPO

SEED, PERSONS = 31, 800


def _env(work: Path) -> dict[str, str]:
    return {"EXCHANGE_WAREHOUSE_URL": f"sqlite:///{work / 'ex.db'}", "EXCHANGE_LANDING_DIR": str(work / "landing"),
            "EXCHANGE_STAGING_DIR": str(work / "staging"), "EXCHANGE_REPORTS_DIR": str(work / "reports"),
            "EXCHANGE_HOME": str(REPO)}


@pytest.fixture(scope="session")
def investigate_city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Any, dict[str, str]]:
    """(settings, truth, environment) of the city, built once. The environment is set only while it is
    built, and then by :func:`city` around each test (a session-wide one would leak into other tests)."""
    work = tmp_path_factory.mktemp("investigate")
    env = _env(work)
    mp = pytest.MonkeyPatch()
    try:
        for name, value in env.items():
            mp.setenv(name, value)
        mp.delenv("EXCHANGE_PSEUDONYM_KEY", raising=False)
        settings = Settings.from_env(REPO)
        result = run_demo(settings, load_catalog(REPO), persons=PERSONS, seed=SEED, say=lambda _m: None)
    finally:
        mp.undo()
    assert not result.mismatches
    from exchange.demo.truth import CityTruth

    return settings, CityTruth.read(Path(result.truth_path)), env


@pytest.fixture
def city(investigate_city: tuple[Settings, Any, dict[str, str]], monkeypatch: pytest.MonkeyPatch
         ) -> tuple[Settings, Any]:
    """The city, with its environment set for this test (the CLI finds its warehouse through it)."""
    settings, truth, env = investigate_city
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("EXCHANGE_PSEUDONYM_KEY", raising=False)
    return settings, truth
