"""Serial-case linking (智能串并): which police cases were likely committed by the same offender.

Cases are compared in pairs on what investigators compare — the offence (案别), the modus operandi
(entry method 作案手段, target 侵害目标, tools 作案工具, time of day), the place (distance between the
points, else the division codes), the time gap, and a suspect, a suspect's phone or a vehicle two
cases share — and each pair gets a **score**: the sum of one weight per feature, Fellegi–Sunter style,
``log2(m / u)`` of the level the pair shows:

- ``m``, how often two cases of one series show that level, is a prior stated below (:data:`FEATURES`):
  what crime-linkage studies report of offenders' consistency — they repeat their entry method and
  target most of the time, strike close to where they struck before, within weeks, at the same hours.
- ``u``, how often two unrelated cases show it, is measured on the cases being compared: nearly every
  candidate pair is unrelated, so the share of candidate pairs of the same offence at each level is
  its ``u`` (add-one smoothed). A town where every burglar prises doors gives a shared prised door
  little weight; a rare tool shared weighs a lot.

A feature either case lacks (no coordinates, no tools recorded, a column the grant does not show in
full) weighs 0: it neither links nor separates. Candidate pairs: the same offence within
:data:`MAX_GAP` days and :data:`MAX_KM` km (or the same district where a case has no point), or any two
cases of the same offence that share a suspect, a phone or a vehicle. A pair scoring :data:`THRESHOLD` bits or more is a
proposed **link**; an analyst's decision overrides (a confirmed link stays whatever its score, a
rejected one is gone); the links' connected components are the candidate **series**, each with its
links, their scores and the features that made them.

Everything is read through the caller's grant (:mod:`exchange.investigate.series_read`): a case it may
not see is not compared, a party it may not tie to a person ties nothing, and a column it sees masked is
not compared (comparing a full value behind a mask would confirm what the mask hides).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from exchange.access.lens import Row

MAX_GAP = 180
"""Days: two cases further apart in time are not compared unless they share a suspect, phone or vehicle."""
MAX_KM = 15.0
THRESHOLD = -2.0
"""Bits a pair needs to be proposed as a link (chosen on the demo city, see the README)."""
EARTH_KM = 6371.0088
_GRID = 0.15  # degrees: a cell holds every case within MAX_KM of a case in a neighbouring cell
PLACELESS = ("fraud",)
"""Offences committed at a distance (telecom fraud): where the victim was, and the hour it was reached, say
nothing of the offender, so place and hour neither block nor score."""


@dataclass(frozen=True)
class Feature:
    name: str
    label: str
    m: dict[str, float]
    """Level → how often two cases of one series show it (the prior)."""


FEATURES: tuple[Feature, ...] = (
    Feature("entry", "作案手段", {"same": 0.85, "different": 0.15}),
    Feature("target", "侵害目标", {"same": 0.80, "different": 0.20}),
    Feature("tools", "作案工具", {"same": 0.60, "most": 0.15, "some": 0.15, "none": 0.10}),
    Feature("hour", "作案时段", {"1h": 0.55, "3h": 0.35, "far": 0.10}),
    Feature("distance", "距离", {"1km": 0.30, "3km": 0.35, "10km": 0.30, "far": 0.05}),
    Feature("division", "区划", {"community": 0.25, "town": 0.50, "county": 0.25}),
    Feature("gap", "间隔", {"3d": 0.12, "7d": 0.18, "14d": 0.25, "30d": 0.30, "90d": 0.13, "far": 0.02}),
    Feature("suspect", "嫌疑人", {"shared": 0.30, "not": 0.70}),
    Feature("phone", "嫌疑人电话", {"shared": 0.30, "not": 0.70}),
    Feature("vehicle", "涉案车辆", {"shared": 0.30, "not": 0.70}),
)
_SHARED_U = 0.002
"""u of a shared suspect, phone or vehicle when the cases compared show none: about one in 500."""


@dataclass
class Case:
    """One case as the caller may compare it."""

    row: Row
    number: str
    offence: str | None
    entry: str | None
    target: str | None
    tools: frozenset[str]
    at: dt.datetime | None
    point: tuple[float, float] | None
    division: str | None
    suspects: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    plates: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str, str]:
        return self.row.key


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    p1, p2 = math.radians(a[1]), math.radians(b[1])
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b[0] - a[0]) / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(h))


def tool_set(text: Any) -> frozenset[str]:
    return frozenset(t for t in re.split(r"[、,，;；/\s]+", str(text or "")) if t)


def levels(a: Case, b: Case) -> dict[str, str]:
    """The level of every feature both cases show (a feature either lacks is left out)."""
    out: dict[str, str] = {}
    if a.entry and b.entry:
        out["entry"] = "same" if a.entry == b.entry else "different"
    if a.target and b.target:
        out["target"] = "same" if a.target == b.target else "different"
    if a.tools and b.tools:
        overlap = len(a.tools & b.tools) / len(a.tools | b.tools)
        out["tools"] = "same" if overlap == 1 else "most" if overlap >= 0.5 else "some" if overlap > 0 else "none"
    if a.at is not None and b.at is not None:
        minutes = abs((a.at.hour * 60 + a.at.minute) - (b.at.hour * 60 + b.at.minute))
        minutes = min(minutes, 1440 - minutes)
        if a.offence not in PLACELESS:  # a fraudster calls when the victim answers: no hour of its own
            out["hour"] = "1h" if minutes <= 60 else "3h" if minutes <= 180 else "far"
        days = abs((a.at - b.at).total_seconds()) / 86400
        out["gap"] = next((f"{d}d" for d in (3, 7, 14, 30, 90) if days <= d), "far")
    if a.offence in PLACELESS or b.offence in PLACELESS:
        pass
    elif a.point is not None and b.point is not None:
        d = km(a.point, b.point)
        out["distance"] = "1km" if d <= 1 else "3km" if d <= 3 else "10km" if d <= 10 else "far"
    elif a.division and b.division and a.division[:6] == b.division[:6]:
        out["division"] = ("community" if len(a.division) >= 12 and a.division[:12] == b.division[:12] else
                           "town" if len(a.division) >= 9 and a.division[:9] == b.division[:9] else "county")
    for name, mine, theirs in (("suspect", a.suspects, b.suspects), ("phone", a.phones, b.phones),
                               ("vehicle", a.plates, b.plates)):
        if mine and theirs:
            out[name] = "shared" if mine & theirs else "not"
    if out.get("suspect") == "shared":  # the same suspect's phone is no second proof
        out.pop("phone", None)
    return out


@dataclass
class Weights:
    """log2(m/u) per feature and level: u per offence (and over all offences, ``None``), m over all."""

    u: dict[tuple[str | None, str, str], float]
    m: dict[tuple[str, str], float]
    background: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    """Case → distance level (and level+manner: with its entry, target and tools) → cases of its offence
    within it at other times, and ``days``: how many days those other times cover (:func:`background`)."""
    offence_cases: dict[str, int] = field(default_factory=dict)

    def of(self, scope: str | None, feature: str, level: str) -> float:
        """The weight of ``level``; u measured in ``scope`` (an offence for manner, a county for place
        and time) where it was, else over all."""
        u = self.u.get((scope, feature, level), self.u.get((None, feature, level)))
        m = self.m.get((feature, level))
        return 0.0 if not u or not m else round(math.log2(m / u), 3)

    def features(self, a: Case, b: Case, lv: dict[str, str]) -> list[dict[str, Any]]:
        """Each feature the pair shows, with its level and weight."""
        out = [{"feature": f.name, "label": f.label, "level": lv[f.name],
                "weight": self.of(scope(a, b, f.name), f.name, lv[f.name])} for f in FEATURES if f.name in lv]
        hot = self.hotspot(a, b, lv)
        return out if hot is None else [*out, hot]

    def hotspot(self, a: Case, b: Case, lv: dict[str, str]) -> dict[str, Any] | None:
        """The correction where the pair lies in a hot spot: how much likelier than the county's rate two
        unrelated cases of this offence fall this close in place and time there — measured on the
        offence's cases around both at other times (more than :data:`BACKGROUND_DAYS` days apart), so a
        burst of a few cases (a series) does not raise its own rate, a place that has them all year does."""
        ld, lg = lv.get("distance"), lv.get("gap")
        if ld is None or lg is None or ld == "far" or a.offence != b.offence:
            return None
        alike = [f for f in ("entry", "target", "tools") if lv.get(f) == "same"]
        ring = f"{ld}+manner" if len(alike) == 3 else ld  # the same manner too: how often that happens here
        seen = [self.background.get(c.key, {}) for c in (a, b)]
        n = self.offence_cases.get(str(a.offence), 0)
        if not all(seen) or n < 2 or sum(x[ring] for x in seen) < 2 * MIN_BACKGROUND:
            return None  # too few cases around to call the place a hot spot
        here = [x[ring] / x["days"] for x in seen]
        local = sum(here) / 2 * 2 * GAP_WIDTH[lg] / (n - 1)
        context = 1.0
        for f, level in [("distance", ld), ("gap", lg), *((f, "same") for f in alike if ring != ld)]:
            context *= self.u.get((scope(a, b, f), f, level), self.u.get((None, f, level), 1.0))
        if local <= context:
            return None
        per_year = sum(here) / 2 * 365
        what = f"{per_year:.0f}/yr within {ld}" + (" with this manner" if ring != ld else "")
        return {"feature": "hotspot", "label": "高发区", "level": what, "weight": -round(math.log2(local / context), 3),
                "per_year": round(per_year, 1), "within": ld, "manner": ring != ld}

    def prior(self, a: Case, b: Case) -> dict[str, Any] | None:
        """The prior odds that two cases of an offence belong to one series: about :data:`PARTNERS` series
        partners per case among the offence's other cases in the window — more cases to choose from, more
        evidence needed."""
        n = self.offence_cases.get(str(a.offence), 0) if a.offence == b.offence else 0
        if n < 2:
            return None
        lam = min(0.5, PARTNERS / (n - 1))
        return {"feature": "prior", "label": "先验", "level": f"1 in {1 / lam:.0f}",
                "weight": round(math.log2(lam / (1 - lam)), 3), "one_in": round(1 / lam)}

    def evidence(self) -> list[dict[str, Any]]:
        """Every feature's levels with m, u (over all offences) and the weight: how the tool decides."""
        return [{"feature": f.name, "label": f.label, "level": level, "m": round(self.m[(f.name, level)], 4),
                 "u": round(self.u.get((None, f.name, level), 0.0), 4), "weight": self.of(None, f.name, level)}
                for f in FEATURES for level in f.m]


