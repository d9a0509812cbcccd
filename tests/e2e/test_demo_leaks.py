"""A plain ``exchange -v demo`` (no Airflow) leaves no resident ID number and no secret in its logs,
its output, the reports or staging's JSON — the fast counterpart of
``tests/integration/test_no_leaks.py``.

The mediation API takes its token as a query parameter (``?key=…``, in every request URL), and
the environment holds an API admin key and a pseudonym key, so there is something to leak.
Debug logging of every library goes to a file, as ``-v`` would print it. Out of scope: the staged
Parquet files and the warehouse (they are the data) and the agencies' landing files — which the
test checks do hold valid ID numbers.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO


@pytest.mark.slow
def test_plain_demo_leaves_no_id_number_or_secret_in_logs_output_or_reports(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from exchange.audit.leaks import LeakScanner, secrets_from_env
    from exchange.cli import app
    from exchange.demo import sources

    env = {
        "EXCHANGE_HOME": str(REPO), "EXCHANGE_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'wh' / 'exchange.db'}",
        "EXCHANGE_LANDING_DIR": str(tmp_path / "landing"), "EXCHANGE_STAGING_DIR": str(tmp_path / "staging"),
        "EXCHANGE_REPORTS_DIR": str(tmp_path / "reports"),
        "EXCHANGE_API_ADMIN_KEY": secrets.token_urlsafe(24), "EXCHANGE_PSEUDONYM_KEY": secrets.token_urlsafe(24),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    token = "demo-" + secrets.token_urlsafe(24)

    class _Tokens:  # the API's token, known to the test (the demo makes one up per run)
        @staticmethod
        def token_urlsafe(_n: int = 16) -> str:
            return token

    monkeypatch.setattr(sources, "secrets", _Tokens)
    monkeypatch.setattr(sources, "API_AUTH", "param")

    log_file = tmp_path / "exchange.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    # every line of every library, whatever an earlier import set (Airflow's puts httpx at WARNING)
    loggers = [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.NOTSET)
        lg.disabled = False
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    runner = CliRunner()
    outputs = tmp_path / "cli"
    outputs.mkdir()
    try:
        for name, args in (("demo", ["-v", "demo", "--persons", "200", "--seed", "11"]),
                           ("batches", ["batches", "--limit", "50"]),
                           ("audit-report", ["audit", "report", "--since", "2000-01-01"]),
                           ("audit-verify", ["audit", "verify"])):
            result = runner.invoke(app, args)
            (outputs / f"{name}.txt").write_text(result.output, encoding="utf-8")
            assert result.exit_code == 0, (name, result.output[-3000:], result.exception)
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(level)
        for lg, lvl, disabled in saved:
            lg.setLevel(lvl)
            lg.disabled = disabled

    demo_output = (outputs / "demo.txt").read_text(encoding="utf-8")
    assert "justice.disputes" in demo_output and "market_regulation.organizations" in demo_output
    log_text = log_file.read_text(encoding="utf-8")
    assert "HTTP Request: GET" in log_text and "key=***" in log_text, "the API was called with its token"

    scanner = LeakScanner({**secrets_from_env(env), "demo API token": token})
    assert scanner.secret_count == 3 and not scanner.ignored_secrets
    assert scanner.scan_text(f"GET /api/v1/disputes?key={token}"), "the scanner looks for the API token"
    landing = scanner.scan_paths([tmp_path / "landing"])
    assert sum(f.kind == "resident_id" for f in landing.findings) > 100, "the agencies' data holds valid IDs"

    result = scanner.scan_paths([log_file, outputs, tmp_path / "reports", tmp_path / "staging"])
    assert any(p.endswith(".html") and "/validations/" in p for p in result.scanned), "GX Data Docs pages"
    assert any(p.endswith("audit-report.html") for p in result.scanned)
    assert sum(p.endswith("validation.json") for p in result.scanned) >= 10
    assert result.findings == [], "secrets or ID numbers leaked (masked excerpts):\n" + "\n".join(
        str(f) for f in result.findings[:60])
