"""The HTTP and SQL source helpers of the connector and outage tests: feeds, the agency table, its rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import create_engine, text

# --- the http source (tests/http_api.py serves the records) -------------------------------------------


def people(ids: range, stamp: str = "2026-03-01 08:00:00") -> list[dict[str, str]]:
    return [{"rybh": f"P{i:04d}", "xm": f"居民{i}", "xb": "男" if i % 2 else "女", "gxsj": stamp} for i in ids]


HTTP_SOURCE_FEED = """\
agency: police
feed: residents
description: residents from the police platform's API
source:
  kind: http
  conn: police_api
  path: items
  records_path: data.items
  pagination: {style: offset, limit: 8}
  incremental: {field: gxsj, param: updated_since}
  backoff: 0.05
target: person@2
mapping:
  rybh: source_record_id
  xm: name
  xb: {field: gender, values: {男: M, 女: F}}
"""


# --- the sql source: an agency's residents table on PostgreSQL or MariaDB ---------------------------------

T0 = dt.datetime(2026, 3, 1, 8, 0, 0)

DDL = {
    "postgresql": """CREATE TABLE residents (
        id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL, gender VARCHAR(2), amount NUMERIC(12, 2),
        born DATE, active BOOLEAN, updated_at TIMESTAMP NOT NULL)""",
    "mysql": """CREATE TABLE residents (
        id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL, gender VARCHAR(2), amount DECIMAL(12, 2),
        born DATE, active BOOLEAN, updated_at DATETIME NOT NULL, KEY ix_updated (updated_at))
        CHARACTER SET utf8mb4""",
}


def execute(url: str, statement: str, rows: list[dict[str, Any]] | None = None) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(statement), rows or [{}])
    engine.dispose()


def insert(url: str, ids: range, stamp: dt.datetime, name: str = "居民") -> None:
    execute(url, "INSERT INTO residents VALUES (:id, :name, :gender, :amount, :born, :active, :updated_at)",
            [{"id": i, "name": f"{name}{i}", "gender": "男" if i % 2 else "女", "amount": f"{i}.50",
              "born": dt.date(1990, 1, 2), "active": i % 3 != 0, "updated_at": stamp} for i in ids])


SQL_FEED = """\
agency: police
feed: residents
description: residents from the police database
source: {kind: sql, conn: agency_db, table: residents, cursor: updated_at, key: [id], overlap: 600}
target: person@2
mapping:
  id: source_record_id
  name: name
  gender: {field: gender, values: {男: M, 女: F}}
"""
