"""Grant specs: the demo grants load; invalid grants produce exactly these messages (every problem,
with its path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.access.spec import load_grants
from exchange.errors import ConfigError
from exchange.formats import load_division_codes
from exchange.spec.catalog import load_catalog
from tests.conftest import REPO, write

OTHERS = ("[case, case_party, checkpoint_pass, compound, compound_access, dispute, dispute_step, hotel_stay, "
          "household, internet_session, organization, special_population, vehicle]")
COLUMNS = """\
      source_record_id: full
      id_number: partial
      name: partial
      gender: full
      birth_date: partial
      ethnicity: hidden
      phone: partial
      address: full
      division_code: full
      household_number: pseudonym
"""
GOOD = f"""\
consumer: street
name: 街道办
description: grid work
purpose: 网格化服务管理
jurisdiction: [610902]
logins: [grid]
entities:
  person:
    columns:
{COLUMNS}withheld: {OTHERS}
"""


def _load(project: Path, text: str, name: str = "street") -> object:
    write(project / "grants" / f"{name}.yaml", text)
    cat = load_catalog(project)
    return load_grants(project, cat.schemas, cat.allowed, divisions=load_division_codes(REPO / "schemas" /
                                                                                        "reference" / "gb2260.csv"))


def test_demo_grants_load_and_decide_every_column() -> None:
    cat = load_catalog(REPO)
    grants = load_grants(REPO, cat.schemas, cat.allowed, divisions=load_division_codes())
    assert len(grants) >= 3
    for g in grants:
        assert set(g.entities) | set(g.withheld) == set(cat.schemas), g.consumer
        for entity, share in g.entities.items():
            decided = {c.name for c in share.columns} | set(share.hidden)
            assert decided == set(cat.schemas[entity].fields), (g.consumer, entity)


def test_good_grant(project: Path) -> None:
    g = _load(project, GOOD).get("street")
    share = g.entities["person"]
    assert [c.name for c in share.columns][:3] == ["source_record_id", "id_number", "name"]
    assert share.hidden == ("ethnicity",)
    assert share.column("id_number").partial == "id"
    assert share.column("birth_date").partial == "year"
    assert share.rows.regions[0].level == "district/county"
    assert g.withheld == ("case", "case_party", "checkpoint_pass", "compound", "compound_access", "dispute",
                          "dispute_step", "hotel_stay", "household", "internet_session", "organization",
                          "special_population", "vehicle")


P = "grants/street.yaml"
CASES = [
    ("unknown top-level key", GOOD + "colour: blue\n", [f"{P}: (top level): unknown key 'colour'"]),
    ("unknown key in an entity", GOOD.replace("  person:\n", "  person:\n    colour: blue\n"),
     [f"{P}: entities.person: unknown key 'colour'"]),
    ("consumer unsafe as an identifier", GOOD.replace("consumer: street", 'consumer: street"; DROP TABLE x; --'),
     [f"{P}: consumer: String should match pattern"]),
    ("consumer with __", GOOD.replace("consumer: street", "consumer: st__reet"),
     [f"{P}: consumer: '__' is reserved"]),
    ("consumer does not match the file", GOOD.replace("consumer: street", "consumer: other"),
     [f"{P}: consumer: 'other' does not match the file name 'street'"]),
    ("unknown entity", GOOD.replace("  person:\n", "  persons:\n"),
     [f"{P}: entities: no decision for person", f"{P}: entities.persons: unknown entity 'persons'"]),
    ("unknown column", GOOD.replace("      gender: full\n", "      gender: full\n      sex: full\n"),
     [f"{P}: entities.person.columns.sex: unknown column 'sex' of person (columns: source_record_id, id_number"]),
    ("column without a treatment", GOOD.replace("      ethnicity: hidden\n", ""),
     [f"{P}: entities.person.columns: no treatment for ethnicity: give every column full, partial, pseudonym "
      f"or hidden"]),
    ("unknown mask", GOOD.replace("      gender: full\n", "      gender: blur\n"),
     [f"{P}: entities.person.columns.gender: unknown mask 'blur' (masks: full, partial, pseudonym, hidden)"]),
    ("an unsalted hash is not a mask", GOOD.replace("      id_number: partial\n", "      id_number: sha256\n"),
     [f"{P}: entities.person.columns.id_number: 'sha256' is not a mask: an unsalted hash of an ID number or phone "
      f"is reversed by enumerating them; use pseudonym (a keyed HMAC)"]),
    ("YAML no is not a mask", GOOD.replace("      gender: full\n", "      gender: no\n"),
     [f"{P}: entities.person.columns.gender: unknown mask 'False'"]),
    ("entity neither granted nor withheld", GOOD.replace("[case, ", "["),
     [f"{P}: entities: no decision for case: grant each entity under entities or list it under withheld"]),
    ("entity both granted and withheld", GOOD.replace("[case, ", "[person, case, "),
     [f"{P}: withheld.0: 'person' is both granted (entities.person) and withheld"]),
    ("jurisdiction: injection", GOOD.replace("[610902]", "[\"610902' OR '1'='1\"]"),
     [f"{P}: jurisdiction.0: \"610902' OR '1'='1\" is not a division prefix of 4 (city), 6 (district/county), "
      f"9 (town/street) or 12 (community/village) digits, nor a compound code XQ + 15 digits"]),
    ("jurisdiction: province level is not one of the five", GOOD.replace("[610902]", "[61]"),
     [f"{P}: jurisdiction.0: '61' is not a division prefix"]),
    ("jurisdiction: unknown division", GOOD.replace("[610902]", "[619999]"),
     [f"{P}: jurisdiction.0: '619999': 619999 is not a known GB/T 2260 division code"]),
    ("jurisdiction: empty", GOOD.replace("[610902]", "[]"),
     [f"{P}: jurisdiction: empty: give 'all' or at least one division prefix"]),
    ("compound jurisdiction needs a compound column", GOOD.replace("[610902]", "[XQ610902001001001]"),
     [f"{P}: entities.person.rows: a compound-level jurisdiction needs rows.compound_column"]),
    ("login unsafe", GOOD.replace("[grid]", "[\"grid; DROP ROLE postgres\"]"),
     [f"{P}: logins.0: 'grid; DROP ROLE postgres' is not a login name"]),
    ("login listed twice", GOOD.replace("[grid]", "[grid, grid]"), [f"{P}: logins.1: 'grid' is listed twice"]),
    ("partial on a boolean", GOOD.replace("  person:\n", "  household:\n    columns:\n      source_record_id: full\n"
                                          "      household_number: full\n      household_type: full\n"
                                          "      head_id_number: hidden\n      head_name: hidden\n"
                                          "      address: full\n      division_code: full\n"
                                          "      member_count: full\n      low_income: partial\n  person:\n")
     .replace("household, ", ""),
     [f"{P}: entities.household.columns.low_income: partial has no meaning for a boolean column"]),
    ("pseudonym on a date", GOOD.replace("      birth_date: partial\n", "      birth_date: pseudonym\n"),
     [f"{P}: entities.person.columns.birth_date: pseudonym applies to text columns, not date"]),
    ("via an unknown entity",
     GOOD.replace("    columns:\n", "    rows: {via: flat.household_number}\n    columns:\n", 1),
     [f"{P}: entities.person.rows.via: 'flat.household_number' is not <entity>.<column> of a known entity"]),
    ("via a column the other entity lacks", GOOD.replace("    columns:\n", "    rows: {via: household.phone}\n"
                                                          "    columns:\n", 1),
     [f"{P}: entities.person.rows.via: column 'phone' must exist in both person and household"]),
    ("where on a free-text column", GOOD.replace("    columns:\n", "    rows: {where: {name: [x]}}\n    columns:\n", 1),
     [f"{P}: entities.person.rows.where.name: rows.where applies to enumerated columns only"]),
    ("where with a value outside the code list",
     GOOD.replace("    columns:\n", "    rows: {where: {gender: [\"M' OR 1=1 --\"]}}\n    columns:\n", 1),
     [f"{P}: entities.person.rows.where.gender: \"M' OR 1=1 --\" not allowed values of person.gender (M, F, U)"]),
    ("profile API without person", GOOD.replace("logins: [grid]", "logins: [grid]\nprofile_api: true")
     .replace("  person:\n    columns:\n" + COLUMNS, "  compound:\n    columns:\n      source_record_id: full\n"
              "      name: full\n      division_code: full\n      address: full\n      household_count: full\n"
              "      safety_status: full\n      has_property_management: full\n      assessed_date: full\n")
     .replace("compound, ", "person, "),
     [f"{P}: profile_api: the person profile needs a grant on person"]),
    ("reserved consumer", GOOD.replace("consumer: street", "consumer: fn"), [
        "grants/street.yaml: consumer: 'fn' is reserved"]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_grant(project: Path, text: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        _load(project, text)
    problems = info.value.problems
    for want in expected:
        assert any(p.startswith(want) for p in problems), f"{want!r} not in {problems}"


def test_every_problem_is_reported_at_once(project: Path) -> None:
    text = (GOOD.replace("      gender: full\n", "      gender: blur\n").replace("[610902]", "[619999]")
            .replace("      ethnicity: hidden\n", ""))
    with pytest.raises(ConfigError) as info:
        _load(project, text)
    assert len(info.value.problems) == 3, info.value.problems


def test_case_party_needs_a_rule_for_its_jurisdiction(project: Path) -> None:
    text = GOOD.replace("  person:\n", "  case_party:\n    columns:\n      source_record_id: full\n"
                                       "      case_number: full\n      role: full\n      id_number: partial\n"
                                       "      name: partial\n      gender: full\n      phone: hidden\n  person:\n"
                        ).replace("case_party, ", "")
    with pytest.raises(ConfigError) as info:
        _load(project, text)
    assert any("entities.case_party.rows: case_party has no division column: take its jurisdiction from a related "
               "entity (rows.via: <entity>.<column>, e.g. case.case_number) or use jurisdiction: all" in p
               for p in info.value.problems), info.value.problems
    ok = text.replace("  case_party:\n    columns:", "  case_party:\n    rows: {via: case.case_number}\n    columns:")
    g = _load(project, ok).get("street")
    assert g.entities["case_party"].rows.via_entity == "case"


def test_role_names_fit_postgresql(project: Path) -> None:
    consumer = "street_office_of_the_district" + "x" * 10
    text = GOOD.replace("consumer: street", f"consumer: {consumer}").replace("[grid]", "[" + "g" * 20 + "]")
    with pytest.raises(ConfigError) as info:
        _load(project, text, name=consumer)
    assert info.value.problems == [
        f"grants/{consumer}.yaml: logins.0: role name exchange_{consumer}__{'g' * 20} is longer than 63 "
        f"characters; shorten the login"]
