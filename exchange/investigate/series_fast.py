"""The scores of serial-case linking for every candidate pair, computed per block with numpy.

:mod:`exchange.investigate.series` says what a pair's features, levels and weights are (``levels``,
``Weights.features``, ``Weights.hotspot``, ``Weights.prior``) and explains each link with them; comparing
every pair that way in Python costs about 50 µs a pair, and a city's year of cases makes millions of
candidate pairs. This module computes the same score for all of them at once — the same candidates (the
same offence, within :data:`~exchange.investigate.series.MAX_GAP` days and
:data:`~exchange.investigate.series.MAX_KM` km), the same levels, the same weights — so that only the
pairs near the threshold are explained one by one. Shared suspects, phones and vehicles are left to the
caller (a pair sharing one is always scored the full way); here a pair where both cases name a suspect
counts as "not shared". ``tests/unit/test_series.py`` checks both give the same pairs and scores.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from exchange.investigate import series as s

CHUNK = 256
_DIST = ("1km", "3km", "10km", "far")
_GAP = ("3d", "7d", "14d", "30d", "90d", "far")
_HOUR = ("1h", "3h", "far")
_TOOLS = ("same", "most", "some", "none")
_DIVISION = ("community", "town", "county")


class Encoded:
    """The cases as arrays: codes for the categorical values, tool sets as bit masks, times in days."""

    def __init__(self, cases: list[s.Case]) -> None:
        n = len(cases)
        self.cases = cases
        entries = {v: i for i, v in enumerate(sorted({c.entry for c in cases if c.entry}))}
        targets = {v: i for i, v in enumerate(sorted({c.target for c in cases if c.target}))}
        tools = {v: i for i, v in enumerate(sorted({t for c in cases for t in c.tools}))}
        words = max(1, math.ceil(len(tools) / 64))
        self.entry = np.array([entries.get(c.entry, -1) if c.entry else -1 for c in cases], dtype=np.int64)
        self.target = np.array([targets.get(c.target, -1) if c.target else -1 for c in cases], dtype=np.int64)
        self.tools = np.zeros((n, words), dtype=np.uint64)
        for i, c in enumerate(cases):
            for t in c.tools:
                k = tools[t]
                self.tools[i, k // 64] |= np.uint64(1) << np.uint64(k % 64)
        self.tool_count = np.bitwise_count(self.tools).sum(axis=1).astype(np.int64)
        first = min((c.at for c in cases if c.at is not None), default=None)
        self.t = np.array([(c.at - first).total_seconds() / 86400 if c.at is not None and first is not None
                           else np.nan for c in cases])
        self.minute = np.array([c.at.hour * 60 + c.at.minute if c.at is not None else -1 for c in cases])
        self.lon = np.array([c.point[0] if c.point is not None else np.nan for c in cases])
        self.lat = np.array([c.point[1] if c.point is not None else np.nan for c in cases])
        counties = sorted({x for c in cases if (x := s.county(c))})
        self.county_names = counties
        index = {v: i for i, v in enumerate(counties)}
        self.county = np.array([index.get(s.county(c) or "", -1) for c in cases], dtype=np.int64)
        self.town = _codes([c.division[:9] if c.division and len(c.division) >= 9 else None for c in cases])
        self.community = _codes([c.division[:12] if c.division and len(c.division) >= 12 else None for c in cases])
        self.has = {name: np.array([bool(getattr(c, attr)) for c in cases])
                    for name, attr in (("suspect", "suspects"), ("phone", "phones"), ("vehicle", "plates"))}
        self.entries, self.targets = entries, targets


def _codes(values: list[str | None]) -> np.ndarray:
    """A code per distinct value; a missing value a code of its own (it equals nothing)."""
    index: dict[str, int] = {}
    return np.array([index.setdefault(v, len(index)) if v is not None else -1 - i for i, v in enumerate(values)],
                    dtype=np.int64)


def _weights(w: s.Weights, scope: str | None, feature: str, levels: tuple[str, ...]) -> np.ndarray:
    return np.array([w.of(scope, feature, level) for level in levels])


def _u(w: s.Weights, scope: str | None, feature: str, level: str) -> float:
    return w.u.get((scope, feature, level), w.u.get((None, feature, level), 1.0))


class _Tables:
    """Per offence: the weight of every level (u in its scope), and what the hot-spot correction needs."""

    def __init__(self, w: s.Weights, enc: Encoded, offence: str) -> None:
        self.entry = _weights(w, offence, "entry", ("same", "different"))
        self.target = _weights(w, offence, "target", ("same", "different"))
        self.tools = _weights(w, offence, "tools", _TOOLS)
        self.hour = _weights(w, offence, "hour", _HOUR)
        scopes = [None, *(f"@{c}" for c in enc.county_names)]  # row 0: two counties, or none known
        self.distance = np.array([_weights(w, sc, "distance", _DIST) for sc in scopes])
        self.gap = np.array([_weights(w, sc, "gap", _GAP) for sc in scopes])
        self.division = np.array([_weights(w, sc, "division", _DIVISION) for sc in scopes])
        self.u_distance = np.array([[_u(w, sc, "distance", lv) for lv in _DIST] for sc in scopes])
        self.u_gap = np.array([[_u(w, sc, "gap", lv) for lv in _GAP] for sc in scopes])
        self.u_manner = _u(w, offence, "entry", "same") * _u(w, offence, "target", "same") * \
            _u(w, offence, "tools", "same")
        self.not_shared = {name: w.of(None, name, "not") for name in s.IDENTITY}
        n = w.offence_cases.get(offence, 0)
        prior = w.prior(_Stub(offence), _Stub(offence))
        self.prior = float(prior["weight"]) if prior else 0.0
        self.n = n


class _Stub:
    def __init__(self, offence: str) -> None:
        self.offence = offence


def _background(w: s.Weights, enc: Encoded) -> dict[str, np.ndarray]:
    """Per case: counts around it at other times, per ring (all, and with its manner), and the days."""
    rings = [f"{lv}{m}" for lv in _DIST[:3] for m in ("", "+manner")]
    out = {r: np.full(len(enc.cases), np.nan) for r in [*rings, "days"]}
    for i, c in enumerate(enc.cases):
        seen = w.background.get(c.key)
        if seen:
            for r in out:
                out[r][i] = seen[r]
    return out


def scores(cases: list[s.Case], w: s.Weights) -> Iterator[tuple[int, int, float]]:
    """(i, j, score) of every pair of cases of one offence close enough in time and place to compare
    (i < j), the score being what :meth:`Weights.features` and :meth:`Weights.prior` add up to."""
    enc = Encoded(cases)
    bg = _background(w, enc)
    blocks: dict[str, dict[tuple[Any, ...], list[int]]] = {}
    for i, c in enumerate(cases):
        if c.offence and (c.entry or c.target or c.tools):
            blocks.setdefault(c.offence, {}).setdefault(s._cell(c), []).append(i)
    for offence, cells in blocks.items():
        tables = _Tables(w, enc, offence)
        for cell, mine in cells.items():
            near = _near(cells, cell)
            yield from _block(enc, bg, tables, offence, cell, np.array(mine), np.array(near))


def _near(cells: dict[tuple[Any, ...], list[int]], cell: tuple[Any, ...]) -> list[int]:
    """The cases a case in ``cell`` is compared with, as :func:`exchange.investigate.series._near` has it."""
    if cell[0] == "any":
        return cells.get(cell, [])
    if cell[0] == "d":
        return [i for other, idx in cells.items() if other[0] == "p" or other == cell for i in idx]
    out = [i for other, idx in cells.items() if other[0] == "d" for i in idx]
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            out += cells.get(("p", cell[1] + dx, cell[2] + dy), [])
    return out


def _block(enc: Encoded, bg: dict[str, np.ndarray], tb: _Tables, offence: str, cell: tuple[Any, ...],
           mine: np.ndarray, near: np.ndarray) -> Iterator[tuple[int, int, float]]:
    placeless = offence in s.PLACELESS
    for start in range(0, len(mine), CHUNK):
        a = mine[start:start + CHUNK][:, None]
        b = near[None, :]
        keep = a < b
        ta, tb_ = enc.t[a], enc.t[b]
        both_t = ~np.isnan(ta) & ~np.isnan(tb_)
        days = np.abs(ta - tb_)
        keep &= ~both_t | (days <= s.MAX_GAP)
        pa = ~np.isnan(enc.lon[a])
        pb = ~np.isnan(enc.lon[b])
        both_p = pa & pb
        dist = _km(enc.lon[a], enc.lat[a], enc.lon[b], enc.lat[b])
        if cell[0] == "p":
            keep &= ~pb | (dist <= s.MAX_KM)
        ia, ib = np.nonzero(keep)
        if not len(ia):
            continue
        i, j = mine[start:start + CHUNK][ia], near[ib]
        yield from zip(i.tolist(), j.tolist(), _score(enc, bg, tb, placeless, i, j, days[ia, ib], both_t[ia, ib],
                                                      dist[ia, ib], both_p[ia, ib]).tolist(), strict=True)


def _km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    with np.errstate(invalid="ignore"):
        return 2 * s.EARTH_KM * np.arcsin(np.sqrt(h))


def _score(enc: Encoded, bg: dict[str, np.ndarray], tb: _Tables, placeless: bool, i: np.ndarray, j: np.ndarray,
           days: np.ndarray, both_t: np.ndarray, dist: np.ndarray, both_p: np.ndarray) -> np.ndarray:
    total = np.full(len(i), tb.prior if tb.n >= 2 else 0.0)
    # manner
    e_both = (enc.entry[i] >= 0) & (enc.entry[j] >= 0)
    e_same = e_both & (enc.entry[i] == enc.entry[j])
    total += np.where(e_both, np.where(e_same, tb.entry[0], tb.entry[1]), 0.0)
    g_both = (enc.target[i] >= 0) & (enc.target[j] >= 0)
    g_same = g_both & (enc.target[i] == enc.target[j])
    total += np.where(g_both, np.where(g_same, tb.target[0], tb.target[1]), 0.0)
    k_both = (enc.tool_count[i] > 0) & (enc.tool_count[j] > 0)
    inter = np.bitwise_count(enc.tools[i] & enc.tools[j]).sum(axis=1)
    union = np.bitwise_count(enc.tools[i] | enc.tools[j]).sum(axis=1)
    overlap = inter / np.maximum(union, 1)
    k_level = np.where(overlap == 1, 0, np.where(overlap >= 0.5, 1, np.where(overlap > 0, 2, 3)))
    total += np.where(k_both, tb.tools[k_level], 0.0)
    manner = e_same & g_same & k_both & (k_level == 0)
    # time of day and gap
    m_both = both_t & (enc.minute[i] >= 0) & (enc.minute[j] >= 0)
    minutes = np.abs(enc.minute[i] - enc.minute[j])
    minutes = np.minimum(minutes, 1440 - minutes)
    h_level = np.where(minutes <= 60, 0, np.where(minutes <= 180, 1, 2))
    if not placeless:
        total += np.where(m_both, tb.hour[h_level], 0.0)
    gap_level = np.select([days <= d for d in (3, 7, 14, 30, 90)], range(5), 5)
    same_county = (enc.county[i] >= 0) & (enc.county[i] == enc.county[j])
    scope = np.where(same_county, enc.county[i] + 1, 0)
    total += np.where(both_t, tb.gap[scope, gap_level], 0.0)
    # place
    d_level = np.select([dist <= 1, dist <= 3, dist <= 10], range(3), 3)
    if not placeless:
        total += np.where(both_p, tb.distance[scope, d_level], 0.0)
        div = np.where(~same_county, -1, np.where(enc.community[i] == enc.community[j], 0,
                                                  np.where(enc.town[i] == enc.town[j], 1, 2)))
        total += np.where(~both_p & (div >= 0), tb.division[scope, np.maximum(div, 0)], 0.0)
        total += _hotspot(bg, tb, i, j, both_p & both_t & (d_level < 3), d_level, gap_level, manner, scope)
    # identifiers: both name one and (for the caller to correct) it is not shared
    for name in s.IDENTITY:
        total += np.where(enc.has[name][i] & enc.has[name][j], tb.not_shared[name], 0.0)
    return total


def _hotspot(bg: dict[str, np.ndarray], tb: _Tables, i: np.ndarray, j: np.ndarray, where: np.ndarray,
             d_level: np.ndarray, gap_level: np.ndarray, manner: np.ndarray, scope: np.ndarray) -> np.ndarray:
    out = np.zeros(len(i))
    if tb.n < 2 or not where.any():
        return out
    width = np.array([s.GAP_WIDTH[g] for g in _GAP])
    for level in range(3):
        for with_manner in (False, True):
            ring = _DIST[level] + ("+manner" if with_manner else "")
            sel = where & (d_level == level) & (manner == with_manner)
            if not sel.any():
                continue
            ca, cb = bg[ring][i[sel]], bg[ring][j[sel]]
            ok = ~np.isnan(ca) & ~np.isnan(cb) & (ca + cb >= 2 * s.MIN_BACKGROUND)
            local = (ca / bg["days"][i[sel]] + cb / bg["days"][j[sel]]) / 2 * 2 * width[gap_level[sel]] / (tb.n - 1)
            context = tb.u_distance[scope[sel], level] * tb.u_gap[scope[sel], gap_level[sel]]
            if with_manner:
                context = context * tb.u_manner
            with np.errstate(divide="ignore", invalid="ignore"):
                correction = np.where(ok & (local > context), -np.log2(local / context), 0.0)
            out[sel] = correction
    return out
