from __future__ import annotations

import datetime

import pyarrow as pa
import pytest

from exchange.formats import check_date, normalize_dates


@pytest.mark.parametrize(("raw", "expected"), [
    ("1990-01-02", "1990-01-02"),
    ("1990-1-2", "1990-01-02"),
    ("1990/1/2", "1990-01-02"),
    ("1990/01/02", "1990-01-02"),
    ("1990.1.2", "1990-01-02"),
    ("19900102", "1990-01-02"),
    ("1990年1月2日", "1990-01-02"),
    ("1990年01月02日", "1990-01-02"),
    ("1990 年 1 月 2 日", "1990-01-02"),
    ("1990年1月2号", "1990-01-02"),
    ("１９９０年１月２日", "1990-01-02"),
    ("１９９０－０１－０２", "1990-01-02"),
    ("１９９０/１/２", "1990-01-02"),
    ("1990-01-02 08:00:00", "1990-01-02"),
    ("1990-01-02T08:00:00", "1990-01-02"),
    ("1990-01-02T08:00:00.123+08:00", "1990-01-02"),
    ("1990-1-2 8:00", "1990-01-02"),
    ("1990/1/2 08:00:00", "1990-01-02"),
    ("  1990-01-02  ", "1990-01-02"),
    # no calendar validation here
    ("19800230", "1980-02-30"),
    ("1980-2-30", "1980-02-30"),
    ("1980年13月1日", "1980-13-01"),
    # anything else unchanged
    ("1990-01", "1990-01"),
    ("02/01/1990", "02/01/1990"),
    ("1990-01-02 garbage", "1990-01-02 garbage"),
    ("1990-1/2", "1990-1/2"),
    ("199012", "199012"),
    ("一九九〇年一月二日", "一九九〇年一月二日"),
    ("", None),
    (None, None),
])
def test_normalize_dates(raw: str | None, expected: str | None) -> None:
    assert normalize_dates([raw]).to_pylist() == [expected]


def test_normalize_dates_mixed_batch() -> None:
    raw = pa.array(["1990/1/2", None, "x", "19900102", "1990年1月2日"] * 1000)
    result = normalize_dates(raw).to_pylist()
    assert result[:5] == ["1990-01-02", None, "x", "1990-01-02", "1990-01-02"]
    assert len(result) == 5000


def test_check_date() -> None:
    today = datetime.date(2024, 6, 30)
    values = ["1990-01-02", "2000-02-29", "1900-02-29", "1980-02-30", "1980-13-01", "0000-01-01",
              "2024-06-30", "2024-07-01", "1990-1-2", "1990/01/02", "19900102", "", None]
    assert check_date(values, today=today).to_pylist() == [
        None, None, "date.invalid", "date.invalid", "date.invalid", "date.invalid",
        None, None, "date.format", "date.format", "date.format", "date.format", None]
    assert check_date(values, not_future=True, today=today).to_pylist()[6:8] == [None, "date.future"]


def test_check_date_default_today() -> None:
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    assert check_date([tomorrow], not_future=True).to_pylist() == ["date.future"]
    assert check_date([tomorrow]).to_pylist() == [None]


def test_check_after_normalise() -> None:
    assert check_date(normalize_dates(["19800230", "1990年1月2日", "May 1"])).to_pylist() == [
        "date.invalid", None, "date.format"]
