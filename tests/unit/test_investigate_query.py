"""What a search text means (exchange.investigate.query) and the name forms it matches
(exchange.formats.pinyin): a table of texts with the probes each must produce."""

from __future__ import annotations

import pytest

from exchange.errors import ConfigError
from exchange.formats.pinyin import name_pinyin, simplified
from exchange.investigate.query import plan, recorded


def probes(text: str, kind: str | None = None) -> set[tuple[str, str, str]]:
    return {(p.kind, p.mode, p.value) for p in plan(text, kind)}


@pytest.mark.parametrize(("name", "py", "fpy"), [
    ("张三", "zhangsan", "zansan"),
    ("張三", "zhangsan", "zansan"),          # traditional characters: the same pinyin
    ("Zhang San", "zhangsan", "zansan"),    # a romanised name: its letters
    ("zangsan", "zangsan", "zansan"),       # typed without the h: the same fuzzy form
    ("刘娜", "liuna", "niuna"),              # l/n merged
    ("陈晓明", "chenxiaoming", "cenxiaomin"),  # ch/c and -ng/-n merged
    ("王桂香", "wangguixiang", "wanuixian"),  # -ng/-n merged wherever the syllables split
])
def test_name_forms(name: str, py: str, fpy: str) -> None:
    assert name_pinyin(name) == (py, fpy)


def test_simplified() -> None:
    assert simplified("劉德華") == "刘德华"
    assert simplified("Zhang") == "Zhang"


@pytest.mark.parametrize(("text", "expected"), [
    ("110105198501040027", {("id", "exact", "110105198501040027")}),
    ("1101 0519 8501 0400 27", {("id", "exact", "110105198501040027")}),   # spaces as people type them
    ("陕G12345", {("plate", "exact", "陕G12345")}),
    ("陕g·12345", {("plate", "exact", "陕G12345")}),
    ("陕G1?345", {("plate", "pattern", "陕G1?345")}),
    ("陕G1？345", {("plate", "pattern", "陕G1?345")}),                   # a full-width question mark
])
def test_exact_shapes(text: str, expected: set[tuple[str, str, str]]) -> None:
    assert expected <= probes(text)


def test_last_digits_search_ids_and_phones() -> None:
    found = probes("0027")
    assert ("id", "suffix", "7200") in found and ("phone", "suffix", "7200") in found


def test_a_mobile_is_exact_and_its_country_code_ignored() -> None:
    assert ("phone", "exact", "13800001111") in probes("+86 138 0000 1111")


def test_pinyin_and_fuzzy_probes_for_latin_letters() -> None:
    found = probes("zangsan")
    assert ("name", "pinyin", "zangsan") in found and ("name", "fuzzy", "zansan") in found


def test_han_text_probes_names_in_simplified_characters_and_addresses_by_substring() -> None:
    found = probes("張三")
    assert ("name", "exact", "张三") in found and ("name", "fuzzy", "zansan") in found
    assert not [k for k, m, _v in found if m == "substring"]  # two characters make no trigram
    assert ("address", "substring", "王桂香") in probes("王桂香")


def test_kind_restricts_the_probes() -> None:
    assert {k for k, _m, _v in probes("新华社区", "address")} == {"address"}


@pytest.mark.parametrize(("text", "kind", "message"), [
    ("", None, "nothing to search for"),
    ("陕G1??45", "plate", "one unreadable character"),
    ("x", None, "cannot be searched"),
    ("12", "id", "cannot be searched as id"),
    ("张三", "colour", "not a search kind"),
])
def test_refusals_say_what_to_give(text: str, kind: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan(text, kind)


@pytest.mark.parametrize(("text", "shown"), [
    ("110105198501040027", "110105**********27"),
    ("13800001111", "138****1111"),
    ("0027", "0***"),
    ("陕G12345", "陕G*****"),
    ("张三", "张*"),
    ("zhangsan", "zh******"),
])
def test_the_query_goes_on_record_masked(text: str, shown: str) -> None:
    assert recorded(text) == shown
