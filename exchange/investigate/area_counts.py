"""The crime and dispute map's numbers (犯罪制图): cases by type and disputes by intake window, per area at
the five levels (:mod:`exchange.investigate.areas`) and per period, with the rate per 10,000 residents and
the change against the previous period — through the caller's grant.

**What is counted.** The rows of ``core.case`` (dated by ``occurred_at``, else ``reported_date``) or
``core.dispute`` (``accepted_date``) the grant lets the caller count: the rows of an entity it is granted
(its row rules), or, for an entity listed under ``aggregates.counts``, the rows in its jurisdiction —
counts only, never a row. Areas outside the jurisdiction are not in the answer; an area that holds only
part of it (the city, for a district's bureau) is marked ``partial``.

**Residents** are the master person index's active persons (``mdm.person``) placed by their golden
division code and address: one person once, whatever number of agencies hold them.

**Periods** are calendar units — a month ``2026-11``, a quarter ``2026-Q4`` or a year ``2026`` — each
compared with the unit before it. Arbitrary date ranges are refused: two overlapping ranges would differ by
a day, and a day's count is what suppression protects.

**Small counts** (:mod:`exchange.investigate.disclosure`): the whole year is counted at every level,
every type and every month, quarter and the year, and the grant's ``aggregates.min_count`` applied to all of
it at once, so a suppressed count stays suppressed in every answer and export.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, text

from exchange.access.lens import Lens, core_table, read_rows
from exchange.access.profile import rows_allow
from exchange.errors import ConfigError
from exchange.investigate import areas
from exchange.investigate.disclosure import suppress, tree_groups
from exchange.investigate.persons import as_datetime

UNKNOWN = "unknown"
"""The type of a row whose type column is empty."""
PERIODS = ["year", *(f"Q{q}" for q in range(1, 5)), *(f"M{m:02d}" for m in range(1, 13))]
PERIOD_PARENTS = [-1, 0, 0, 0, 0, *(1 + (m - 1) // 3 for m in range(1, 13))]
MAX_POINTS = 5000


@dataclass(frozen=True)
class Kind:
    entity: str
    label: str
    by: tuple[str, ...]
    """The columns a count may be broken down by (the first is the default), each a code list."""
    when: tuple[str, ...]
    """The date column, then its fallback."""
    address: str | None


KINDS = {
    "case": Kind("case", "案件", ("case_type", "offence"), ("occurred_at", "reported_date"), "address"),
    "dispute": Kind("dispute", "矛盾纠纷", ("category",), ("accepted_date",), None),
}


@dataclass(frozen=True)
class Period:
    year: int
    unit: str  # year | quarter | month
    index: int  # the quarter or month (0 for a year)

    @property
    def label(self) -> str:
        return {"year": f"{self.year}", "quarter": f"{self.year}-Q{self.index}",
                "month": f"{self.year}-{self.index:02d}"}[self.unit]

    @property
    def slot(self) -> int:
        """The period's index in :data:`PERIODS`."""
        return {"year": 0, "quarter": self.index, "month": 4 + self.index}[self.unit]

    @property
    def start(self) -> dt.date:
        month = {"year": 1, "quarter": 3 * self.index - 2, "month": self.index}[self.unit]
        return dt.date(self.year, month, 1)

    @property
    def end(self) -> dt.date:
        """The first day after it."""
        nxt = self.following()
        return nxt.start

    def following(self) -> Period:
        size = {"year": 1, "quarter": 4, "month": 12}[self.unit]
        if self.unit == "year" or self.index == size:
            return Period(self.year + 1, self.unit, 0 if self.unit == "year" else 1)
        return Period(self.year, self.unit, self.index + 1)

    def previous(self) -> Period:
        size = {"year": 1, "quarter": 4, "month": 12}[self.unit]
        if self.unit == "year":
            return Period(self.year - 1, "year", 0)
        if self.index == 1:
            return Period(self.year - 1, self.unit, size)
        return Period(self.year, self.unit, self.index - 1)


