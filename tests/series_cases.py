"""Hard cases for serial-case linking, generated independently of the demo city's code (its own geography,
offence mix, manner distributions and tools, written out here): a city's worth of ordinary cases, and
series of known kinds planted among them, each with its truth and a *tag* for the hard case it is.

Series tags: ``steady`` (one manner, close in place and time — the easy case), ``drift`` (the entry
method and a tool change half-way), ``roaming`` (spread over a district, σ 5 km), ``slow`` (25-60 days
between cases), ``identity_only`` (an ordinary-looking manner each time, but one suspect, phone or
vehicle in every case), ``fraud`` (telecom fraud: victims anywhere in the city, one script and tools),
``no_point`` (no coordinates, only the community's division code). Traps: ``copycat`` (two series of
the same offence in the same place and months, different manners — they must stay apart) and
``hotspot`` (hundreds of ordinary burglaries in 2 km with the commonest manner — none is a series).
Used by tests/unit/test_series_quality.py, which reports per tag.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

TAGS = ("steady", "drift", "roaming", "slow", "identity_only", "fraud", "no_point", "copycat")
START = dt.datetime(2025, 1, 1)
DAYS = 700
# this generator's own manners: offence → (entry weights, target weights, tools)
MANNERS: dict[str, tuple[dict[str, int], dict[str, int], tuple[str, ...]]] = {
    "burglary": ({"pry": 50, "pick_lock": 15, "window": 15, "climb": 8, "unlocked": 12},
                 {"cash": 45, "jewelry": 20, "electronics": 25, "phone": 10},
                 ("一字螺丝刀", "撬棍", "万能钥匙", "锡纸", "手套", "梯子", "钢丝钳", "手电筒")),
    "ebike_theft": ({"break_lock": 60, "short_circuit": 30, "unlocked": 10}, {"ebike": 80, "battery": 20},
                    ("钢丝钳", "液压剪", "电线", "万能钥匙")),
    "theft_from_car": ({"smash_window": 70, "unlocked_car": 30}, {"car_contents": 80, "cash": 20},
                       ("破窗器", "石块", "钢珠")),
    "pickpocket": ({"crowd": 70, "distraction": 30}, {"phone": 70, "cash": 20, "bag": 10}, ("镊子", "刀片", "外套")),
    "fraud": ({"impersonation": 50, "fake_investment": 25, "fake_shopping": 25}, {"transfer": 1},
              ("电话", "微信", "QQ", "短信链接", "虚假APP")),
    "robbery": ({"threat": 60, "snatch": 40}, {"cash": 40, "phone": 40, "bag": 20}, ("刀具", "摩托车", "棍棒")),
}
ORDINARY = {"burglary": 40, "ebike_theft": 20, "theft_from_car": 12, "pickpocket": 10, "fraud": 12, "robbery": 6}
DISTRICTS = 8
TOWNS = 6


def _weighted(rng: random.Random, table: dict[str, int]) -> str:
    return rng.choices(list(table), list(table.values()))[0]


@dataclass
class Geo:
    """Districts around a city centre, towns around each district's seat; a point is a town's centre
    plus a Gaussian offset in km."""

    towns: list[tuple[str, float, float]] = field(default_factory=list)  # (division 9 digits, lon, lat)

    @classmethod
    def build(cls, rng: random.Random) -> Geo:
        geo = cls()
        for d in range(DISTRICTS):
            dlon, dlat = 108.4 + rng.uniform(0, 1.6), 32.0 + rng.uniform(0, 1.2)
            for t in range(TOWNS):
                geo.towns.append((f"61098{d}{t + 1:03d}", dlon + rng.uniform(-0.1, 0.1),
                                  dlat + rng.uniform(-0.08, 0.08)))
        return geo

    def point(self, rng: random.Random, town: tuple[str, float, float], km: float) -> tuple[float, float, str]:
        code, lon, lat = town
        dx, dy = rng.gauss(0, km), rng.gauss(0, km)
        lon2 = lon + dx / (111.32 * math.cos(math.radians(lat)))
        lat2 = lat + dy / 110.57
        community = f"{code}{1 + min(199, int(abs(dx) + abs(dy))):03d}"
        return round(lon2, 6), round(lat2, 6), community


@dataclass
class HardCase:
    """One case as the warehouse would hold it, and its truth."""

    number: str
    offence: str
    entry: str
    target: str
    tools: str
    at: dt.datetime
    lon: float | None
    lat: float | None
    division: str
    suspects: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    plates: set[str] = field(default_factory=set)
    series: str | None = None
    tag: str | None = None
    """The series' hard-case tag; ``hotspot`` for the trap's ordinary cases."""


class City:
    def __init__(self, seed: int = 7, ordinary: int = 3000, per_tag: int = 6) -> None:
        self.rng = random.Random(f"series-cases/{seed}")
        self.geo = Geo.build(self.rng)
        self.cases: list[HardCase] = []
        self._n = 0
        for _ in range(ordinary):
            self._ordinary()
        hotspot = self.geo.towns[0]
        for _ in range(ordinary // 8):
            self._ordinary("burglary", hotspot, km=1.0, common=True)
        for tag in TAGS:
            for i in range(per_tag if tag != "copycat" else per_tag // 2):
                getattr(self, f"_{tag}")(f"{tag}-{i}")

    def _new(self, offence: str, at: dt.datetime, where: tuple[float | None, float | None, str], entry: str,
             target: str, tools: list[str], **extra: Any) -> HardCase:
        self._n += 1
        case = HardCase(f"HC{self._n:06d}", offence, entry, target, "、".join(dict.fromkeys(tools)), at, where[0],
                        where[1], where[2], **extra)
        self.cases.append(case)
        return case

    def _hour(self, offence: str) -> int:
        night = offence in ("ebike_theft", "theft_from_car")
        return self.rng.choice((23, 0, 1, 2, 3, 4)) if night and self.rng.random() < 0.7 else self.rng.randrange(24)

    def _ordinary(self, offence: str | None = None, town: Any = None, km: float = 2.0, common: bool = False) -> None:
        rng = self.rng
        offence = offence or _weighted(rng, ORDINARY)
        entries, targets, tools = MANNERS[offence]
        town = town or rng.choice(self.geo.towns)
        day = START + dt.timedelta(days=rng.randrange(DAYS))
        at = day.replace(hour=self._hour(offence), minute=rng.randrange(60))
        entry = max(entries, key=lambda k: entries[k]) if common else _weighted(rng, entries)
        target = max(targets, key=lambda k: targets[k]) if common else _weighted(rng, targets)
        kit = [tools[0]] if common else rng.sample(tools, rng.choice((1, 1, 2)))
        extra: dict[str, Any] = {"tag": "hotspot"} if common else {}
        if rng.random() < 0.1:  # an ordinary case with a (random) suspect
            extra["suspects"] = {f"person-{rng.randrange(200_000)}"}
        self._new(offence, at, self.geo.point(rng, town, km), entry, target, kit, **extra)

    def _series(self, sid: str, tag: str, offence: str | None = None, *, size: tuple[int, int] = (4, 6),
                gaps: tuple[int, int] = (3, 14), km: float = 1.0, drift: bool = False, point: bool = True,
                town: Any = None, start: dt.datetime | None = None, manner: tuple[str, str, list[str]] | None = None,
                identity: str | None = None) -> list[HardCase]:
        rng = self.rng
        offence = offence or rng.choice(["burglary", "ebike_theft", "theft_from_car", "pickpocket", "robbery"])
        entries, targets, tools = MANNERS[offence]
        entry, target, kit = manner or (_weighted(rng, entries), _weighted(rng, targets),
                                        rng.sample(tools, rng.choice((1, 2))))
        hour = self._hour(offence)
        town = town or rng.choice(self.geo.towns)
        at = start or START + dt.timedelta(days=rng.randrange(DAYS - 200))
        n = rng.randint(*size)
        ident = {"suspects": {f"suspect-{sid}"}} if identity == "suspect" else \
            {"phones": {f"139{rng.randrange(10**8):08d}"}} if identity == "phone" else \
            {"plates": {f"陕G{rng.randrange(10**5):05d}"}} if identity == "plate" else {}
        out = []
        for i in range(n):
            at += dt.timedelta(days=rng.randint(*gaps))
            when = at.replace(hour=max(0, min(23, round(hour + rng.gauss(0, 1)))), minute=rng.randrange(60))
            e, t, k = entry, target, list(kit)
            if drift and i >= n // 2:
                e = rng.choice([x for x in entries if x != entry] or [entry])
                k = [*k[:-1], rng.choice([x for x in tools if x not in k] or k)]
            if identity:  # each time an ordinary-looking manner: only the identifier ties them
                e, t, k = _weighted(rng, entries), _weighted(rng, targets), rng.sample(tools, 1)
            where = self.geo.point(rng, rng.choice(self.geo.towns) if offence == "fraud" else town, km)
            if not point:
                where = (None, None, where[2])
            out.append(self._new(offence, when, where, e, t, k, series=sid, tag=tag, **ident))
        return out

    def _steady(self, sid: str) -> None:
        self._series(sid, "steady")

    def _drift(self, sid: str) -> None:
        self._series(sid, "drift", drift=True)

    def _roaming(self, sid: str) -> None:
        self._series(sid, "roaming", km=5.0)

    def _slow(self, sid: str) -> None:
        self._series(sid, "slow", gaps=(25, 60), size=(3, 5))

    def _identity_only(self, sid: str) -> None:
        self._series(sid, "identity_only", identity=self.rng.choice(("suspect", "phone", "plate")), km=3.0)

    def _fraud(self, sid: str) -> None:
        self._series(sid, "fraud", "fraud", gaps=(3, 20))

    def _no_point(self, sid: str) -> None:
        self._series(sid, "no_point", point=False)

    def _copycat(self, sid: str) -> None:
        """Two series, one offence, one town, the same months, different manners."""
        rng = self.rng
        offence = "burglary"
        entries, targets, tools = MANNERS[offence]
        town, start = rng.choice(self.geo.towns), START + dt.timedelta(days=rng.randrange(DAYS - 200))
        first, second = rng.sample(list(entries), 2)
        kit_a, kit_b = rng.sample(tools, 2), None
        kit_b = [t for t in tools if t not in kit_a][:2]
        self._series(f"{sid}a", "copycat", offence, town=town, start=start,
                     manner=(first, rng.choice(list(targets)), kit_a))
        self._series(f"{sid}b", "copycat", offence, town=town, start=start,
                     manner=(second, rng.choice(list(targets)), kit_b))


def as_cases(city: City) -> list[Any]:
    """The city's cases as the scorer takes them (what ``read_cases`` makes of warehouse rows)."""
    from exchange.access.lens import Lens, Row
    from exchange.investigate import series

    out = []
    for c in city.cases:
        row = Row("case", {"source_agency": "police", "source_record_id": c.number, "_batch_id": "b",
                           "case_number": c.number, "offence": c.offence}, Lens(None))
        out.append(series.Case(row=row, number=c.number, offence=c.offence, entry=c.entry, target=c.target,
                               tools=series.tool_set(c.tools), at=c.at,
                               point=(c.lon, c.lat) if c.lon is not None and c.lat is not None else None,
                               division=c.division, suspects=set(c.suspects), phones=set(c.phones),
                               plates=set(c.plates)))
    return out


