"""The investigation tools attacked as each consumer: element search, timelines and the relation graph
show an agency nothing its own views do not show it.

For every grant, queries drawn from the whole warehouse (ID numbers, their last digits, names in
characters and pinyin, phones, plates, addresses — most of them values the grant hides) are searched,
and sampled persons' timelines and graphs are read, as that agency. Every record named in an answer
must be a row of the agency's own share view (``share_<agency>.<entity>``, read with the agency's own
database login), every value shown must equal the view's value, every matched column must be one the
agency sees in full, and every graph edge must rest on such rows only. Values the grant masks cannot
be used to find anything. Every use is an ``audit.access`` row with the query masked."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from pypinyin import lazy_pinyin

from exchange.workspace.investigate import ToolRequest, investigate
from tests.pg_city import City

CONSUMERS = ("police", "civil_affairs", "health", "police_hanbin", "street_office_hanbin")


@pytest.fixture(autouse=True)
def _workspace(city: City) -> Iterator[None]:
    """One workspace around each test, as a server holds one: the grants are loaded once."""
    from exchange.workspace.space import Workspace

    with Workspace(city.settings):
        yield


def _norm(value: Any) -> str:
    text = "" if value is None else str(value)
    return text[:19] if len(text) == 26 and text[19:] == ".000000" else text


class Views:
    """The agency's share views, read with its own login: (entity, agency, record) → row or None."""

    def __init__(self, city: City, consumer: str) -> None:
        self.conn = city.consumer(consumer)
        self.consumer = consumer
        self.cache: dict[tuple[str, str, str], dict[str, Any] | None] = {}

    def row(self, entity: str, agency: str, record: str) -> dict[str, Any] | None:
        key = (entity, agency, record)
        if key not in self.cache:
            try:
                cur = self.conn.execute(f'SELECT * FROM share_{self.consumer}."{entity}" WHERE source_agency = %s '
                                        f'AND source_record_id = %s', (agency, record))
            except Exception:  # noqa: BLE001 - no such view: the entity is withheld
                self.conn.rollback() if not self.conn.autocommit else None
                self.cache[key] = None
                return None
            found = cur.fetchone()
            self.cache[key] = None if found is None else dict(zip([d.name for d in cur.description], found,
                                                                  strict=True))
        return self.cache[key]

    def close(self) -> None:
        self.conn.close()


def _queries(city: City, rng: random.Random) -> list[tuple[str, str | None]]:
    rows = city.rows("SELECT name, id_number, phone, address FROM core.person WHERE id_number IS NOT NULL "
                     "ORDER BY source_agency, source_record_id")
    rng.shuffle(rows)
    out: list[tuple[str, str | None]] = []
    for name, id_number, phone, address in rows[:12]:
        out += [(id_number, None), (id_number[-6:], "id"), (name, None), ("".join(lazy_pinyin(name)), None)]
        if phone:
            out.append((phone, None))
        if address and len(address) > 14:
            out.append((address[9:14], "address"))
    for (plate,) in city.rows("SELECT plate FROM core.vehicle ORDER BY source_record_id LIMIT 6"):
        out += [(plate, None), (plate[:3] + "?" + plate[4:], "plate")]
    for (number,) in city.rows("SELECT applicant_id_number FROM core.dispute WHERE applicant_id_number IS NOT NULL "
                               "ORDER BY source_record_id LIMIT 4"):
        out.append((number, None))  # pseudonymised for the police: no dispute may be found by it
    return out


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_search_shows_only_rows_and_values_of_the_agencys_views(city: City, consumer: str) -> None:
    grant = city.grants.get(consumer)
    views = Views(city, consumer)
    checked = 0
    try:
        for query, kind in _queries(city, random.Random(17)):
            found = investigate(ToolRequest("search", query, kind=kind, limit=200), agency=consumer,
                                settings=city.settings, purpose="attacker test")
            assert found is not None
            for group in found["groups"]:
                for hit in group["hits"]:
                    entity = hit["table"].removeprefix("core.")
                    share = grant.share(entity)
                    assert share is not None, f"{consumer} found a row of withheld {entity} by {query!r}"
                    rule = share.column(hit["field"])
                    assert rule is not None and rule.treatment == "full", (
                        f"{consumer} matched {entity}.{hit['field']}, which it does not see in full")
                    row = views.row(entity, hit["agency"], hit["record"])
                    assert row is not None, f"{consumer}: {entity} {hit['record']} is not in its view"
                    assert _norm(row.get(hit["field"])) == _norm(hit["value"])
                    checked += 1
    finally:
        views.close()
    if consumer in ("police", "street_office_hanbin", "civil_affairs"):
        assert checked, f"{consumer} found nothing at all: the attack proves nothing"