def parse_period(value: str | None, today: dt.date) -> Period:
    """``2026-11``, ``2026-Q4``, ``2026``; default: the last full month before ``today``."""
    if not value:
        first = today.replace(day=1) - dt.timedelta(days=1)
        return Period(first.year, "month", first.month)
    v = value.strip().upper()
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})", v):
        year, month = int(m[1]), int(m[2])
        if 1 <= month <= 12:
            return Period(year, "month", month)
    elif m := re.fullmatch(r"(\d{4})-?Q([1-4])", v):
        return Period(int(m[1]), "quarter", int(m[2]))
    elif re.fullmatch(r"\d{4}", v):
        return Period(int(v), "year", 0)
    raise ConfigError(f"period {value!r}: give a month (2026-11), a quarter (2026-Q4) or a year (2026) — "
                      f"arbitrary date ranges are not counted (two of them would differ by a day)")


@dataclass(frozen=True)
class Scope:
    """What the caller may count of an entity: rows through its grant, or counted rows in its
    jurisdiction; ``regions`` the division prefixes it covers (None: everywhere)."""

    entity: str
    granted: bool
    rows_filter: Any
    regions: tuple[str, ...] | None
    min_count: int


def scope(lens: Lens, entity: str) -> Scope:
    """Raises ConfigError when the grant neither shares nor counts the entity."""
    grant = lens.grant
    if grant is None:
        return Scope(entity, True, None, None, 1)
    share = grant.share(entity)
    if share is not None:
        regions = share.rows.regions
        return Scope(entity, True, share.rows,
                     None if regions is None else tuple(r.code for r in regions if not r.compound),
                     grant.aggregates.min_count)
    for name, rows in grant.aggregates.counted:
        if name == entity:
            regions = rows.regions
            return Scope(entity, False, rows, None if regions is None else tuple(r.code for r in regions),
                         grant.aggregates.min_count)
    raise ConfigError(f"map: the grant of {grant.consumer} neither shares nor counts {entity} "
                      f"(entities.{entity}, or aggregates.counts in grants/{grant.consumer}.yaml)")


@dataclass
class Counted:
    """One year's cube and what it was made of."""

    year: int
    counts: np.ndarray  # (areas, types, PERIODS)
    hidden: np.ndarray


def _rows(conn: Connection, lens: Lens, kind: Kind, sc: Scope, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    first, *fallback = kind.when
    where = f"({first} >= :a AND {first} < :b)"
    if fallback:
        where += f" OR ({first} IS NULL AND {fallback[0]} >= :a AND {fallback[0]} < :b)"
    params = {"a": start, "b": end}
    if sc.granted:
        return [r.raw for r in read_rows(conn, lens, kind.entity, where, params)]
    raw = [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {core_table(kind.entity)} WHERE {where}"),
                                                   params)]
    return [r for r in raw if rows_allow(sc.rows_filter, r)]


def record_date(kind: Kind, row: dict[str, Any]) -> dt.date | None:
    for column in kind.when:
        moment = as_datetime(row.get(column))
        if moment is not None:
            return moment.date()
    return None


