"""Person names: mojibake (UTF-8 read as Windows-1252 or Latin-1) is refused with its cause; names in
汉字, minority names with ·, and foreign names with accents are names."""

from __future__ import annotations

import pytest

from exchange.formats import check_person_name, normalize_person_name


def _mojibake(text: str, codec: str = "cp1252") -> str:
    """What a program reading UTF-8 as ``codec`` shows (the five bytes cp1252 leaves undefined pass through as
    their Latin-1 characters, as Windows does)."""
    out = []
    for byte in text.encode("utf-8"):
        try:
            out.append(bytes([byte]).decode(codec))
        except UnicodeDecodeError:
            out.append(bytes([byte]).decode("latin-1"))
    return "".join(out)


@pytest.mark.parametrize("name", ["张三", "欧阳修", "阿依古丽·买买提", "Müller", "José García", "O'Brien", "李 娜",
                                  "Zoë", "François", "Øystein", "Ａｌｉ", "𠮷野家"])
def test_names_are_names(name: str) -> None:
    assert check_person_name(normalize_person_name([name])).to_pylist() == [None]


@pytest.mark.parametrize("name", ["张三", "欧阳娜娜", "买买提·艾力", "王", "𠮷田"])
@pytest.mark.parametrize("codec", ["cp1252", "latin-1"])
def test_utf8_read_as_windows_1252_or_latin_1_is_refused(name: str, codec: str) -> None:
    broken = _mojibake(name, codec)
    assert check_person_name(normalize_person_name([broken])).to_pylist() == ["person_name.mojibake"]


def test_the_non_breaking_space_an_export_turned_into_a_space_still_reads_back() -> None:
    # 张 is E5 BC A0: A0 is a non-breaking space in Windows-1252, and normalisation makes it a space
    assert check_person_name(normalize_person_name(["å¼ ä¸‰", "å¼\u00a0ä¸‰"])).to_pylist() == [
        "person_name.mojibake", "person_name.mojibake"]
