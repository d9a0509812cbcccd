"""Regenerate ``docs/ops-health.png`` and ``docs/ops-alert.png``: the demo city, then a day of
operations — hours pass (the hourly feeds go late), the mediation API goes away (its feed fails before
any batch exists), one feed's usual volume is declared far above what arrives (degraded) — the health
page, and the e-mail ``exchange ops check`` sends, caught by a local SMTP server, both rendered by
headless Chromium.

    .venv/bin/python docs/ops_screenshot.py [WORKDIR]
"""

from __future__ import annotations

import datetime as dt
import html
import os
import shutil
import socket
import sys
import tempfile
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def shoot(page: Path, png: Path, work: Path, height: int) -> None:
    from docs.chromium import screenshot

    screenshot(page, png, work / "chromium", width=1400, height=height)


def main(work: Path) -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    from aiosmtpd.controller import Controller

    from exchange.ops.page import health_page
    from exchange.spec.catalog import load_catalog
    from exchange.spec.settings import Settings
    from exchange.workspace import ops
    from exchange.workspace.batches import run_tolerant
    from exchange.workspace.demo import run_demo

    shutil.rmtree(work, ignore_errors=True)
    home = work / "home"
    home.mkdir(parents=True)
    for name in ("schemas", "feeds", "grants"):
        shutil.copytree(REPO / name, home / name)
    # the demo's own expectations, and one feed told to expect far more rows than it sends
    organizations = home / "feeds" / "market_regulation" / "organizations.yaml"
    organizations.write_text(organizations.read_text(encoding="utf-8") + "usual: {rows: 2000}\n", encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mails: list[Any] = []

    class Box:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            mails.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    smtp = Controller(Box(), hostname="127.0.0.1", port=port)
    smtp.start()
    os.environ.update({"EXCHANGE_HOME": str(home), "EXCHANGE_WAREHOUSE_URL": f"sqlite:///{work}/exchange.db",
                       "EXCHANGE_LANDING_DIR": str(work / "landing"), "EXCHANGE_STAGING_DIR": str(work / "staging"),
                       "EXCHANGE_REPORTS_DIR": str(work / "reports"),
                       "EXCHANGE_CONN_OPS_MAIL": f"smtp://127.0.0.1:{port}?from=exchange@data.city.gov.cn"
                                                 "&to=oncall@data.city.gov.cn",
                       "EXCHANGE_ALERT_ROUTES": "ops_mail"})
    settings = Settings.from_env(home)
    catalog = load_catalog(home)
    try:
        run_demo(settings, catalog, persons=600, fresh=True, say=lambda _m: None)
        # the mediation centre's API is gone (the demo served it): the next run fails before any batch
        out: Any = None
        try:
            run_tolerant("justice.disputes", settings, catalog)
        except Exception as exc:  # noqa: BLE001 - the failure is the point
            out = exc
        print(f"justice.disputes without its API: {type(out).__name__}")
        later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=9)
        result = ops.check(settings=settings, catalog=catalog, now=later, verify_ledger=True)
        print(f"fired {result.fired}")
        page = work / "health.html"
        page.write_text(health_page(result.health, generated=later, warehouse="sqlite (demo city)"),
                        encoding="utf-8")
        shoot(page, REPO / "docs" / "ops-health.png", work, 1100)
        mail = next(m for m in mails if "failing" in m["Subject"])
        frame = work / "alert.html"
        frame.write_text(
            "<!doctype html><meta charset=utf-8><body style='font:14px system-ui,sans-serif;margin:24px'>"
            "<div style='border:1px solid #d1d9e0;border-radius:6px;max-width:900px'>"
            "<div style='background:#f6f8fa;padding:10px 14px;border-bottom:1px solid #d1d9e0'>"
            + "".join(f"<div><b>{k}:</b> {html.escape(str(mail[k]))}</div>" for k in ("From", "To", "Subject"))
            + f"</div><pre style='padding:14px;white-space:pre-wrap;margin:0'>{html.escape(mail.get_content())}</pre>"
            "</div></body>", encoding="utf-8")
        shoot(frame, REPO / "docs" / "ops-alert.png", work, 520)
        print(f"{len(mails)} mail(s); screenshots in docs/ops-health.png and docs/ops-alert.png")
    finally:
        smtp.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ops-screenshot-")))