CONTEXT = ("distance", "division", "gap")
"""Features of where and when, whatever the offence: their u is measured over all pairs of cases of a
county (cases are denser in a county seat: two cases 1 km apart say less there)."""
IDENTITY = ("suspect", "phone", "vehicle")


def county(c: Case) -> str | None:
    return c.division[:6] if c.division and len(c.division) >= 6 else None


def scope(a: Case, b: Case, feature: str) -> str | None:
    """Where the u of ``feature`` for the pair ``a``, ``b`` is measured (see :func:`measure_u`)."""
    if feature in CONTEXT:
        here = county(a)
        return f"@{here}" if here is not None and here == county(b) else None
    if feature in IDENTITY:
        return None
    return a.offence if a.offence == b.offence else None
MIN_PAIRS = 30


def _apart(a: Case, b: Case) -> bool:
    """Two cases too far apart in time or place to be compared: almost surely unrelated."""
    if a.at is not None and b.at is not None and abs((a.at - b.at).days) > MAX_GAP:
        return True
    return a.point is not None and b.point is not None and km(a.point, b.point) > MAX_KM


def _sampled_pairs(n: int, sample: int) -> Iterator[tuple[int, int]]:
    """Every pair (i, j), i < j, of ``n`` cases when there are at most ``sample``; else ``sample`` pairs drawn
    at random (the same ones for the same cases)."""
    if n * (n - 1) // 2 <= sample:
        for i in range(n):
            for j in range(i + 1, n):
                yield i, j
        return
    rng = random.Random(n)
    for _ in range(sample):
        i, j = rng.randrange(n), rng.randrange(n - 1)
        j += j >= i
        yield min(i, j), max(i, j)


