"""The exchange's clock for what it records: the ledger, the person and element indexes' watermarks."""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """UTC, naive, whole seconds: how the ledger records times."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
