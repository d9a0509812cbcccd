"""A search whose best probe has more matches than it reads leaves out the hits of weaker probes: groups are
ordered by rank, so a homophone (汪伟 for 王伟) could only fill places after exact matches the answer already
cannot all show. When the best probe is not cut, the weaker probes' hits are all there. On both dialects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, insert

from exchange.access.lens import Lens
from exchange.investigate import elements
from exchange.investigate.query import plan
from exchange.investigate.search import PER_PROBE, _index_hits
from exchange.warehouse.engine import make_engine

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'w.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    elements.ensure_tables(engine)
    yield engine
    engine.dispose()


def _names(conn: Connection, name: str, n: int, start: int) -> None:
    conn.execute(insert(elements.element), [
        {"entity": "person", "source_agency": "civil", "source_record_id": f"R{start + i:05d}", "field": "name",
         "kind": "name", "key": name, "py": "wangwei", "fpy": "wangwei", "batch_id": "b1"} for i in range(n)])


@pytest.mark.parametrize(("exact", "cut"), [(PER_PROBE + 30, True), (12, False)])
def test_weaker_probes_wait_for_a_best_probe_that_is_not_cut(engine: Engine, exact: int, cut: bool) -> None:
    with engine.begin() as conn:
        _names(conn, "汪伟", 5, 90_000)  # the same pinyin: found by the pinyin probe only (first in its index)
        _names(conn, "王伟", exact, 0)
        hits, truncated = _index_hits(conn, Lens(None), plan("王伟"), ["person"])
    found = {h.record for h in hits}
    homophones = {f"R{90_000 + i:05d}" for i in range(5)}
    assert truncated is cut
    if cut:
        assert len(hits) == PER_PROBE and not found & homophones
        assert {h.rank for h in hits} == {0}
    else:
        assert len(hits) == exact + 5 and homophones <= found
        assert {h.rank for h in hits if h.record in homophones} == {2}