def measure_u(cases: list[Case], sample: int = 200_000) -> dict[tuple[str | None, str, str], float]:
    """u of every feature's levels, measured on pairs of the cases being compared (``sample`` pairs drawn
    at random, the same for the same cases, when there are more), add-one smoothed:

    - where and when (:data:`CONTEXT`): over the pairs of cases of different offences (unrelated — a
      series does not make its own closeness look common), per county and over all;
    - manner (entry, target, tools, hour): per offence, over the pairs too far apart in time or place
      to be candidates, so that the series being looked for do not make their own signatures look
      common (over all offences' such pairs where an offence has fewer than :data:`MIN_PAIRS`);
    - a shared suspect, phone or vehicle: over all pairs, at most :data:`_SHARED_U`.
    """
    counts: dict[tuple[str | None, str], dict[str, int]] = {}

    def count(key: tuple[str | None, str], level: str) -> None:
        seen = counts.setdefault(key, {})
        seen[level] = seen.get(level, 0) + 1

    for i, j in _sampled_pairs(len(cases), sample):
        a, b = cases[i], cases[j]
        same = a.offence is not None and a.offence == b.offence
        apart = same and _apart(a, b)
        for name, level in levels(a, b).items():
            if name in CONTEXT and same:
                continue  # where and when: measured on cases of different offences, surely unrelated
            if name in CONTEXT or name in IDENTITY:
                count((None, name), level)
                where = scope(a, b, name)
                if where is not None:
                    count((where, name), level)
            elif apart:
                count((a.offence, name), level)
                count((None, name), level)
    u: dict[tuple[str | None, str, str], float] = {}
    for f in FEATURES:
        for offence in {o for o, name in counts if name == f.name} | {None}:
            seen = counts.get((offence, f.name), {})
            if offence is not None and sum(seen.values()) < MIN_PAIRS:
                continue
            total = sum(seen.values()) + len(f.m)
            for level in f.m:
                u[(offence, f.name, level)] = (seen.get(level, 0) + 1) / total
            if f.name in IDENTITY:  # shared is rare whatever was seen; not shared is the rest
                shared = min(u[(offence, f.name, "shared")], _SHARED_U)
                u[(offence, f.name, "shared")], u[(offence, f.name, "not")] = shared, 1 - shared
    return u


