"""Event tables on the embedded warehouse: a reload replaces changed versions (history kept), inserts new
ones, leaves the unchanged — without an ON CONFLICT on the record id (see tests/event_tables.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.event_tables import check, load_twice

pytestmark = [pytest.mark.gx]


def test_a_reload_replaces_changed_events_and_keeps_their_history(project: Path, settings) -> None:
    first, second, engine = load_twice(project, settings)
    try:
        check(first, second, engine)
    finally:
        engine.dispose()
