"""What one caller may see of warehouse rows, for the investigation tools (search, timeline, graph).

A :class:`Lens` applies a consumer's grant exactly as its views and the profile do — the same row
rule (:func:`exchange.access.profile.row_allowed`: jurisdiction, the related entity's division for
``via`` rows, value filters) and the same column treatments (:func:`~exchange.access.profile.treat`:
full, partial masks, pseudonyms, hidden) — to rows the tools read from ``core.*``. The operator's
lens (no grant) sees everything as stored.

Three questions decide everything a tool shows:

- :meth:`Lens.visible` — may the caller read this row at all (entity granted, row rule holds)?
- :meth:`Lens.discloses` — may a row be tied to a person through this column (the ID number shown in
  full or partially, as the profile requires)? A record whose ID number the caller sees only as a
  pseudonym is not linked to a named person for it, so no edge or timeline entry comes from it.
- :meth:`Lens.searchable` — may the caller *match* on this column? Only columns it sees in full:
  matching a full value against a masked column would confirm what the mask hides.

:func:`read_rows` fetches rows of ``core.<entity>`` by key or by a condition, with what the row
rules need (the related divisions of ``via`` rows), and returns only the visible ones, each with its
raw values (for the tool's own joins, never sent out) and its shown values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from sqlalchemy import Connection

from exchange.access.profile import DISCLOSING, row_allowed, treat
from exchange.access.spec import EntityShare, Grant
from exchange.access.sql import ident
from exchange.warehouse.dialects import dialect_of

PROVENANCE = ("source_agency", "source_record_id", "_batch_id")
OPERATOR = "operator"


@dataclass(frozen=True)
class Row:
    entity: str
    raw: dict[str, Any]
    """Every column as stored: for joins inside the tool only."""
    lens: Lens = field(repr=False, compare=False)

    @cached_property
    def shown(self) -> dict[str, Any]:
        """What the caller may see: granted columns, masked as its views mask them. Worked out when first
        asked: a search reads up to a few hundred rows and shows one value of most of them."""
        return self.lens.show(self.entity, self.raw)

    def show(self, column: str) -> Any:
        """One column as the caller sees it (None when hidden or not granted), without working out the
        others."""
        if "shown" in self.__dict__:
            return self.shown.get(column)
        if withheld(column) or column not in self.raw:
            return None
        seen, value = self.lens.shown_value(self.entity, column, self.raw[column])
        return plain(value) if seen else None

    @property
    def key(self) -> tuple[str, str]:
        return (str(self.raw["source_agency"]), str(self.raw["source_record_id"]))

    @property
    def provenance(self) -> dict[str, Any]:
        return {"agency": self.raw["source_agency"], "entity": self.entity, "record": self.raw["source_record_id"],
                "batch": self.raw.get("_batch_id")}


class Lens:
    """A consumer's grant (``grant=None``: the operator, who sees every row as stored)."""

    def __init__(self, grant: Grant | None, key: bytes | None = None) -> None:
        self.grant = grant
        self.key = key

    @property
    def consumer(self) -> str:
        return self.grant.consumer if self.grant is not None else OPERATOR

    def share(self, entity: str) -> EntityShare | None:
        return self.grant.share(entity) if self.grant is not None else None

    def allows(self, entity: str) -> bool:
        return self.grant is None or self.grant.share(entity) is not None

    def entities(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if self.allows(n)]

    def treatment(self, entity: str, column: str) -> str | None:
        if self.grant is None:
            return "full"
        share = self.grant.share(entity)
        rule = share.column(column) if share is not None else None
        return rule.treatment if rule is not None else None

    def discloses(self, entity: str, column: str) -> bool:
        return self.treatment(entity, column) in DISCLOSING

    def searchable(self, entity: str, column: str) -> bool:
        return self.treatment(entity, column) == "full"

    def visible(self, entity: str, row: dict[str, Any], related: Sequence[Any] = ()) -> bool:
        if self.grant is None:
            return True
        share = self.grant.share(entity)
        return share is not None and row_allowed(share, row, related)

    def show(self, entity: str, row: dict[str, Any]) -> dict[str, Any]:
        """The row's columns as the caller sees them (hidden and ungranted ones left out), as plain JSON
        values."""
        return {k: plain(v) for k, v in self._show(entity, row).items()}

    def _show(self, entity: str, row: dict[str, Any]) -> dict[str, Any]:
        share = self.share(entity)
        out: dict[str, Any] = {}
        for column, value in row.items():
            if withheld(column):
                continue
            if share is None:
                if self.grant is None:
                    out[column] = value
                continue
            shown, masked = treat(share, column, value, self.key)
            if shown:
                out[column] = masked
        return out

    def shown_value(self, entity: str, column: str, value: Any) -> tuple[bool, Any]:
        if self.grant is None:
            return True, value
        share = self.grant.share(entity)
        if share is None:
            return False, None
        return treat(share, column, value, self.key)

    def via(self, entity: str) -> tuple[str, str, str] | None:
        share = self.share(entity)
        if share is None or not share.rows.via_entity:
            return None
        rows = share.rows
        return rows.via_entity, str(rows.via_column), str(rows.via_division_column)


