"""Date-time normalisation and checks (exchange.formats.datetimes)."""

from __future__ import annotations

import datetime as dt

from exchange import formats


def test_spellings_normalise_to_iso_datetimes() -> None:
    raw = ["1990-01-02 08:00", "1990年1月2日 8:05:09", "2020/1/2", "20200102T23:59", "１９９０-０１-０２ ０８:００",
           "x", None]
    assert formats.normalize_datetimes(raw).to_pylist() == [
        "1990-01-02 08:00:00", "1990-01-02 08:05:09", "2020-01-02 00:00:00", "2020-01-02 23:59:00",
        "1990-01-02 08:00:00", "x", None]


def test_checks() -> None:
    values = ["1990-01-02 08:00:00", "1990-01-02 25:00:00", "1980-02-30 01:00:00", "2026-11-29 00:00:00",
              "2026-11-28 23:00:00", "1990-01-02", None]
    got = formats.check_datetime(values, not_future=True, today=dt.date(2026, 11, 28)).to_pylist()
    assert got == [None, "datetime.invalid", "datetime.invalid", "datetime.future", None, "datetime.format", None]
