"""The demo city (exchange.demo): files, encodings, determinism and the seeded-defect truth.

The reference check here re-reads every file, maps it with the feed spec, normalises it
with ``exchange.formats`` and applies the shared schema's rules; every clean row must pass
and every seeded row must fail with exactly the rule (and field) the truth records.
"""

from __future__ import annotations

import csv
import datetime
import fnmatch
import io
import json
import re
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest

from exchange import formats
from exchange.demo import CityTruth, FeedTruth, generate_city
from exchange.demo.sources import source_location
from exchange.demo.variants import SIMILAR_CHARS
from exchange.spec.catalog import Catalog, load_catalog
from exchange.spec.feed import FeedSpec
from exchange.spec.schema import EntitySchema

TODAY = datetime.date(2026, 11, 28)
SEED = 20261128
PERSON_FEEDS = {"police.residents", "civil_affairs.members", "police.case_parties",
                "justice.community_correction", "health.mental_health", "justice.disputes", "police.vehicles"}
ALL_RULES = {
    "required", "allowed_values", "mapping.value", "max_length", "type", "resident_id.checksum",
    "resident_id.legacy_15", "resident_id.birth_date", "resident_id.birth_future", "resident_id.region",
    "resident_id.gender", "credit_code.checksum", "credit_code.format", "division_code.unknown",
    "division_code.abolished", "phone.format", "date.format", "date.invalid", "date.future", "key.duplicate",
    "parse.error", "plate.format", "plate.letters", "plate.province", "range",
}
TYPE_PATTERNS = {"integer": r"^[+-]?[0-9]{1,18}$", "boolean": r"^(true|false)$"}
BOOLEAN_WORDS = {"是": "true", "否": "false", "true": "true", "false": "false"}
DATETIME = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}) [0-9]{2}:[0-9]{2}:[0-9]{2}$")

Row = dict[str, str | None]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CityTruth]:
    landing = tmp_path_factory.mktemp("city") / "landing"
    return landing, generate_city(landing, seed=SEED, today=TODAY)


# -- reading the files back --------------------------------------------------------------------

def read_feed(landing: Path, ft: FeedTruth, spec: FeedSpec) -> tuple[list[str], list[list[str]]]:
    """Header and data rows as the agency wrote them ('' for an empty cell)."""
    path = landing / ft.path
    if ft.format == "sqlite":  # a sql feed: its table in delivery order, without the id and cursor
        conn = sqlite3.connect(path)
        cursor = conn.execute(f'SELECT * FROM "{spec.source.table}" ORDER BY "{spec.source.cursor}", "id"')
        names = [d[0] for d in cursor.description]
        keep = [i for i, n in enumerate(names) if n not in ("id", spec.source.cursor)]
        rows = [["" if r[i] is None else r[i] for i in keep] for r in cursor.fetchall()]
        conn.close()
        return [names[i] for i in keep], rows
    if ft.format in ("csv", "tsv"):
        text = path.read_bytes().decode(ft.encoding)
        delimiter = spec.source.delimiter or ("\t" if ft.format == "tsv" else ",")
        header, *rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        return header, rows
    if ft.format == "xlsx":
        wb = openpyxl.load_workbook(path, read_only=True)
        cells = wb.worksheets[0].iter_rows(values_only=True)
        header, *rest = [["" if v is None else str(v) for v in r] for r in cells]
        wb.close()
        # a read-only sheet gives a row only the cells up to its last one with a value
        return header, [r + [""] * (len(header) - len(r)) for r in rest]
    if ft.format == "parquet":
        table = pq.read_table(path)
        return table.column_names, [["" if v is None else v for v in r.values()] for r in table.to_pylist()]
    if ft.format == "ndjson":
        records = [json.loads(line) for line in path.read_text(encoding=ft.encoding).splitlines()]
    else:
        records = json.loads(path.read_text(encoding=ft.encoding))
        for part in (spec.source.records_path or "").split("."):
            records = records[part] if part else records
    header = list(records[0])
    return header, [[r[c] for c in header] for r in records]


# -- the reference check ---------------------------------------------------------------------

