"""The demo city's geography: 安康市 (GB/T 2260 prefix 6109), its counties, synthetic towns,
communities/villages and residential compounds, and birthplace codes for ID numbers.

County codes come from ``schemas/reference/gb2260.csv``: addresses use only codes it marks
current. Towns (9 digits: county + 001-099 streets, 100-199 towns) and communities
(12 digits: town + 001-199 urban communities, 200-399 villages) are synthetic; they pass
the division-code rule because it validates the 6-digit county prefix.
"""

from __future__ import annotations

import functools
import random
from collections import defaultdict
from dataclasses import dataclass, field

from exchange.errors import ConfigError
from exchange.formats import DivisionCodes

CITY_CODE = "610900"
CITY_NAME = "安康市"
PROVINCE_NAME = "陕西省"
AREA_CODE = "0915"

# current county → relative population (about 10,000s of residents)
COUNTY_WEIGHTS: dict[str, int] = {
    "610902": 87, "610921": 25, "610922": 17, "610923": 7, "610924": 28,
    "610925": 15, "610926": 19, "610927": 5, "610929": 16, "610981": 40,
}
# current county → the codes its ID numbers carried over time (oldest first)
ID_LINEAGE: dict[str, tuple[str, ...]] = {
    "610902": ("612421", "612401", "610902"),
    "610921": ("612422", "610921"),
    "610922": ("612423", "610922"),
    "610923": ("612424", "610923"),
    "610924": ("612425", "610924"),
    "610925": ("612426", "610925"),
    "610926": ("612427", "610926"),
    "610927": ("612428", "610927"),
    "610929": ("612430", "610929"),
    "610981": ("612429", "610928", "610981"),
}
ABOLISHED_CITY_CODE = "610928"  # 旬阳县, became 旬阳市 610981 in 2021

_SYLLABLES = ("东西南北中新安和平兴隆福康宁清泉河山石桥坪关沟坝湾岭花园林丰乐田竹溪水阳明光华龙凤"
              "金银双五马白黄红青长春江滨城庙梁岔铺口台塔营寨堡家湖柳松柏桃李杨高大小前后上下")
_COMPOUND_SUFFIXES = ("小区", "花园", "苑", "家园", "新村", "公寓", "雅居", "名城")


@dataclass(frozen=True)
class County:
    code: str
    name: str
    weight: int


@dataclass(frozen=True)
class Town:
    code: str
    name: str
    county: County

    @property
    def urban(self) -> bool:
        return self.name.endswith("街道") or self.name == "城关镇"


@dataclass(frozen=True)
class Community:
    code: str
    name: str
    town: Town

    @property
    def urban(self) -> bool:
        return self.name.endswith("社区")

    @property
    def county(self) -> County:
        return self.town.county

    @property
    def prefix(self) -> str:
        """The address down to this community, e.g. 陕西省安康市汉滨区老城街道新华社区."""
        return f"{PROVINCE_NAME}{CITY_NAME}{self.county.name}{self.town.name}{self.name}"


@dataclass(frozen=True)
class Compound:
    code: str
    name: str
    community: Community
    households: int
    buildings: int


@dataclass
class Geography:
    counties: list[County]
    towns: list[Town]
    communities: list[Community]
    compounds: list[Compound] = field(default_factory=list)

    @functools.cached_property
    def urban_communities(self) -> list[Community]:
        return [c for c in self.communities if c.urban]

    @functools.cached_property
    def rural_communities(self) -> list[Community]:
        return [c for c in self.communities if not c.urban]

    @functools.cached_property
    def community_weights(self) -> list[int]:
        return [c.county.weight for c in self.communities]


def city_counties(divisions: DivisionCodes) -> list[County]:
    """The city's current counties, checked against the GB/T 2260 table."""
    out = []
    for code, weight in COUNTY_WEIGHTS.items():
        if not divisions.is_current(code):
            raise ConfigError(f"gb2260: county {code} of the demo city is not a current code; "
                              f"update exchange/demo/geo.py COUNTY_WEIGHTS to the reference table")
        out.append(County(code, divisions.name(code) or code, weight))
    return out


