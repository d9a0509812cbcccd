"""Feed health from the ledger's rows: one :class:`FeedHealth` per feed.

- **failing** — the newest attempt failed (the error and its stage are shown; a failure before any
  batch exists counts: a missing connection, an unreadable source);
- **late** — no new data (a published batch of the feed's own source) within ``expect_every`` +
  ``grace`` of the last one, even when every run since "succeeded" with nothing new;
- **degraded** — the newest batch is far from usual: its rows ``tolerance`` times fewer or more than
  the usual rows, or its reject ratio above both ``tolerance`` × the usual ratio and usual + 5
  points (usual: declared in the feed's ``usual:``, else the median of its last ``learn_from``
  loaded batches, at least 3);
- **ok**; **new** when the feed never loaded a batch (late once ``expect_every`` + ``grace`` passed
  since its first attempt).

The worst state wins: failing, late, degraded, ok.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from exchange.spec.feed import FeedSpec

STATES = ("failing", "late", "degraded", "new", "ok")
REJECT_POINTS = 0.05
MIN_HISTORY = 3


@dataclass
class Usual:
    rows: float | None
    reject_ratio: float | None
    source: str
    """declared, learned from N batches, or unknown."""


@dataclass
class FeedHealth:
    feed: str
    state: str
    reasons: list[str] = field(default_factory=list)
    owner: str = ""
    contact: str | None = None
    schedule: str | None = None
    last_success: dt.datetime | None = None
    """When the last batch of new data was published."""
    next_due: dt.datetime | None = None
    late_after: dt.datetime | None = None
    last_attempt: dt.datetime | None = None
    last_outcome: str | None = None
    last_batch: str | None = None
    last_rows: int | None = None
    last_reject_ratio: float | None = None
    usual_rows: float | None = None
    usual_reject_ratio: float | None = None
    usual_source: str = "unknown"
    last_error: str | None = None
    last_error_stage: str | None = None
    last_error_at: dt.datetime | None = None
    late: bool = False
    far: list[str] = field(default_factory=list)
    """Why the newest batch is far from usual (empty: it is not)."""

    def as_json(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in asdict(self).items()}


def usual_of(spec: FeedSpec, loaded: list[dict[str, Any]]) -> Usual:
    """The feed's usual rows and reject ratio: declared, else the median of its last loaded batches
    (newest first in ``loaded``; the newest itself excluded, it is what is compared)."""
    history = loaded[1:spec.usual.learn_from + 1]
    learned = len(history) >= MIN_HISTORY
    rows = spec.usual.rows if spec.usual.rows is not None else (
        statistics.median(b["rows_in"] or 0 for b in history) if learned else None)
    ratio = spec.usual.reject_ratio if spec.usual.reject_ratio is not None else (
        statistics.median(b["reject_ratio"] or 0.0 for b in history) if learned else None)
    declared = spec.usual.rows is not None or spec.usual.reject_ratio is not None
    source = "declared" if declared else (f"learned from {len(history)} batches" if learned else
                                          f"unknown (fewer than {MIN_HISTORY} earlier batches)")
    return Usual(rows, ratio, source)


def far_from_usual(spec: FeedSpec, usual: Usual, rows: int, ratio: float) -> list[str]:
    """Why a batch is far from usual (empty: it is not)."""
    t = spec.usual.tolerance
    out = []
    if usual.rows:
        if rows < usual.rows / t:
            out.append(f"{rows:,} rows, fewer than 1/{t:g} of the usual {usual.rows:,.0f}")
        elif rows > usual.rows * t:
            out.append(f"{rows:,} rows, more than {t:g}× the usual {usual.rows:,.0f}")
    if usual.reject_ratio is not None and ratio > max(usual.reject_ratio * t, usual.reject_ratio + REJECT_POINTS):
        out.append(f"{ratio:.1%} rejected, usually {usual.reject_ratio:.1%}")
    return out


def evaluate(spec: FeedSpec, batches: list[dict[str, Any]], latest: dict[str, Any] | None,
             failure: dict[str, Any] | None, first_seen: dt.datetime | None, now: dt.datetime) -> FeedHealth:
    """One feed's health. ``batches``: its batches of new data (``audit.batch`` rows of its own
    source, newest first); ``latest``: its newest attempt; ``failure``: its newest failed attempt."""
    health = FeedHealth(feed=spec.feed_id, state="ok", owner=spec.owner, contact=spec.contact,
                        schedule=spec.schedule)
    loaded = [b for b in batches if b["state"] in ("loaded", "published")]
    if latest:
        health.last_attempt, health.last_outcome = latest["at"], latest["outcome"]
    if failure:
        health.last_error, health.last_error_stage, health.last_error_at = (failure["error"], failure["stage"],
                                                                             failure["at"])
    if loaded:
        newest = loaded[0]
        health.last_success = newest["finished_at"] or newest["started_at"]
        health.last_batch, health.last_rows = newest["batch_id"], newest["rows_in"]
        health.last_reject_ratio = newest["reject_ratio"]
    usual = usual_of(spec, loaded)
    health.usual_rows, health.usual_reject_ratio, health.usual_source = usual.rows, usual.reject_ratio, usual.source
    failing = latest is not None and latest["outcome"] == "failed"
    if failing:
        health.state = "failing"
        health.reasons.append(f"the last attempt failed at {latest['stage']}")
    if spec.freshness is not None:
        since = health.last_success or first_seen
        if since is not None:
            health.next_due = since + dt.timedelta(seconds=spec.freshness.every_seconds)
            health.late_after = health.next_due + dt.timedelta(seconds=spec.freshness.grace_seconds)
            if now > health.late_after:
                what = f"no new data since {since:%Y-%m-%d %H:%M}" if health.last_success else "no data yet"
                health.reasons.append(f"{what}; expected every {spec.freshness.expect_every}"
                                      f" (+{spec.freshness.grace} grace)")
                health.late = True
                if not failing:
                    health.state = "late"
    if loaded:
        health.far = far_from_usual(spec, usual, loaded[0]["rows_in"] or 0, loaded[0]["reject_ratio"] or 0.0)
        health.reasons.extend(health.far)
        if health.far and health.state == "ok":
            health.state = "degraded"
    if not loaded and health.state == "ok":
        health.state = "new"
        health.reasons.append("no batch loaded yet")
    return health
