"""The pyarrow CSV fast path (connectors/fast_csv.py) reads every file exactly like the csv module.

Every generated file — clean ones, and ones full of what CSV exports get wrong: ragged
records, quotes in odd places, unterminated quotes, blank and whitespace-only lines, CR / LF /
CRLF, BOMs, embedded newlines, NUL bytes, huge records — is read by ``CsvReader`` twice, with
the fast path and with the csv module alone, at several chunk sizes and Arrow block sizes. The
values, the parse errors, the record numbers and any error raised must be identical.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from connectors import fast_csv
from connectors.file import FileConnector
from connectors.readers import CsvReader, csv_reader
from exchange.errors import SourceError
from exchange.spec.feed import FileSourceSpec

CLEAN_VALUES = ["1", "abc", "", "张三", "陕西省安康市", "x y", " lead", "trail ", "a\tb", "ＡＢＣ１２３", "😀", "-",
                "0.5"]


def quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def clean_field(rng: random.Random, delimiter: str, crlf: bool) -> str:
    roll = rng.random()
    value = rng.choice(CLEAN_VALUES).replace(delimiter, "_")
    if roll < 0.15:  # a quoted field holding what only quoting allows (CR LF in it: the csv module reads it)
        return quoted(rng.choice([delimiter, "\n", "\r\n" if crlf else "\n", "\r", '"', 'say "hi"', "",
                                  "a" + delimiter + "b", "多行\n文本"]))
    if roll < 0.3:
        return quoted(value)
    return value


def hostile_field(rng: random.Random, delimiter: str) -> str:
    return rng.choice(['a"b', '"a"b', '"a" ', ' "a"', '"', '""x', 'x""', '"a""', "\x00", "\ufeff", "\u2028",
                       "\x85", "\x0c", "\\", "'", "=1+1", "\r", "\n"])


def make_csv(rng: random.Random, *, delimiter: str, hostile: bool) -> bytes:
    width = rng.randint(1, 5)
    header = [f"col{i}" for i in range(width)]
    if rng.random() < 0.2:
        header = [quoted(h) for h in header]
    newline = rng.choice(["\n", "\r\n", "\r"])
    lines = [delimiter.join(header)]
    if hostile and rng.random() < 0.1:
        lines.insert(0, rng.choice(["", " ", delimiter * width, "\t"]))  # before the header
    for _ in range(rng.randint(0, 40)):
        n = width
        roll = rng.random()
        if hostile and roll < 0.08:
            n = rng.choice([max(width - 1, 1), width + 1, width + 3])  # ragged
        fields = [clean_field(rng, delimiter, crlf=hostile) for _ in range(n)]
        if hostile and rng.random() < 0.15:
            fields[rng.randrange(n)] = hostile_field(rng, delimiter)
        line = delimiter.join(fields)
        if rng.random() < 0.05:
            line = rng.choice(["", " ", "  "] if hostile else [""])  # blank or whitespace-only line
        lines.append(line)
    text = newline.join(lines)
    if rng.random() < 0.7:
        text += newline
    if hostile and rng.random() < 0.05:
        text += '"never closed' + delimiter + "x"
    data = text.encode("utf-8")
    if rng.random() < 0.2:
        data = b"\xef\xbb\xbf" + data
    return data


def read_all(path: Path, delimiter: str, size: int, *, fast: bool) -> object:
    """Every chunk as (values, errors), or the error raised, with the fast path on or off."""
    saved = fast_csv.ENABLED
    fast_csv.ENABLED = fast
    try:
        reader = CsvReader(path, path.name, encoding="auto", delimiter=delimiter)
        return [([c.to_pylist() for c in chunk.columns], chunk.errors) for chunk in reader.chunks(size)]
    except SourceError as exc:
        return ("SourceError", str(exc), exc.row)
    finally:
        fast_csv.ENABLED = saved


@pytest.mark.parametrize("seed", range(12))
def test_fast_path_reads_every_file_like_the_csv_module(tmp_path: Path, seed: int,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    for i in range(40):
        delimiter = rng.choice([",", ",", "\t", ";", "|"])
        hostile = i % 2 == 1
        path = tmp_path / f"f{i}.csv"
        path.write_bytes(make_csv(rng, delimiter=delimiter, hostile=hostile))
        monkeypatch.setattr(fast_csv, "BLOCK_BYTES", rng.choice([64, 256, 1 << 20]))
        monkeypatch.setattr(csv_reader, "CSV_FIELD_LIMIT", rng.choice([5, 64 << 20, 64 << 20]))
        for size in (1, 3, 1000):
            expected = read_all(path, delimiter, size, fast=False)
            got = read_all(path, delimiter, size, fast=True)
            assert got == expected, (path.read_bytes(), delimiter, size, fast_csv.BLOCK_BYTES)


def _spy_fallbacks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every fall back to the csv module, as the number of records it skips (read by Arrow before it)."""
    skips: list[int] = []
    original = CsvReader._parsed_chunks

    def spy(self: CsvReader, size: int, skip: int = 0):  # type: ignore[no-untyped-def]
        skips.append(skip)
        return original(self, size, skip)

    monkeypatch.setattr(CsvReader, "_parsed_chunks", spy)
    return skips


