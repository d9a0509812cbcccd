"""The facts of the demo city that several feeds share: the population, police cases with
their parties, and registered organizations with their legal representatives."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exchange.demo.geo import CITY_NAME, BirthplaceCodes, Community, Compound, Geography
from exchange.demo.people import Person, Population
from exchange.formats import CREDIT_CODE_ALPHABET, DivisionCodes, credit_code_check_char

if TYPE_CHECKING:
    from exchange.demo.activity import Activity
    from exchange.demo.crimes import SeriesTruth
    from exchange.demo.mediation import Dispute

CASE_TYPES = {"刑事案件": 20, "行政案件": 30, "警情": 50}
CASE_STATUSES = {
    "刑事案件": {"已立案": 25, "侦查中": 35, "已结案": 30, "已撤案": 10},
    "行政案件": {"已立案": 20, "已结案": 75, "已撤案": 5},
    "警情": {"已结案": 90, "已立案": 10},
}
OFFENCES = {
    "刑事案件": ("burglary", "fraud", "ebike_theft", "assault", "pickpocket", "theft_from_car", "robbery"),
    "行政案件": ("fight", "drunk_driving", "fireworks", "noise"),
    "警情": ("quarrel", "missing_person", "traffic_accident", "suspicious_person"),
}
CASE_ROLES = {"刑事案件": ("嫌疑人", "受害人", "证人"), "行政案件": ("嫌疑人", "受害人", "证人"),
              "警情": ("报案人", "证人")}

# (credit code characters 1-2, kind, share)
ORG_KINDS = (("91", "enterprise", 80), ("92", "individual", 10), ("93", "cooperative", 3),
             ("12", "institution", 3), ("52", "social", 4))
INDUSTRIES = {
    "enterprise": ("制造业", "批发和零售业", "建筑业", "信息传输、软件和信息技术服务业", "住宿和餐饮业",
                   "交通运输、仓储和邮政业", "租赁和商务服务业", "房地产业"),
    "individual": ("批发和零售业", "住宿和餐饮业", "居民服务、修理和其他服务业"),
    "cooperative": ("农、林、牧、渔业",),
    "institution": ("教育", "卫生和社会工作", "公共管理、社会保障和社会组织"),
    "social": ("公共管理、社会保障和社会组织", "文化、体育和娱乐业"),
}
ORG_STATUSES = {"存续": 85, "吊销": 5, "注销": 10}
_SHOPS = ("便利店", "面馆", "理发店", "五金店", "农家乐", "超市", "副食店", "家电维修部")
_PRODUCTS = ("茶叶", "魔芋", "核桃", "生猪养殖", "蚕桑", "中药材", "富硒蔬菜")
_TRADES = ("商贸", "建材", "物流", "餐饮", "茶业", "建筑工程", "物业管理", "旅游开发")
_INSTITUTIONS = ("第{n}中学", "第{n}小学", "中心卫生院", "人民医院", "职业技术学校")
_SOCIETIES = ("茶叶协会", "个体劳动者协会", "书法家协会", "志愿者协会", "养老服务中心")


@dataclass(eq=False)
class Party:
    record_id: str
    person: Person
    role: str
    with_id: bool
    phone: str


@dataclass(eq=False)
class Case:
    number: str
    case_type: str
    title: str
    occurred: datetime.datetime
    reported: datetime.date
    community: Community
    address: str
    status: str
    unit: str
    offence: str = ""
    mo_entry: str = ""
    mo_target: str = ""
    mo_tools: str = ""
    plate: str = ""
    lon: float | None = None
    lat: float | None = None
    suspect: Person | None = None
    """A series' known offender, a party (嫌疑人) of this case."""
    serial: bool = False
    """One of a planted series (:mod:`exchange.demo.crimes`)."""
    suspect_phone: Person | None = None
    """A series' fraudster known only by the phone: a party (嫌疑人) with a phone and no ID number."""
    parties: list[Party] = field(default_factory=list)


@dataclass(eq=False)
class Organization:
    credit_code: str
    kind: str
    name: str
    representative: Person
    address: str
    division: str
    established: datetime.date
    status: str
    industry: str
    capital: str


