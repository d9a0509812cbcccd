"""The vehicle register (schemas/vehicle.yaml) through the compiled GX suite: plates checked as a
field format (the row quarantined with the reason), an owner's bad ID number flagged, not fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write

pytestmark = pytest.mark.gx

FEED = """\
agency: police
feed: vehicles
description: the traffic police's vehicle register
source: {kind: file, path: police/vehicles.csv}
target: vehicle@1
mapping:
  登记编号: source_record_id
  号牌号码: plate
  使用性质: {field: vehicle_use, values: {非营运: private, 出租客运: taxi}}
  所有人: owner_name
  所有人身份证号: owner_id_number
  登记地: division_code
quality: {max_reject_ratio: 1.0}
"""
ROWS = {
    "V1,陕A·12345,非营运,张三,11010519491231002X,610902": None,
    "V2,陕ad12345,出租客运,李四,,610902": None,
    "V3,广A12345,非营运,王五,,610902": "plate.province",
    "V4,陕AO1234,非营运,赵六,,610902": "plate.letters",
    "V5,陕G1?345,非营运,钱七,,610902": "plate.format",
    "V6,陕A54321,非营运,孙八,110105194912310021,610902": "flag:resident_id.checksum",
}


def test_plates_are_checked_and_an_owner_id_problem_is_flagged(project: Path, settings) -> None:
    from exchange.runner import validate_file

    write(project / "feeds" / "police" / "vehicles.yaml", FEED)
    path = write(settings.landing_dir / "police" / "vehicles.csv",
                 "登记编号,号牌号码,使用性质,所有人,所有人身份证号,登记地\n" + "\n".join(ROWS) + "\n")
    report = validate_file(path, "police.vehicles", settings=settings)
    rejected = {r["source_record_id"]: [x["rule"] for x in r["reasons"]] for r in report.rejects}
    assert rejected == {"V3": ["plate.province"], "V4": ["plate.letters"], "V5": ["plate.format"]}
    flagged = {r["source_record_id"]: [x["rule"] for x in r["reasons"]] for r in report.flagged}
    assert flagged == {"V6": ["resident_id.checksum"]}
    assert (report.rows_in, report.rows_valid, report.rows_rejected) == (6, 3, 3)