def canonical_rows(spec: FeedSpec, header: list[str], rows: list[list[str]]) -> tuple[list[Row], list[set]]:
    """Map agency columns to canonical fields; return the rows and the mapping failures."""
    mappings = spec.field_for_column()
    out: list[Row] = []
    problems: list[set] = []
    for raw in rows:
        found: set = set()
        row: Row = dict(spec.constants)
        if len(raw) != len(header):
            out.append(row)
            problems.append({(None, "parse.error")})
            continue
        for column, value in zip(header, raw, strict=True):
            m = mappings[column]
            text = formats.normalize_text([value])[0].as_py()
            if m.values is not None and text is not None:
                if text in m.values:
                    text = m.values[text]
                elif m.strict_values:
                    found.add((m.field, "mapping.value"))
                    text = None
            row[m.field] = text
        out.append(row)
        problems.append(found)
    return out, problems


def _format_reasons(spec_field: Any, name: str, values: list, rows: list[Row]) -> list[str | None]:
    kind = spec_field.format
    if kind == "resident_id":
        genders = [r.get(spec_field.gender_field) for r in rows] if spec_field.gender_field else None
        ids = formats.normalize_resident_id(values)
        return formats.check_resident_id(ids, genders, today=TODAY).to_pylist()
    if kind == "credit_code":
        return formats.check_credit_code(formats.normalize_credit_code(values)).to_pylist()
    if kind == "division_code":
        return formats.check_division_code(formats.normalize_division_code(values),
                                           allow_historical=spec_field.historical_ok).to_pylist()
    if kind in ("phone", "mobile", "landline"):
        return formats.check_phone(formats.normalize_phone(values), kind="any" if kind == "phone" else kind) \
            .to_pylist()
    if kind == "plate":
        return formats.check_plate(formats.normalize_plate(values)).to_pylist()
    return [None] * len(values)


def _field_reasons(schema: EntitySchema, catalog: Catalog, name: str, rows: list[Row]) -> list[str | None]:
    f = schema.fields[name]
    values = [r.get(name) for r in rows]
    reasons: list[str | None] = [None] * len(rows)

    def flag(i: int, rule: str | None) -> None:
        if rule and reasons[i] is None:
            reasons[i] = rule

    allowed = schema.allowed_values(name, catalog.codes)
    for i, v in enumerate(values):
        if v is None:
            flag(i, "required" if f.required else None)
            continue
        if allowed is not None and v not in allowed:
            flag(i, "allowed_values")
        if f.max_length is not None and len(v) > f.max_length:
            flag(i, "max_length")
        typed = BOOLEAN_WORDS.get(v, v) if f.type == "boolean" else v
        pattern = TYPE_PATTERNS.get(f.type)
        if f.type == "decimal":
            scale = 4 if f.scale is None else f.scale
            pattern = r"^[+-]?[0-9]{1,15}" + (rf"(\.[0-9]{{1,{scale}}})?$" if scale else "$")
        if pattern and not re.match(pattern, typed):
            flag(i, "type")
        elif f.type in ("integer", "decimal") and (
                (f.minimum is not None and float(v) < f.minimum) or (f.maximum is not None and float(v) > f.maximum)):
            flag(i, "range")
        if f.type == "datetime":
            match = DATETIME.match(v)
            flag(i, None if match else "datetime.format")
            values[i] = match.group(1) if match else None
    if f.type in ("date", "datetime"):
        dates = formats.check_date(formats.normalize_dates(values), not_future=f.not_future, today=TODAY)
        for i, rule in enumerate(dates.to_pylist()):
            flag(i, rule)
    for i, rule in enumerate(_format_reasons(f, name, values, rows)):
        flag(i, rule)
    return reasons


