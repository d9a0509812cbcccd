"""Shared test data: a police residents feed (person@2) and rows of every kind — valid, quarantined for
one reason each, and loaded with a flagged ID number. Used by the pipeline, audit and outage tests."""

from __future__ import annotations

import datetime as dt

TODAY = dt.date(2026, 11, 28)

FEED = """\
agency: police
feed: residents
description: residents
source: {kind: file, path: police/*.csv}
target: person@2
mapping:
  人员编号: source_record_id
  姓名: name
  身份证号: id_number
  性别: {field: gender, values: {男: M, 女: F}}
  出生日期: birth_date
  联系电话: phone
  行政区划代码: division_code
quality: {max_reject_ratio: 0.7}
"""
HEADER = "人员编号,姓名,身份证号,性别,出生日期,联系电话,行政区划代码\n"
# 11010519491231002X is a valid ID (female, born 1949-12-31, 110105 朝阳区)
GOOD_ROWS = [
    "P1,张三,11010519491231002X,女,1949年12月31日,13800138000,110105",
    "P2,李四,,男,1990/1/2,+86 139 0013 9000,110105",
    "P3,王五,,男,19900102,010-12345678,110105001",
]
BAD_ROWS = {
    "P4,赵六,,女,1949-12-31,13800138000,11010": ("division_code", "division_code.format"),
    "P5,,,男,1990-01-01,13800138000,110105": ("name", "required"),
    "P6,钱七,,男,1990-02-30,13800138000,110105": ("birth_date", "date.invalid"),
    "P7,孙八,,男,1990-01-01,12345,110105": ("phone", "phone.format"),
    "P8,周九,,男,1990-01-01,13800138000,999999": ("division_code", "division_code.unknown"),
    "P9,吴十,,未知,1990-01-01,13800138000,110105": ("gender", "allowed_values"),
    "P1,郑一,,男,1990-01-01,13800138000,110105": ("source_record_id", "key.duplicate"),
}

# ID number problems cost the field, not the row: kept as id_number_unverified with the reason
FLAGGED_ROWS = {
    "F1,赵六,110105194912310021,女,1949-12-31,13800138000,110105":
        ("110105194912310021", ["resident_id.checksum"]),
    "F2,钱二,110105491231002,女,1949-12-31,,110105": ("11010519491231002X", ["resident_id.legacy_15"]),
    "F3,孙三,11010519491231002X,男,1949-12-31,,110105": ("11010519491231002X", ["resident_id.gender"]),
    "F4,李四,11010519491231002X,女,1950-01-01,,110105": ("11010519491231002X", ["resident_id.birth_mismatch"]),
}