def estimate(cases: list[Case]) -> Weights:
    """The weights: m the stated priors of :data:`FEATURES`, u measured on the cases compared, and the
    background rate of each case's offence around it (for the hot-spot correction)."""
    counts: dict[str, int] = {}
    for c in cases:
        if c.offence:
            counts[c.offence] = counts.get(c.offence, 0) + 1
    return Weights(measure_u(cases), {(f.name, level): p for f in FEATURES for level, p in f.m.items()},
                   background(cases), counts)


BACKGROUND_DAYS = 120
"""Cases further apart in time than this are no part of the same burst: they measure a place's background."""
MIN_BACKGROUND = 3
PARTNERS = 0.3
"""Series partners a case has on average among its offence's cases: a tenth to a fifth of property crime
comes in series, each case with one or two close partners in it."""
GAP_WIDTH = {"3d": 3, "7d": 4, "14d": 7, "30d": 16, "90d": 60, "far": MAX_GAP - 90}
"""Days each gap level spans (on either side)."""
_DISTANCE_KM = (("1km", 1.0), ("3km", 3.0), ("10km", 10.0))


def background(cases: list[Case]) -> dict[tuple[str, str], dict[str, float]]:
    """For every case with a point and a time: per distance level, how many cases of its offence lie within
    it (in that ring) at other times — more than :data:`BACKGROUND_DAYS` days away — and ``days``, how
    many days of the window those other times cover."""
    import numpy as np

    out: dict[tuple[str, str], dict[str, float]] = {}
    placed = [c for c in cases if c.point is not None and c.at is not None and c.offence and
              c.offence not in PLACELESS]
    if not placed:
        return out
    first = min(c.at for c in placed)  # type: ignore[type-var]
    last = max(c.at for c in placed)  # type: ignore[type-var]
    span = max(1.0, (last - first).total_seconds() / 86400)  # type: ignore[operator]
    by_cell: dict[tuple[str, int, int], list[Case]] = {}
    for c in placed:
        by_cell.setdefault((str(c.offence), *_cell(c)[1:]), []).append(c)  # type: ignore[arg-type]
    for (offence, x, y), mine in by_cell.items():
        near = [c for dx in (-1, 0, 1) for dy in (-1, 0, 1) for c in by_cell.get((offence, x + dx, y + dy), [])]
        bx = np.array([c.point[0] for c in near])  # type: ignore[index]
        by = np.array([c.point[1] for c in near])  # type: ignore[index]
        bt = np.array([(c.at - first).total_seconds() / 86400 for c in near])  # type: ignore[operator]
        bs = np.array([hash((c.entry, c.target, c.tools)) for c in near])
        for i in range(0, len(mine), 500):
            chunk = mine[i:i + 500]
            ax = np.array([c.point[0] for c in chunk])[:, None]  # type: ignore[index]
            ay = np.array([c.point[1] for c in chunk])[:, None]  # type: ignore[index]
            at = np.array([(c.at - first).total_seconds() / 86400 for c in chunk])[:, None]  # type: ignore[operator]
            same = np.array([hash((c.entry, c.target, c.tools)) for c in chunk])[:, None] == bs[None, :]
            kx = 111.32 * np.cos(np.radians(ay))
            d = np.hypot((bx[None, :] - ax) * kx, (by[None, :] - ay) * 110.57)
            other = np.abs(bt[None, :] - at) > BACKGROUND_DAYS
            days = np.maximum(1.0, np.clip(at[:, 0] - BACKGROUND_DAYS, 0, None) +
                              np.clip(span - at[:, 0] - BACKGROUND_DAYS, 0, None))
            inner = 0.0
            rings: dict[str, Any] = {}
            for level, radius in _DISTANCE_KM:
                ring = (d <= radius) & (d > inner) & other
                rings[level] = ring.sum(axis=1)
                rings[f"{level}+manner"] = (ring & same).sum(axis=1)
                inner = radius
            rings["days"] = days
            for j, c in enumerate(chunk):
                out[c.key] = {level: float(v[j]) for level, v in rings.items()}
    return out


