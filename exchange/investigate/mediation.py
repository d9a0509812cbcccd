"""The dispute-mediation centre's queues (矛盾纠纷调解): where each dispute stands and which are overdue, read
from the steps its platform publishes (``core.dispute_step``, the ``justice.dispute_steps`` feed) through the
caller's grant.

A dispute's steps, in time order: ``intake`` at one of the 13 windows → ``assigned`` to the responsible
unit → ``mediating`` → ``agreement`` (then ``confirmed`` by a court, or ``closed``) or ``handed_back`` to its
unit. Its current step is its latest one up to the moment asked (``as_of``). It is **overdue** when it has
been at a step longer than the limit of its window (``schemas/reference/mediation.yaml``): ``assign`` days
from intake to assignment, ``mediate`` days from assignment to an agreement or a hand-back, ``confirm`` days
from an agreement to its confirmation or closing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from exchange.access.lens import Lens, read_rows
from exchange.errors import ConfigError
from exchange.investigate.persons import as_datetime
from exchange.spec.schema import StrictModel

LIMITS_FILE = Path("schemas") / "reference" / "mediation.yaml"
OPEN = ("intake", "assigned", "mediating", "agreement")
DONE = ("confirmed", "closed", "handed_back")
STEP_ORDER = ("intake", "assigned", "mediating", "agreement", "confirmed", "closed", "handed_back")
MAX_OVERDUE = 500


class StepLimits(StrictModel):
    assign: int | None = Field(default=None, ge=1, le=365)
    mediate: int | None = Field(default=None, ge=1, le=365)
    confirm: int | None = Field(default=None, ge=1, le=365)


class LimitsFile(StrictModel):
    default: StepLimits
    windows: dict[str, StepLimits] = Field(default_factory=dict)


@dataclass(frozen=True)
class Limits:
    default: dict[str, int]
    windows: dict[str, dict[str, int]]

    def days(self, window: str, kind: str) -> int:
        return self.windows.get(window, {}).get(kind, self.default[kind])


def load_limits(root: Path, windows: list[str]) -> Limits:
    """The time limits, checked: every default given, only known windows (the ``dispute_category`` list)."""
    path = root / LIMITS_FILE
    try:
        data = LimitsFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{LIMITS_FILE}: cannot read it ({exc})") from None
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{LIMITS_FILE}: {len(problems)} problem(s)", problems) from None
    default = data.default.model_dump()
    missing = [k for k, v in default.items() if v is None]
    unknown = sorted(set(data.windows) - set(windows))
    if missing or unknown:
        raise ConfigError(f"{LIMITS_FILE}: " + "; ".join(
            ([f"default: give {', '.join(missing)}"] if missing else []) +
            ([f"windows: unknown {', '.join(unknown)} (known: {', '.join(windows)})"] if unknown else [])))
    return Limits(default, {w: {k: v for k, v in lim.model_dump().items() if v is not None}
                            for w, lim in data.windows.items()})


@dataclass
class Flow:
    number: str
    window: str
    division: str | None
    steps: list[tuple[str, dt.datetime, dict[str, Any]]]

    @property
    def step(self) -> str:
        return self.steps[-1][0]

    @property
    def since(self) -> dt.datetime:
        return self.steps[-1][1]

    def reached(self, step: str) -> dt.datetime | None:
        return next((at for s, at, _ in self.steps if s == step), None)

    def unit(self) -> str | None:
        return next((shown.get("unit") for s, _, shown in reversed(self.steps) if shown.get("unit")), None)

    def clock(self, limits: Limits) -> tuple[str, dt.datetime, int] | None:
        """(limit kind, since, days) running for the current step; None when it is done."""
        if self.step == "intake":
            return "assign", self.since, limits.days(self.window, "assign")
        if self.step in ("assigned", "mediating"):
            return "mediate", self.reached("assigned") or self.since, limits.days(self.window, "mediate")
        if self.step == "agreement":
            return "confirm", self.since, limits.days(self.window, "confirm")
        return None


def flows(conn: Any, lens: Lens, as_of: dt.datetime, window: str | None = None) -> list[Flow]:
    """Every dispute the caller may see, with its steps up to ``as_of`` (a step it may not read is not
    there for it)."""
    where, params = "at <= :asof", {"asof": as_of}
    if window:
        where += " AND window = :w"
        params["w"] = window
    by_number: dict[str, Flow] = {}
    for row in read_rows(conn, lens, "dispute_step", where, params):
        r = row.raw
        at = as_datetime(r.get("at"))
        if at is None or not r.get("dispute_number"):
            continue
        f = by_number.setdefault(str(r["dispute_number"]), Flow(str(r["dispute_number"]), str(r.get("window")),
                                                                 r.get("division_code"), []))
        f.steps.append((str(r["step"]), at, row.shown))
    for f in by_number.values():
        f.steps.sort(key=lambda s: (s[1], STEP_ORDER.index(s[0]) if s[0] in STEP_ORDER else 99))
    return sorted(by_number.values(), key=lambda f: f.number)


def queues(flows_: list[Flow], limits: Limits, as_of: dt.datetime, windows: list[str]) -> dict[str, Any]:
    """Per window: the open disputes by step, the overdue ones, those done in the last 30 days; and the
    overdue list, longest past its limit first."""
    per: dict[str, dict[str, Any]] = {w: {"window": w, **{s: 0 for s in (*OPEN, *DONE)}, "open": 0, "overdue": 0,
                                          "done_30d": 0} for w in windows}
    late = []
    month_ago = as_of - dt.timedelta(days=30)
    for f in flows_:
        q = per.setdefault(f.window, {"window": f.window, **{s: 0 for s in (*OPEN, *DONE)}, "open": 0, "overdue": 0,
                                      "done_30d": 0})
        q[f.step] = q.get(f.step, 0) + 1
        clock = f.clock(limits)
        if clock is None:
            q["done_30d"] += f.since >= month_ago
            continue
        q["open"] += 1
        kind, since, days = clock
        age = (as_of - since).total_seconds() / 86400
        if age > days:
            q["overdue"] += 1
            late.append({"dispute_number": f.number, "window": f.window, "step": f.step, "limit": kind,
                         "limit_days": days, "since": f"{since:%Y-%m-%d %H:%M}", "days": round(age, 1),
                         "over_by": round(age - days, 1), "unit": f.unit(), "division_code": f.division})
    late.sort(key=lambda x: (-x["over_by"], x["dispute_number"]))
    return {"as_of": f"{as_of:%Y-%m-%d %H:%M}", "windows": [per[w] for w in sorted(per)],
            "overdue": late[:MAX_OVERDUE], "total_overdue": len(late), "disputes": len(flows_),
            "limits": {"default": limits.default, "windows": limits.windows}}
