"""How a search bounds its work. A search whose best probe has more matches than it reads leaves out the
hits of weaker probes: groups are ordered by rank, so a homophone (汪伟 for 王伟) could only fill places after
exact matches the answer already cannot all show; when the best probe is not cut, the weaker probes' hits
are all there (both dialects). Substring probes get a time budget (a statement timeout inside a savepoint on
PostgreSQL, a progress handler on SQLite): past it the other probes answer alone, the answer names the kinds
left out, and the caller's transaction goes on untouched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, insert, text

from exchange.access.lens import Lens
from exchange.investigate import elements
from exchange.investigate import search as search_module
from exchange.investigate.query import plan
from exchange.investigate.search import PER_PROBE, _index_hits
from exchange.warehouse.dialects import dialect_of
from exchange.warehouse.dialects.base import OverBudget
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
        hits, truncated, too_common = _index_hits(conn, Lens(None), plan("王伟"), ["person"])
    found = {h.record for h in hits}
    homophones = {f"R{90_000 + i:05d}" for i in range(5)}
    assert truncated is cut and too_common == []
    if cut:
        assert len(hits) == PER_PROBE and not found & homophones
        assert {h.rank for h in hits} == {0}
    else:
        assert len(hits) == exact + 5 and homophones <= found
        assert {h.rank for h in hits if h.record in homophones} == {2}


SLOW = {"postgresql": "SELECT pg_sleep(2)",
        "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                  "SELECT count(*) FROM (SELECT x FROM c LIMIT 20000000)"}
"""A read that takes seconds (2 on PostgreSQL, about 4 on SQLite here), per dialect."""


def test_a_read_over_its_budget_leaves_the_transaction_as_it_was(engine: Engine) -> None:
    with engine.connect() as conn:
        dialect = dialect_of(conn)
        if dialect.name == "postgresql":
            conn.execute(text("SET statement_timeout = 45000"))  # the session's own (a role's, say)
        conn.execute(text("CREATE TEMP TABLE t (k int)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        with dialect.time_budget(conn, 5000):  # within budget: the rows come back
            assert dialect.select_rows(conn, "SELECT k FROM t", {}) == [(1,)]
        with pytest.raises(OverBudget), dialect.time_budget(conn, 50):
            dialect.select_rows(conn, SLOW[dialect.name], {})
        with pytest.raises(ValueError), dialect.time_budget(conn, 50):
            raise ValueError("the caller's own error inside the block")
        # the transaction goes on: its uncommitted row, the session's timeout
        assert conn.execute(text("SELECT k FROM t")).scalar() == 1
        if dialect.name == "postgresql":
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "45s"
        conn.execute(text("INSERT INTO t VALUES (2)"))
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2


def test_substring_probes_over_budget_leave_the_others_to_answer(engine: Engine,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    read = search_module._read_hits

    def slow_substrings(conn: Connection, lens: Lens, probes: list, entities: list[str]) -> tuple[list, bool]:
        if any(p.mode == "substring" for p in probes):  # a text of the city's commonest stretches
            dialect_of(conn).select_rows(conn, SLOW[dialect_of(conn).name], {})
        return read(conn, lens, probes, entities)

    monkeypatch.setattr(search_module, "_read_hits", slow_substrings)
    monkeypatch.setattr(search_module, "SUBSTRING_BUDGET_MS", 100)
    with engine.begin() as conn:
        _names(conn, "王秀英", 3, 0)
        hits, truncated, too_common = _index_hits(conn, Lens(None), plan("王秀英"), ["person"])
        assert sorted(h.record for h in hits) == ["R00000", "R00001", "R00002"]  # the name probes answered
        assert truncated and too_common == ["address", "case", "org"]
        assert conn.execute(text("SELECT count(*) FROM mdm.search_element")).scalar() == 3
