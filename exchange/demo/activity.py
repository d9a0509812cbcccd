"""Where the demo city's people go: venues, vehicles and a month of activity events.

The trajectories follow daily life: residents of a gated compound pass its gate going out in the
morning and coming home in the evening; commuters who own a car pass the checkpoints of their home
town and of their work town on workdays; young people sit in internet cafés in their county; a few
travel and stay in a hotel in another county. On top of that, a few **groups move together**: their
members (from different households) stay in the same hotel on the same nights, sit side by side in
the same internet café and drive through the same checkpoints minutes apart — the truth the
investigation tools are measured against (:class:`GroupTruth`).

Places carry a division code (community, 12 digits) and coordinates near the real county seat.
Everything is drawn from the world's named random streams: the same seed gives the same month.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exchange.demo.geo import Community, Compound, Geography
from exchange.demo.people import Person

if TYPE_CHECKING:
    from exchange.demo.world import World

WINDOW_DAYS = 30
PROVINCE_PREFIX = "陕G"  # 安康's plates
# approximate seats of the city's counties (longitude, latitude, WGS 84)
COUNTY_SEATS: dict[str, tuple[float, float]] = {
    "610902": (109.03, 32.68), "610921": (108.51, 32.89), "610922": (108.25, 33.04),
    "610923": (108.31, 33.31), "610924": (108.53, 32.52), "610925": (108.90, 32.31),
    "610926": (109.36, 32.39), "610927": (109.53, 31.88), "610929": (110.11, 32.81),
    "610981": (109.36, 32.83),
}
_BRANDS = ("大众朗逸", "丰田卡罗拉", "本田思域", "比亚迪秦", "五菱宏光", "长安CS75", "吉利帝豪", "哈弗H6",
           "日产轩逸", "比亚迪宋", "特斯拉Model 3", "别克英朗")
_COLORS = ("白", "黑", "银", "灰", "红", "蓝")
_ROADS = ("兴安路", "巴山路", "汉江大道", "金州路", "香溪路", "育才路", "江北大道", "安康大道", "滨江路")
_HOTEL_WORDS = ("汉江", "金州", "安康", "香溪", "兴安", "瀛湖", "巴山", "秦岭")
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class Place:
    """A venue (hotel, internet café) or a road checkpoint."""

    code: str
    name: str
    community: Community
    lon: float
    lat: float


@dataclass(eq=False)
class Vehicle:
    record_id: str
    plate: str
    owner: Person
    use: str
    brand: str
    color: str
    registered: dt.date
    division: str


@dataclass(eq=False)
class Stay:
    record_id: str
    person: Person
    hotel: Place
    room: str
    check_in: dt.datetime
    check_out: dt.datetime | None


@dataclass(eq=False)
class Session:
    record_id: str
    person: Person
    cafe: Place
    seat: str
    start: dt.datetime
    end: dt.datetime


@dataclass(eq=False)
class Pass:
    record_id: str
    vehicle: Vehicle
    checkpoint: Place
    direction: str
    at: dt.datetime
    speed: int


@dataclass(eq=False)
class Access:
    record_id: str
    person: Person
    compound: Compound
    gate: str
    card: str
    by_id: bool
    direction: str
    at: dt.datetime


@dataclass
class GroupTruth:
    """People who move together, and where they were seen together (kind, place code, time)."""

    members: list[str]
    together: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Activity:
    checkpoints: list[Place]
    hotels: list[Place]
    cafes: list[Place]
    vehicles: list[Vehicle] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    passes: list[Pass] = field(default_factory=list)
    accesses: list[Access] = field(default_factory=list)
    groups: list[GroupTruth] = field(default_factory=list)


def place_point(community: Community, salt: str) -> tuple[float, float]:
    """Coordinates of a place in ``community``: near its county seat, its town and community offset
    (deterministic per code), the place itself a few hundred metres further."""
    lon, lat = COUNTY_SEATS.get(community.county.code, (109.03, 32.68))
    town, comm, spot = (random.Random(community.town.code), random.Random(community.code),
                        random.Random(f"{community.code}/{salt}"))
    lon += town.uniform(-0.12, 0.12) + comm.uniform(-0.02, 0.02) + spot.uniform(-0.004, 0.004)
    lat += town.uniform(-0.10, 0.10) + comm.uniform(-0.02, 0.02) + spot.uniform(-0.004, 0.004)
    return round(lon, 6), round(lat, 6)


def _places(geo: Geography, rng: random.Random) -> tuple[list[Place], list[Place], list[Place]]:
    checkpoints, hotels, cafes = [], [], []
    for town in geo.towns:
        community = next(c for c in geo.communities if c.town is town)
        road = rng.choice(_ROADS)
        code = f"KK{town.code}01"
        checkpoints.append(Place(code, f"{town.county.name}{town.name}{road}卡口", community,
                                 *place_point(community, code)))
    for county in geo.counties:
        urban = [c for c in geo.urban_communities if c.county is county] or \
            [c for c in geo.communities if c.county is county]
        for i in range(max(1, county.weight // 20)):
            community = rng.choice(urban)
            code = f"LG{county.code}{i + 1:03d}"
            kind = rng.choice(("宾馆", "酒店", "商务酒店", "快捷酒店"))
            hotels.append(Place(code, f"{county.name}{rng.choice(_HOTEL_WORDS)}{kind}", community,
                                *place_point(community, code)))
        for i in range(max(1, county.weight // 25)):
            community = rng.choice(urban)
            code = f"WB{county.code}{i + 1:03d}"
            name = f"{county.name}{rng.choice(_HOTEL_WORDS)}{rng.choice(('网吧', '网咖', '电竞馆'))}"
            cafes.append(Place(code, name, community, *place_point(community, code)))
    return checkpoints, hotels, cafes


def new_plate(rng: random.Random, used: set[str]) -> str:
    while True:
        if rng.random() < 0.2:  # new energy, small car: D/F + a letter or digit + 4 digits
            tail = rng.choice("DF") + rng.choice(_PLATE_LETTERS) + f"{rng.randrange(10**4):04d}"
        else:
            tail = "".join(rng.choice(_PLATE_LETTERS) for _ in range(5))
        plate = PROVINCE_PREFIX + tail
        if plate not in used:
            used.add(plate)
            return plate


class _Builder:
    def __init__(self, world: World, rng: random.Random) -> None:
        self.rng = rng
        self.geo: Geography = world.geo
        self.today = world.today
        self.first_day = self.today - dt.timedelta(days=WINDOW_DAYS)
        checkpoints, hotels, cafes = _places(self.geo, rng)
        self.activity = Activity(checkpoints, hotels, cafes)
        self.checkpoint_of = {p.community.town.code: p for p in checkpoints}
        self.serial: dict[str, int] = {}

    def next_id(self, prefix: str) -> str:
        self.serial[prefix] = self.serial.get(prefix, 0) + 1
        return f"{prefix}{self.serial[prefix]:08d}"

    def days(self) -> list[dt.date]:
        return [self.first_day + dt.timedelta(days=i) for i in range(WINDOW_DAYS)]

    def at(self, day: dt.date, hour: float) -> dt.datetime:
        seconds = int(hour * 3600) + self.rng.randrange(60)
        return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=min(seconds, 86399))

    # -- objects ------------------------------------------------------------------------------------

    def vehicles(self, adults: list[Person]) -> dict[str, Vehicle]:
        used: set[str] = set()
        owned: dict[str, Vehicle] = {}
        for p in adults:
            if p.household is None or not (22 <= p.age(self.today) <= 70) or self.rng.random() > 0.28:
                continue
            use = "private" if self.rng.random() < 0.9 else self.rng.choice(("taxi", "freight", "rental"))
            v = Vehicle(self.next_id("CL"), new_plate(self.rng, used), p, use, self.rng.choice(_BRANDS),
                        self.rng.choice(_COLORS), self.today - dt.timedelta(days=self.rng.randint(60, 4000)),
                        p.household.community.county.code)
            owned[p.key] = v
            self.activity.vehicles.append(v)
        return owned

    # -- events ---------------------------------------------------------------------------------------

    def drive(self, vehicle: Vehicle, towns: list[str], start: dt.datetime, outbound: bool,
              legs: list[int] | None = None) -> dt.datetime:
        """Passes at the checkpoints of ``towns``; ``legs``: minutes between them (a convoy keeps its gaps)."""
        at = start
        for i, town in enumerate(towns):
            checkpoint = self.checkpoint_of.get(town)
            if checkpoint is None:
                continue
            direction = "outbound" if outbound else "inbound"
            self.activity.passes.append(Pass(self.next_id("KKGC"), vehicle, checkpoint, direction, at,
                                             self.rng.randint(25, 75)))
            at += dt.timedelta(minutes=legs[i] if legs and i < len(legs) else self.rng.randint(8, 30))
        return at

    def daily_life(self, adults: list[Person], cars: dict[str, Vehicle]) -> None:
        rng = self.rng
        workdays = [d for d in self.days() if d.weekday() < 5]
        for p in adults:
            hh = p.household
            if hh is None:
                continue
            age = p.age(self.today)
            home_town = hh.community.town.code
            works = 20 <= age <= 60 and rng.random() < 0.65
            work_town = home_town
            if works and rng.random() < 0.5:
                same_county = [t for t in self.geo.towns if t.county is hh.community.county]
                work_town = rng.choice(same_county).code
            gated = hh.compound is not None and age <= 80 and rng.random() < 0.7
            by_id = hh.compound is not None and int(hh.compound.code[-3:]) % 2 == 1  # odd compounds read ID cards
            card = f"MJ{rng.randrange(10**8):08d}"
            car = cars.get(p.key)
            for day in self.days():
                out_today = rng.random() < (0.85 if works and day.weekday() < 5 else 0.5)
                if not out_today:
                    continue
                leave, back = rng.uniform(6.5, 9.5), rng.uniform(16.5, 21.5)
                if gated and hh.compound is not None:
                    for hour, direction in ((leave, "out"), (back, "in")):
                        self.activity.accesses.append(Access(
                            self.next_id("MJ"), p, hh.compound, rng.choice(("东门", "南门", "北门")), card,
                            by_id, direction, self.at(day, hour)))
                if car is not None and works and day in workdays and work_town != home_town:
                    self.drive(car, [home_town, work_town], self.at(day, leave + 0.1), outbound=True)
                    self.drive(car, [work_town, home_town], self.at(day, back - 0.7), outbound=False)
            if 16 <= age <= 35 and rng.random() < 0.35:
                cafes = [c for c in self.activity.cafes if c.community.county is hh.community.county]
                for day in rng.sample(self.days(), rng.randint(2, 8)):
                    self.session(p, rng.choice(cafes or self.activity.cafes), day, rng.uniform(13, 22), None)
            if age >= 18 and rng.random() < 0.1:
                away = [h for h in self.activity.hotels if h.community.county is not hh.community.county]
                self.trip([p], rng.choice(away), rng.choice(self.days()[:-4]), rng.randint(1, 3), cars)

    def session(self, p: Person, cafe: Place, day: dt.date, hour: float, seat: int | None) -> dt.datetime:
        start = self.at(day, hour)
        end = start + dt.timedelta(minutes=self.rng.randint(40, 240))
        end = min(end, dt.datetime.combine(day, dt.time(23, 59)))
        number = seat if seat is not None else self.rng.randint(1, 80)
        self.activity.sessions.append(Session(self.next_id("SW"), p, cafe, f"{number:03d}", start, end))
        return start

    def trip(self, people: list[Person], hotel: Place, day: dt.date, nights: int,
             cars: dict[str, Vehicle]) -> dt.datetime:
        check_in = self.at(day, self.rng.uniform(15, 22))
        room = self.rng.randint(2, 9) * 100 + self.rng.randint(1, 30)
        for i, p in enumerate(people):
            t = check_in + dt.timedelta(minutes=2 * i)
            out = dt.datetime.combine(day + dt.timedelta(days=nights), dt.time(self.rng.randint(8, 12), 0))
            self.activity.stays.append(Stay(self.next_id("LY"), p, hotel, str(room + i // 2), t,
                                            out if out.date() < self.today else None))
        for p in people:
            car = cars.get(p.key)
            if car is not None and p.household is not None:
                self.drive(car, [hotel.community.town.code], check_in - dt.timedelta(minutes=25),
                           outbound=False)
        return check_in

    def groups(self, adults: list[Person], cars: dict[str, Vehicle], n: int) -> None:
        """``n`` groups of 3-4 adults of different households who go out together 3-5 times."""
        rng = self.rng
        pool = [p for p in adults if p.household is not None and 18 <= p.age(self.today) <= 60]
        rng.shuffle(pool)
        taken: set[str] = set()
        for _ in range(n):
            members: list[Person] = []
            for p in pool:
                if len(members) == rng.choice((3, 4)) or len(members) == 4:
                    break
                assert p.household is not None
                if p.household.number in taken:
                    continue
                taken.add(p.household.number)
                members.append(p)
            if len(members) < 2:
                break
            pool = [p for p in pool if p not in members]
            truth = GroupTruth([p.key for p in members])
            for _ in range(rng.randint(3, 5)):
                day = rng.choice(self.days()[:-3])
                kind = rng.choice(("hotel", "cafe", "road"))
                if kind == "hotel":
                    hotel = rng.choice(self.activity.hotels)
                    at = self.trip(members, hotel, day, rng.randint(1, 2), cars)
                    truth.together.append(("hotel", hotel.code, at.isoformat()))
                elif kind == "cafe":
                    cafe = rng.choice(self.activity.cafes)
                    seat, hour = rng.randint(1, 70), rng.uniform(14, 21)
                    for i, p in enumerate(members):
                        at = self.session(p, cafe, day, hour + i * 0.03, seat + i)
                    truth.together.append(("cafe", cafe.code, at.isoformat()))
                else:  # each in their own car, through the same checkpoints minutes apart
                    towns = rng.sample([t.code for t in self.geo.towns], 2)
                    start = self.at(day, rng.uniform(8, 18))
                    legs = [rng.randint(8, 30) for _ in towns]
                    drove = False
                    for i, p in enumerate(members):
                        car = cars.get(p.key)
                        if car is None:
                            car = self.give_car(p, cars)
                        self.drive(car, towns, start + dt.timedelta(minutes=i), outbound=True, legs=legs)
                        drove = True
                    if drove:
                        truth.together.append(("road", self.checkpoint_of[towns[0]].code, start.isoformat()))
            self.activity.groups.append(truth)

    def give_car(self, p: Person, cars: dict[str, Vehicle]) -> Vehicle:
        assert p.household is not None
        used = {v.plate for v in self.activity.vehicles}
        v = Vehicle(self.next_id("CL"), new_plate(self.rng, used), p, "private", self.rng.choice(_BRANDS),
                    self.rng.choice(_COLORS), self.today - dt.timedelta(days=self.rng.randint(60, 4000)),
                    p.household.community.county.code)
        cars[p.key] = v
        self.activity.vehicles.append(v)
        return v


def build_activity(world: World, rng: random.Random, *, groups: int = 4) -> Activity:
    """Venues, the vehicle register and a month of events of ``world``'s residents (record ids in
    time order)."""
    builder = _Builder(world, rng)
    adults = list(world.adults)
    cars = builder.vehicles(adults)
    builder.groups(adults, cars, groups)
    builder.daily_life(adults, cars)
    a = builder.activity
    a.stays.sort(key=lambda e: e.check_in)
    a.sessions.sort(key=lambda e: e.start)
    a.passes.sort(key=lambda e: e.at)
    a.accesses.sort(key=lambda e: e.at)
    return a