@dataclass
class World:
    seed: int
    today: datetime.date
    divisions: DivisionCodes
    births: BirthplaceCodes
    geo: Geography
    population: Population
    cases: list[Case] = field(default_factory=list)
    series: list[SeriesTruth] = field(default_factory=list)
    disputes: list[Dispute] = field(default_factory=list)
    """Mediation cases and their steps through the centre (:mod:`exchange.demo.mediation`)."""
    """The planted series of cases (:mod:`exchange.demo.crimes`)."""
    organizations: list[Organization] = field(default_factory=list)
    activity: Activity | None = None
    """Venues, vehicles and a month of activity events (:mod:`exchange.demo.activity`)."""

    def rng(self, name: str) -> random.Random:
        """An independent, reproducible random stream per named part of the city."""
        return random.Random(f"{self.seed}/{name}")

    _aged: dict[tuple[int, int], list[Person]] = field(default_factory=dict, repr=False)

    def aged(self, min_age: int, max_age: int = 200) -> list[Person]:
        """Residents aged ``min_age`` to ``max_age`` (all residents if none is)."""
        key = (min_age, max_age)
        if key not in self._aged:
            found = [p for p in self.population.residents if min_age <= p.age(self.today) <= max_age]
            self._aged[key] = found or self.population.residents
        return self._aged[key]

    @property
    def adults(self) -> list[Person]:
        return self.aged(18)

    def pick_adult(self, rng: random.Random, max_age: int = 200) -> Person:
        return rng.choice(self.aged(18, max_age))

    def recent_date(self, rng: random.Random, days: int, *, min_days: int = 1) -> datetime.date:
        """A date between ``days`` and ``min_days`` days before today."""
        return self.today - datetime.timedelta(days=rng.randint(min_days, days))


def weighted(rng: random.Random, table: dict[str, int]) -> str:
    return rng.choices(list(table), list(table.values()))[0]


def police_station(community: Community) -> str:
    town = community.town.name.removesuffix("街道").removesuffix("镇")
    return f"{CITY_NAME}公安局{community.county.name}分局{town}派出所"


# -- cases ---------------------------------------------------------------------------------------

def build_cases(world: World, rng: random.Random, n: int, series: int = 0) -> list[Case]:
    """``n`` ordinary cases, then ``series`` planted series (``world.series``), all numbered alike."""
    from exchange.demo import crimes

    geo = world.geo
    weights = geo.community_weights
    serial: dict[str, int] = {}
    cases: list[Case] = []

    def new_case(rng: random.Random, community: Community, occurred: datetime.datetime, offence: str,
                 case_type: str = "刑事案件", status: str | None = None) -> Case:
        reported = min(occurred.date() + datetime.timedelta(days=rng.choice((0, 0, 0, 1, 2))),
                       world.today - datetime.timedelta(days=1))
        prefix = f"A{community.county.code}{reported.year}"
        serial[prefix] = serial.get(prefix, 0) + 1
        place = community.name if rng.random() < 0.6 else community.town.name + community.name
        title = crimes.TITLES[offence].format(place=place, amount=rng.randint(2, 800) * 100)
        status = status or weighted(rng, CASE_STATUSES[case_type])
        case = Case(number=f"{prefix}{serial[prefix]:05d}", case_type=case_type, title=title,
                    occurred=occurred, reported=reported, community=community,
                    address=f"{community.prefix}{rng.randint(1, 200)}号附近",
                    status=status, unit=police_station(community), offence=offence)
        cases.append(case)
        return case

    for _ in range(n):
        community = rng.choices(geo.communities, weights)[0]
        case_type = weighted(rng, CASE_TYPES)
        occurred_day = world.recent_date(rng, 730, min_days=2)
        occurred = datetime.datetime.combine(occurred_day, datetime.time(rng.randrange(24), rng.randrange(60),
                                                                         rng.randrange(60)))
        new_case(rng, community, occurred, rng.choice(OFFENCES[case_type]), case_type)
    manner = world.rng("case_manner")
    for case in cases:
        crimes.dress(case, manner)
        if case.offence in crimes.MANNERS:  # offenders keep their hours: a manner's hour, not a random one
            case.occurred = case.occurred.replace(hour=crimes.hour_of(manner, crimes.MANNERS[case.offence]))
    world.series = crimes.plant_series(world, world.rng("series"), series, new_case)
    _at_compounds(world, cases)
    cases.sort(key=lambda c: (c.reported, c.occurred))
    serial.clear()  # numbered in the order they were reported, as a case system numbers them
    for case in cases:
        prefix = f"A{case.community.county.code}{case.reported.year}"
        serial[prefix] = serial.get(prefix, 0) + 1
        case.number = f"{prefix}{serial[prefix]:05d}"
        case.parties = _parties(world, rng, case)
    return cases


def _at_compounds(world: World, cases: list[Case]) -> None:
    """Two in five of the ordinary cases of a town's urban part happened in one of the town's residential
    compounds: the address names it, as a standard address does (the map counts cases per compound by
    it), and the case belongs to the compound's community. Its coordinates stay (the compound is in the
    same town), so where cases lie — what serial-case linking weighs — is as before. A stream of its own:
    the rest of the city is drawn as before."""
    rng = world.rng("case_compounds")
    by_town: dict[str, list[Compound]] = {}
    for compound in world.geo.compounds:
        by_town.setdefault(compound.community.town.code, []).append(compound)
    for case in cases:
        here = by_town.get(case.community.town.code)
        if case.serial or not here or not case.community.urban or rng.random() >= 0.4:
            continue
        compound = rng.choices(here, [c.households for c in here])[0]
        old, new = case.community, compound.community
        case.title = case.title.replace(old.name, new.name)
        case.community, case.unit = new, police_station(new)
        case.address = f"{new.prefix}{compound.name}{rng.randint(1, compound.buildings)}号楼附近"