def expected_problems(landing: Path, ft: FeedTruth, catalog: Catalog) -> tuple[list[str], list[set]]:
    """Per data row, the set of (field, rule) the exchange should reject it for."""
    spec = catalog.feed(ft.feed_id)
    schema = catalog.schema_for(spec)
    header, raw = read_feed(landing, ft, spec)
    rows, problems = canonical_rows(spec, header, raw)
    parsed = [i for i, p in enumerate(problems) if (None, "parse.error") not in p]
    for name in schema.fields:
        if name == "source_record_id" and spec.key != ["source_record_id"]:
            continue
        reasons = _field_reasons(schema, catalog, name, [rows[i] for i in parsed])
        for i, rule in zip(parsed, reasons, strict=True):
            if rule and not (rule == "required" and any(f == name for f, _ in problems[i])):
                problems[i].add((name, rule))
    key = spec.key[0]
    seen: set = set()
    for i in parsed:
        value = rows[i].get(key)
        if value in seen:
            problems[i].add(("source_record_id", "key.duplicate"))
        seen.add(value)
    return header, problems


# -- tests -------------------------------------------------------------------------------------------

def test_every_row_fails_exactly_its_seeded_rule(city: tuple[Path, CityTruth], catalog: Catalog) -> None:
    landing, truth = city
    assert set(truth.feeds) == set(catalog.feeds)
    for feed_id, ft in truth.feeds.items():
        _header, problems = expected_problems(landing, ft, catalog)
        assert len(problems) == ft.rows, feed_id
        seeded = {d.row: {(d.field, d.rule)} for d in ft.defects}
        mismatches = [(i + 1, p, seeded.get(i + 1, set())) for i, p in enumerate(problems)
                      if p != seeded.get(i + 1, set())]
        assert not mismatches, f"{feed_id}: (row, found, seeded): {mismatches[:5]}"


def test_every_rule_is_seeded_within_bounds(city: tuple[Path, CityTruth]) -> None:
    _landing, truth = city
    assert set(truth.rule_counts()) == ALL_RULES
    for feed_id, ft in truth.feeds.items():
        assert 1 <= len(ft.defects) <= 0.15 * ft.rows, feed_id
        assert ft.expected_loaded == ft.rows - len(ft.quarantined)
        for d in ft.defects:  # an ID number's problems cost the field (flag), every other rule the row
            flag = d.rule.startswith("resident_id.") and feed_id != "market_regulation.enterprises"
            assert d.severity == ("flag" if flag else "quarantine"), (feed_id, d)
        assert len({d.row for d in ft.defects}) == len(ft.defects), f"{feed_id}: one defect per row"
    parse_errors = [fid for fid, ft in truth.feeds.items() for d in ft.defects if d.rule == "parse.error"]
    assert parse_errors == ["police.residents"]


def test_files_match_feed_specs(city: tuple[Path, CityTruth], catalog: Catalog) -> None:
    landing, truth = city
    for feed_id, ft in truth.feeds.items():
        spec = catalog.feed(feed_id)
        if spec.source.kind == "file":
            assert fnmatch.fnmatch(ft.path, spec.source.path), feed_id
        else:
            assert ft.path == source_location(spec)[0], feed_id
        assert (landing / ft.path).is_file()
        header, rows = read_feed(landing, ft, spec)
        assert header == list(spec.mapping) or set(header) == set(spec.mapping), feed_id
        assert len(rows) == ft.rows, feed_id
        record_ids = [r[header.index(_key_column(spec))] for r in rows]
        for d in ft.defects:
            assert record_ids[d.row - 1] == d.source_record_id, (feed_id, d)


def _key_column(spec: FeedSpec) -> str:
    key = spec.key[0] if spec.key != ["source_record_id"] else "source_record_id"
    return next(c for c, m in spec.field_for_column().items() if m.field == key)


