"""Run-time settings from the environment: defaults, switches, clear errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.errors import ConfigError
from exchange.spec.settings import Settings

VARS = ("EXCHANGE_WAREHOUSE_URL", "EXCHANGE_BATCH_ROWS", "EXCHANGE_LOCK_WAIT", "EXCHANGE_ACCESS_LOG_SYNC")


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in VARS:
        monkeypatch.delenv(var, raising=False)


def test_defaults(tmp_path: Path) -> None:
    s = Settings.from_env(tmp_path)
    assert s.warehouse_url == "sqlite:///var/exchange.db"
    assert (s.batch_rows, s.lock_wait, s.access_log_sync) == (50_000, 0.0, True)
    assert s.staging_dir == tmp_path.resolve() / "var" / "staging"


@pytest.mark.parametrize(("raw", "expected"), [("off", False), ("OFF", False), ("0", False), ("no", False),
                                               ("on", True), (" true ", True), ("1", True)])
def test_access_log_sync_switch(raw: str, expected: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_ACCESS_LOG_SYNC", raw)
    assert Settings.from_env(tmp_path).access_log_sync is expected


@pytest.mark.parametrize(("var", "raw", "says"), [
    ("EXCHANGE_ACCESS_LOG_SYNC", "sometimes", "expected on or off"),
    ("EXCHANGE_BATCH_ROWS", "0", "positive integer"),
    ("EXCHANGE_LOCK_WAIT", "-1", "seconds"),
])
def test_bad_values_name_the_variable(var: str, raw: str, says: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(var, raw)
    with pytest.raises(ConfigError) as err:
        Settings.from_env(tmp_path)
    assert var in str(err.value) and says in str(err.value) and repr(raw.strip().lower()) in str(err.value).lower()


def test_the_warehouse_url_never_shows_in_a_repr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_WAREHOUSE_URL", "postgresql+psycopg://etl:s3cret-pw@db/wh")
    assert "s3cret-pw" not in repr(Settings.from_env(tmp_path))
