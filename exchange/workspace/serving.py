"""The profile service a face serves: the gate (keys, purpose, grant, access log) around the person
profile, as plain callables. ``exchange.api.serve`` wraps them in the FastAPI app; nothing here knows
HTTP."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exchange import linking
from exchange.access.gate import ProfileGate
from exchange.access.gate import Request as GateRequest
from exchange.access.keys import check_admin_key
from exchange.access.masks import KEY_ENV, master_key
from exchange.access.profile import evidence_columns
from exchange.spec.coroutines import run_inline
from exchange.spec.settings import Settings
from exchange.warehouse.dialects import dialect_of
from exchange.warehouse.engine import make_engine
from exchange.warehouse.load import ensure_tables
from exchange.workspace.console import ConsoleAccounts
from exchange.workspace.sharing import load_grants
from exchange.workspace.space import Workspace


@dataclass
class ProfileService:
    """``profile(ident, evidence)`` reads a profile; ``gate(info)`` answers a request through the sharing
    gate (``(status, json)``; awaitable on PostgreSQL); ``on_other(info, status)`` records any other
    request; ``lifespan`` is the server lifespan the service needs (its connection pool), if any."""

    settings: Settings
    admin_key: str | None
    profile: Callable[[str, bool], Any]
    gate: Callable[..., Any]
    on_other: Callable[..., Any]
    lifespan: Callable[[Any], Any] | None = None
    tools: Callable[..., Any] | None = None
    """``tools(info, tool, params)``: an investigation request (search, timeline, graph) or an auditor's
    page (``audit.*``) through the gate."""
    console: Any = None
    """The web console's accounts and sessions (``exchange.workspace.console.ConsoleAccounts``)."""


def profile_service(settings: Settings | None = None, *, admin_key: str | None = None) -> ProfileService:
    """The profile API's service on the warehouse. The admin key comes from ``EXCHANGE_API_ADMIN_KEY``
    unless given; a weak one refuses to start (``check_admin_key``)."""
    settings = settings or Settings.from_env()
    engine = make_engine(settings.warehouse_url, root=settings.root)
    postgres = not dialect_of(engine).embedded  # a server: the async gate on its own pool
    linking.ensure_mdm_tables(engine)
    ensure_tables(engine, [])  # audit.access and audit.api_key (versioned migrations)
    key = admin_key if admin_key is not None else os.environ.get("EXCHANGE_API_ADMIN_KEY")
    check_admin_key(key)  # a weak admin key: the API refuses to start
    # Sharing: per-agency API keys (audit.api_key), a purpose on every request, the agency's grant
    # (masks and rows) applied to the profile, every request in audit.access.
    grants = load_grants(settings)
    master = master_key() if os.environ.get(KEY_ENV) else None
    tool_space = Workspace(settings)  # the catalog the investigation tools read (never entered: no engine)
    from exchange.investigate import elements

    ensure_tables(engine, tool_space.all_schemas())  # every entity's table: the tools read them all
    elements.ensure(engine)  # the element index and the lookups' indexes
    reader = linking.ProfileReader(evidence_columns=evidence_columns(grants))
    rank = linking.load_link_config(settings.root).survivorship.rank

    def profile(ident: str, evidence: bool = False) -> Any:
        with engine.connect() as conn:
            return reader.profile(conn, ident, evidence)

    if not postgres:  # the embedded default: the blocking gate, run in the server's thread pool
        gate = ProfileGate(engine, grants, profile, master=master, admin_key=key, rank=rank)

        def through_gate(info: dict[str, Any]) -> tuple[int, str]:
            answer = gate.handle(GateRequest(**info))
            return answer.status, answer.json()

        def other(info: dict[str, Any], status: int) -> None:
            gate.handle_other(GateRequest(**info), status)

        def tools(info: dict[str, Any], tool: str, params: dict[str, Any]) -> tuple[int, str]:
            answer = run_inline(gate.respond_tool(GateRequest(**info), gate.blocking_io, tool,
                                                  _tool_runner(tool_space, engine, tool, info, params,
                                                               threaded=False)))
            return answer.status, answer.json()

        return ProfileService(settings, key, profile, through_gate, other, tools=tools,
                              console=ConsoleAccounts(engine, grants))

    # PostgreSQL: every request on the worker's event loop over pooled asynchronous connections
    # (exchange.access.gate_pg): the key lookup, the profile statement the database builds as JSON
    # (served to the admin key as it comes) and the audit.access row, one autocommitted statement
    # each — flushed to disk before the answer unless EXCHANGE_ACCESS_LOG_SYNC=off.
    from exchange.access.gate_pg import AsyncPgGateIO

    engine.dispose()  # it served the migrations; requests use the pool below (no idle connection per worker)
    pg_gate = ProfileGate(None, grants, master=master, admin_key=key, rank=rank)
    pg = AsyncPgGateIO(settings.warehouse_url, reader.profile_json_async, sync_commit=settings.access_log_sync)

    async def through_async_gate(info: dict[str, Any]) -> tuple[int, str]:
        answer = await pg_gate.respond(GateRequest(**info), pg.io)
        return answer.status, answer.json()

    async def other_async(info: dict[str, Any], status: int) -> None:
        await pg_gate.record_other(GateRequest(**info), status, pg.io)

    # the investigation tools are synchronous: a small pool of their own, run off the event loop
    tool_engine = make_engine(settings.warehouse_url, root=settings.root)

    async def tools_async(info: dict[str, Any], tool: str, params: dict[str, Any]) -> tuple[int, str]:
        answer = await pg_gate.respond_tool(GateRequest(**info), pg.io, tool,
                                            _tool_runner(tool_space, tool_engine, tool, info, params))
        return answer.status, answer.json()

    return ProfileService(settings, key, profile, through_async_gate, other_async, pg.lifespan, tools=tools_async,
                          console=ConsoleAccounts(tool_engine, grants))


