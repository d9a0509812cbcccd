"""Serial-case linking, the caller's side: the cases of a window as the caller's grant lets it compare them
(:func:`read_cases`), the candidate series as the tools show them (:func:`answer`), and their precision
and recall against a known truth (:func:`against_truth`). The scoring is :mod:`exchange.investigate.series`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from exchange.access.lens import Lens, Row, read_rows
from exchange.errors import ConfigError
from exchange.investigate.persons import as_datetime
from exchange.investigate.series import THRESHOLD, Case, Link, series_of, tool_set

MAX_CASES = 50_000
MAX_SERIES = 200
MAX_WINDOW = dt.timedelta(days=3 * 366)


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime
    offence: str | None = None

    def check(self) -> None:
        if self.end <= self.start:
            raise ConfigError(f"the window's end {self.end:%Y-%m-%d} is not after its start {self.start:%Y-%m-%d}")
        if self.end - self.start > MAX_WINDOW:
            raise ConfigError(f"a window of at most {MAX_WINDOW.days} days (got {(self.end - self.start).days})")


def _compared(lens: Lens, column: str, value: Any) -> Any:
    """``value`` when the caller sees ``case.column`` in full, else None (a masked column is not compared)."""
    return value if value not in (None, "") and lens.searchable("case", column) else None


def read_cases(conn: Connection, lens: Lens, window: Window) -> tuple[list[Case], bool]:
    """The cases of ``window`` the caller may see (at most :data:`MAX_CASES`, the newest; True when cut),
    each with the suspects, phones and vehicles it may tie to them."""
    from exchange.investigate.search import id_holders

    window.check()
    where, params = "occurred_at >= :start AND occurred_at < :end", {"start": window.start, "end": window.end}
    if window.offence:
        where += " AND offence = :offence"
        params["offence"] = window.offence
    rows = read_rows(conn, lens, "case", where, params, limit=MAX_CASES + 1, order="occurred_at DESC")
    cut = len(rows) > MAX_CASES
    cases: dict[str, Case] = {}
    for row in rows[:MAX_CASES]:
        r = row.raw
        lon, lat = _compared(lens, "longitude", r.get("longitude")), _compared(lens, "latitude", r.get("latitude"))
        plate = _compared(lens, "vehicle_plate", r.get("vehicle_plate"))
        cases[str(r["case_number"])] = Case(
            row=row, number=str(r["case_number"]), offence=_compared(lens, "offence", r.get("offence")),
            entry=_compared(lens, "mo_entry", r.get("mo_entry")),
            target=_compared(lens, "mo_target", r.get("mo_target")),
            tools=tool_set(_compared(lens, "mo_tools", r.get("mo_tools"))),
            at=as_datetime(r.get("occurred_at")) if lens.searchable("case", "occurred_at") else None,
            point=(float(lon), float(lat)) if lon is not None and lat is not None else None,
            division=_compared(lens, "division_code", r.get("division_code")),
            plates={str(plate)} if plate else set())
    _suspects(conn, lens, cases, id_holders)
    return list(cases.values()), cut


def _suspects(conn: Connection, lens: Lens, cases: dict[str, Case], id_holders: Any) -> None:
    """Each case's suspects (person_uids, through the index) and their phones, as the caller may tie them."""
    if not cases or not lens.allows("case_party") or not lens.searchable("case_party", "role"):
        return
    parties: list[Row] = []
    numbers = sorted(cases)
    for i in range(0, len(numbers), 500):
        parties += read_rows(conn, lens, "case_party", "case_number IN :n AND role = 'suspect'",
                             {"n": numbers[i:i + 500]})
    ids = lens.discloses("case_party", "id_number")
    holders = id_holders(conn, {str(p.raw["id_number"]) for p in parties if p.raw.get("id_number")}) if ids else {}
    phones = lens.searchable("case_party", "phone")
    for p in parties:
        case = cases.get(str(p.raw.get("case_number")))
        if case is None:
            continue
        uid = holders.get(str(p.raw.get("id_number") or ""))
        if uid:
            case.suspects.add(uid)
        if phones and p.raw.get("phone"):
            case.phones.add(str(p.raw["phone"]))


def _shown_case(c: Case) -> dict[str, Any]:
    return {"case_number": c.row.shown.get("case_number"), **c.row.shown, "provenance": c.row.provenance}


def answer(cases: list[Case], cut: bool, links: list[Link], pairs: int, window: Window) -> dict[str, Any]:
    """The candidate series as the tools show them."""
    groups = series_of(links)
    out = []
    for g in groups[:MAX_SERIES]:
        members = sorted({id(c): c for lk in g for c in (lk.a, lk.b)}.values(),
                         key=lambda c: (c.at or dt.datetime.min, c.number))
        out.append({
            "id": f"S-{members[0].number}", "offence": members[0].row.shown.get("offence"),
            "size": len(members), "score": round(sum(lk.score for lk in g) / len(g), 2),
            "cases": [_shown_case(c) for c in members],
            "links": [{"a": lk.a.number, "b": lk.b.number, "a_key": list(lk.a.key), "b_key": list(lk.b.key),
                       "score": lk.score, "decision": lk.decision,
                       "shared": [f for f in lk.features if f["weight"] > 0],
                       "apart": [f for f in lk.features if f["weight"] <= 0]}
                      for lk in sorted(g, key=lambda lk: (-lk.score, lk.a.number, lk.b.number))],
        })
    return {"window": {"start": f"{window.start:%Y-%m-%d}", "end": f"{window.end:%Y-%m-%d}",
                       "offence": window.offence},
            "cases": len(cases), "cut": cut, "pairs_scored": pairs, "threshold": THRESHOLD,
            "series": out, "total": len(groups), "links": len(links)}


def proposed_pairs(series: Iterable[dict[str, Any]]) -> set[tuple[str, str]]:
    """Every pair of case numbers two proposed series put together (what precision and recall count)."""
    out = set()
    for s in series:
        numbers = sorted(c["case_number"] for c in s["cases"])
        out |= {(x, y) for i, x in enumerate(numbers) for y in numbers[i + 1:]}
    return out


def against_truth(series: Iterable[dict[str, Any]], truth: Iterable[Iterable[str]], compared: set[str]
                  ) -> dict[str, Any]:
    """Pairwise precision and recall of proposed ``series`` against ``truth`` (each a list of case numbers;
    only the cases that were ``compared`` count: a case quarantined at load was never there to find)."""
    proposed = proposed_pairs(series)
    expected: set[tuple[str, str]] = set()
    for numbers in truth:
        kept = sorted(n for n in numbers if n in compared)
        expected |= {(a, b) for i, a in enumerate(kept) for b in kept[i + 1:]}
    hit = len(proposed & expected)
    return {"pairs": len(expected), "proposed": len(proposed), "found": hit,
            "precision": hit / len(proposed) if proposed else 1.0, "recall": hit / len(expected) if expected else 1.0}