def _place_name(rng: random.Random, used: set[str], suffix: str) -> str:
    while True:
        name = rng.choice(_SYLLABLES) + rng.choice(_SYLLABLES) + suffix
        if name not in used and name[0] != name[1]:
            used.add(name)
            return name


def _county_towns(county: County, rng: random.Random, used: set[str]) -> list[Town]:
    n_towns = max(3, min(16, round(county.weight / 5)))
    n_streets = 3 if county.weight >= 40 else 0
    towns = []
    for i in range(n_streets):
        towns.append(Town(f"{county.code}{i + 1:03d}", _place_name(rng, used, "街道"), county))
    towns.append(Town(f"{county.code}100", "城关镇", county))
    for i in range(1, n_towns - n_streets):
        towns.append(Town(f"{county.code}{100 + i:03d}", _place_name(rng, used, "镇"), county))
    return towns


def _town_communities(town: Town, rng: random.Random, used: set[str]) -> list[Community]:
    out = []
    n_urban = rng.randint(3, 6) if town.urban else 1
    n_rural = rng.randint(0, 2) if town.urban else rng.randint(3, 8)
    for i in range(n_urban):
        out.append(Community(f"{town.code}{i + 1:03d}", _place_name(rng, used, "社区"), town))
    for i in range(n_rural):
        out.append(Community(f"{town.code}{200 + i + 1:03d}", _place_name(rng, used, "村"), town))
    return out


def build_geography(divisions: DivisionCodes, rng: random.Random, compounds: int) -> Geography:
    counties = city_counties(divisions)
    used: set[str] = {"城关镇"}
    towns = [t for c in counties for t in _county_towns(c, rng, used)]
    communities = [c for t in towns for c in _town_communities(t, rng, used)]
    geo = Geography(counties, towns, communities)
    geo.compounds = _compounds(geo, rng, compounds)
    return geo


def _compounds(geo: Geography, rng: random.Random, n: int) -> list[Compound]:
    urban = geo.urban_communities
    weights = [c.county.weight for c in urban]
    used: set[str] = set()
    per_community: dict[str, int] = defaultdict(int)
    out = []
    for _ in range(n):
        community = rng.choices(urban, weights)[0]
        per_community[community.code] += 1
        code = f"XQ{community.code}{per_community[community.code]:03d}"
        name = _place_name(rng, used, rng.choice(_COMPOUND_SUFFIXES))
        out.append(Compound(code, name, community, rng.randint(40, 1200), rng.randint(2, 24)))
    return out


class BirthplaceCodes:
    """Region codes for ID numbers: a code valid in the person's birth year."""

    def __init__(self, divisions: DivisionCodes) -> None:
        self._periods: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for rec in divisions.records:
            if rec.level == "county" and rec.name != "市辖区" and not rec.code.endswith("00"):
                self._periods[rec.code].append((rec.valid_from or 0, rec.valid_to or 9999))
        for county, lineage in ID_LINEAGE.items():
            missing = [c for c in lineage if c not in self._periods]
            if missing:
                raise ConfigError(f"gb2260: codes {missing} of the ID history of {county} are unknown; "
                                  f"update exchange/demo/geo.py ID_LINEAGE to the reference table")

    def _valid(self, code: str, year: int) -> bool:
        return any(lo <= year <= hi for lo, hi in self._periods[code])

    def city(self, county: str, year: int) -> str:
        """The code of ``county`` (current) that was valid in ``year``."""
        lineage = ID_LINEAGE[county]
        valid = [c for c in lineage if self._valid(c, year)]
        return valid[-1] if valid else lineage[0]

    @functools.lru_cache(maxsize=256)  # noqa: B019 - a few hundred years, instance lives per run
    def _nationwide(self, year: int) -> tuple[str, ...]:
        return tuple(sorted(c for c in self._periods if self._valid(c, year) and not c.startswith("6109")
                            and not c.startswith("6124")))

    def anywhere(self, year: int, rng: random.Random) -> str:
        """Any county-level code of China valid in ``year`` (outside the city)."""
        return rng.choice(self._nationwide(year))