def _party_person(world: World, rng: random.Random) -> Person:
    visitors = world.population.visitors
    if visitors and rng.random() < 0.12:
        return rng.choice(visitors)
    return rng.choice(world.aged(14))


def _parties(world: World, rng: random.Random, case: Case) -> list[Party]:
    roles = CASE_ROLES[case.case_type]
    count = (1 if case.case_type == "警情" else 2) + int(rng.random() < 0.35)
    parties = []
    seen: set[str] = set()
    known = [p for p in (case.suspect, case.suspect_phone) if p is not None]
    if case.serial:  # a series' offender where known, then its victims: never a random suspect
        roles, count = ("受害人", "受害人", "证人"), 1 + int(rng.random() < 0.3)
    for person in known:
        seen.add(person.key)
        with_id = case.suspect is person
        parties.append(Party(f"{case.number}-{len(parties) + 1}", person, "嫌疑人", with_id, person.phone))
    for j in range(count):
        person = _party_person(world, rng)
        if person.key in seen:
            continue
        seen.add(person.key)
        with_id = rng.random() < (0.88 if person.key.startswith("P") else 0.8)
        phone = person.phone if rng.random() < 0.75 else ""
        parties.append(Party(f"{case.number}-{len(parties) + 1}", person, roles[min(j, len(roles) - 1)], with_id,
                             phone))
    return parties


# -- organizations -------------------------------------------------------------------------------

def _org_name(rng: random.Random, kind: str, community: Community, rep: Person) -> str:
    county = community.county.name
    if kind == "enterprise":
        return f"安康{rng.choice(_TRADES)}{rng.choice(('有限公司', '有限责任公司', '股份有限公司'))}" \
            if rng.random() < 0.2 else f"安康市{_syllables(rng)}{rng.choice(_TRADES)}有限公司"
    if kind == "individual":
        return f"{county}{rep.name[0]}记{rng.choice(_SHOPS)}"
    if kind == "cooperative":
        return f"{county}{community.town.name}{rng.choice(_PRODUCTS)}专业合作社"
    if kind == "institution":
        return f"{county}{rng.choice(_INSTITUTIONS).format(n=rng.randint(1, 9))}"
    return f"{CITY_NAME}{county}{rng.choice(_SOCIETIES)}"


def _syllables(rng: random.Random) -> str:
    return "".join(rng.sample("鑫瑞华泰恒通达兴盛博源嘉禾宏远天诚丰和润秦巴汉水", 2))


def _org_code(rng: random.Random, kind: str) -> str:
    if kind in ("institution", "social"):
        return f"{rng.randrange(10**8):08d}{rng.randrange(10)}"
    return "MA" + "".join(rng.choice(CREDIT_CODE_ALPHABET) for _ in range(6)) + str(rng.randrange(10))


def build_organizations(world: World, rng: random.Random, n: int) -> list[Organization]:
    geo = world.geo
    kinds = list(ORG_KINDS)
    used: set[str] = set()
    orgs = []
    for _ in range(n):
        prefix, kind, _share = rng.choices(kinds, [k[2] for k in kinds])[0]
        community = rng.choices(geo.communities, geo.community_weights)[0]
        while True:
            first17 = f"{prefix}{community.county.code}{_org_code(rng, kind)}"
            if first17 not in used:
                used.add(first17)
                break
        rep = world.pick_adult(rng, max_age=70)
        capital = {"enterprise": rng.randint(10, 5000), "individual": rng.randint(1, 50),
                   "cooperative": rng.randint(5, 500)}.get(kind)
        orgs.append(Organization(
            credit_code=first17, kind=kind, name=_org_name(rng, kind, community, rep), representative=rep,
            address=f"{community.prefix}{rng.randint(1, 300)}号",
            division=community.code if rng.random() < 0.7 else community.town.code,
            established=world.recent_date(rng, 30 * 365, min_days=30), status=weighted(rng, ORG_STATUSES),
            industry=rng.choice(INDUSTRIES[kind]), capital="" if capital is None else f"{capital:.2f}"))
    checks = credit_code_check_char([o.credit_code for o in orgs]).to_pylist()
    for org, check in zip(orgs, checks, strict=True):
        org.credit_code += check
    return orgs
