"""Encoding detection and strict validation of text sources (connectors.encoding)."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import encoding
from connectors.base import connector_for
from connectors.encoding import check_encoding, detect_encoding, resolve_encoding, scan_decode
from exchange.errors import SourceError
from exchange.spec.feed import FileSourceSpec

HEADER = "姓名,身份证号,性别\n"
ROWS = "张三,110101199003074514,男\n李四,11010119900307451X,女\n"
TEXT = HEADER + ROWS
FAST: dict[str, Any] = {"deadline": None, "database": None,
                        "suppress_health_check": [HealthCheck.function_scoped_fixture]}


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_rows(tmp_path: Path, name: str, encoding_: str = "auto") -> list[dict[str, object]]:
    spec = FileSourceSpec(kind="file", path=name, encoding=encoding_)  # type: ignore[arg-type]
    conn = connector_for(spec, base_dir=tmp_path, feed_id="police.residents")
    rows: list[dict[str, object]] = []
    for batch in conn.batches():
        rows.extend(batch.to_pylist())
    return rows


def assert_people(rows: list[dict[str, object]]) -> None:
    assert [(r["姓名"], r["身份证号"], r["性别"]) for r in rows] == [
        ("张三", "110101199003074514", "男"), ("李四", "11010119900307451X", "女")]
    assert all(r["_parse_error"] is None for r in rows)


# ---------------------------------------------------------------- detection


def test_plain_utf8(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", TEXT.encode("utf-8"))
    assert detect_encoding(tmp_path / "a.csv") == "utf-8"
    assert_people(read_rows(tmp_path, "a.csv"))


def test_utf8_bom_is_stripped_from_the_header(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", codecs.BOM_UTF8 + TEXT.encode("utf-8"))
    assert detect_encoding(tmp_path / "a.csv") == "utf-8-sig"
    assert_people(read_rows(tmp_path, "a.csv"))


@pytest.mark.parametrize("codec", ["gb18030", "gbk"])
def test_gb_encodings_detected_as_gb18030(tmp_path: Path, codec: str) -> None:
    write(tmp_path, "a.csv", TEXT.encode(codec))
    assert detect_encoding(tmp_path / "a.csv") == "gb18030"
    assert_people(read_rows(tmp_path, "a.csv"))


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(tmp_path: Path, codec: str) -> None:
    bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
    write(tmp_path, "a.csv", bom + TEXT.encode(codec))
    assert detect_encoding(tmp_path / "a.csv") == "utf-16"
    assert_people(read_rows(tmp_path, "a.csv"))


def test_utf8_that_gbk_would_also_decode_comes_out_as_utf8(tmp_path: Path) -> None:
    text = "姓名,性别,户籍地址\n张三,你好,户籍地址\n"
    data = text.encode("utf-8")
    assert data.decode("gbk") != text  # the trap: valid GBK too, decoding to mojibake
    write(tmp_path, "a.csv", data)
    assert detect_encoding(tmp_path / "a.csv") == "utf-8"
    rows = read_rows(tmp_path, "a.csv")
    assert [(r["姓名"], r["性别"], r["户籍地址"]) for r in rows] == [("张三", "你好", "户籍地址")]


def test_valid_in_neither_names_file_and_both_offsets(tmp_path: Path) -> None:
    data = "姓名".encode("gb18030") + b",x\n\xff\xff\n"
    write(tmp_path, "bad.csv", data)
    with pytest.raises(SourceError) as info:
        detect_encoding(tmp_path / "bad.csv", "feeds/bad.csv")
    msg = str(info.value)
    bad_at = data.index(b"\xff")
    assert "feeds/bad.csv" in msg
    assert "not UTF-8 (invalid byte at offset 0" in msg
    assert f"not GB18030 (invalid byte at offset {bad_at}" in msg
    assert "re-export the file as UTF-8 or declare source.encoding" in msg
    assert info.value.offset == 0


def test_truncated_utf8_at_eof_is_an_error_with_offset(tmp_path: Path) -> None:
    data = TEXT.encode("utf-8") + "中".encode()[:2]
    write(tmp_path, "cut.csv", data)
    with pytest.raises(SourceError) as info:
        detect_encoding(tmp_path / "cut.csv", "cut.csv")
    assert "truncated multibyte sequence at end of file" in str(info.value)
    assert info.value.offset == len(data) - 2
    assert f"offset {len(data) - 2}" in str(info.value)


def test_truncated_sequence_with_declared_encoding(tmp_path: Path) -> None:
    data = TEXT.encode("gb18030") + "中".encode("gb18030")[:1]
    write(tmp_path, "cut.csv", data)
    with pytest.raises(SourceError) as info:
        check_encoding(tmp_path / "cut.csv", "gb18030", "cut.csv")
    assert "truncated" in str(info.value) and info.value.offset == len(data) - 1


def test_nul_byte_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "bin.csv", b"a,b\n1,\x002\n")
    with pytest.raises(SourceError) as info:
        detect_encoding(tmp_path / "bin.csv", "bin.csv")
    assert "bin.csv: NUL byte at offset 6" in str(info.value)
    assert "UTF-16 without a BOM" in str(info.value)


def test_utf16_without_bom_is_refused_as_nul(tmp_path: Path) -> None:
    write(tmp_path, "u16.csv", "a,b\n1,2\n".encode("utf-16-le"))
    with pytest.raises(SourceError, match="NUL byte at offset 1"):
        detect_encoding(tmp_path / "u16.csv")


def test_declared_utf16_allows_nul_bytes(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", TEXT.encode("utf-16"))
    assert resolve_encoding(tmp_path / "a.csv", "utf-16") == "utf-16"
    assert_people(read_rows(tmp_path, "a.csv", "utf-16"))


# ---------------------------------------------------------------- declared encodings


def test_declared_encoding_is_strict(tmp_path: Path) -> None:
    data = TEXT.encode("gbk")
    write(tmp_path, "a.csv", data)
    with pytest.raises(SourceError) as info:
        resolve_encoding(tmp_path / "a.csv", "utf-8", "a.csv")
    assert "a.csv: not valid utf-8: invalid byte at offset 0" in str(info.value)
    assert info.value.offset == 0


def test_declared_gbk_reads_gbk(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", TEXT.encode("gbk"))
    assert_people(read_rows(tmp_path, "a.csv", "gbk"))


def test_declared_utf8_with_bom_reads_without_bom(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", codecs.BOM_UTF8 + TEXT.encode("utf-8"))
    assert resolve_encoding(tmp_path / "a.csv", "utf-8") == "utf-8-sig"
    assert_people(read_rows(tmp_path, "a.csv", "utf-8"))


def test_declared_encoding_error_surfaces_through_the_connector(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", ("名字\n" + "x\n" * 10).encode("utf-8") + b"\xc3\x28\n")
    with pytest.raises(SourceError, match=r"a\.csv: not valid utf-8: invalid byte at offset 27"):
        read_rows(tmp_path, "a.csv", "utf-8")


# ---------------------------------------------------------------- chunk boundaries


def test_offsets_are_exact_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoding, "CHUNK_BYTES", 5)
    data = ("中文" * 20).encode("utf-8") + b"\xe4\x28" + b"abc"
    path = write(tmp_path, "a.csv", data)
    problem = scan_decode(path, "utf-8")
    assert problem is not None and problem.offset == 120 and problem.kind == "decode"
    path = write(tmp_path, "b.csv", ("中文" * 20).encode("utf-8"))  # sequences split across chunks
    assert scan_decode(path, "utf-8") is None


@settings(max_examples=150, **FAST)
@given(data=st.binary(max_size=64), chunk=st.integers(min_value=1, max_value=9),
       codec=st.sampled_from(["utf-8", "gb18030"]))
def test_scan_offset_matches_one_shot_decode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             data: bytes, chunk: int, codec: str) -> None:
    monkeypatch.setattr(encoding, "CHUNK_BYTES", chunk)
    path = write(tmp_path, "p.bin", data)
    problem = scan_decode(path, codec, allow_nul=True)
    try:
        data.decode(codec)
    except UnicodeDecodeError as exc:
        assert problem is not None and problem.offset == exc.start
    else:
        assert problem is None


@settings(max_examples=100, **FAST)
@given(text=st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x10FFFF,
                                            blacklist_categories=("Cs",)), max_size=40))
def test_any_utf8_text_is_detected_as_utf8(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "t.txt", text.encode("utf-8"))
    assert detect_encoding(path) in ("utf-8", "utf-8-sig")
