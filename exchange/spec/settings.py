"""Run-time settings from the environment (never from YAML: secrets stay out of specs).

| variable | default |
| --- | --- |
| ``EXCHANGE_HOME`` | the project folder (schemas/, feeds/, grants/) |
| ``EXCHANGE_WAREHOUSE_URL`` | ``sqlite:///var/exchange.db`` (relative to the project folder) |
| ``EXCHANGE_LANDING_DIR`` | ``var/landing``: where file feeds find agencies' files |
| ``EXCHANGE_STAGING_DIR`` | ``var/staging``: Parquet + manifest of every batch |
| ``EXCHANGE_REPORTS_DIR`` | ``var/reports``: GX Data Docs for auditors |
| ``EXCHANGE_BATCH_ROWS`` | ``50000``: rows per streamed chunk (bounds memory) |
| ``EXCHANGE_LOCK_WAIT`` | ``0``: seconds a run waits for another run of the same feed |
| ``EXCHANGE_ACCESS_LOG_SYNC`` | ``on``: each ``audit.access`` row of the profile API is flushed to disk (PostgreSQL
  ``synchronous_commit``) before the answer is sent; ``off`` spares that wait — a crash of the database server
  (not of the API) can then lose the last fraction of a second of the log |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from exchange.errors import ConfigError
from exchange.spec import paths

DEFAULT_WAREHOUSE_URL = "sqlite:///var/exchange.db"


def _dir(root: Path, env: str, default: str) -> Path:
    value = os.environ.get(env)
    path = Path(value) if value else Path(default)
    return path if path.is_absolute() else (root / path)


def env_seconds(env: str, default: str, *, positive: bool = False, environ: dict[str, str] | None = None) -> float:
    """A number of seconds from the environment variable ``env`` (``default`` when unset or empty);
    ≥ 0, or > 0 with ``positive``; anything else is a ConfigError naming the variable."""
    raw = (environ if environ is not None else os.environ).get(env) or default
    try:
        value = float(raw)
        if value < 0 or (positive and value == 0):
            raise ValueError
    except ValueError:
        raise ConfigError(f"{env}: expected a number of seconds {'above' if positive else '≥'} 0, "
                          f"got {raw!r}") from None
    return value


def _seconds(env: str, default: str) -> float:
    return env_seconds(env, default)


def _switch(env: str, default: str) -> bool:
    raw = os.environ.get(env, default).strip().lower()
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise ConfigError(f"{env}: expected on or off, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    root: Path
    warehouse_url: str = field(repr=False)  # may hold a password: never in a repr or a log line
    landing_dir: Path
    staging_dir: Path
    reports_dir: Path
    batch_rows: int = 50_000
    lock_wait: float = 0.0
    access_log_sync: bool = True
    overlap_load: bool = True
    """``exchange run`` on PostgreSQL copies the valid rows into core while it validates the next ones
    (``exchange.pipeline.preload``); ``EXCHANGE_OVERLAP_LOAD=off``: one stage after the other."""

    @classmethod
    def from_env(cls, root: Path | None = None) -> Settings:
        root = (root or paths.project_root()).resolve()
        raw_rows = os.environ.get("EXCHANGE_BATCH_ROWS", "50000")
        try:
            batch_rows = int(raw_rows)
            if batch_rows < 1:
                raise ValueError
        except ValueError:
            raise ConfigError(f"EXCHANGE_BATCH_ROWS: expected a positive integer, got {raw_rows!r}") from None
        return cls(
            root=root,
            warehouse_url=os.environ.get("EXCHANGE_WAREHOUSE_URL") or DEFAULT_WAREHOUSE_URL,
            landing_dir=_dir(root, "EXCHANGE_LANDING_DIR", "var/landing"),
            staging_dir=_dir(root, "EXCHANGE_STAGING_DIR", "var/staging"),
            reports_dir=_dir(root, "EXCHANGE_REPORTS_DIR", "var/reports"),
            batch_rows=batch_rows,
            lock_wait=_seconds("EXCHANGE_LOCK_WAIT", "0"),
            access_log_sync=_switch("EXCHANGE_ACCESS_LOG_SYNC", "on"),
            overlap_load=_switch("EXCHANGE_OVERLAP_LOAD", "on"),
        )
