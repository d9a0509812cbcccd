"""The profile API without the sharing gate, for ``run.py --no-gate``: the same asynchronous
route, pool and one-statement profile as ``exchange.api.serve:api_app`` on PostgreSQL, but no key
lookup, no grant policy and no access-log write (the admin key only). It measures the profile
itself; the product serves the gated app."""

from __future__ import annotations

import hmac
import os
from typing import Any

from exchange.access.gate_pg import AsyncPgGateIO
from exchange.api import admin_key_authorizer, create_app
from exchange.linking import ProfileReader


def ungated() -> Any:
    admin = os.environ["EXCHANGE_API_ADMIN_KEY"].encode()
    pg = AsyncPgGateIO(os.environ["EXCHANGE_WAREHOUSE_URL"], ProfileReader().profile_json_async)

    async def serve(info: dict[str, Any]) -> tuple[int, str]:
        if not hmac.compare_digest((info["token"] or "").encode(), admin):
            return 401, '{"error":"admin key only"}'
        found = await pg.profile(info["ident"])
        return (200, found.body) if found is not None else (404, '{"error":"not found"}')

    return create_app(lambda _i: None, admin_key_authorizer(None), gate=serve, lifespan=pg.lifespan)
