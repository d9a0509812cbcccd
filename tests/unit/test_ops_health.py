"""Feed health from ledger rows (exchange.ops.health): each state with the reason it gives."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from exchange.ops.health import evaluate, far_from_usual, usual_of
from exchange.spec.feed import FeedSpec

T0 = dt.datetime(2026, 12, 1, 6, 0)


def spec(**extra: Any) -> FeedSpec:
    return FeedSpec.model_validate({
        "agency": "police", "feed": "residents", "description": "d", "source": {"kind": "file", "path": "x.csv"},
        "target": "person@2", "mapping": {"a": "name"}} | extra)


def batch(i: int, rows: int = 1000, ratio: float = 0.01, state: str = "published") -> dict[str, Any]:
    at = T0 + dt.timedelta(days=i)
    return {"batch_id": f"b{i}", "state": state, "rows_in": rows, "reject_ratio": ratio, "started_at": at,
            "finished_at": at + dt.timedelta(minutes=5)}


def attempt(at: dt.datetime, outcome: str = "published", stage: str = "publish", error: str | None = None) -> dict:
    return {"at": at, "outcome": outcome, "stage": stage, "error": error}


def history(n: int, **kw: Any) -> list[dict[str, Any]]:
    return [batch(i, **kw) for i in range(n - 1, -1, -1)]  # newest first


def test_a_feed_with_fresh_usual_batches_is_ok() -> None:
    s = spec(freshness={"expect_every": "1d", "grace": "2h"})
    h = evaluate(s, history(5), attempt(T0 + dt.timedelta(days=4)), None, T0, T0 + dt.timedelta(days=4, hours=1))
    assert (h.state, h.reasons, h.late, h.far) == ("ok", [], False, [])
    assert h.next_due == T0 + dt.timedelta(days=5, minutes=5)
    assert h.usual_rows == 1000 and h.usual_source == "learned from 4 batches"


def test_no_new_data_past_expect_every_plus_grace_is_late_even_when_runs_succeed() -> None:
    s = spec(freshness={"expect_every": "1d", "grace": "2h"})
    last = T0 + dt.timedelta(days=4, minutes=5)
    quiet = attempt(T0 + dt.timedelta(days=6), outcome="no new data", stage="extract")
    on_time = evaluate(s, history(5), quiet, None, T0, last + dt.timedelta(days=1, hours=1))
    assert on_time.state == "ok"
    late = evaluate(s, history(5), quiet, None, T0, last + dt.timedelta(days=1, hours=2, minutes=1))
    assert late.state == "late" and late.late
    assert late.reasons == ["no new data since 2026-12-05 06:05; expected every 1d (+2h grace)"]


def test_a_failure_before_any_batch_exists_makes_the_feed_failing_with_its_stage() -> None:
    error = "ConfigError: connection 'police_db' is not defined: set EXCHANGE_CONN_POLICE_DB"
    failed = attempt(T0, outcome="failed", stage="extract", error=error)
    h = evaluate(spec(freshness={"expect_every": "1d"}), [], failed, failed, T0, T0 + dt.timedelta(days=2))
    assert h.state == "failing" and h.last_error_stage == "extract" and h.last_error == error
    assert h.late and "no data yet" in h.reasons[1]


def test_a_feed_that_failed_once_and_then_succeeded_is_ok_again() -> None:
    failed = attempt(T0 + dt.timedelta(days=3), outcome="failed", stage="load", error="TransientError: x")
    h = evaluate(spec(), history(5), attempt(T0 + dt.timedelta(days=4)), failed, T0, T0 + dt.timedelta(days=4))
    assert h.state == "ok" and h.last_error == "TransientError: x"


@pytest.mark.parametrize(("rows", "ratio", "why"), [
    (300, 0.01, "300 rows, fewer than 1/3 of the usual 1,000"),
    (3100, 0.01, "3,100 rows, more than 3× the usual 1,000"),
    (1000, 0.07, "7.0% rejected, usually 1.0%"),
])
def test_a_batch_far_from_usual_is_degraded_and_says_why(rows: int, ratio: float, why: str) -> None:
    batches = [batch(9, rows=rows, ratio=ratio), *history(6)]
    h = evaluate(spec(), batches, attempt(T0 + dt.timedelta(days=9)), None, T0, T0 + dt.timedelta(days=9))
    assert (h.state, h.far) == ("degraded", [why])


def test_near_usual_is_not_far_and_few_batches_teach_nothing() -> None:
    s = spec()
    learned = usual_of(s, history(6))
    assert far_from_usual(s, learned, 2900, 0.02) == []  # < 3× rows; 2% is under usual + 5 points
    assert usual_of(s, history(3)).rows is None  # two earlier batches: not enough to learn from
    declared = usual_of(spec(usual={"rows": 50, "reject_ratio": 0.2}), history(2))
    assert (declared.rows, declared.reject_ratio, declared.source) == (50, 0.2, "declared")


def test_a_feed_without_batches_is_new() -> None:
    h = evaluate(spec(), [], None, None, None, T0)
    assert (h.state, h.reasons) == ("new", ["no batch loaded yet"])


@pytest.mark.parametrize(("value", "problem"), [
    ({"expect_every": "daily"}, "is not a duration like 30m, 2h, 1d or 1w"),
    ({"expect_every": "1d", "grace": "-2h"}, "is not a duration"),
    ({"every": "1d"}, "Field required"),
])
def test_freshness_is_checked_at_load(value: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        spec(freshness=value)


def test_operations_keys_do_not_change_the_batch_id() -> None:
    from exchange.pipeline.stamps import batch_id_for
    from exchange.spec.schema import EntitySchema  # noqa: F401 - the id takes the schema's version only

    class Schema:
        version = "1.1.0"

    plain = batch_id_for(spec(), Schema(), "f")  # type: ignore[arg-type]
    operated = batch_id_for(spec(freshness={"expect_every": "1d"}, usual={"rows": 9}, contact="desk 4411",
                                 alerts=["ops_mail"]), Schema(), "f")  # type: ignore[arg-type]
    assert plain == operated


def test_each_condition_is_one_alert_key_with_the_feed_routes_or_the_platform_ones(monkeypatch) -> None:
    from exchange.workspace.ops import conditions_of

    monkeypatch.setenv("EXCHANGE_ALERT_ROUTES", "ops_mail, ops_hook")
    batches = [batch(9, rows=300), *history(6)]
    degraded = evaluate(spec(), batches, attempt(T0 + dt.timedelta(days=9)), None, T0, T0 + dt.timedelta(days=9))
    failed = attempt(T0 + dt.timedelta(days=10), outcome="failed", stage="validate", error="DataQualityError: x")
    failing = evaluate(spec(feed="incidents", freshness={"expect_every": "1d"}), batches, failed, failed, T0,
                       T0 + dt.timedelta(days=12))
    found = conditions_of([degraded, failing], {"police.incidents": ["police_desk"]})
    assert [(c.key, c.routes) for c in found] == [
        ("degraded:police.residents", ["ops_mail", "ops_hook"]),
        ("failing:police.incidents", ["police_desk"]), ("late:police.incidents", ["police_desk"]),
        ("degraded:police.incidents", ["police_desk"])]
    assert found[1].detail == "DataQualityError: x"
    assert found[0].summary == "300 rows, fewer than 1/3 of the usual 1,000"