def withheld(column: str) -> bool:
    """Columns no caller is shown: the lineage columns (``_batch_id``…) and the source agency (each hit names
    its agency on its own)."""
    return column.startswith("_") or column == "source_agency"


def plain(value: Any) -> Any:
    """A value as JSON shows it: decimals as numbers, times as ``YYYY-MM-DD HH:MM:SS``."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and len(value) == 26 and value[19:] == ".000000":  # SQLite's stored datetimes
        return value[:19]
    return value


def core_table(entity: str) -> str:
    return f"core.{ident(entity)}"


def read_rows(conn: Connection, lens: Lens, entity: str, where: str, params: dict[str, Any],
              *, limit: int | None = None, order: str | None = None) -> list[Row]:
    """Rows of ``core.<entity>`` matching ``where`` (SQL over its columns; list parameters expand), the
    visible ones only. Nothing is read from an entity the lens does not allow. The limit is a parameter:
    the statement's text stays the same whatever it is, so the driver prepares it once it repeats (see
    ``Dialect.one_of``)."""
    if not lens.allows(entity):
        return []
    sql = f"SELECT * FROM {core_table(entity)} WHERE {where}"
    params = {k: list(v) if isinstance(v, (set, frozenset)) else v for k, v in params.items()}
    if order:
        sql += f" ORDER BY {order}"
    if limit is not None:
        sql += " LIMIT :read_limit"
        params["read_limit"] = int(limit)
    raw = dialect_of(conn).select_rows(conn, sql, params, as_dicts=True)
    return visible_rows(conn, lens, entity, raw)


def visible_rows(conn: Connection, lens: Lens, entity: str, raw: list[dict[str, Any]]) -> list[Row]:
    if not raw:
        return []
    related = _related_divisions(conn, lens, entity, raw)
    via = lens.via(entity)
    out = []
    for row in raw:
        divisions = (related.get(row.get(via[1])) or []) if via else []
        if lens.visible(entity, row, divisions):
            out.append(Row(entity, row, lens))
    return out


def _related_divisions(conn: Connection, lens: Lens, entity: str, rows: list[dict[str, Any]]) -> dict[Any, list[Any]]:
    via = lens.via(entity)
    if via is None:
        return {}
    via_entity, via_column, division = via
    keys = sorted({r.get(via_column) for r in rows if r.get(via_column) is not None})
    if not keys:
        return {}
    dialect = dialect_of(conn)
    sql = (f"SELECT {ident(via_column)} AS k, {ident(division)} AS d FROM {core_table(via_entity)} "
           f"WHERE {dialect.one_of(ident(via_column), 'keys')}")
    out: dict[Any, list[Any]] = {}
    for k, d in dialect.select_rows(conn, sql, {"keys": dialect.values(keys)}):
        out.setdefault(k, []).append(d)
    return out


def per_agency(conn: Connection, head: str, keys: Iterable[tuple[str, str]]) -> tuple[str, dict[str, Any]]:
    """``head`` (a ``SELECT … WHERE`` up to its condition) for the records ``keys`` (source_agency,
    source_record_id) as one statement: a ``UNION ALL`` part per agency, each an index range on the primary
    key (in every partition of an event table), its text the same for any number of records (the server
    keeps its plan). ("", {}) for no keys."""
    by_agency: dict[str, set[str]] = {}
    for agency, record in keys:
        by_agency.setdefault(str(agency), set()).add(str(record))
    dialect, parts, params = dialect_of(conn), [], {}
    for n, (agency, records) in enumerate(sorted(by_agency.items())):
        parts.append(f"{head} source_agency = :a{n} AND {dialect.one_of('source_record_id', f'r{n}')}")
        params |= {f"a{n}": agency, f"r{n}": dialect.values(sorted(records))}
    return " UNION ALL ".join(parts), params


def rows_by_key(conn: Connection, lens: Lens, entity: str,
                keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Row]:
    """The visible rows among ``keys`` (source_agency, source_record_id), in one statement."""
    if not lens.allows(entity):
        return {}
    sql, params = per_agency(conn, f"SELECT * FROM {core_table(entity)} WHERE", keys)
    if not sql:
        return {}
    raw = dialect_of(conn).select_rows(conn, sql, params, as_dicts=True)
    return {row.key: row for row in visible_rows(conn, lens, entity, raw)}