def _component(ws: Any, engine: Any, tool: str, info: dict[str, Any], params: dict[str, Any]
               ) -> tuple[Any, tuple[Any, ...]]:
    """The function that answers ``tool`` and its arguments but the lens: each component's own entry."""
    from exchange.workspace import area_map, collide, mediation, series, watch
    from exchange.workspace.investigate import ToolRequest, run_tool

    ident = info["ident"]
    by_tool: dict[str, tuple[Any, Any]] = {
        collide.TOOL: (collide.run_collide, params),
        collide.COMPANIONS: (collide.run_companions, {**params, "ident": ident}),
        series.TOOL: (series.run_series, params),
        mediation.TOOL: (mediation.run_mediation, params),
        area_map.TOOL: (area_map.run_map, params),
        series.DECIDE: (series.run_decision, {**params, "user": info.get("user_id"),
                                              "case_number": info.get("case_number")}),
        **{name: (fn, {**params, "user": info.get("user_id")}) for name, fn in watch.RUNNERS.items()},
    }
    fn, args = by_tool.get(tool, (run_tool, None))
    return fn, (engine, ws, args if fn is not run_tool else ToolRequest(tool, ident, **params))


def _tool_runner(ws: Any, engine: Any, tool: str, info: dict[str, Any], params: dict[str, Any], *,
                 threaded: bool = True) -> Any:
    """The coroutine the gate awaits with the caller's grant: the tool run in a worker thread (the
    asynchronous server), or at once (the blocking gate, itself run in the server's thread pool)."""
    import asyncio

    from exchange.access.lens import Lens
    from exchange.workspace.console import audit_view

    async def run(grant: Any, key: bytes | None) -> tuple[Any, int, str | None]:
        if tool.startswith("audit."):  # an auditor's page: the ledger's tables, no person data
            call: tuple[Any, ...] = (audit_view, engine, ws.settings, tool, params)
        else:
            fn, (eng, space, args) = _component(ws, engine, tool, info, params)
            call = (fn, eng, space, Lens(grant, key), args)
        if not threaded:
            return call[0](*call[1:])
        return await asyncio.to_thread(*call)

    return run