def test_encodings(city: tuple[Path, CityTruth]) -> None:
    landing, truth = city
    households = (landing / truth.feed("civil_affairs.households").path).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        households.decode("utf-8")
    assert households.decode("gbk").startswith("户号,")
    members = (landing / truth.feed("civil_affairs.members").path).read_bytes()
    assert members.startswith(b"\xef\xbb\xbf")
    assert members.decode("utf-8-sig").startswith("成员编号\t")
    parties = (landing / truth.feed("police.case_parties").path).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        parties.decode("utf-8")
    assert parties.decode("gb18030").startswith("记录编号,")
    residents = (landing / truth.feed("police.residents").path).read_bytes()
    assert residents.decode("utf-8").startswith("人员编号,")
    health = json.loads((landing / truth.feed("health.mental_health").path).read_text(encoding="utf-8"))
    assert {"patient_id", "sex", "risk_grade"} <= set(health["data"]["records"][0])
    disputes = (landing / truth.feed("justice.disputes").path).read_text(encoding="utf-8").splitlines()
    assert all(isinstance(v, str) for line in disputes for v in json.loads(line).values())
    registry = sqlite3.connect(landing / truth.feed("market_regulation.organizations").path)
    declared = {r[1]: r[2] for r in registry.execute("PRAGMA table_info(organizations)")}
    stamps = [r[0] for r in registry.execute("SELECT updated_at FROM organizations ORDER BY id")]
    registry.close()
    assert declared["id"] == "INTEGER" and declared["updated_at"] == "TEXT"
    assert {t for c, t in declared.items() if c != "id"} == {"TEXT"}
    assert stamps == sorted(stamps) and len(set(stamps)) < len(stamps)  # growing, with ties


def test_deterministic_bytes(city: tuple[Path, CityTruth], tmp_path: Path) -> None:
    landing, truth = city
    again = generate_city(tmp_path / "again", seed=SEED, today=TODAY)
    assert again.to_json() == truth.to_json()
    for ft in truth.feeds.values():
        assert (tmp_path / "again" / ft.path).read_bytes() == (landing / ft.path).read_bytes(), ft.path
    generate_city(tmp_path / "other", persons=200, seed=SEED + 1, today=TODAY)
    first = truth.feed("police.residents").path
    assert (tmp_path / "other" / first).read_bytes() != (landing / first).read_bytes()


def test_truth_round_trips(city: tuple[Path, CityTruth], tmp_path: Path) -> None:
    _landing, truth = city
    path = truth.write(tmp_path / "truth.json")
    loaded = CityTruth.read(path)
    assert loaded == truth
    data = json.loads(path.read_text(encoding="utf-8"))
    ft = data["feeds"]["police.residents"]
    flagged = [d for d in ft["defects"] if d["severity"] == "flag"]
    assert ft["expected_loaded"] == ft["rows"] - len(ft["defects"]) + len(flagged)
    assert ft["expected_flagged"] == len(flagged) > 0
    assert set(ft["defects"][0]) == {"row", "source_record_id", "field", "rule", "severity"}


def test_person_keys(city: tuple[Path, CityTruth], catalog: Catalog) -> None:
    landing, truth = city
    assert {fid for fid, ft in truth.feeds.items() if ft.person_keys} == PERSON_FEEDS
    residents = truth.feed("police.residents")
    assert sorted(set(residents.person_keys.values())) == [f"P{i:07d}" for i in range(1, truth.persons + 1)]
    for feed_id in PERSON_FEEDS:
        ft = truth.feed(feed_id)
        header, rows = read_feed(landing, ft, catalog.feed(feed_id))
        col = header.index(_key_column(catalog.feed(feed_id)))
        assert {r[col] for r in rows} == set(ft.person_keys), feed_id
    members = truth.feed("civil_affairs.members")
    share = len(set(members.person_keys.values())) / truth.persons
    assert 0.78 < share < 0.92
    visitors = {k for k in truth.feed("police.case_parties").person_keys.values() if k.startswith("V")}
    assert visitors