def _cell(c: Case) -> tuple[Any, ...]:
    if c.offence in PLACELESS:
        return ("any",)
    if c.point is not None:
        return ("p", math.floor(c.point[0] / _GRID), math.floor(c.point[1] / _GRID))
    return ("d", (c.division or "")[:6])


def _near(by_block: dict[tuple[str, tuple[Any, ...]], list[Case]], offence: str, cell: tuple[Any, ...]
          ) -> list[Case]:
    """The cases of ``offence`` a case in ``cell`` is compared with: its own and the neighbouring cells,
    and cases placed only by division (their district, or any when the case has a point)."""
    if cell[0] == "any":
        return by_block.get((offence, cell), [])
    if cell[0] == "d":
        return [c for (o, other), cs in by_block.items() if o == offence and other[0] in "pd"
                and (other[0] == "p" or other == cell) for c in cs]
    near = [c for (o, other), cs in by_block.items() if o == offence and other[0] == "d" for c in cs]
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            near += by_block.get((offence, ("p", cell[1] + dx, cell[2] + dy)), [])
    return near


def close_pairs(cases: list[Case]) -> list[tuple[int, int]]:
    """(i, j), i < j: the pairs of the same offence close enough in time and place to compare — one pair at
    a time (the reference :mod:`exchange.investigate.series_fast` is checked against)."""
    out: set[tuple[int, int]] = set()
    index = {id(c): i for i, c in enumerate(cases)}
    by_block: dict[tuple[str, tuple[Any, ...]], list[Case]] = {}
    for c in cases:
        if c.offence and (c.entry or c.target or c.tools):
            by_block.setdefault((c.offence, _cell(c)), []).append(c)
    gap = dt.timedelta(days=MAX_GAP)
    for (offence, cell), mine in by_block.items():
        near = _near(by_block, offence, cell)
        for a in mine:
            i = index[id(a)]
            for b in near:
                j = index[id(b)]
                if i >= j:
                    continue
                if a.at is not None and b.at is not None and abs(a.at - b.at) > gap:
                    continue
                if cell[0] == "p" and b.point is not None and km(a.point, b.point) > MAX_KM:  # type: ignore[arg-type]
                    continue
                out.add((i, j))
    return sorted(out)


