"""The serial-case component (智能串并): candidate series of police cases (``exchange.investigate.series``)
and the analyst's decisions on their links, through a grant and on record in ``audit.access``.

``exchange series find`` is the operator's use (as an agency sees it with ``--agency``); ``GET /series``
goes through the API's gate, which calls :func:`run_series` with the caller's grant. A decision
(``exchange series confirm|reject``, ``POST /series/decisions``) needs the decider to see both cases; it
is stored in ``mdm.series_decision`` and written to the ledger (kind ``series_decision``) in one
transaction, and it leaves its ``audit.access`` row like every use.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from exchange.errors import ConfigError
from exchange.spec.settings import Settings
from exchange.warehouse.engine import reading
from exchange.workspace.investigate import operator_tool
from exchange.workspace.record import _operator_record

TOOL = "series"
DECIDE = "series.decide"
DEFAULT_DAYS = 365
LABELLED = ("offence", "mo_entry", "mo_target")
"""Code lists whose labels (入室盗窃…) come with the answer, for the faces to show."""


def _moment(value: Any, name: str) -> dt.datetime:
    from exchange.investigate.persons import as_datetime

    moment = as_datetime(value)
    if moment is None:
        raise ConfigError(f"{name} {value!r}: give a date like 2026-01-31")
    return moment


def window_of(params: dict[str, Any], today: dt.date | None = None) -> Any:
    """The window of a request: ``end`` (default: tomorrow, so today's cases count), ``start`` (default a
    year before the end), ``offence`` (a code of the ``offence`` list, or none)."""
    from exchange.investigate.series_read import Window

    end = _moment(params["end"], "end") if params.get("end") else \
        dt.datetime.combine((today or dt.date.today()) + dt.timedelta(days=1), dt.time())
    start = _moment(params["start"], "start") if params.get("start") else end - dt.timedelta(days=DEFAULT_DAYS)
    window = Window(start, end, params.get("offence") or None)
    window.check()
    return window


def described(params: dict[str, Any]) -> str:
    """The request as it goes on record: the window and the offence (no identifier)."""
    try:
        w = window_of(params)
    except ConfigError:
        return "series (window not readable)"
    return f"series from {w.start:%Y-%m-%d} to {w.end:%Y-%m-%d}" + (f" offence {w.offence}" if w.offence else "")


def run_series(engine: Any, ws: Any, lens: Any, params: dict[str, Any]) -> tuple[dict[str, Any], int, None]:
    """(candidate series, how many, no single subject) through ``lens``, with the decisions taken so far."""
    from exchange.investigate import series, series_decisions, series_read

    window = window_of(params)
    series_decisions.ensure(engine)
    with reading(engine) as conn:
        cases, cut = series_read.read_cases(conn, lens, window)
        links, pairs, weights = series.score_pairs(cases, series_decisions.decided(conn))
    out = series_read.answer(cases, cut, links, pairs, window)
    out["weights"] = weights.evidence()
    out["labels"] = {name: dict(ws.catalog.codes[name].values) for name in LABELLED if name in ws.catalog.codes}
    return out, out["total"], None


def find_series(start: Any = None, end: Any = None, offence: str | None = None, *, agency: str | None = None,
                settings: Settings | None = None, purpose: str | None = None,
                case_number: str | None = None) -> dict[str, Any]:
    """``exchange series find``: the operator's use, as ``agency`` sees it when given, on record in
    ``audit.access`` (channel ``cli``)."""
    params = {"start": start, "end": end, "offence": offence}
    record = _operator_record("cli", described(params) + (f" as {agency}" if agency else ""), TOOL, purpose,
                              case_number)
    return operator_tool(record, settings, agency, lambda engine, ws, lens: run_series(engine, ws, lens, params))


def _case(conn: Any, lens: Any, ident: str) -> Any:
    """The one case ``ident`` names for the caller (a case number, or AGENCY/RECORD), or None."""
    from exchange.access.lens import read_rows

    ident = ident.strip()
    if "/" in ident:
        agency, record = ident.split("/", 1)
        rows = read_rows(conn, lens, "case", "source_agency = :a AND source_record_id = :r",
                         {"a": agency, "r": record})
    else:
        rows = read_rows(conn, lens, "case", "case_number = :n", {"n": ident})
    if len(rows) > 1:
        keys = ", ".join(f"{r.key[0]}/{r.key[1]}" for r in rows)
        raise ConfigError(f"case {ident!r} is not unique ({keys}): name it as AGENCY/RECORD")
    return rows[0] if rows else None


def run_decision(engine: Any, ws: Any, lens: Any, params: dict[str, Any]) -> tuple[dict[str, Any] | None, int,
                                                                                   None]:
    """Record a decision on the link between cases ``a`` and ``b`` (None: the caller does not see both)."""
    from exchange.audit import chain
    from exchange.investigate import series_decisions
    from exchange.pipeline.stamps import now

    what = str(params.get("decision") or "")
    if what not in series_decisions.DECISIONS:
        raise ConfigError(f"decision {what!r}: one of {', '.join(series_decisions.DECISIONS)}")
    series_decisions.ensure(engine)
    with engine.begin() as conn:
        a, b = _case(conn, lens, str(params["a"])), _case(conn, lens, str(params["b"]))
        if a is None or b is None:
            return None, 0, None
        by = f"{lens.consumer}/{params.get('user') or '-'}"  # the agency whose grant was used, and who
        row = series_decisions.record(conn, a.key, b.key, what, by=by, reason=params.get("reason"),
                                      case_number=params.get("case_number"), at=now())
        pair = f"{row['a_agency']}/{row['a_record']}~{row['b_agency']}/{row['b_record']}"
        entry = chain.append(conn, "series_decision", pair, {
            "a": f"{row['a_agency']}/{row['a_record']}", "b": f"{row['b_agency']}/{row['b_record']}",
            "decision": what, "by": by, "reason": row["reason"], "case_number": row["case_number"]})
    return {"a": a.raw["case_number"], "b": b.raw["case_number"], "decision": what, "by": by,
            "reason": row["reason"], "ledger_seq": entry.seq}, 1, None


def decide_link(a: str, b: str, decision: str, *, reason: str | None = None, agency: str | None = None,
                settings: Settings | None = None, purpose: str | None = None,
                case_number: str | None = None) -> dict[str, Any] | None:
    """``exchange series confirm|reject A B``: the operator's decision (as ``agency`` when given: it must
    see both cases), stored, in the ledger and on record in ``audit.access``; None when a case is unknown."""
    from exchange.access.operator import Operator

    record = _operator_record("cli", f"series {decision} {a} {b}" + (f" as {agency}" if agency else ""), DECIDE,
                              purpose, case_number)
    params = {"a": a, "b": b, "decision": decision, "reason": reason, "user": Operator.current().user,
              "case_number": case_number}
    return operator_tool(record, settings, agency, lambda engine, ws, lens: run_decision(engine, ws, lens, params))
