"""Residents and households of the demo city.

Names come from Faker's zh_CN lists (every one GBK-encodable, because civil affairs
exports GBK). Households hold 1-6 members with a head; ID numbers carry the birthplace
county code valid in the birth year, the birth date, a sequence whose parity matches the
gender and the check character of :func:`exchange.formats.resident_id_check_char`.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field

from faker.providers.person.zh_CN import Provider as ZhPersonProvider

from exchange.demo.geo import AREA_CODE, BirthplaceCodes, Community, Compound, Geography
from exchange.formats import resident_id_check_char

ETHNIC_MINORITIES = ("回族", "土家族", "满族", "蒙古族", "苗族", "壮族", "藏族")
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
                   "153", "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178",
                   "180", "181", "182", "183", "185", "186", "187", "188", "189", "191", "193", "199")
HOUSEHOLD_SIZES = (1, 2, 3, 4, 5, 6)
HOUSEHOLD_SIZE_WEIGHTS = (18, 28, 25, 17, 8, 4)
_STREET_WORDS = "兴安巴山汉江金州香溪育才新城文化大桥建设人民解放东方长春友谊"


@dataclass(eq=False, slots=True)
class Person:
    key: str
    name: str
    gender: str  # M / F
    birth: datetime.date
    region: str  # 6-digit code of the ID number
    ethnicity: str
    phone: str  # "" when none
    relation: str = "户主"
    id_number: str = ""
    household: Household | None = None

    def age(self, today: datetime.date) -> int:
        return today.year - self.birth.year - ((today.month, today.day) < (self.birth.month, self.birth.day))


@dataclass(eq=False, slots=True)
class Household:
    number: str
    kind: str  # family / collective
    community: Community
    compound: Compound | None
    address: str
    low_income: bool
    members: list[Person] = field(default_factory=list)

    @property
    def head(self) -> Person:
        return self.members[0]


@dataclass
class Population:
    residents: list[Person]
    households: list[Household]
    visitors: list[Person]
    """People from elsewhere who appear in some agency records but not on the city's register."""


