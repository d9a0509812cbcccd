"""H1 and M6: the profile must not reveal what a grant hides.

The oracle is what the consumer itself reads through its views (connected with its own login): a
person is in an agency's profile answers only when a row of its views names that person with an
identifier the view discloses (full or partially masked — never a pseudonym), and every identity
value served equals the value of that column in such a row.

Three persons are planted, each known to the warehouse through one record only: a severe-mental-
disorder patient (health's programme, excluded from every other grant), a suspect of a police case in
汉滨区, and a person under community correction (justice's programme, granted to the police). Every
demo grant is tried against each, through the policy and — for the grants with the profile API —
over HTTP, by person_uid and by ID number.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from exchange import linking
from exchange.access.apply import refresh_shares
from exchange.access.masks import consumer_key
from exchange.access.profile import ProfilePolicy, evidence_columns
from exchange.api.serve import api_app
from exchange.formats import resident_id_check_char
from exchange.workspace.persons import link_persons
from exchange.workspace.sharing import create_api_key
from tests.conftest import ADMIN
from tests.pg_city import KEY, City


def _valid_id(first17: str) -> str:
    return first17 + resident_id_check_char([first17]).to_pylist()[0]


PLANTED = {
    "patient": {"entity": "special_population", "agency": "health", "record": "SEC-SMD-1",
                "id": _valid_id("61090219850312123"), "name": "柯静怡",
                "values": {"programme": "severe_mental_disorder", "managing_unit": "汉滨区精神卫生中心",
                           "risk_level": "low", "start_date": dt.date(2024, 3, 1), "gender": "F"}},
    "suspect": {"entity": "case_party", "agency": "police", "record": "SEC-CP-1",
                "id": _valid_id("61090219900707551"), "name": "闻人博", "values": {"role": "suspect", "gender": "M"}},
    "corrected": {"entity": "special_population", "agency": "justice", "record": "SEC-CC-1",
                  "id": _valid_id("61090219770101883"), "name": "上官立", "values": {
                      "programme": "community_correction", "managing_unit": "汉滨区司法局", "risk_level": "medium",
                      "start_date": dt.date(2023, 5, 1), "gender": "M"}},
}
ID_COLUMN = {"special_population": "id_number", "case_party": "id_number"}


def _insert(city: City, entity: str, row: dict[str, Any]) -> None:
    cols = {r.column_name: r for r in city.rows(
        "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'core' "
        "AND table_name = :t", t=entity)}
    full = {"_batch_id": "security-planted", "_loaded_at": dt.datetime(2026, 1, 1), "_row_hash": "0" * 16,
            "_source_agency": row["source_agency"], **row}
    full = {k: v for k, v in full.items() if k in cols}
    engine = city.admin()
    from sqlalchemy import text

    with engine.begin() as conn:
        names = ", ".join(f'"{k}"' for k in full)
        conn.execute(text(f'INSERT INTO core."{entity}" ({names}) VALUES ({", ".join(":" + k for k in full)})'),
                     full)
    engine.dispose()


@pytest.fixture(scope="module")
def planted(city: City) -> Iterator[dict[str, dict[str, Any]]]:
    division = city.rows("SELECT division_code FROM core.person WHERE division_code LIKE '610902%' LIMIT 1")[0][0]
    case = city.rows("SELECT case_number FROM core.\"case\" WHERE division_code LIKE '610902%' LIMIT 1")[0][0]
    for p in PLANTED.values():
        row = {"source_agency": p["agency"], "source_record_id": p["record"], "id_number": p["id"],
               "name": p["name"], **p["values"]}
        if p["entity"] == "special_population":
            row["division_code"] = division
        else:
            row["case_number"] = case
        _insert(city, p["entity"], row)
    engine = city.admin()
    with engine.begin() as conn:  # as publishing a batch does
        for entity in {p["entity"] for p in PLANTED.values()}:
            refresh_shares(conn, entity)
    engine.dispose()
    link_persons(city.settings)
    out = {}
    for name, p in PLANTED.items():
        (uid,) = city.rows("SELECT person_uid FROM mdm.person_link WHERE source_agency = :a AND "
                           "source_record_id = :r", a=p["agency"], r=p["record"])[0]
        out[name] = {**p, "uid": uid}
    yield out


def _view_row(city: City, agency: str, entity: str, p: dict[str, Any]) -> dict[str, Any] | None:
    """The planted record as the consumer reads it through its own view (None: not in its views)."""
    if entity not in city.grants.get(agency).entities:
        return None
    with city.consumer(agency) as conn:
        cur = conn.execute(f'SELECT * FROM "share_{agency}"."{entity}" WHERE source_agency = %s '
                           f"AND source_record_id = %s", (p["agency"], p["record"]))
        row = cur.fetchone()
        return None if row is None else dict(zip([d.name for d in cur.description], row, strict=True))


def _served(city: City, agency: str, ident: str) -> dict[str, Any] | None:
    reader = linking.ProfileReader(evidence_columns=evidence_columns(city.grants))
    engine = city.admin()
    try:
        with engine.connect() as conn:
            doc = reader.profile(conn, ident, evidence=True)
    finally:
        engine.dispose()
    policy = ProfilePolicy(city.grants.get(agency), consumer_key(KEY.encode(), agency),
                           linking.load_link_config(city.settings.root).survivorship.rank)
    return policy.apply(doc).profile


def _squash(value: Any) -> str:
    return re.sub(r"\s+", "", str(value))


@pytest.mark.parametrize("who", sorted(PLANTED))
def test_a_person_is_served_only_through_rows_the_agency_reads(city: City, planted: dict, who: str) -> None:
    p = planted[who]
    seen = {}
    for grant in city.grants:
        agency = grant.consumer
        view = _view_row(city, agency, p["entity"], p)
        id_shown = view is not None and view.get(ID_COLUMN[p["entity"]]) is not None \
            and not str(view.get(ID_COLUMN[p["entity"]])).startswith("ps_")
        for ident in (p["uid"], p["id"]):
            served = _served(city, agency, ident)
            if not id_shown:
                assert served is None, (agency, who, ident, served)
                continue
            assert served is not None, (agency, who, ident)
            assert [r["record"] for r in served["records"]] == [p["record"]]
            for field, entry in served["identity"].items():
                src = entry["source"]
                assert (src["agency"], src["record"]) == (p["agency"], p["record"]), (agency, field)
                column = {"id_number": ID_COLUMN[p["entity"]]}.get(field, field)
                assert _squash(entry["value"]) == _squash(view[column]), (agency, who, field, entry, view)
        seen[agency] = id_shown
    expected = {"patient": set(), "suspect": {"police", "police_hanbin"}, "corrected": {"police"}}[who]
    assert {a for a, shown in seen.items() if shown} == expected


def test_over_http_an_excluded_programme_is_not_found(city: City, planted: dict) -> None:
    from fastapi.testclient import TestClient

    from exchange.access.masks import KEY_ENV

    tokens = {g.consumer: create_api_key(g.consumer, label="security", settings=city.settings)[1]
              for g in city.grants if g.profile_api}
    patient = planted["patient"]
    mp = pytest.MonkeyPatch()
    mp.setenv(KEY_ENV, KEY)
    try:
        with TestClient(api_app(city.settings, admin_key=ADMIN)) as client:
            for agency, token in tokens.items():
                for ident in (patient["uid"], patient["id"]):
                    got = client.get(f"/persons/{ident}", headers={"X-API-Key": token, "X-Purpose": "security test"})
                    assert got.status_code == 404, (agency, ident, got.text)
                    asked_by_uid = ident == patient["uid"]  # asked by ID number, the answer echoes it
                    for secret in (patient["name"], patient["record"], "severe_mental",
                                   *([patient["id"][6:14]] if asked_by_uid else [])):
                        assert secret not in got.text, (agency, secret)
            suspect = planted["suspect"]
            got = client.get(f"/persons/{suspect['id']}", headers={"X-API-Key": tokens["police"],
                                                                 "X-Purpose": "security test"})
            assert got.status_code == 200 and got.json()["identity"]["name"]["value"] == suspect["name"]
            got = client.get(f"/persons/{suspect['id']}", headers={"X-API-Key": tokens["civil_affairs"],
                                                                 "X-Purpose": "security test"})
            assert got.status_code == 404
    finally:
        mp.undo()


# --- M6: pseudonymised dispute parties ---------------------------------------------------------------------


def test_police_views_carry_nothing_that_names_a_pseudonymised_party(city: City) -> None:
    """The attack of the finding: join share_police.dispute to share_police.person on name and (masked)
    phone. No column that could carry a party's name or phone may stand beside the pseudonym; every
    equality join from a dispute column to a person column must resolve no pseudonym to its person."""
    with city.consumer("police") as conn:
        dispute_cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'share_police' "
            "AND table_name = 'dispute'")]
        person_cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'share_police' "
            "AND table_name = 'person'")]
    assert "applicant_id_number" in dispute_cols
    assert not [c for c in dispute_cols if re.search(r"name|phone|summary", c)], dispute_cols
    truth = {(r.source_agency, r.source_record_id): r.applicant_id_number for r in city.rows(
        "SELECT source_agency, source_record_id, applicant_id_number FROM core.dispute")}
    resolved = 0
    tried = 0
    skip = {"source_agency", "source_record_id", "_batch_id", "_loaded_at", "dispute_number", "category", "status",
            "applicant_id_number", "respondent_id_number", "accepted_date", "closed_date"}
    with city.consumer("police") as conn:
        for dcol in [c for c in dispute_cols if c not in skip]:
            for pcol in [c for c in person_cols if c not in ("source_agency", "_batch_id", "_loaded_at")]:
                tried += 1
                rows = conn.execute(
                    f"SELECT d.source_agency, d.source_record_id, min(p.id_number), count(*) "
                    f"FROM share_police.dispute d JOIN share_police.person p "
                    f'ON CAST(d."{dcol}" AS text) = CAST(p."{pcol}" AS text) '
                    f"GROUP BY 1, 2 HAVING count(*) = 1").fetchall()
                resolved += sum(1 for a, r, found, _ in rows if truth.get((a, r)) == found)
    assert tried and resolved == 0


def test_police_profile_does_not_link_a_dispute_to_the_person(city: City) -> None:
    applicants = city.rows("SELECT l.person_uid FROM mdm.person_link l JOIN mdm.person p USING (person_uid) "
                           "WHERE l.entity = 'dispute' AND p.status = 'active' LIMIT 10")
    assert applicants
    for (uid,) in applicants:
        served = _served(city, "police", uid)
        if served is not None:
            assert not served.get("disputes"), uid
            assert all(r["entity"] != "dispute" for r in served["records"])
            assert '"dispute_number"' not in json.dumps(served, ensure_ascii=False)
