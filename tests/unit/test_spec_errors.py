"""Invalid specs and the exact messages they produce (every problem reported, with its path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.errors import ConfigError
from exchange.spec.catalog import load_catalog
from tests.conftest import REPO, write

GOOD = """\
agency: police
feed: residents
description: residents
source: {kind: file, path: police/*.csv}
target: person@2
mapping:
  人员编号: source_record_id
  姓名: name
  性别: {field: gender, values: {男: M, 女: F}}
"""

CASES = [
    ("unknown canonical field",
     GOOD.replace("姓名: name", "姓名: name\n  性别2: sex"),
     ["feeds/police/residents.yaml: mapping.性别2: unknown field 'sex' of person"]),
    ("unknown key at top level",
     GOOD + "colour: blue\n",
     ["feeds/police/residents.yaml: (top level): unknown key 'colour'"]),
    ("unknown key in source",
     GOOD.replace("path: police/*.csv}", "path: police/*.csv, colour: blue}"),
     ["feeds/police/residents.yaml: source: unknown key 'colour'"]),
    ("password in source",
     GOOD.replace("path: police/*.csv}", "path: police/*.csv, password: hunter2}"),
     ["feeds/police/residents.yaml: source.password: secrets never live in specs; name a connection "
      "(conn: police_db) and set EXCHANGE_CONN_POLICE_DB"]),
    ("unknown source kind",
     GOOD.replace("kind: file", "kind: ftp"),
     ["feeds/police/residents.yaml: source: Input tag 'ftp' found using 'kind' does not match"]),
    ("bad target form",
     GOOD.replace("target: person@2", "target: person"),
     ["feeds/police/residents.yaml: target: 'person' is not of the form <schema>@<major>"]),
    ("unknown schema",
     GOOD.replace("target: person@2", "target: people@1"),
     ["feeds/police/residents.yaml: target: unknown schema 'people'"]),
    ("wrong major",
     GOOD.replace("target: person@2", "target: person@3"),
     ["feeds/police/residents.yaml: target: schema person is at version 2.0.0; the feed targets major 3"]),
    ("value not allowed",
     GOOD.replace("女: F", "女: Female"),
     ["feeds/police/residents.yaml: mapping.性别.values.女: 'Female' is not an allowed value of "
      "person.gender (M, F, U)"]),
    ("required field unmapped",
     GOOD.replace("  姓名: name\n", ""),
     ["feeds/police/residents.yaml: mapping: required field 'name' of person is not mapped"]),
    ("field mapped twice",
     GOOD.replace("姓名: name", "姓名: name\n  名字: name"),
     ["feeds/police/residents.yaml: (top level): mapping: field 'name' is mapped from both '姓名' and '名字'"]),
    ("agency does not match folder",
     GOOD.replace("agency: police", "agency: justice"),
     ["feeds/police/residents.yaml: agency: 'justice' does not match the folder 'police'"]),
    ("bad reject ratio and missing description — both reported",
     GOOD.replace("description: residents\n", "") + "quality: {max_reject_ratio: 1.5}\n",
     ["feeds/police/residents.yaml: description: required key is missing",
      "feeds/police/residents.yaml: quality.max_reject_ratio: Input should be less than or equal to 1"]),
    ("invalid YAML",
     "agency: [police\n",
     ["feeds/police/residents.yaml: line 2, column 1: invalid YAML"]),
    ("constant for unknown field",
     GOOD + "constants: {colour: blue}\n",
     ["feeds/police/residents.yaml: constants.colour: unknown field 'colour' of person"]),
    ("key field not mapped",
     GOOD + "key: [id_number]\n",
     ["feeds/police/residents.yaml: key: field 'id_number' is not mapped from any column"]),
]


@pytest.mark.parametrize(("title", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_invalid_feed_specs(project: Path, title: str, text: str, expected: list[str]) -> None:
    write(project / "feeds" / "police" / "residents.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_catalog(project)
    message = str(info.value)
    for line in expected:
        assert line in message, f"{title}: expected {line!r} in:\n{message}"


def test_good_feed_loads(project: Path) -> None:
    write(project / "feeds" / "police" / "residents.yaml", GOOD)
    cat = load_catalog(project)
    assert list(cat.feeds) == ["police.residents"]


def test_every_problem_of_several_files_is_reported(project: Path) -> None:
    write(project / "feeds" / "police" / "residents.yaml", GOOD.replace("姓名: name", "姓名: nam"))
    write(project / "feeds" / "police" / "other.yaml",
          GOOD.replace("feed: residents", "feed: other").replace("target: person@2", "target: x@1"))
    with pytest.raises(ConfigError) as info:
        load_catalog(project)
    assert len(info.value.problems) == 3  # unknown field, required 'name' unmapped, unknown schema


SCHEMA_CASES = [
    ("version not semantic", {"version": "1.0"}, "version '1.0' is not semantic"),
    ("unknown pii class", {"fields.name.pii": "secret"}, "fields.name.pii: Input should be"),
    ("natural key unknown", {"natural_key": ["nope"]}, "natural_key: unknown field 'nope'"),
    ("format on non-string", {"fields.birth_date.format": "phone"}, "format 'phone' needs type string"),
]


@pytest.mark.parametrize(("title", "change", "expected"), SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES])
def test_invalid_schemas(project: Path, title: str, change: dict[str, object], expected: str) -> None:
    import yaml

    path = project / "schemas" / "person.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for dotted, value in change.items():
        target = data
        *parents, last = dotted.split(".")
        for p in parents:
            target = target[p]
        target[last] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_catalog(project)
    assert "schemas/person.yaml" in str(info.value)
    assert expected in str(info.value), str(info.value)


def test_repository_specs_are_valid() -> None:
    cat = load_catalog(REPO)
    assert set(cat.schemas) == {"person", "household", "organization", "case", "case_party", "dispute", "dispute_step",
                                "special_population", "compound", "vehicle", "hotel_stay", "internet_session",
                                "checkpoint_pass", "compound_access"}
    assert len(cat.feeds) >= 10
