"""The person index on a city of hard cases written independently of the demo (exchange hard-city):
every record through mapping, validation, flags and quarantine, then linking, measured per hard case.

Issue 14's targets, asserted on a 2,000-person city (the README has the 20,000-person figures): over the
informative records (more than a name and a gender) F1 >= 0.99 and precision >= 0.998, no twin or
namesake merged, every record indexed (ID-number problems are flags, not rejections), and recall >= 0.95
for every hard case but placeholders (张某 with one shared attribute), which stay below on purpose: a
surname and a family phone cannot tell a father from his son, and such a record goes to review."""

from __future__ import annotations

import pytest

from exchange.workspace.persons import hard_city

pytestmark = [pytest.mark.gx]  # not in `make check`: see the Makefile


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return hard_city(tmp_path_factory.mktemp("hard") / "city", persons=2_000, seed=7, say=lambda _m: None)


def test_no_twin_or_namesake_is_merged_and_precision_holds(measured: dict) -> None:
    assert measured["false_merges"]["twins"] == 0 and measured["false_merges"]["namesake"] == 0
    assert measured["relations"]["twins"] > 10 and measured["relations"]["namesake"] > 10
    informative = measured["overall"]["informative"]
    assert informative["precision"] >= 0.998 and informative["f1"] >= 0.99, informative
    assert measured["overall"]["precision"] >= 0.995
    assert measured["tags"]["id_copied"]["precision"] >= 0.97  # copied ID numbers do not merge by rule


def test_every_record_reaches_the_index(measured: dict) -> None:
    assert measured["overall"]["indexed"] == measured["overall"]["records"]
    assert all(t["not_indexed"] == 0 for t in measured["tags"].values())


@pytest.mark.parametrize("tag", ["clean", "no_id", "romanised", "traditional", "homophone", "missing_char",
                                 "id_typo", "id_transposed", "id_legacy15", "id_copied", "register"])
def test_every_hard_case_is_linked(measured: dict, tag: str) -> None:
    t = measured["tags"][tag]["informative"]
    assert t["records"] > 50 and t["recall"] >= 0.95 and t["precision"] >= 0.97, t


def test_placeholders_are_linked_where_they_say_enough(measured: dict) -> None:
    t = measured["tags"]["placeholder"]["informative"]
    assert t["records"] > 50 and t["recall"] >= 0.9 and t["precision"] >= 0.95, t


@pytest.fixture(scope="module")
def without_ids(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return hard_city(tmp_path_factory.mktemp("noid") / "city", persons=1_000, seed=11, id_numbers=False,
                     say=lambda _m: None)


def test_a_warehouse_without_id_numbers_is_linked_without_chaining(without_ids: dict) -> None:
    # no labels: the model trains by EM; registers, genders, birth dates and names keep clusters apart.
    # Without a number a twin's 江氏 or 孙超 (a character missing) of the shared household and birth date
    # fits either twin: at most one such record per 500 persons lands on the wrong one.
    informative = without_ids["overall"]["informative"]
    assert without_ids["false_merges"]["twins"] <= 2 and without_ids["relations"]["twins"] > 5
    assert informative["precision"] >= 0.99 and informative["f1"] >= 0.93, informative