def test_a_masked_value_finds_nothing(city: City) -> None:
    """The street office sees ID numbers, names and phones of its residents masked: searching them in full
    (or their last digits) must confirm nothing, not even that the person exists."""
    rows = city.rows("SELECT p.id_number, p.name, p.phone FROM core.person p JOIN core.household h "
                     "ON h.household_number = p.household_number WHERE h.division_code LIKE '610902%' "
                     "AND p.id_number IS NOT NULL AND p.phone LIKE '1%' ORDER BY p.source_record_id LIMIT 8")
    assert rows
    for id_number, name, phone in rows:
        for query, kind in ((id_number, None), (id_number[-6:], "id"), (name, "name"), (phone, None),
                            ("".join(lazy_pinyin(name)), "name")):
            found = investigate(ToolRequest("search", query, kind=kind), agency="street_office_hanbin",
                                settings=city.settings, purpose="attacker test")
            assert found is not None and found["groups"] == [], (query, found["groups"][:1])


def test_the_police_cannot_find_a_dispute_by_a_pseudonymised_id(city: City) -> None:
    for (number,) in city.rows("SELECT applicant_id_number FROM core.dispute WHERE applicant_id_number IS NOT NULL "
                               "ORDER BY source_record_id LIMIT 6"):
        found = investigate(ToolRequest("search", number), agency="police", settings=city.settings, purpose="t")
        assert found is not None
        assert not [h for g in found["groups"] for h in g["hits"] if h["table"] == "core.dispute"]


def _persons(city: City, n: int) -> list[str]:
    rows = city.rows("SELECT person_uid FROM mdm.person WHERE status = 'active' ORDER BY person_uid")
    rng = random.Random(23)
    chosen = [r[0] for r in rows]
    rng.shuffle(chosen)
    owners = city.rows("SELECT DISTINCT l.person_uid FROM mdm.person_link l WHERE l.entity = 'vehicle' "
                       "ORDER BY l.person_uid LIMIT 4")
    return [r[0] for r in owners] + chosen[:n]


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_timelines_and_graphs_rest_on_the_agencys_rows_only(city: City, consumer: str) -> None:
    views = Views(city, consumer)
    entries = edges = 0
    try:
        for uid in _persons(city, 10):
            line = investigate(ToolRequest("timeline", uid), agency=consumer, settings=city.settings, purpose="t")
            for e in (line or {}).get("entries", []):
                row = views.row(e["entity"], e["agency"], e["record"])
                assert row is not None, f"{consumer}: timeline entry {e['entity']} {e['record']} not in its view"
                entries += 1
            graph = investigate(ToolRequest("graph", uid, depth=2), agency=consumer, settings=city.settings,
                                purpose="t")
            for edge in (graph or {}).get("edges", []):
                for evidence in edge["evidence"]:
                    for rec in evidence["records"]:
                        assert views.row(rec["entity"], rec["agency"], rec["record"]) is not None, (
                            f"{consumer}: {edge['kind']} edge rests on {rec['entity']} {rec['record']}, not in "
                            f"its view")
                edges += 1
    finally:
        views.close()
    if consumer == "police":
        assert entries and edges


def test_every_use_is_on_record_with_identifiers_masked(city: City) -> None:
    (id_number,) = city.rows("SELECT id_number FROM core.person WHERE id_number IS NOT NULL "
                             "ORDER BY source_record_id LIMIT 1")[0]
    before = city.rows("SELECT max(id) FROM audit.access")[0][0] or 0
    investigate(ToolRequest("search", id_number), agency="police", settings=city.settings, purpose="核查",
                case_number="A2026-1")
    investigate(ToolRequest("graph", id_number, depth=2), agency="police", settings=city.settings, purpose="核查")
    rows = city.rows("SELECT entity, what, purpose, case_number, row_count, status FROM audit.access WHERE id > :b "
                     "ORDER BY id", b=before)
    assert [r[0] for r in rows] == ["search", "graph"]
    for _entity, what, purpose, _case, count, status in rows:
        assert id_number not in what and id_number[:6] in what and purpose == "核查" and status in (200, 404)
        assert count >= 0
    assert rows[0][3] == "A2026-1" and rows[0][4] >= 1
