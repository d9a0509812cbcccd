"""Golden files of the GX suites compiled from the shared schemas: a schema change shows up
in review as a diff of tests/golden/suites/. Regenerate with UPDATE_GOLDEN=1."""

from __future__ import annotations

import json
import os

import pytest

from exchange.spec.catalog import load_catalog
from exchange.validation.suites import compile_suite, suite_to_golden
from tests.conftest import REPO

pytestmark = [pytest.mark.gx]  # not in `make check`: see the Makefile

GOLDEN = REPO / "tests" / "golden" / "suites"
CATALOG = load_catalog(REPO, feeds=False)


@pytest.mark.parametrize("name", sorted(CATALOG.schemas))
def test_suite_matches_golden(name: str) -> None:
    compiled = compile_suite(CATALOG.schemas[name], CATALOG)
    got = json.dumps(suite_to_golden(compiled), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run UPDATE_GOLDEN=1 pytest {__file__}"
    assert got == path.read_text(encoding="utf-8"), f"suite of {name} changed; review and UPDATE_GOLDEN=1"


def test_every_expectation_has_a_rule() -> None:
    compiled = compile_suite(CATALOG.schemas["person"], CATALOG)
    assert len(compiled.rules) == len(compiled.suite.expectations)
    types = {e.expectation_type for e in compiled.suite.expectations}
    assert {"expect_column_values_to_be_valid_resident_id", "expect_column_pair_resident_id_to_match_gender",
            "expect_column_values_to_be_valid_phone", "expect_column_values_to_be_valid_division_code",
            "expect_column_values_to_be_iso_date", "expect_column_values_to_not_be_null",
            "expect_column_values_to_be_in_set"} <= types
