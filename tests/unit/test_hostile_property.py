"""Property: whatever the CSV bytes and whatever the mapping, the pipeline answers cleanly.

Hypothesis writes random delimited text — random column counts and names (duplicates, empties,
quotes), random cells (quotes, delimiters, CR/LF, NUL, BOMs, full-width forms, CJK Extension B,
formula starts), random quoting (some of it broken), line ends and encodings, sometimes with
random bytes spliced in, sometimes nothing but random bytes — and a random feed over it (a
random subset of the person schema's fields mapped from random source columns, in random
order, sometimes a composite key, a strict value map or a declared delimiter / encoding). Both
``validate_file`` and ``run_feed`` (into a SQLite warehouse in a temporary folder) must then

- either succeed with rows_in = rows_valid + rows_rejected (validate) and
  rows_in = rows_loaded + rows_quarantined (run, recorded in audit.batch),
- or raise an ExchangeError whose message names the file — never anything else;

and they must agree with each other. Runtime: the ``hostile-input`` profile (60 examples; set
EXCHANGE_HYPOTHESIS_EXAMPLES for more).
"""

from __future__ import annotations

import itertools
import os
import shutil
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from exchange.errors import ExchangeError
from exchange.runner import run_feed, validate_file
from exchange.spec.catalog import load_catalog
from exchange.spec.settings import Settings
from exchange.warehouse.engine import make_engine
from tests.conftest import REPO

settings.register_profile(
    "hostile-input", max_examples=int(os.environ.get("EXCHANGE_HYPOTHESIS_EXAMPLES", "60")), deadline=None,
    database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

FIELDS = ["source_record_id", "id_number", "name", "gender", "birth_date", "ethnicity", "phone", "address",
          "division_code", "household_number"]
REQUIRED = ["source_record_id", "name", "gender"]
COLUMN_POOL = ["编号", "姓名", "身份证号", "性别", "出生日期", "电话", "住址", "id", "name", "a", "b", "x y", '"q"',
               "=1+1", "列,逗号", "𠀀"]
ODD_COLUMNS = ["", " 姓名 ", "\ufeff编号", "_source_row", "a\nb"]  # empty, padded, BOM, reserved, multi-line
SPECIAL = ["", " ", ",", ";", "\t", "|", '"', '""', "'", "\r", "\n", "\r\n", "\ufeff", "\u3000", "\xa0",
           "=", "+", "-", "@", "男", "女", "未知", "张三", "𠀀", "𪚥", "ｘ", "１", "Ｘ", "\u202e", "\u200d",
           "11010519491231002X", "11010519491231002x", "110105491231002", "19800230", "2099-01-01",
           "1949年12月31日", "13800138000", "+86 138 0013 8000", "110103", "110105", "999999", "\\", "é"]
# (st.text alone would put NUL, which makes a UTF-8 file unreadable as a whole, in most files)
TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=3)
cell_text = st.lists(st.one_of(st.sampled_from(SPECIAL), TEXT), max_size=4).map("".join)


def rare(draw: st.DrawFn, one_in: int) -> bool:
    """True about once in ``one_in`` draws (a middle value: Hypothesis favours the bounds)."""
    return draw(st.integers(1, one_in)) == one_in // 2 + 1


