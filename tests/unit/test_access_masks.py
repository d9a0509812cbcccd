"""Masks in Python (profile API, SQLite): the formats' partial masks, and keyed pseudonyms."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.access import masks
from exchange.errors import ConfigError
from exchange.formats import resident_id_check_char

VALID_ID = re.compile(r"^[0-9]{17}[0-9X]$")


def is_valid_id(value: str) -> bool:
    return bool(VALID_ID.match(value)) and resident_id_check_char([value[:17]]).to_pylist()[0] == value[17]


def test_partial_masks() -> None:
    assert masks.partial("id", "61090219900101101X") == "610902**********1X"
    assert masks.partial("phone", "13812345678") == "138****5678"
    assert masks.partial("phone", "0915-3212345") == "********2345"
    assert masks.partial("name", "张三") == "张*"
    assert masks.partial("name", "欧阳修") == "欧**"
    assert masks.partial("credit_code", "91610900MA7A1B2C3D") == "91610900**********"
    assert masks.partial("division", "610902001001") == "610902"
    assert masks.partial("year", dt.date(1990, 1, 2)) == "1990"
    assert masks.partial("year", "1990-01-02") == "1990"
    for kind in masks.PARTIAL:
        assert masks.partial(kind, None) is None


def test_pseudonym_is_keyed_per_consumer() -> None:
    master = b"a-master-key-of-enough-length"
    police, health = masks.consumer_key(master, "police"), masks.consumer_key(master, "health")
    p = masks.pseudonym(police, "61090219900101101X")
    assert p == masks.pseudonym(police, "61090219900101101X")  # stable: joinable within one consumer
    assert p != masks.pseudonym(health, "61090219900101101X")  # not across consumers
    assert p != masks.pseudonym(masks.consumer_key(b"another-master-key-xxxxx", "police"), "61090219900101101X")
    assert re.fullmatch(r"ps_[0-9a-f]{32}", p)
    import hashlib

    assert p[3:] not in hashlib.sha256(b"61090219900101101X").hexdigest()  # not an unsalted hash
    assert masks.pseudonym(police, None) is None


def test_master_key_comes_from_the_environment_and_must_be_long() -> None:
    with pytest.raises(ConfigError, match="EXCHANGE_PSEUDONYM_KEY"):
        masks.master_key({})
    with pytest.raises(ConfigError, match="at least 16"):
        masks.master_key({"EXCHANGE_PSEUDONYM_KEY": "short"})
    assert masks.master_key({"EXCHANGE_PSEUDONYM_KEY": "x" * 16}) == b"x" * 16


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(["610902", "610921", "110105", "612421"]))
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)))
    seq = draw(st.integers(min_value=0, max_value=999))
    first = f"{region}{born:%Y%m%d}{seq:03d}"
    return first + resident_id_check_char([first]).to_pylist()[0]


@given(valid_ids())
def test_no_mask_of_an_id_number_is_a_valid_id_number(value: str) -> None:
    assert is_valid_id(value)
    key = masks.consumer_key(b"a-master-key-of-enough-length", "x")
    for out in (masks.partial("id", value), masks.partial("name", value), masks.partial("phone", value),
                masks.pseudonym(key, value)):
        assert not is_valid_id(out), out
