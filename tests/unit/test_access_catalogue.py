"""The consumers' catalogue: every shared view with fields, PII classes, masks, owner agencies,
freshness and quality; as a Rich table (``exchange catalog``) and a self-contained HTML page."""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any

import pytest
from typer.testing import CliRunner

from exchange.access import catalogue
from exchange.access.spec import load_grants
from exchange.formats import load_division_codes
from exchange.spec.catalog import load_catalog
from tests.conftest import REPO

T0 = dt.datetime(2026, 11, 20, 8, 0)


def _batch(feed: str, n: int, state: str, rows_in: int, rows_valid: int) -> dict[str, Any]:
    at = T0 + dt.timedelta(days=n)
    return {"batch_id": f"{feed}-{n}", "feed": feed, "state": state, "rows_in": rows_in, "rows_valid": rows_valid,
            "started_at": at, "finished_at": at}


def test_build_lists_every_view_with_owner_freshness_and_quality() -> None:
    cat = load_catalog(REPO)
    grants = load_grants(REPO, cat.schemas, cat.allowed, divisions=load_division_codes())
    feeds = {fid: (f.agency, f.target_schema) for fid, f in cat.feeds.items()}
    batches = [_batch("police.residents", i, "published", 100, 90 + i) for i in range(7)]
    batches.append(_batch("police.residents", 8, "failed", 100, 10))
    batches.append(_batch("civil_affairs.members", 1, "published", 50, 50))
    entries = catalogue.build(grants, feeds, batches)
    assert len(entries) == sum(len(g.entities) for g in grants)
    person = next(e for e in entries if e.view == "share_civil_affairs.person")
    assert person.owners == ["civil_affairs", "police"]
    assert person.last_published == T0 + dt.timedelta(days=6)
    residents = next(f for f in person.feeds if f.feed == "police.residents")
    assert residents.batches == 5  # the last five batches, the failed one included
    assert residents.rows_in == 500 and residents.rows_valid == 10 + 96 + 95 + 94 + 93
    masks = {f.name: (f.pii, f.mask) for f in person.fields}
    assert masks["id_number"] == ("direct_identifier", "partial (id)")
    assert masks["name"] == ("direct_identifier", "full")
    assert "ethnicity" in person.hidden and "ethnicity" not in masks
    only = catalogue.build(grants, feeds, batches, agency="health", dialect="sqlite")
    assert {e.view for e in only} == {"core.share_health__compound", "core.share_health__special_population"}


def test_html_is_self_contained_and_escaped() -> None:
    cat = load_catalog(REPO)
    grants = load_grants(REPO, cat.schemas, cat.allowed, divisions=load_division_codes())
    entries = catalogue.build(grants, {"police.residents": ("police", "person")}, [])
    entries[0].description = "<script>alert(1)</script>"
    page = catalogue.to_html(entries, generated=T0, warehouse="sqlite", enforced=False)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "nothing is enforced" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
    for e in entries:
        assert e.view in page


@pytest.fixture
def runner_env(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    shutil.copytree(REPO / "grants", settings.root / "grants")
    monkeypatch.setenv("EXCHANGE_HOME", str(settings.root))
    return settings


def test_cli_catalog_table_and_html(runner_env: Any, tmp_path: Any) -> None:
    from exchange.cli import app

    res = CliRunner().invoke(app, ["catalog", "--agency", "police_hanbin"])
    assert res.exit_code == 0, res.output
    assert "core.share_police_hanbin__case_party" in res.output and "SQLite enforces nothing" in res.output
    out = tmp_path / "catalog.html"
    res = CliRunner().invoke(app, ["catalog", "--html", str(out)])
    assert res.exit_code == 0, res.output
    assert "core.share_police__person" in out.read_text(encoding="utf-8")
    res = CliRunner().invoke(app, ["catalog", "--agency", "x'; DROP TABLE audit.batch; --"])
    assert res.exit_code == 2 and "unknown consumer agency" in res.output