def _pairs(numbers: list[str]) -> set[tuple[str, str]]:
    ordered = sorted(numbers)
    return {(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1:]}


def score(city: City, proposed: list[list[str]]) -> dict[str, dict[str, Any]]:
    """Per tag: the series' pairs found together (recall), and the proposed pairs that are wrong and touch
    a case of that tag (false); ``all``: precision and recall over every series pair; ``hotspot``: wrong
    pairs among the trap's cases; ``copycat_merged``: pairs across two copycat series put together."""
    by_series: dict[str, list[str]] = defaultdict(list)
    tag_of: dict[str, str | None] = {}
    series_of: dict[str, str | None] = {}
    for c in city.cases:
        tag_of[c.number], series_of[c.number] = c.tag, c.series
        if c.series:
            by_series[c.series].append(c.number)
    truth = set().union(*(_pairs(v) for v in by_series.values())) if by_series else set()
    found = set().union(*(_pairs(g) for g in proposed)) if proposed else set()
    out: dict[str, dict[str, Any]] = {}
    for tag in (*TAGS, "hotspot"):
        mine = {p for p in truth if tag_of[p[0]] == tag}
        wrong = {p for p in found - truth if tag in (tag_of[p[0]], tag_of[p[1]])}
        out[tag] = {"series": len({series_of[n] for n, t in tag_of.items() if t == tag and series_of[n]}),
                    "pairs": len(mine), "found": len(mine & found), "false": len(wrong),
                    "recall": len(mine & found) / len(mine) if mine else None}
    out["copycat_merged"] = {"pairs": sum(1 for a, b in found if tag_of[a] == tag_of[b] == "copycat"
                                          and series_of[a] != series_of[b] and series_of[a] and series_of[b]
                                          and series_of[a][:-1] == series_of[b][:-1])}
    tp = len(truth & found)
    out["all"] = {"pairs": len(truth), "proposed": len(found), "found": tp,
                  "precision": tp / len(found) if found else 1.0, "recall": tp / len(truth) if truth else 1.0}
    return out
