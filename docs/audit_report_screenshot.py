"""Regenerate ``docs/audit-report.png``: a few days of the demo city, a reprocessing run after a
mapping fix, then the auditors' report rendered by headless Chromium.

    .venv/bin/python docs/audit_report_screenshot.py [WORKDIR]

Everything happens in WORKDIR (default: a temporary folder) on the embedded SQLite warehouse.
The grant changes and API reads in it are simulated (written the way sharing writes them:
``chain.append(conn, "grant_change", …)`` and rows of ``audit.access``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(work: Path) -> Path:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    from sqlalchemy import MetaData, Table

    from exchange.audit import chain
    from exchange.spec.catalog import load_catalog
    from exchange.spec.settings import Settings
    from exchange.warehouse.engine import make_engine
    from exchange.workspace.audit import audit_report
    from exchange.workspace.batches import reprocess_quarantine
    from exchange.workspace.demo import run_demo

    shutil.rmtree(work, ignore_errors=True)
    home = work / "home"
    home.mkdir(parents=True)
    for name in ("schemas", "feeds", "grants"):
        if (REPO / name).exists():
            shutil.copytree(REPO / name, home / name)
    os.environ.update({"EXCHANGE_HOME": str(home), "EXCHANGE_WAREHOUSE_URL": f"sqlite:///{work}/exchange.db",
                       "EXCHANGE_LANDING_DIR": str(work / "landing"), "EXCHANGE_STAGING_DIR": str(work / "staging"),
                       "EXCHANGE_REPORTS_DIR": str(work / "reports")})
    settings = Settings.from_env(home)
    for day, seed in enumerate((20261124, 20261125, 20261126, 20261127)):
        print(f"day {day + 1}: demo city with seed {seed}")
        run_demo(settings, load_catalog(home), persons=600, seed=seed, fresh=day == 0, say=lambda _m: None)

    # The civil affairs bureau added a household type; the feed's mapping is fixed, then reprocessed.
    feed = home / "feeds" / "civil_affairs" / "households.yaml"
    fixed = feed.read_text(encoding="utf-8").replace("集体户: collective}", "集体户: collective, 临时户: collective}")
    feed.write_text(fixed, encoding="utf-8")
    out = reprocess_quarantine("civil_affairs.households", settings=settings, catalog=load_catalog(home),
                               requested_by="data-engineer li")
    print(f"reprocessed: {out.rows_in} rows, {out.rows_loaded} loaded, {out.rows_quarantined} still quarantined")

    engine = make_engine(settings.warehouse_url, root=home)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        for consumer, action, what in (("health", "grant", "share_health.person: name, gender, birth_date (masked)"),
                                       ("justice", "grant", "share_justice.case, share_justice.case_party"),
                                       ("health", "revoke", "share_health.special_population")):
            chain.append(conn, "grant_change", f"{consumer}:{what.split(':')[0].split(',')[0]}",
                         {"consumer": consumer, "action": action, "what": what, "by": "grants/ review #12"})
        access = Table("access", MetaData(), schema="audit", autoload_with=conn)
        reads = [("health", "person_profile", f"PU{i:06d}", "doctor-wang", 1, "ok") for i in range(23)]
        reads += [("justice", "case", f"C{i:05d}", "mediator-zhao", 3, "ok") for i in range(9)]
        reads += [("justice", "person_profile", "PU000001", "mediator-zhao", 0, "refused: not granted")]
        for agency, entity, subject, user, n, outcome in reads:
            conn.execute(access.insert().values(
                accessed_at=now, agency=agency, user_id=user, purpose="case work", channel="api",
                what=f"GET /{entity}/{subject}", entity=entity, subject=subject, row_count=n,
                status=200 if outcome == "ok" else 403, outcome=outcome))
    engine.dispose()

    report = audit_report(since=now.date() - dt.timedelta(days=7), settings=settings, catalog=load_catalog(home))
    png = REPO / "docs" / "audit-report.png"
    from docs.chromium import screenshot

    screenshot(report, png, work / "chromium", width=1280, height=1500)
    print(f"report {report}\nscreenshot {png}")
    return png


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="audit-report-")))
