"""The profile API without the sharing gate, for ``run.py --no-gate``: the same route and the same
one-statement profile, but no per-request access-log write and no grant policy (the admin key
only). It measures the profile itself; the product serves ``exchange.runner:api_app`` (gated)."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import create_engine

from exchange.api import admin_key_authorizer, create_app
from exchange.linking import ProfileReader


def ungated() -> Any:
    url = os.environ["EXCHANGE_WAREHOUSE_URL"]
    reads = create_engine(url, pool_size=16, max_overflow=8, isolation_level="AUTOCOMMIT",
                          pool_reset_on_return=None, connect_args={"options": "-c jit=off"})
    reader = ProfileReader()

    def profile(ident: str) -> Any:
        with reads.connect() as conn:
            return reader.profile_json(conn, ident)  # served as built by PostgreSQL, not re-encoded

    return create_app(profile, admin_key_authorizer(os.environ["EXCHANGE_API_ADMIN_KEY"]))
