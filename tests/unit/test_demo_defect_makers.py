"""The demo's defect makers for plates and ranges: each turns a valid value into one that its own rule
refuses — and only that rule (the demo's truth counts on it)."""

from __future__ import annotations

import datetime as dt
import functools
import random
from pathlib import Path

import pytest

from exchange.demo.defects import ELIGIBLE, MAKERS, MakeContext, Seed
from exchange.formats import check_plate, load_division_codes
from exchange.formats.numbers import check_range
from exchange.spec.catalog import load_catalog
from tests.conftest import REPO

PLATES = ["陕A12345", "陕G7B2C8", "京AD12345", "沪A12345F", "粤B1234学"]


@functools.cache
def _reference() -> tuple[object, object]:
    return load_catalog(Path(REPO)), load_division_codes(REPO / "schemas" / "reference" / "gb2260.csv")


def context(schema: str, seed: int) -> MakeContext:
    catalog, divisions = _reference()
    return MakeContext(random.Random(seed), dt.date(2026, 12, 1), catalog.schemas[schema], divisions)


@pytest.mark.parametrize("rule", ["plate.province", "plate.letters", "plate.format"])
def test_a_plate_maker_yields_its_own_reason(rule: str) -> None:
    for seed in range(40):
        ctx = context("checkpoint_pass", seed)
        for plate in PLATES:
            if not ELIGIBLE[rule](plate):
                continue
            made = MAKERS[rule](ctx, Seed(rule, "号牌"), "plate", plate)
            assert check_plate([made]).to_pylist() == [rule], (plate, made)


@pytest.mark.parametrize(("field", "low", "high"), [("longitude", -180, 180), ("speed_kmh", 0, 300)])
def test_the_range_maker_steps_outside_the_declared_range(field: str, low: float, high: float) -> None:
    for seed in range(40):
        made = MAKERS["range"](context("checkpoint_pass", seed), Seed("range", field), field, "50")
        assert check_range([made], low, high).to_pylist() == ["range"], made