class NameMaker:
    """Chinese names from Faker's zh_CN lists, restricted to GBK-encodable ones."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        last = {k: w for k, w in ZhPersonProvider.last_names.items() if _gbk_ok(k)}
        self.surnames = list(last)
        self.surname_weights = list(last.values())
        self.given = {"M": [n for n in ZhPersonProvider.first_names_male if _gbk_ok(n)],
                      "F": [n for n in ZhPersonProvider.first_names_female if _gbk_ok(n)]}
        self.single = {g: [n for n in names if len(n) == 1] for g, names in self.given.items()}

    def surname(self) -> str:
        return self.rng.choices(self.surnames, self.surname_weights)[0]

    def given_name(self, gender: str) -> str:
        if self.rng.random() < 0.45:
            a, b = self.rng.sample(self.single[gender], 2)
            return a + b
        return self.rng.choice(self.given[gender])

    def full(self, gender: str, surname: str | None = None) -> str:
        return (surname or self.surname()) + self.given_name(gender)


def _gbk_ok(text: str) -> bool:
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


class PhoneMaker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def mobile(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.used:
                self.used.add(number)
                return number

    def landline(self) -> str:
        while True:
            number = f"{AREA_CODE}-{self.rng.randint(2, 8)}{self.rng.randrange(10**6):06d}"
            if number not in self.used:
                self.used.add(number)
                return number

    def for_age(self, age: int) -> str:
        r = self.rng.random()
        if age < 16:
            return self.mobile() if r < 0.05 else ""
        if age >= 70:
            return self.mobile() if r < 0.7 else (self.landline() if r < 0.88 else "")
        return self.mobile() if r < 0.93 else (self.landline() if r < 0.97 else "")


@dataclass
class _Member:
    relation: str
    gender: str
    age: int


def _family_plan(rng: random.Random, size: int) -> list[_Member]:
    head_gender = "M" if rng.random() < 0.72 else "F"
    head_age = rng.randint(25, 86)
    plan = [_Member("户主", head_gender, head_age)]
    if size >= 2 and rng.random() < 0.85:
        plan.append(_Member("配偶", "F" if head_gender == "M" else "M",
                            max(20, head_age + rng.randint(-6, 6))))
    if len(plan) < size and head_age <= 58 and rng.random() < 0.3:
        parent_gender = rng.choice("MF")
        plan.append(_Member("父亲" if parent_gender == "M" else "母亲", parent_gender,
                            min(98, head_age + rng.randint(22, 34))))
    oldest_child = None
    while len(plan) < size:
        if oldest_child is not None and oldest_child >= 45 and rng.random() < 0.5:
            gender = rng.choice("MF")
            plan.append(_Member("孙子" if gender == "M" else "孙女", gender,
                                max(0, oldest_child - rng.randint(22, 32))))
            continue
        gender = rng.choice("MF")
        age = max(0, head_age - rng.randint(22, 38))
        oldest_child = max(oldest_child or 0, age)
        plan.append(_Member("子" if gender == "M" else "女", gender, age))
    return plan


def _takes_family_name(member: _Member, plan: list[_Member]) -> bool:
    """Children, grandchildren and the head's father carry the husband's surname."""
    if member.relation in ("户主", "配偶"):
        husband_in_plan = any(m.relation in ("户主", "配偶") and m.gender == "M" for m in plan)
        return member.gender == "M" or not husband_in_plan
    return member.relation in ("子", "女", "孙子", "孙女", "父亲")


def _collective_plan(rng: random.Random, size: int) -> list[_Member]:
    return [_Member("户主" if i == 0 else "集体户成员", rng.choice("MF"), rng.randint(18, 60))
            for i in range(size)]


class PopulationBuilder:
    """Builds households until ``persons`` residents exist, then visitors."""

    def __init__(self, geo: Geography, births: BirthplaceCodes, rng: random.Random,
                 today: datetime.date) -> None:
        self.geo = geo
        self.births = births
        self.rng = rng
        self.today = today
        self.names = NameMaker(rng)
        self.phones = PhoneMaker(rng)
        self._used17: set[str] = set()
        self._hh_serial: dict[str, int] = {}

    def build(self, persons: int, visitors: int) -> Population:
        residents: list[Person] = []
        households: list[Household] = []
        while len(residents) < persons:
            size = min(persons - len(residents),
                       self.rng.choices(HOUSEHOLD_SIZES, HOUSEHOLD_SIZE_WEIGHTS)[0])
            hh = self._household(size, len(residents))
            households.append(hh)
            residents.extend(hh.members)
        outsiders = [self._visitor(i) for i in range(visitors)]
        _assign_id_numbers(residents + outsiders)
        return Population(residents, households, outsiders)

    # -- households ---------------------------------------------------------------
    def _location(self) -> tuple[Community, Compound | None]:
        r = self.rng.random()
        if r < 0.5 and self.geo.compounds:
            compound = self.rng.choice(self.geo.compounds)
            return compound.community, compound
        pool = self.geo.urban_communities if r < 0.65 else self.geo.rural_communities
        return self.rng.choices(pool, [c.county.weight for c in pool])[0], None

    def _address(self, community: Community, compound: Compound | None) -> str:
        rng = self.rng
        if compound is not None:
            return (f"{community.prefix}{compound.name}{rng.randint(1, compound.buildings)}号楼"
                    f"{rng.randint(1, 4)}单元{rng.randint(1, 18)}{rng.randint(1, 4):02d}室")
        if community.urban:
            street = rng.choice(_STREET_WORDS) + rng.choice(_STREET_WORDS) + rng.choice("路街巷")
            return f"{community.prefix}{street}{rng.randint(1, 300)}号"
        return f"{community.prefix}{rng.randint(1, 12)}组{rng.randint(1, 80)}号"

    def _household_number(self, community: Community) -> str:
        town = community.town.code
        self._hh_serial[town] = self._hh_serial.get(town, 0) + 1
        return f"{town}{self._hh_serial[town]:05d}"

    def _household(self, size: int, first_index: int) -> Household:
        rng = self.rng
        community, compound = self._location()
        collective = rng.random() < 0.03
        plan = _collective_plan(rng, size) if collective else _family_plan(rng, size)
        hh = Household(number=self._household_number(community),
                       kind="collective" if collective else "family", community=community,
                       compound=compound, address=self._address(community, compound),
                       low_income=rng.random() < 0.06)
        family_name = self.names.surname()
        ethnicity = rng.choice(ETHNIC_MINORITIES) if rng.random() < 0.025 else "汉族"
        for i, member in enumerate(plan):
            surname = family_name if _takes_family_name(member, plan) and rng.random() < 0.92 else None
            person = self._person(f"P{first_index + i + 1:07d}", member, surname,
                                  community.county.code, ethnicity if not collective else None)
            person.household = hh
            hh.members.append(person)
        return hh

    # -- persons ---------------------------------------------------------------------
    def _birth(self, age: int) -> datetime.date:
        latest = self.today.replace(year=self.today.year - age) if not (
            self.today.month == 2 and self.today.day == 29) else self.today.replace(
            year=self.today.year - age, day=28)
        return latest - datetime.timedelta(days=self.rng.randrange(365))

    def _person(self, key: str, member: _Member, surname: str | None, home_county: str,
                ethnicity: str | None) -> Person:
        rng = self.rng
        birth = self._birth(member.age)
        r = rng.random()
        if (member.age < 18 and r < 0.95) or r < 0.6:
            region = self.births.city(home_county, birth.year)
        elif r < 0.88:
            county = rng.choices(self.geo.counties, [c.weight for c in self.geo.counties])[0]
            region = self.births.city(county.code, birth.year)
        else:
            region = self.births.anywhere(birth.year, rng)
        if ethnicity is None:
            ethnicity = rng.choice(ETHNIC_MINORITIES) if rng.random() < 0.025 else "汉族"
        person = Person(key=key, name=self.names.full(member.gender, surname), gender=member.gender,
                        birth=birth, region=region, ethnicity=ethnicity,
                        phone=self.phones.for_age(member.age), relation=member.relation)
        person.id_number = self._first17(person)
        return person

    def _visitor(self, index: int) -> Person:
        rng = self.rng
        gender = rng.choice("MF")
        age = rng.randint(18, 75)
        birth = self._birth(age)
        region = self.births.anywhere(birth.year, rng)
        person = Person(key=f"V{index + 1:06d}", name=self.names.full(gender), gender=gender, birth=birth,
                        region=region, ethnicity="汉族", phone=self.phones.mobile(), relation="")
        person.id_number = self._first17(person)
        return person

    # -- ID numbers ---------------------------------------------------------------------
    def _first17(self, person: Person) -> str:
        """Region, birth date and a sequence (odd for men, even for women) not used before."""
        while True:
            k = self.rng.randint(1, 499)
            seq = 2 * k + 1 if person.gender == "M" else 2 * k
            first17 = f"{person.region}{person.birth:%Y%m%d}{seq:03d}"
            if first17 not in self._used17:
                self._used17.add(first17)
                return first17


def _assign_id_numbers(people: list[Person]) -> None:
    """Complete ``id_number`` (the first 17 characters, set by the builder) with its check character."""
    checks = resident_id_check_char([p.id_number for p in people]).to_pylist()
    for person, check in zip(people, checks, strict=True):
        person.id_number += check


def build_population(geo: Geography, births: BirthplaceCodes, rng: random.Random,
                     today: datetime.date, *, persons: int, visitors: int) -> Population:
    return PopulationBuilder(geo, births, rng, today).build(persons, visitors)
