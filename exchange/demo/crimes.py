"""How the demo city's offences are committed: each offence's modus operandi (作案手段, 侵害目标, 作案工具)
and time of day as drawn for an ordinary case, and the **planted series** (系列案件) — a few offenders
who commit several cases of the same kind, each close to the last in place and time with a steady
modus operandi (it drifts now and then), some of them with a suspect, a vehicle or a phone that turns
up in more than one case. The series are the truth serial-case linking (``exchange series``) is
measured against (``CityTruth.series``).

Ordinary cases draw their manner from the same distributions, so coincidences happen: two ordinary
burglaries by a prised door at night in one town are not a series.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exchange.demo.activity import new_plate, place_point

if TYPE_CHECKING:
    from exchange.demo.geo import Community
    from exchange.demo.world import Case, World


@dataclass(frozen=True)
class Manner:
    """One offence's modus operandi as drawn for an ordinary case: weights of entry methods and targets,
    the tools offenders of this kind use, and weights of the hour of day (24 values)."""

    entry: dict[str, int]
    target: dict[str, int]
    tools: tuple[str, ...]
    hours: tuple[int, ...]


_NIGHT = (9, 9, 9, 8, 6, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4, 6, 8)
_WORKDAY = (2, 2, 2, 1, 1, 1, 1, 2, 4, 6, 7, 7, 6, 6, 7, 7, 5, 3, 2, 2, 2, 2, 2, 2)
_DAYTIME = (0, 0, 0, 0, 0, 0, 1, 3, 6, 8, 8, 8, 7, 6, 7, 8, 8, 8, 8, 7, 5, 3, 1, 1)
_EVENING = (4, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 4, 6, 8, 9, 8, 6)

MANNERS: dict[str, Manner] = {
    "burglary": Manner({"pry": 35, "pick_lock": 20, "window": 20, "climb": 10, "unlocked": 15},
                       {"cash": 40, "jewelry": 25, "electronics": 20, "phone": 15},
                       ("螺丝刀", "撬棍", "万能钥匙", "锡纸", "手套", "梯子", "钢丝钳"), _WORKDAY),
    "ebike_theft": Manner({"break_lock": 50, "short_circuit": 40, "unlocked": 10}, {"ebike": 70, "battery": 30},
                          ("钢丝钳", "液压剪", "万能钥匙", "电线", "螺丝刀"), _NIGHT),
    "theft_from_car": Manner({"smash_window": 60, "unlocked_car": 40},
                             {"car_contents": 70, "cash": 20, "electronics": 10},
                             ("破窗器", "石块", "弹弓钢珠", "手套"), _NIGHT),
    "pickpocket": Manner({"crowd": 60, "distraction": 40}, {"phone": 60, "cash": 25, "bag": 15},
                         ("镊子", "刀片", "报纸遮挡", "外套遮挡"), _DAYTIME),
    "fraud": Manner({"impersonation": 40, "fake_investment": 30, "fake_shopping": 30}, {"transfer": 1},
                    ("电话", "微信", "虚假网站", "QQ", "短信链接"), _DAYTIME),
    "robbery": Manner({"threat": 50, "snatch": 50}, {"cash": 30, "phone": 30, "jewelry": 20, "bag": 20},
                      ("刀具", "摩托车", "棍棒", "仿真枪"), _EVENING),
    "assault": Manner({"threat": 1}, {"person": 1}, ("刀具", "棍棒", "酒瓶"), _EVENING),
}
SERIAL_OFFENCES = {"burglary": 35, "ebike_theft": 20, "theft_from_car": 15, "pickpocket": 10, "fraud": 10,
                   "robbery": 10}
OFFENCE_CN = {"burglary": "入室盗窃", "ebike_theft": "盗窃电动车", "theft_from_car": "盗窃车内财物",
              "pickpocket": "扒窃", "fraud": "电信网络诈骗", "robbery": "抢劫", "assault": "故意伤害",
              "fight": "打架斗殴", "drunk_driving": "酒后驾驶", "fireworks": "违规燃放烟花爆竹", "noise": "噪音扰民",
              "quarrel": "纠纷争吵", "missing_person": "走失求助", "traffic_accident": "交通事故",
              "suspicious_person": "可疑人员"}
ENTRY_CN = {"pry": "撬门撬锁", "pick_lock": "技术开锁", "window": "翻窗入室", "climb": "攀爬入室",
            "unlocked": "溜门入室", "break_lock": "破坏车锁", "short_circuit": "剪线短接", "smash_window": "砸窗",
            "unlocked_car": "车门未锁", "distraction": "趁人不备", "crowd": "人多拥挤", "impersonation": "冒充身份",
            "fake_investment": "虚假投资", "fake_shopping": "虚假购物", "threat": "持械威胁", "snatch": "飞车抢夺"}
TARGET_CN = {"cash": "现金", "jewelry": "金银首饰", "phone": "手机", "electronics": "电子产品", "ebike": "电动自行车",
             "battery": "电瓶", "car_contents": "车内财物", "bag": "随身包", "transfer": "转账汇款", "person": "人身"}
# the title of a case names its offence: the demo's titles, by offence
TITLES = {
    "burglary": "{place}发生一起入室盗窃案，被盗现金及物品价值约{amount}元",
    "fraud": "受害人在{place}被电信网络诈骗{amount}元",
    "ebike_theft": "{place}一辆电动自行车被盗",
    "assault": "{place}发生一起故意伤害案件，一人受伤",
    "pickpocket": "受害人在{place}附近被扒窃，损失约{amount}元",
    "theft_from_car": "{place}停放的车辆被盗车内财物，价值约{amount}元",
    "robbery": "受害人在{place}附近被抢劫，损失约{amount}元",
    "fight": "{place}发生打架斗殴，双方均有轻微伤",
    "drunk_driving": "{place}有人酒后驾驶机动车被查获",
    "fireworks": "{place}违规燃放烟花爆竹",
    "noise": "{place}噪音扰民经劝阻无效",
    "quarrel": "群众报警称{place}有人争吵",
    "missing_person": "群众求助称在{place}走失一名老人",
    "traffic_accident": "{place}发生一起交通事故，无人员伤亡",
    "suspicious_person": "群众报警称{place}有可疑人员徘徊",
}


def weighted(rng: random.Random, table: dict[str, int]) -> str:
    return rng.choices(list(table), list(table.values()))[0]


def hour_of(rng: random.Random, manner: Manner) -> int:
    return rng.choices(range(24), manner.hours)[0]


def tools_of(rng: random.Random, manner: Manner) -> list[str]:
    return rng.sample(manner.tools, rng.choice((1, 1, 2)))


def dress(case: Case, rng: random.Random) -> None:
    """An ordinary case's manner (from its offence's distributions) and coordinates."""
    manner = MANNERS.get(case.offence)
    case.lon, case.lat = place_point(case.community, f"case/{case.number}") if rng.random() < 0.85 else (None, None)
    if manner is None:
        return
    case.mo_entry = weighted(rng, manner.entry) if rng.random() < 0.95 else ""
    case.mo_target = weighted(rng, manner.target) if rng.random() < 0.95 else ""
    case.mo_tools = "、".join(tools_of(rng, manner)) if rng.random() < 0.8 else ""


@dataclass
class SeriesTruth:
    """One planted series: its offence and its cases, in the order they were committed."""

    offence: str
    cases: list[Case] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    """What besides manner, place and time ties some of its cases: suspect, vehicle, phone."""


def _nearby(world: World, rng: random.Random, home: Community) -> Community:
    """Where a series strikes next: mostly in its home town, else in the nearest other town of the county."""
    geo = world.geo
    town = [c for c in geo.communities if c.town is home.town]
    if rng.random() < 0.8 and town:  # offenders strike close to where they struck before
        return rng.choice(town)
    here = place_point(home, "town")
    others = [c for c in geo.communities if c.county is home.county and c.town is not home.town]
    if not others:
        return rng.choice(town or [home])
    nearest = min({c.town.code: c for c in others}.values(), key=lambda c: _dist2(place_point(c, "town"), here))
    return rng.choice([c for c in others if c.town is nearest.town])


def _dist2(a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2


def plant_series(world: World, rng: random.Random, n: int, new_case: object) -> list[SeriesTruth]:
    """``n`` series of 3-6 cases; ``new_case(rng, community, occurred, offence)`` makes and files one case
    (numbered as every other) and returns it."""
    out = []
    geo = world.geo
    for _ in range(n):
        offence = weighted(rng, SERIAL_OFFENCES)
        manner = MANNERS[offence]
        entry, target, tools = weighted(rng, manner.entry), weighted(rng, manner.target), tools_of(rng, manner)
        hour = hour_of(rng, manner)
        home = rng.choices(geo.communities, geo.community_weights)[0]
        size = rng.randint(3, 6)
        day = world.today - dt.timedelta(days=rng.randint(30 + 21 * size, 720))
        suspect = world.pick_adult(rng) if rng.random() < 0.35 else None
        plate = new_plate(rng, set()) if offence in ("ebike_theft", "theft_from_car", "robbery") and \
            rng.random() < 0.3 else None
        phoning = [p for p in world.adults if p.phone]
        phone = rng.choice(phoning) if offence == "fraud" and phoning and rng.random() < 0.5 else None
        truth = SeriesTruth(offence, shared=[s for s, on in (("suspect", suspect), ("vehicle", plate),
                                                               ("phone", phone)) if on])
        tied = set(rng.sample(range(size), min(size, rng.randint(2, 3))))
        for i in range(size):
            day += dt.timedelta(days=rng.randint(2, 21))
            h = min(23, max(0, round(hour + rng.gauss(0, 1.2)))) if offence != "fraud" else hour_of(rng, manner)
            occurred = dt.datetime.combine(min(day, world.today - dt.timedelta(days=2)),
                                           dt.time(h, rng.randrange(60), rng.randrange(60)))
            where = rng.choices(geo.communities, geo.community_weights)[0] if offence == "fraud" else \
                _nearby(world, rng, home)  # a fraudster's victims live anywhere
            case: Case = new_case(rng, where, occurred, offence,  # type: ignore[operator]
                                  status=rng.choice(("已立案", "侦查中", "侦查中")))
            case.serial = True
            case.mo_entry = entry if rng.random() > 0.15 else weighted(rng, manner.entry)
            case.mo_target = target if rng.random() > 0.15 else weighted(rng, manner.target)
            own = list(tools)
            if rng.random() < 0.25:
                own = own[:-1] if len(own) > 1 and rng.random() < 0.5 else [*own, rng.choice(manner.tools)]
            case.mo_tools = "、".join(dict.fromkeys(own))
            case.lon, case.lat = place_point(case.community, f"case/{case.number}")
            if i in tied:
                if suspect is not None:
                    case.suspect = suspect
                if plate is not None:
                    case.plate = plate
                if phone is not None:
                    case.suspect_phone = phone
            truth.cases.append(case)
        out.append(truth)
    return out