class AreaIndex:
    """Areas (level, code) → index, with each one's parent, in the order they are met."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, str]] = []
        self.index: dict[tuple[str, str], int] = {}
        self.parent: list[int] = []

    def node(self, level: str, code: str, parent: int) -> int:
        key = (level, code)
        if key not in self.index:
            self.index[key] = len(self.keys)
            self.keys.append(key)
            self.parent.append(parent)
        return self.index[key]

    def add(self, where: areas.Place) -> list[int]:
        out, above = [], -1
        for level, code in zip(areas.LEVELS, where.codes, strict=True):
            above = self.node(level, str(code), above)
            out.append(above)
        return out


def residents(conn: Connection, compounds: areas.Compounds, city: str, index: AreaIndex) -> Counter[int]:
    """Active persons of the master index per area (every level)."""
    out: Counter[int] = Counter()
    rows = conn.execute(text("SELECT division_code, address FROM mdm.person WHERE status = 'active' "
                             "AND division_code LIKE :c"), {"c": f"{city}%"})
    for division, address in rows:
        where = areas.place(division, address, compounds, city)
        if where is not None:
            out.update(index.add(where))
    return out


@dataclass(frozen=True)
class Types:
    """The type dimension: the total, then each breakdown's codes (and its ``unknown``): a case counted once
    per breakdown, so that both share their totals and suppression sees both."""

    breakdowns: dict[str, list[str]]

    @functools.cached_property
    def keys(self) -> list[tuple[str, str]]:
        return [("", "total"), *((by, code) for by, codes in self.breakdowns.items() for code in codes)]

    @functools.cached_property
    def _slots(self) -> dict[tuple[str, str], int]:
        return {key: i for i, key in enumerate(self.keys)}

    def index(self, by: str, code: Any) -> int:
        return self._slots.get((by, code)) or self._slots[(by, UNKNOWN)]

    def groups(self) -> list[tuple[int, list[int]]]:
        return [(0, [i for i, (b, _) in enumerate(self.keys) if b == by]) for by in self.breakdowns]


@dataclass(frozen=True)
class Placed:
    """A counted row: its day, its areas (indices, city first) and its type slots (the total's first)."""

    day: dt.date
    areas: list[int]
    slots: list[int]


def place_rows(rows: list[dict[str, Any]], kind: Kind, types: Types, compounds: areas.Compounds, city: str,
               index: AreaIndex) -> list[Placed]:
    """Each row dated, placed at the five levels and typed, once (both years' cubes count from this)."""
    out = []
    for r in rows:
        day = record_date(kind, r)
        where = areas.place(r.get("division_code"), r.get(kind.address) if kind.address else None, compounds, city)
        if day is not None and where is not None:
            out.append(Placed(day, index.add(where), [0, *(types.index(by, r.get(by)) for by in types.breakdowns)]))
    return out


def count_year(placed: list[Placed], types: Types, year: int, index: AreaIndex, min_count: int) -> Counted:
    """The year's cube, suppressed."""
    cells: Counter[tuple[int, int, int]] = Counter()
    for p in placed:
        if p.day.year != year:
            continue
        month = 4 + p.day.month
        for a in p.areas:
            for t in p.slots:
                cells[(a, t, month)] += 1
    counts = np.zeros((len(index.keys), len(types.keys), len(PERIODS)), dtype=np.int64)
    for (a, t, m), n in cells.items():
        counts[a, t, m] += n
    for q in range(1, 5):
        counts[:, :, q] = counts[:, :, 4 + 3 * q - 2: 4 + 3 * q + 1].sum(axis=2)
    counts[:, :, 0] = counts[:, :, 5:].sum(axis=2)
    period_groups = [*tree_groups(PERIOD_PARENTS), (0, list(range(5, 17)))]
    return Counted(year, counts, suppress(counts, [tree_groups(index.parent), types.groups(), period_groups],
                                          min_count))


def area_map(conn: Connection, lens: Lens, kind_name: str, *, by: str | None, period: Period, level: str,
             inside: str | None, divisions: Any, labels: dict[str, dict[str, str]], city: str,
             districts: tuple[str, ...] = ()) -> dict[str, Any]:
    """The answer: per area of ``level`` (under ``inside`` when given, e.g. one district's towns) the count
    of the period, by type, its rate per 10,000 residents, the previous period's count and the change."""
    kind = KINDS.get(kind_name)
    if kind is None:
        raise ConfigError(f"map: kind {kind_name!r} — one of {', '.join(KINDS)}")
    by = by or kind.by[0]
    if by not in kind.by:
        raise ConfigError(f"map: a {kind_name} count is broken down by {' or '.join(kind.by)}, not {by!r}")
    if level not in areas.LEVELS:
        raise ConfigError(f"map: level {level!r} — one of {', '.join(areas.LEVELS)}")
    sc = scope(lens, kind.entity)
    if inside is not None and not areas.covers(inside, sc.regions):
        raise ConfigError(f"map: {inside} is outside the jurisdiction of the grant")
    prev = period.previous()
    types = Types({b: [*labels.get(b, {}), UNKNOWN] for b in kind.by})
    compounds = areas.load_compounds(conn)
    index = AreaIndex()
    root = index.node("city", areas.city_code(city), -1)
    for code in districts:  # every district on the map, those with nothing counted too
        index.node("district", code, root)
    population = residents(conn, compounds, city, index)
    years = sorted({period.year, prev.year})
    rows = _rows(conn, lens, kind, sc, dt.date(years[0], 1, 1), dt.date(years[-1] + 1, 1, 1))
    placed = place_rows(rows, kind, types, compounds, city, index)  # every area met: both cubes are full size
    cubes = {y: count_year(placed, types, y, index, sc.min_count) for y in years}
    cur, before = cubes[period.year], cubes[prev.year]

    def cell(c: Counted, a: int, t: int, p: Period) -> int | None:
        return None if c.hidden[a, t, p.slot] else int(c.counts[a, t, p.slot])

    shown = [a for a, (lv, code) in enumerate(index.keys)
             if lv == level and areas.covers(code, sc.regions) and (inside is None or _under(index, a, inside))]
    out_rows = []
    for a in shown:
        lv, code = index.keys[a]
        now, then = cell(cur, a, 0, period), cell(before, a, 0, prev)
        pop = population.get(a, 0)
        out_rows.append({
            "code": code, "name": areas.area_name(code, lv, divisions, compounds), "level": lv,
            "partial": not areas.within(code, sc.regions),
            "parent": index.keys[index.parent[a]][1] if index.parent[a] >= 0 else None,
            "residents": pop, "count": now, "rate": round(now * 10000 / pop, 1) if now is not None and pop else None,
            "previous": then, "change": None if now is None or then is None else now - then,
            "change_pct": None if now is None or not then else round(100 * (now - then) / then, 1),
            "by_type": {code: cell(cur, a, types.index(by, code), period) for code in types.breakdowns[by]},
        })
    out_rows.sort(key=lambda r: (r["code"].endswith(areas.REST), r["code"]))
    top = _top(index, sc.regions, inside)
    total = None
    if top is not None:
        now = cell(cur, top, 0, period)
        total = {"code": index.keys[top][1], "name": areas.area_name(index.keys[top][1], index.keys[top][0], divisions,
                                                                    compounds),
                 "level": index.keys[top][0], "partial": not areas.within(index.keys[top][1], sc.regions),
                 "residents": population.get(top, 0), "count": now, "previous": cell(before, top, 0, prev)}
    return {"kind": kind_name, "label": kind.label, "by": by, "level": level, "inside": inside,
            "period": {"label": period.label, "from": period.start.isoformat(),
                       "to": (period.end - dt.timedelta(days=1)).isoformat()},
            "previous": {"label": prev.label, "from": prev.start.isoformat(),
                         "to": (prev.end - dt.timedelta(days=1)).isoformat()},
            "min_count": sc.min_count, "types": {t: labels.get(by, {}).get(t, "未填") for t in types.breakdowns[by]},
            "total": total, "areas": out_rows,
            "suppressed": int(sum(1 for r in out_rows for v in (r["count"], *r["by_type"].values()) if v is None)),
            "rows_only": not sc.granted}


def _under(index: AreaIndex, a: int, inside: str) -> bool:
    p = index.parent[a]
    while p >= 0:
        if index.keys[p][1] == inside:
            return True
        p = index.parent[p]
    return False


def _top(index: AreaIndex, regions: tuple[str, ...] | None, inside: str | None) -> int | None:
    """The area the answer sums to: ``inside``, else the city."""
    for i, (_, code) in enumerate(index.keys):
        if (inside is not None and code == inside) or (inside is None and index.parent[i] == -1):
            return i if inside is not None or areas.covers(code, regions) else None
    return None


def points(conn: Connection, lens: Lens, kind_name: str, period: Period, inside: str | None) -> list[list[Any]] | None:
    """The period's cases as points (longitude, latitude, type), for a caller who sees each case's
    coordinates in full; None for anyone else (counts only: points of rows it cannot read would place them)."""
    kind = KINDS[kind_name]
    if kind_name != "case" or not lens.allows("case"):
        return None
    if not all(lens.treatment("case", c) == "full" for c in ("longitude", "latitude", "division_code")):
        return None
    out = []
    for r in _rows(conn, lens, kind, scope(lens, "case"), period.start, period.end):
        if r.get("longitude") is None or r.get("latitude") is None:
            continue
        if inside and not str(r.get("division_code") or "").startswith(inside):
            continue
        out.append([float(r["longitude"]), float(r["latitude"]), r.get("case_type")])
        if len(out) >= MAX_POINTS:
            break
    return out
