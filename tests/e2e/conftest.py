"""The end-to-end tests' shared city: the demo of another seed and size than ``exchange demo``'s, on the
embedded warehouse, loaded once per session (the investigation tools and the console read it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exchange.spec.catalog import load_catalog
from exchange.spec.settings import Settings
from exchange.workspace.demo import run_demo
from tests.conftest import REPO

SEED, PERSONS = 31, 800


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Any]]:
    work = tmp_path_factory.mktemp("investigate")
    mp = pytest.MonkeyPatch()
    for name, value in (("EXCHANGE_WAREHOUSE_URL", f"sqlite:///{work / 'ex.db'}"),
                        ("EXCHANGE_LANDING_DIR", str(work / "landing")),
                        ("EXCHANGE_STAGING_DIR", str(work / "staging")),
                        ("EXCHANGE_REPORTS_DIR", str(work / "reports")), ("EXCHANGE_HOME", str(REPO))):
        mp.setenv(name, value)
    mp.delenv("EXCHANGE_PSEUDONYM_KEY", raising=False)
    settings = Settings.from_env(REPO)
    result = run_demo(settings, load_catalog(REPO), persons=PERSONS, seed=SEED, say=lambda _m: None)
    assert not result.mismatches
    from exchange.demo.truth import CityTruth

    yield settings, CityTruth.read(Path(result.truth_path))
    mp.undo()