@st.composite
def feed_mapping(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """(mapping column → field, key): the required fields and a random subset of the others, in random
    order, from random column names; sometimes a composite key (then source_record_id may be derived)."""
    fields = list(dict.fromkeys(REQUIRED + draw(st.lists(st.sampled_from(FIELDS[1:]), unique=True))))
    key = ["source_record_id"]
    if rare(draw, 5):
        key = draw(st.lists(st.sampled_from(fields[1:]), min_size=1, max_size=2, unique=True))
        if draw(st.booleans()):
            fields.remove("source_record_id")  # derived from the key fields
    fields = draw(st.permutations(fields))
    names = draw(st.lists(st.one_of(st.sampled_from(COLUMN_POOL), st.text(min_size=1, max_size=4).map(str.strip)
                                    .filter(lambda n: n and "\x00" not in n and "\ufeff" not in n)),
                          min_size=len(fields), max_size=len(fields), unique=True))
    mapping: dict[str, Any] = {}
    for column, fld in zip(names, fields, strict=True):
        if fld == "gender":
            mapping[column] = {"field": "gender", "values": {"男": "M", "女": "F"},
                               "strict_values": draw(st.booleans())}
        else:
            mapping[column] = fld
    return mapping, key


@st.composite
def csv_bytes(draw: st.DrawFn, mapped: list[str]) -> tuple[bytes, dict[str, Any]]:
    """(file bytes, source options of the feed): mostly a file with the mapped columns among others."""
    if rare(draw, 10):  # nothing but random bytes
        return draw(st.binary(max_size=300)), {}
    extra = draw(st.lists(st.one_of(st.sampled_from(COLUMN_POOL), TEXT.map(str.strip).filter(bool)), max_size=3))
    extra = [c for c in dict.fromkeys(extra) if c not in mapped]
    if rare(draw, 10):
        extra.append(draw(st.sampled_from(ODD_COLUMNS)))
    header = draw(st.permutations([*mapped, *extra]))
    if rare(draw, 8) and header:  # a mapped column missing, or one twice
        header = header[1:] if draw(st.booleans()) else [*header, header[0]]
    width = len(header)
    rows = draw(st.lists(st.lists(cell_text, min_size=max(0, width - 1), max_size=width + 1), max_size=6))
    if rows and rows[0] and rare(draw, 8):
        rows[0][0] += "\x00"  # a NUL character: refuses a UTF-8 file, quarantines a UTF-16 row
    delimiter = draw(st.sampled_from([",", ",", ",", ";", "\t", "|"]))
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))

    def field(value: str) -> str:
        if rare(draw, 200):
            return '"' + value  # a quote never closed on this field
        if rare(draw, 4) or any(c in value for c in (delimiter, '"', "\r", "\n")):
            return '"' + value.replace('"', '""') + '"'
        return value

    text_ = "".join(delimiter.join(field(v) for v in line) + eol for line in [header, *rows])
    if draw(st.booleans()):
        text_ = text_.rstrip("\r\n")  # no line end at the end of the file
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "gb18030", "utf-16"]))
    # a lone surrogate goes into the UTF files as its bytes (broken text to read); GB 18030 cannot carry it
    data = text_.encode(encoding, errors="replace" if encoding == "gb18030" else "surrogatepass")
    if rare(draw, 8):  # damage: random bytes spliced in
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    source: dict[str, Any] = {}
    # mostly declared; sometimes left for the reader to miss
    if (delimiter != "," or draw(st.booleans())) and not rare(draw, 7):
        source["delimiter"] = delimiter
    if rare(draw, 8):
        source["encoding"] = draw(st.sampled_from(["utf-8", "gb18030", "utf-16", "utf-8-sig"]))
    return data, source


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("hostile-property") / "project"
    shutil.copytree(REPO / "schemas", root / "schemas")
    (root / "feeds" / "hostile").mkdir(parents=True)
    with pytest.MonkeyPatch.context() as mp:
        for var in ("EXCHANGE_WAREHOUSE_URL", "EXCHANGE_LANDING_DIR", "EXCHANGE_STAGING_DIR", "EXCHANGE_REPORTS_DIR",
                    "EXCHANGE_BATCH_ROWS", "EXCHANGE_HOME", "EXCHANGE_LOCK_WAIT"):
            mp.delenv(var, raising=False)
        found = Settings.from_env(root)
    found.landing_dir.mkdir(parents=True)
    return found


_counter = itertools.count(1)


def _attempt(fn: Any, name: str) -> tuple[str, Any]:
    """("ok", result) or ("error", exception class name); anything but an ExchangeError naming the
    file fails the test."""
    try:
        return "ok", fn()
    except ExchangeError as exc:
        assert name in str(exc), f"{type(exc).__name__} does not name the file {name}: {exc}"
        return "error", type(exc).__name__


@pytest.mark.slow
@settings(settings.get_profile("hostile-input"))
@given(data=st.data())
def test_random_csv_and_mapping_never_break_the_pipeline(project: Settings, data: st.DataObject) -> None:
    mapping, key = data.draw(feed_mapping(), label="mapping")
    raw, source = data.draw(csv_bytes(list(mapping)), label="file")
    n = next(_counter)
    name, feed = f"in{n}.csv", f"f{n}"
    for old in (project.root / "feeds" / "hostile").glob("*.yaml"):
        old.unlink()
    spec = {"agency": "hostile", "feed": feed, "description": "random", "schedule": None,
            "source": {"kind": "file", "path": name, **source}, "target": "person@2", "mapping": mapping,
            "key": key, "quality": {"max_reject_ratio": 1.0}}
    (project.root / "feeds" / "hostile" / f"{feed}.yaml").write_text(
        yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    path = project.landing_dir / name
    path.write_bytes(raw)
    catalog = load_catalog(project.root)

    checked = _attempt(lambda: validate_file(path, f"hostile.{feed}", settings=project, catalog=catalog), name)
    ran = _attempt(lambda: run_feed(f"hostile.{feed}", settings=project, catalog=catalog), name)
    if checked[0] == "ok":
        report = checked[1]
        assert report.rows_in == report.rows_valid + report.rows_rejected
    if ran[0] == "ok":
        out = ran[1]
        assert out.state == "published", out
        assert out.rows_in == out.rows_loaded + out.rows_quarantined
        engine = make_engine(project.warehouse_url, root=project.root)
        try:
            with engine.connect() as conn:
                row = conn.execute(text("SELECT rows_in, rows_loaded, rows_quarantined FROM audit.batch "
                                        "WHERE batch_id = :b"), {"b": out.batch_id}).one()
                bad = conn.execute(text("SELECT count(*) FROM quarantine.person WHERE _batch_id = :b "
                                        "AND (reasons IS NULL OR reasons = '[]' OR rules = '')"),
                                   {"b": out.batch_id}).scalar_one()
        finally:
            engine.dispose()
        assert tuple(row) == (out.rows_in, out.rows_loaded, out.rows_quarantined)
        assert bad == 0
    # --hypothesis-show-statistics: how many examples load, with or without quarantined rows, or fail
    event(f"refused: {ran[1]}" if ran[0] == "error" else f"loaded, {min(ran[1].rows_quarantined, 2)}+ quarantined")
    # checking a file and loading it agree
    assert checked[0] == ran[0], (checked, ran)
    if checked[0] == "ok":
        assert (checked[1].rows_in, checked[1].rows_valid, checked[1].rows_rejected) == (
            ran[1].rows_in, ran[1].rows_loaded, ran[1].rows_quarantined)
    else:
        assert checked[1] == ran[1]
