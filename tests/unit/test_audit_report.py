"""The auditors' HTML report: content, masking, offline self-containment, Data Docs links —
and what headless Chromium (Debian's chromium package) actually renders of it."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from exchange.audit import chain
from exchange.audit.report import scrub
from exchange.pipeline.reprocess import reprocess_quarantine
from exchange.runner import run_feed
from exchange.warehouse.engine import make_engine
from exchange.workspace.audit import audit_report
from tests.conftest import write
from tests.ledger_tampering import flip_one_byte
from tests.resident_ids import valid_ids_in
from tests.residents import BAD_ROWS, FEED, FLAGGED_ROWS, GOOD_ROWS, HEADER, TODAY

pytestmark = [pytest.mark.gx]  # not in `make check`: see the Makefile

CHROMIUM = os.environ.get("EXCHANGE_TEST_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
VALID_ID = "11010519491231002X"  # a real check character (see test_pipeline)
MOBILE = "13800138000"


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"CI=true: {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)


@pytest.fixture
def audited(project: Path, settings) -> dict:
    """One feed with quarantined rows, a reprocessing run, a grant change and an access log."""
    write(project / "feeds" / "police" / "residents.yaml", FEED)
    write(settings.landing_dir / "police" / "r.csv",
          HEADER + "\n".join(GOOD_ROWS + list(BAD_ROWS) + list(FLAGGED_ROWS)) + "\n")
    first = run_feed("police.residents", settings=settings, today=TODAY)
    reprocessed = reprocess_quarantine("police.residents", settings=settings, today=TODAY, requested_by="auditor-1")
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.begin() as conn:
        # A careless caller putting identifiers into a grant change: the report still masks them.
        chain.append(conn, "grant_change", "share_health/person", {
            "consumer": "health", "entity": "person", "action": "grant", "by": "admin",
            "columns": ["name", "gender"], "note": f"requested for {VALID_ID}, call {MOBILE}"})
    return {"first": first, "reprocessed": reprocessed, "engine": engine}


ACCESS = [  # consumer agency, kind of data, whose data, user, records returned, outcome
    ("health", "person_profile", "P-1", "u1", 3, "ok"),
    ("health", "person_profile", "P-2", "u1", 2, "ok"),
    ("health", "household", "H-1", "u2", 1, "ok"),
    ("health", "person_profile", "P-3", "u2", 0, "refused: no purpose given"),
    ("justice", "case", "C-1", "u9", 7, "ok"),
]


def _access_log(engine) -> None:
    """Reads in ``audit.access`` (the sharing migration creates it; its required columns get
    plausible values, so the test follows that table as it evolves)."""
    from sqlalchemy import MetaData, Table, inspect

    with engine.begin() as conn:
        if not inspect(conn).has_table("access", schema="audit"):
            conn.execute(text("CREATE TABLE audit.access (agency TEXT, entity TEXT, subject TEXT, user_id TEXT, "
                              "row_count INTEGER, outcome TEXT, accessed_at TIMESTAMP)"))
        table = Table("access", MetaData(), schema="audit", autoload_with=conn)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        for agency, entity, subject, user, n, outcome in ACCESS:
            row = {"agency": agency, "entity": entity, "subject": subject, "user_id": user, "row_count": n,
                   "outcome": outcome, "accessed_at": now, "status": 200 if outcome == "ok" else 403,
                   "channel": "api", "what": f"GET /profile/{subject}"}
            for c in table.columns:
                if c.name not in row and not c.nullable and not c.primary_key:
                    row[c.name] = 0 if "INT" in str(c.type).upper() else "x"
            conn.execute(table.insert().values({k: v for k, v in row.items() if k in table.c}))


def test_scrub_masks_identifier_shapes_only() -> None:
    out = scrub(f"id {VALID_ID} tel {MOBILE} code 91350100M000100Y43 batch police-residents-117021ada56fc213")
    assert VALID_ID not in out and "110105**********2X" in out
    assert MOBILE not in out and "138****8000" in out
    assert "91350100M000100Y43" not in out and "police-residents-117021ada56fc213" in out
    assert scrub("a" + "1" * 18 + "b") == "a" + "1" * 18 + "b"  # inside a hash: not an identifier


def test_report_content_masking_and_self_containment(audited: dict, settings) -> None:
    _access_log(audited["engine"])
    path = audit_report(since=dt.date.today() - dt.timedelta(days=1), settings=settings)
    html = path.read_text(encoding="utf-8")
    first, reprocessed = audited["first"], audited["reprocessed"]
    for expected in ("Agency: police", "police.residents", first.batch_id, reprocessed.batch_id, "reprocessing",
                     "resident_id.checksum", "key.duplicate", "Pass rate", "<svg", "<polyline", "intact",
                     "share_health/person", "auditor-1", "health", "justice"):
        assert expected in html, expected
    assert valid_ids_in(html) == [] and MOBILE not in html and "110105**********2X" in html
    for raw in ("赵六", "110105194912310021"):
        assert raw not in html, raw
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched from elsewhere
    links = re.findall(r'href="([^"]+)">Data Docs<', html)
    assert len(links) == 2 and all(not link.startswith("/") for link in links)
    assert all((path.parent / link).is_file() for link in links)
    health = re.search(r"<tr><td>health</td>((?:<td class=\"num\">[^<]*</td>)+)", html)
    numbers = re.findall(r">([^<]*)</td>", health.group(1))
    assert numbers == ["4", "1", "2", "2", "4", "6"]  # requests, refused, users, kinds, persons, records
    assert "<tr><td>justice</td><td class=\"num\">1</td>" in html


def test_report_with_a_broken_ledger(audited: dict, settings) -> None:
    flip_one_byte(audited["engine"], 2, "payload")
    html = audit_report(since=dt.date.today(), settings=settings).read_text(encoding="utf-8")
    assert "BROKEN" in html and "entry 2:" in html


def test_access_section_without_an_access_log(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from exchange.audit.report import access_counts
    from exchange.audit.report_html import _access

    engine = make_engine(f"sqlite:///{tmp_path / 'bare.db'}")  # namespaces attached, no tables at all
    with engine.connect() as conn:
        found = access_counts(conn, dt.datetime(2026, 1, 1), dt.datetime(2027, 1, 1))
    assert found == {"available": False, "rows": []}
    assert "no access log yet" in _access(SimpleNamespace(access=found))


def test_chromium_renders_the_report(audited: dict, settings, tmp_path: Path) -> None:
    _access_log(audited["engine"])
    path = audit_report(since=dt.date.today() - dt.timedelta(days=1), settings=settings)
    dom = chromium("--dump-dom", path.as_uri(), profile=tmp_path / "profile").stdout
    assert "<svg" in dom and dom.count("<circle") >= 1 and "Top failure reasons" in dom
    assert "police.residents" in dom and audited["first"].batch_id in dom
    text_only = re.sub(r"<[^>]+>", " ", dom)
    for words in ("Integrity of the record", "intact", "Grant changes", "Access per consumer", "justice",
                  "Reprocessed quarantine", "resolved (loaded)"):
        assert words in text_only, words
    assert valid_ids_in(dom) == [] and MOBILE not in dom
    shot = tmp_path / "report.png"
    chromium("--window-size=1280,1600", f"--screenshot={shot}", path.as_uri(), profile=tmp_path / "profile2")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_report_cli_names_the_file(audited: dict, settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from exchange.cli import app

    for var, value in (("EXCHANGE_HOME", settings.root), ("EXCHANGE_WAREHOUSE_URL", settings.warehouse_url),
                       ("EXCHANGE_REPORTS_DIR", settings.reports_dir)):
        monkeypatch.setenv(var, str(value))
    out = tmp_path / "r" / "audit.html"
    res = CliRunner().invoke(app, ["audit", "report", "--since", "2026-01-01", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.is_file() and "audit report" in res.output
    bad = CliRunner().invoke(app, ["audit", "report", "--since", "yesterday"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