def identity_pairs(cases: list[Case]) -> set[tuple[int, int]]:
    """(i, j), i < j: the pairs of the same offence that share a suspect, a phone or a vehicle."""
    by_ident: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(cases):
        for kind, values in (("s", c.suspects), ("p", c.phones), ("v", c.plates)):
            for v in values:
                by_ident.setdefault((kind, v), []).append(i)
    out = set()
    for group in by_ident.values():
        for x in range(len(group)):
            for y in range(x + 1, len(group)):
                i, j = group[x], group[y]
                if cases[i].offence == cases[j].offence:  # one offender's different offences: not a series
                    out.add((min(i, j), max(i, j)))
    return out


def candidates(cases: list[Case]) -> list[tuple[Case, Case]]:
    """Pairs worth comparing: the same offence, close in time and place; or sharing an identifier."""
    pairs = set(close_pairs(cases)) | identity_pairs(cases)
    return [(cases[i], cases[j]) for i, j in sorted(pairs)]


@dataclass
class Link:
    a: Case
    b: Case
    score: float
    features: list[dict[str, Any]]
    decision: str | None = None


MARGIN = 0.05
"""How far below the threshold a pair scored in bulk is still explained one by one (the bulk score's
rounding differs by less)."""


def explain(a: Case, b: Case, weights: Weights) -> tuple[float, list[dict[str, Any]]]:
    """The pair's score and the features that make it, one by one."""
    feats = weights.features(a, b, levels(a, b))
    prior = weights.prior(a, b)
    if prior is not None:
        feats.append(prior)
    return round(sum(f["weight"] for f in feats), 2), feats


def score_pairs(cases: list[Case], decided: dict[tuple[tuple[str, str], tuple[str, str]], str] | None = None
                ) -> tuple[list[Link], int, Weights]:
    """Every candidate pair scored (in bulk, :mod:`exchange.investigate.series_fast`); those near the
    threshold, those sharing an identifier and those an analyst decided explained one by one. Returns the
    links at or over the threshold or confirmed (never rejected ones), the pairs scored, the weights."""
    from exchange.investigate import series_fast

    decided = decided or {}
    weights = estimate(cases)
    shared = identity_pairs(cases)
    explained = set(shared)
    scored = 0
    for i, j, score in series_fast.scores(cases, weights):
        scored += 1
        shared.discard((i, j))
        if score >= THRESHOLD - MARGIN:
            explained.add((i, j))
    by_key = {c.key: i for i, c in enumerate(cases)}
    for (ka, kb), decision in decided.items():  # an analyst's link stands even where no rule looks
        if decision == "confirmed" and ka in by_key and kb in by_key:
            explained.add((min(by_key[ka], by_key[kb]), max(by_key[ka], by_key[kb])))
    links = []
    for i, j in sorted(explained):
        a, b = cases[i], cases[j]
        decision = decided.get(pair_key(a.key, b.key))
        if decision == "rejected":
            continue
        score, feats = explain(a, b, weights)
        if score >= THRESHOLD or decision == "confirmed":
            links.append(Link(a, b, score, feats, decision))
    return links, scored + len(shared), weights


def pair_key(a: tuple[str, str], b: tuple[str, str]) -> tuple[tuple[str, str], tuple[str, str]]:
    return (a, b) if a <= b else (b, a)


def series_of(links: list[Link]) -> list[list[Link]]:
    """The connected components of ``links``, each as its links; largest and strongest first."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(k: tuple[str, str]) -> tuple[str, str]:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for link in links:
        ra, rb = root(link.a.key), root(link.b.key)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[tuple[str, str], list[Link]] = {}
    for link in links:
        groups.setdefault(root(link.a.key), []).append(link)
    return sorted(groups.values(), key=lambda g: (-len({c.key for lk in g for c in (lk.a, lk.b)}),
                                                  -max(lk.score for lk in g), min(lk.a.key for lk in g)))