def test_clean_files_take_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Well-formed files (quoted fields with delimiters, quotes and line breaks included) never fall back."""
    fallbacks = _spy_fallbacks(monkeypatch)
    rng = random.Random(7)
    for i in range(60):
        delimiter = rng.choice([",", "\t", ";"])
        path = tmp_path / f"clean{i}.csv"
        data = make_csv(rng, delimiter=delimiter, hostile=False)
        path.write_bytes(data)
        chunks = list(CsvReader(path, path.name, encoding="auto", delimiter=delimiter).chunks(7))
        assert all(e is None for c in chunks for e in c.errors)
        if not chunks:  # a header without a line end and nothing else: Arrow sees no record, the csv module reads it
            fallbacks.clear()
    assert fallbacks == []


def test_fallback_resumes_after_the_records_already_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ragged record far into the file: the chunks before it come from Arrow, the csv module does the rest,
    and the result is what the csv module alone gives (record numbers and line numbers included)."""
    monkeypatch.setattr(fast_csv, "BLOCK_BYTES", 1024)
    rows = [f"R{i},name {i},{i % 7}" for i in range(2000)]
    rows[1500] = "R1500,too,many,fields"
    rows[1700] = '"quoted\nacross lines",x,y'
    path = tmp_path / "late.csv"
    path.write_text("id,name,n\n" + "\n".join(rows) + "\n", encoding="utf-8")
    skips = _spy_fallbacks(monkeypatch)
    got = read_all(path, ",", 100, fast=True)
    assert skips and skips[0] > 0 and skips[0] % 100 == 0
    skips.clear()
    assert got == read_all(path, ",", 100, fast=False)
    errors = [e for _, errs in got for e in errs if e]  # type: ignore[union-attr]
    assert errors == ["row has 4 fields, header has 3; extra values: ['fields'] (line 1502)"]


@pytest.mark.parametrize("data", [
    b'id,name\n1,"a"b\n',                    # strict: ',' expected after '"'
    b'id,name\n1,"open\n2,x\n',               # unterminated quoted field
    b'id,name\n1,a"b\n',                     # a literal quote in an unquoted field
    b'id,name\n1,x\x002\n',                  # NUL
    b' \nid,name\n1,2\n',                    # whitespace-only line before the header
    b'id,name\n1,2\n\n \n3,4\n',             # blank and whitespace-only lines between records
    b'id,name\r\n1,"x\r\ny"\r\n',             # CR LF inside a quoted field
    b'id,name\n1,"x\ry"\n2,"\n"\n',            # CR or LF alone inside a quoted field
    b'\xef\xbb\xbf"id","name"\r1,2\r',         # BOM, quoted header, CR line ends
    b'id,name\n1,\xff\n',                    # not UTF-8: read as GB18030 by the csv module alone
])
def test_tricky_files(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    for size in (1, 2, 50):
        assert read_all(path, ",", size, fast=True) == read_all(path, ",", size, fast=False)


def test_quote_check_does_not_depend_on_how_the_stream_is_cut() -> None:
    rng = random.Random(3)
    for _ in range(300):
        data = make_csv(rng, delimiter=",", hostile=rng.random() < 0.5).removeprefix(b"\xef\xbb\xbf")
        whole = _check(data, [len(data)])
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randint(1, 6))))
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert _check(data, sizes) == whole, data


def _check(data: bytes, sizes: list[int]) -> bool:
    check = fast_csv.QuoteCheck(ord(","))
    pos = 0
    try:
        for size in sizes:
            check.feed(data[pos:pos + size])
            pos += size
        check.feed(b"", final=True)
    except fast_csv.Unsupported:
        return False
    return True


def test_connector_batches_are_identical(tmp_path: Path) -> None:
    """Through the file connector: the same record batches (meta columns included) either way."""
    rng = random.Random(11)
    for i in range(3):
        (tmp_path / f"part{i}.csv").write_text(
            "a,b\n" + "".join(f"{rng.randrange(99)},{quoted('x,' * rng.randrange(3))}\n" for _ in range(300))
            + ("1,2,3\n" if i == 2 else ""), encoding="utf-8")  # the last file has a ragged record at its end
    spec = FileSourceSpec(kind="file", path="part*.csv")

    def batches(fast: bool) -> list[object]:
        saved = fast_csv.ENABLED
        fast_csv.ENABLED = fast
        try:
            conn = FileConnector(spec, base_dir=tmp_path, feed_id="t.t", batch_rows=64)
            return [b.to_pylist() for b in conn.batches()]
        finally:
            fast_csv.ENABLED = saved

    assert batches(True) == batches(False)