def test_civil_affairs_variation_is_not_a_defect(city: tuple[Path, CityTruth], catalog: Catalog) -> None:
    landing, truth = city
    ft = truth.feed("civil_affairs.members")
    header, rows = read_feed(landing, ft, catalog.feed(ft.feed_id))
    clean = [r for i, r in enumerate(rows, start=1) if i not in ft.defect_rows]
    col = {name: header.index(name) for name in header}
    births = [r[col["出生年月日"]] for r in clean]
    assert any("年" in b for b in births)
    assert any("/" in b for b in births)
    assert any(re.fullmatch(r"[0-9]{8}", b) for b in births)
    ids = [r[col["公民身份号码"]] for r in clean]
    assert any(i.endswith("x") for i in ids)
    assert any("０" <= i[:1] <= "９" for i in ids if i)
    assert 0.05 < sum(1 for i in ids if not i) / len(ids) < 0.11
    phones = [r[col["手机号码"]] for r in clean]
    assert any(p.startswith("+86 ") for p in phones)
    assert any(re.fullmatch(r"1\d\d-\d{4}-\d{4}", p) for p in phones)
    police = truth.feed("police.residents")
    p_header, p_rows = read_feed(landing, police, catalog.feed(police.feed_id))
    name_col = p_header.index("姓名")
    true_name = {police.person_keys[r[0]]: r[name_col] for r in p_rows if len(r) == len(p_header)}
    typos = 0
    for r in clean:
        name, real = r[col["姓名"]], true_name.get(ft.person_keys[r[col["成员编号"]]])
        if real and name != real:
            typos += 1
            assert len(name) == len(real)
            assert sum(a != b for a, b in zip(name, real, strict=True)) == 1
            assert any(SIMILAR_CHARS.get(b) == a for a, b in zip(name, real, strict=True))
    assert 0.01 < typos / len(clean) < 0.06


def test_names_are_gbk_and_ids_follow_birthplace(city: tuple[Path, CityTruth], catalog: Catalog) -> None:
    landing, truth = city
    ft = truth.feed("police.residents")
    header, rows = read_feed(landing, ft, catalog.feed(ft.feed_id))
    clean = [r for i, r in enumerate(rows, start=1) if i not in ft.defect_rows]
    for r in clean:
        r[header.index("姓名")].encode("gbk")
    ids = [r[header.index("身份证号")] for r in clean]
    regions = Counter(i[:4] for i in ids)
    assert (regions["6109"] + regions["6124"]) / len(ids) > 0.8
    assert any(i.startswith("610928") and int(i[6:10]) <= 2021 for i in ids)
    assert not any(i.startswith("610981") and int(i[6:10]) < 2021 for i in ids)
    gender = header.index("性别")
    assert all((int(i[16]) % 2 == 1) == (r[gender] == "男") for i, r in zip(ids, clean, strict=True))
    divisions = [r[header.index("行政区划代码")] for r in clean]
    assert all(len(d) == 12 and d.startswith("6109") for d in divisions)
    assert all(formats.load_division_codes().is_current(d[:6]) for d in divisions)
    disputes = truth.feed("justice.disputes")
    _h, d_rows = read_feed(landing, disputes, catalog.feed(disputes.feed_id))
    assert {r[1] for r in d_rows} >= set(catalog.codes["dispute_category"].values.values())


def test_dispute_dates_follow_status(city: tuple[Path, CityTruth], catalog: Catalog) -> None:
    landing, truth = city
    ft = truth.feed("justice.disputes")
    header, rows = read_feed(landing, ft, catalog.feed(ft.feed_id))
    for i, r in enumerate(rows, start=1):
        if i in ft.defect_rows:
            continue
        status, accepted, closed = r[header.index("zt")], r[header.index("slrq")], r[header.index("jarq")]
        if status in ("已受理", "调解中"):
            assert closed == ""
        else:
            assert accepted < closed <= TODAY.isoformat()


def test_larger_city_in_reasonable_time(tmp_path: Path) -> None:
    started = time.perf_counter()
    truth = generate_city(tmp_path / "landing", persons=5000, seed=7, today=TODAY)
    assert time.perf_counter() - started < 15
    assert truth.persons == 5000
    for ft in truth.feeds.values():
        assert 0.02 <= len(ft.defects) / ft.rows <= 0.15, ft.feed_id


@pytest.mark.parametrize("persons", [1, 30])
def test_tiny_cities_stay_consistent(tmp_path: Path, persons: int) -> None:
    truth = generate_city(tmp_path / "landing", persons=persons, seed=3, today=TODAY)
    assert truth.persons == persons
    for ft in truth.feeds.values():
        assert len(ft.defects) <= 0.15 * ft.rows, ft.feed_id
        assert (tmp_path / "landing" / ft.path).is_file()
    with pytest.raises(ValueError, match="persons"):
        generate_city(tmp_path / "none", persons=0)
