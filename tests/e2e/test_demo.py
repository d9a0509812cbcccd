"""The demo end to end: a small synthetic city through every feed, against its seeded truth."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from exchange.cli import app
from exchange.spec.catalog import load_catalog
from exchange.spec.settings import Settings
from exchange.warehouse.engine import make_engine
from exchange.workspace.demo import run_demo
from tests.conftest import REPO


@pytest.fixture
def demo_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("EXCHANGE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'ex.db'}")
    monkeypatch.setenv("EXCHANGE_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("EXCHANGE_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.setenv("EXCHANGE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("EXCHANGE_HOME", str(REPO))
    return Settings.from_env(REPO)


def test_demo_counts_match_the_seeded_defects_exactly(demo_settings: Settings) -> None:
    import json

    cat = load_catalog(REPO)
    result = run_demo(demo_settings, cat, persons=300, seed=7)
    assert result.mismatches == []
    truth = json.loads(Path(result.truth_path).read_text(encoding="utf-8"))
    by_feed = {o.feed: o for o in result.outcomes}
    assert set(by_feed) == set(truth["feeds"]) == set(cat.feeds)
    for fid, ft in truth["feeds"].items():
        o = by_feed[fid]
        assert o.state == "published", (fid, o.error)
        assert o.rows_in == ft["rows"]
        assert o.rows_loaded == ft["expected_loaded"]  # rows with flagged ID numbers load
        assert o.rows_flagged == ft["expected_flagged"]
        assert o.rows_quarantined == len(ft["defects"]) - ft["expected_flagged"]
        assert o.rows_in == o.rows_loaded + o.rows_quarantined
    assert sum(len(ft["defects"]) for ft in truth["feeds"].values()) > 0
    engine = make_engine(demo_settings.warehouse_url)
    with engine.connect() as conn:
        ledger = conn.execute(text("SELECT count(*), sum(rows_in), sum(rows_loaded + rows_quarantined) "
                                   "FROM audit.batch WHERE state = 'published'")).one()
    assert ledger[0] == len(cat.feeds) and ledger[1] == ledger[2]
    assert Path(result.reports_index).exists()

    # Same city again without a fresh start: every batch is recognised and nothing changes.
    again = run_demo(demo_settings, cat, persons=300, seed=7, fresh=False)
    assert all(o.already_loaded for o in again.outcomes)
    assert again.mismatches == []


def test_cli_demo_prints_where_to_look(demo_settings: Settings) -> None:
    result = CliRunner().invoke(app, ["demo", "--persons", "120", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "Where to look" in result.output and "match the seeded defects" in result.output
    for feed in ("police.residents", "civil_affairs.households", "justice.disputes"):
        assert feed in result.output
