"""The HTTP face: the FastAPI app of the profile API with its gate, and the access log sealed while it
serves. Built on the core (persons, sharing, audit); nothing in the core imports it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from exchange.spec.settings import Settings
from exchange.workspace.audit import seal_access_log
from exchange.workspace.serving import profile_service

log = logging.getLogger(__name__)


def api_app(settings: Settings | None = None, *, admin_key: str | None = None) -> Any:
    """The FastAPI app serving ``GET /persons/{id}`` on the warehouse (``exchange serve``), around the
    profile service (``exchange.workspace.serving``). The admin key comes from
    ``EXCHANGE_API_ADMIN_KEY`` unless given; without one every request is refused (401)."""
    from exchange.api.app import admin_key_authorizer, create_app
    from exchange.api.investigate import add_investigation_routes
    from exchange.api.ops import add_ops_routes

    service = profile_service(settings, admin_key=admin_key)
    app = create_app(service.profile, admin_key_authorizer(service.admin_key), gate=service.gate,
                     on_other=service.on_other, lifespan=_sealing(service.settings, service.lifespan))
    if service.tools is not None:
        add_investigation_routes(app, service.tools)
    if service.console is not None:
        from exchange.console.routes import add_console_routes

        add_console_routes(app, service)
    return add_ops_routes(app, service.settings, service.admin_key)


SEAL_ENV = "EXCHANGE_ACCESS_SEAL_SECONDS"


def _sealing(settings: Settings, inner: Callable[[Any], Any] | None = None) -> Callable[[Any], Any]:
    """The API server's lifespan: ``inner``'s, and a task that seals the access log every
    ``EXCHANGE_ACCESS_SEAL_SECONDS`` (default 600; 0: never) while the server runs."""
    import asyncio

    from exchange.spec.settings import env_seconds

    every = env_seconds(SEAL_ENV, "600")

    async def seal_forever() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                entry = await asyncio.to_thread(seal_access_log, settings=settings)
                if entry is not None:
                    log.info("sealed audit.access ids %s-%s", entry.data["first_id"], entry.data["last_id"])
            except Exception:
                log.exception("could not seal audit.access")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        task = asyncio.create_task(seal_forever()) if every > 0 else None
        try:
            if inner is None:
                yield
            else:
                async with inner(app):
                    yield
        finally:
            if task is not None:
                task.cancel()

    return lifespan
