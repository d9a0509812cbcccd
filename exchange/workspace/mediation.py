"""The mediation component: the dispute-mediation centre's queues — each window's open disputes by step,
its overdue ones, those done lately (``exchange.investigate.mediation``) — through a grant and on record
in ``audit.access``. ``exchange mediation`` is the operator's use (as an agency with ``--agency``);
``GET /mediation`` and ``/console/mediation`` go through the gate with the caller's grant."""

from __future__ import annotations

import datetime as dt
from typing import Any

from exchange.errors import ConfigError
from exchange.spec.settings import Settings
from exchange.warehouse.engine import reading
from exchange.workspace.investigate import operator_tool
from exchange.workspace.record import _operator_record

TOOL = "mediation"


def _as_of(value: Any) -> dt.datetime:
    from exchange.investigate.persons import as_datetime
    from exchange.pipeline.stamps import now

    if value in (None, ""):
        return now()
    moment = as_datetime(value)
    if moment is None:
        raise ConfigError(f"as_of {value!r}: give a date or time like 2026-12-01")
    if (isinstance(value, dt.date) and not isinstance(value, dt.datetime)) or len(str(value)) == 10:
        moment = moment + dt.timedelta(days=1)  # a day: as it stood at its end
    return moment


def described(params: dict[str, Any]) -> str:
    return "mediation queues" + (f" window {params['window']}" if params.get("window") else "") + \
        (f" as of {params['as_of']}" if params.get("as_of") else "")


def run_mediation(engine: Any, ws: Any, lens: Any, params: dict[str, Any]) -> tuple[dict[str, Any], int, None]:
    from exchange.investigate import mediation

    windows = list(ws.catalog.codes["dispute_category"].values)
    window = params.get("window") or None
    if window is not None and window not in windows:
        raise ConfigError(f"window {window!r}: one of {', '.join(windows)}")
    limits = ws.cached("mediation.limits", lambda: mediation.load_limits(ws.settings.root, windows))
    as_of = _as_of(params.get("as_of"))
    with reading(engine) as conn:
        found = mediation.flows(conn, lens, as_of, window)
    out = mediation.queues(found, limits, as_of, [window] if window else windows)
    out["labels"] = {name: dict(ws.catalog.codes[name].values) for name in ("dispute_category", "mediation_step")}
    return out, out["total_overdue"], None


def mediation_queues(window: str | None = None, as_of: Any = None, *, agency: str | None = None,
                     settings: Settings | None = None, purpose: str | None = None,
                     case_number: str | None = None) -> dict[str, Any]:
    """``exchange mediation``: the operator's use (as ``agency`` sees it when given), on record."""
    params = {"window": window, "as_of": as_of}
    record = _operator_record("cli", described(params) + (f" as {agency}" if agency else ""), TOOL, purpose,
                              case_number)
    return operator_tool(record, settings, agency, lambda engine, ws, lens: run_mediation(engine, ws, lens, params))
