"""The demo city's disputes and their way through the mediation centre: intake at a window, assignment to
the responsible unit, mediation, and an agreement (closed, or judicially confirmed) or a hand-back — each
step a row of the ``justice.dispute_steps`` feed. Open disputes are recent, so some are within their time
limits and some are overdue; :func:`overdue` says which, the truth the mediation queue is measured against.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exchange.demo.geo import Community
    from exchange.demo.people import Person
    from exchange.demo.world import World

WINDOW_CODES = {"交通事故": "traffic_accident", "劳动争议": "labour", "校园纠纷": "school", "医疗纠纷": "medical",
                "征地拆迁": "land_requisition_demolition", "物业管理": "property_management",
                "婚姻家庭": "marriage_family", "邻里纠纷": "neighbourhood", "消费纠纷": "consumer",
                "合同纠纷": "contract", "环境污染": "environmental", "农村土地": "rural_land", "其他": "other"}
UNITS = {"交通事故": "交警大队事故处理中队", "劳动争议": "劳动人事争议调解中心", "校园纠纷": "教育局校园安全办",
         "医疗纠纷": "医疗纠纷人民调解委员会", "征地拆迁": "自然资源局征收办", "物业管理": "住建局物业科",
         "婚姻家庭": "妇联婚姻家庭调解室", "邻里纠纷": "社区人民调解委员会", "消费纠纷": "市场监管局消费者权益保护科",
         "合同纠纷": "司法所", "环境污染": "生态环境局", "农村土地": "农业农村局土地承包仲裁委员会", "其他": "司法所"}
STEP_CN = {"intake": "窗口受理", "assigned": "分派责任单位", "mediating": "调解中", "agreement": "达成调解协议",
           "confirmed": "司法确认", "closed": "结案", "handed_back": "调解不成退回责任单位"}
CATEGORIES = tuple(WINDOW_CODES)
STATUSES = {"已受理": 10, "调解中": 15, "调解成功": 50, "调解不成": 10, "司法确认": 15}
CLOSED = frozenset({"调解成功", "调解不成", "司法确认"})
LIMITS = {"assign": 3, "mediate": 30, "confirm": 30}
WINDOW_LIMITS = {"traffic_accident": {"mediate": 10}, "labour": {"mediate": 15}}
"""As schemas/reference/mediation.yaml says them (the demo writes the data the centre would)."""


@dataclass
class Dispute:
    number: str
    category: str
    status: str
    accepted: dt.date
    closed: dt.date | None
    applicant: Person
    community: Community
    steps: list[tuple[str, dt.datetime]] = field(default_factory=list)

    @property
    def window(self) -> str:
        return WINDOW_CODES[self.category]


def build_disputes(world: World, rng: random.Random, n: int) -> list[Dispute]:
    categories = list(CATEGORIES)
    rng.shuffle(categories)
    out = []
    for i in range(n):
        category = categories[i] if i < len(categories) else rng.choice(CATEGORIES)
        status = rng.choices(list(STATUSES), list(STATUSES.values()))[0]
        if status in CLOSED:
            accepted = world.recent_date(rng, 1000, min_days=62)
            closed: dt.date | None = accepted + dt.timedelta(days=rng.randint(1, 60))
        else:  # open ones came in lately: some still within their limits, some overdue
            accepted, closed = world.recent_date(rng, 45), None
        applicant = world.pick_adult(rng)
        community = applicant.household.community if applicant.household else rng.choice(world.geo.communities)
        d = Dispute(f"TJ{accepted.year}{i + 1:06d}", category, status, accepted, closed, applicant, community)
        d.steps = _steps(d, rng, world.today)
        out.append(d)
    return out


def _at(day: dt.date, rng: random.Random) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(rng.randint(8, 17), rng.randrange(60)))


def _steps(d: Dispute, rng: random.Random, today: dt.date) -> list[tuple[str, dt.datetime]]:
    """The steps the dispute has reached by ``today`` (never after it)."""
    yesterday = today - dt.timedelta(days=1)
    intake = _at(d.accepted, rng)
    steps = [("intake", intake)]
    if d.status == "已受理" and rng.random() < 0.6:
        return steps  # not assigned yet
    assigned = _at(min(d.accepted + dt.timedelta(days=rng.choice((0, 1, 1, 2))), yesterday), rng)
    steps.append(("assigned", max(assigned, intake + dt.timedelta(minutes=30))))
    if d.status == "已受理":
        return steps
    mediating = steps[-1][1] + dt.timedelta(days=rng.randint(1, 3), hours=1)
    if mediating.date() > yesterday:
        return steps
    steps.append(("mediating", mediating))
    if d.closed is None:
        return steps
    end = max(_at(d.closed, rng), mediating + dt.timedelta(hours=2))
    if d.status == "调解不成":
        steps.append(("handed_back", end))
    else:
        steps.append(("agreement", end))
        later = end + dt.timedelta(days=rng.randint(3, 15)) if d.status == "司法确认" else end + dt.timedelta(hours=3)
        steps.append(("confirmed" if d.status == "司法确认" else "closed", min(later, _at(yesterday, rng))))
    return steps


def limit(window: str, kind: str) -> int:
    return WINDOW_LIMITS.get(window, {}).get(kind, LIMITS[kind])


def overdue(d: Dispute, today: dt.date) -> bool:
    """Still at a step past its time limit on ``today`` (the truth the mediation queue is measured against)."""
    step, at = d.steps[-1]
    start = dict(d.steps)
    if step == "intake":
        days, since = limit(d.window, "assign"), at
    elif step in ("assigned", "mediating"):
        days, since = limit(d.window, "mediate"), start["assigned"]
    elif step == "agreement":
        days, since = limit(d.window, "confirm"), at
    else:
        return False
    return (dt.datetime.combine(today, dt.time()) - since).total_seconds() > days * 86400
