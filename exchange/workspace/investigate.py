"""The investigation component: element search, a person's timeline and relation graph
(``exchange.investigate``), each through a grant and each on record in ``audit.access``.

The faces call these with the caller's agency (``None``: the operator, who sees everything as
stored); the API's gate calls :func:`run_tool` with the agency its key belongs to. Every use leaves
one ``audit.access`` row: who, the purpose, the query (identifiers masked) and how many results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exchange.errors import ConfigError
from exchange.spec.settings import Settings
from exchange.warehouse.engine import reading
from exchange.workspace.record import _on_record, _operator_record
from exchange.workspace.space import workspace

TOOLS = ("search", "timeline", "graph")


@dataclass(frozen=True)
class ToolRequest:
    tool: str
    ident: str
    """The search text, or the person (person_uid or ID number)."""
    kind: str | None = None
    depth: int = 1
    fan_out: int = 25
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    limit: int = 50

    def what(self) -> str:
        from exchange.investigate.query import recorded

        if self.tool == "search":
            return f"search {recorded(self.ident)}" + (f" kind={self.kind}" if self.kind else "")
        return f"{self.tool} {self.ident}" + (f" depth={self.depth}" if self.tool == "graph" else "")


def _lens(ws: Any, agency: str | None) -> Any:
    from exchange.access.lens import Lens
    from exchange.access.masks import KEY_ENV, consumer_key, master_key
    from exchange.workspace.sharing import load_grants

    if agency is None:
        return Lens(None)
    grants = ws.cached("grants", lambda: load_grants(ws.settings, ws.catalog))
    grant = grants.grants.get(agency)
    if grant is None:
        raise ConfigError(f"--agency {agency}: no grant (known: {', '.join(sorted(grants.grants))})")
    import os

    # without the pseudonym key, pseudonymised columns are left out (as the profile leaves them)
    key = consumer_key(master_key(dict(os.environ)), agency) if os.environ.get(KEY_ENV) else None
    return Lens(grant, key)


def run_tool(engine: Any, ws: Any, lens: Any, req: ToolRequest) -> tuple[dict[str, Any] | None, int, str | None]:
    """(answer or None for "not found", result count, subject) of one request through ``lens``."""
    from exchange.investigate.elements import lag
    from exchange.investigate.graph import Limits, graph
    from exchange.investigate.persons import subject, timeline
    from exchange.investigate.search import search

    if req.tool not in TOOLS:
        raise ConfigError(f"unknown tool {req.tool!r} (known: {', '.join(TOOLS)})")
    schemas = ws.catalog.schemas

    def answer(conn: Any) -> tuple[dict[str, Any] | None, int, str | None]:
        if req.tool == "search":
            result = search(conn, lens, schemas, req.ident, req.kind, limit=req.limit)
            # the index follows published batches: a search tells how many it has yet to take, of the
            # tables the caller may see (another agency's table's loads are none of its business)
            behind = lag(conn, [schemas[name] for name in lens.entities(schemas)])
            return {**result.as_dict(), "index_behind": behind}, result.hits, None
        who = subject(conn, lens, req.ident)
        if who is None:
            return None, 0, None
        if req.tool == "timeline":
            entries = timeline(conn, lens, schemas, who, req.start, req.end)
            return ({"person_uid": who.person_uid, "label": who.label, "merged_from": who.followed,
                     "entries": entries}, len(entries), who.person_uid)
        limits = Limits(depth=req.depth, fan_out=req.fan_out)
        out = graph(conn, lens, schemas, who, limits)
        return out, len(out["edges"]), who.person_uid

    with reading(engine) as conn:
        return answer(conn)


def investigate(req: ToolRequest, *, agency: str | None = None, settings: Settings | None = None,
                purpose: str | None = None, case_number: str | None = None) -> dict[str, Any] | None:
    """``exchange search|timeline|graph``: the operator's use, as ``agency`` sees it when given (a preview
    of that agency's answer), on record in ``audit.access`` (channel ``cli``)."""
    record = _operator_record("cli", req.what() + (f" as {agency}" if agency else ""), req.tool, purpose,
                              case_number)
    return operator_tool(record, settings, agency, lambda engine, ws, lens: run_tool(engine, ws, lens, req))


ToolRun = Callable[[Any, Any, Any], tuple[Any, int, str | None]]
"""(engine, workspace, lens) → (answer or None for "not found", result count, subject)."""


def operator_tool(record: Any, settings: Settings | None, agency: str | None, run: ToolRun) -> Any:
    """An operator's use of an investigation tool (``exchange search``, ``collide``, ``companions``…) as
    ``agency`` sees it when given: the warehouse's tables and the tools' indexes made ready, ``run``
    through the lens, its outcome on ``record`` (an ``audit.access`` row written whatever happens)."""
    from exchange.investigate import elements

    with workspace(settings) as ws, _on_record(ws.settings, record) as engine:
        ws.migrated(ws.all_schemas())  # every entity's table, empty where no feed loaded it yet
        ws.cached("investigate.indexes", lambda: elements.ensure(engine))
        found, count, subject = run(engine, ws, _lens(ws, agency))
        record.status, record.outcome = (200, "ok") if found is not None else (404, "not found")
        record.row_count, record.subject = count, subject
        return found


def reindex(settings: Settings | None = None, say: Any = None, *, rebuild: bool = False) -> dict[str, int]:
    """``exchange search-index``: the element index brought up to every published batch (the watermark's
    missing ones), or with ``rebuild`` built again from every entity table; what Airflow's
    ``exchange.index_elements`` DAG runs on the core tables' assets."""
    from exchange.investigate import elements

    with workspace(settings) as ws:
        engine = ws.migrated(ws.all_schemas())
        said = {"say": say} if say else {}
        if rebuild:
            elements.ensure(engine)
            return elements.rebuild(engine, ws.all_schemas(), **said)
        elements.ensure_tables(engine)  # an index on a core table would wait for the loads under way
        wait = max(ws.settings.lock_wait, elements.WAIT)
        return elements.catch_up(engine, ws.all_schemas(), wait_seconds=wait, **said)


def recorded_query(text: str) -> str:
    """A search text as it goes on record (identifiers masked)."""
    from exchange.investigate.query import recorded

    return recorded(text)
