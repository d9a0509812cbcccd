"""Activity event schemas (hotel stays, internet cafés, checkpoint passes, compound gates) through the
compiled GX suite: places with ranges on their coordinates, plates as a field format, a guest's bad ID
number flagged rather than fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.formats.numbers import check_range
from exchange.spec.schema import FieldSpec
from tests.conftest import write

CHECKPOINT_FEED = """\
agency: police
feed: checkpoints
description: road checkpoint cameras
source: {kind: file, path: police/passes.csv}
target: checkpoint_pass@1
mapping:
  记录编号: source_record_id
  号牌: plate
  卡口编号: checkpoint_code
  方向: {field: direction, values: {进城: inbound, 出城: outbound}}
  过车时间: passed_at
  速度: speed_kmh
  区划: division_code
  经度: longitude
  纬度: latitude
quality: {max_reject_ratio: 1.0}
"""
PASSES = [
    "C1,陕G·12345,KK001,进城,2026-11-01 08:00:00,56,610902001001,109.03,32.68",
    "C2,陕GD12345,KK001,出城,2026-11-01 08:05:00,0,610902,,",
    "C3,陕G12345,KK002,进城,2026-11-01 08:06:00,412,610902,109.03,32.68",   # speed beyond 300
    "C4,陕G12345,KK002,进城,2026-11-01 08:07:00,60,610902,190.5,32.68",     # longitude beyond 180
    "C5,陕G1?345,KK002,进城,2026-11-01 08:08:00,60,610902,109.03,-91",      # unread plate, latitude below -90
]


def test_range_rule_checks_numbers_and_leaves_text_to_the_type_rule() -> None:
    assert check_range(["0", "300", "300.5", "-1", "fast", None], 0, 300).to_pylist() == [
        None, None, "range", "range", None, None]


@pytest.mark.parametrize(("spec", "problem"), [
    ({"type": "string", "minimum": 0}, "apply to integer and decimal fields"),
    ({"type": "integer", "minimum": 5, "maximum": 1}, "minimum 5 is above maximum 1"),
])
def test_a_range_is_checked_at_load(spec: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        FieldSpec.model_validate({"pii": "none", "description": "d", **spec})


@pytest.mark.gx
def test_checkpoint_passes_are_validated_with_plates_and_ranges(project: Path, settings) -> None:
    from exchange.runner import validate_file

    write(project / "feeds" / "police" / "checkpoints.yaml", CHECKPOINT_FEED)
    path = write(settings.landing_dir / "police" / "passes.csv",
                 "记录编号,号牌,卡口编号,方向,过车时间,速度,区划,经度,纬度\n" + "\n".join(PASSES) + "\n")
    report = validate_file(path, "police.checkpoints", settings=settings)
    rejected = {r["source_record_id"]: sorted((x["field"], x["rule"]) for x in r["reasons"]) for r in report.rejects}
    assert rejected == {"C3": [("speed_kmh", "range")], "C4": [("longitude", "range")],
                        "C5": [("latitude", "range"), ("plate", "plate.format")]}
    assert (report.rows_in, report.rows_valid) == (5, 2)
