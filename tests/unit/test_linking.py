"""Master person index on the embedded SQLite warehouse: a small demo city through every feed,
then linking — accuracy against the city's truth, stable ids, merges and splits, golden records,
the profile and its HTTP API."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import text

from exchange.linking import LinkConfig, Survivorship, link_persons, load_link_config, person_profile
from exchange.linking.cluster import cluster_records
from exchange.linking.records import normalize_id_numbers, normalize_records, pinyin_columns
from exchange.linking.stable import describe_changes, greedy_assign
from exchange.spec.settings import Settings
from exchange.warehouse.engine import make_engine, namespace_file
from tests.conftest import ADMIN, REPO

pytestmark = [pytest.mark.gx]  # not in `make check`: see the Makefile

PERSONS = 900
SEED = 4242
CONFIG = load_link_config(REPO)
"""The project's linking settings: the ones run_demo linked the city with (reruns must use them too,
or a different survivorship ranking legitimately rewrites golden rows)."""


def _settings(root: Path, monkeypatch: pytest.MonkeyPatch | None = None) -> Settings:
    env = {"EXCHANGE_WAREHOUSE_URL": f"sqlite:///{root / 'ex.db'}", "EXCHANGE_LANDING_DIR": str(root / "landing"),
           "EXCHANGE_STAGING_DIR": str(root / "staging"), "EXCHANGE_REPORTS_DIR": str(root / "reports"),
           "EXCHANGE_HOME": str(REPO)}
    if monkeypatch is not None:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
    return Settings(root=REPO, warehouse_url=env["EXCHANGE_WAREHOUSE_URL"], landing_dir=root / "landing",
                    staging_dir=root / "staging", reports_dir=root / "reports")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A demo city loaded through every feed and linked once (by run_demo)."""
    from exchange.spec.catalog import load_catalog
    from exchange.workspace.demo import run_demo

    root = tmp_path_factory.mktemp("linked_city")
    settings = _settings(root)
    result = run_demo(settings, load_catalog(REPO), persons=PERSONS, seed=SEED)
    assert result.mismatches == []
    return {"root": root, "settings": settings, "result": result}


@pytest.fixture
def copy(city: dict, tmp_path: Path) -> dict:
    """A private copy of the linked city's warehouse (tests that change data use it)."""
    src = Path(city["root"]) / "ex.db"
    dst = tmp_path / "ex.db"
    for s, d in [(src, dst), *((namespace_file(src, ns), namespace_file(dst, ns))
                               for ns in ("core", "quarantine", "mdm", "audit"))]:
        if s.exists():
            shutil.copy(s, d)
    return {"engine": make_engine(f"sqlite:///{dst}"), "root": tmp_path}


def _links(engine) -> dict[tuple, str]:
    with engine.connect() as conn:
        return {tuple(r[:4]): r[4] for r in conn.execute(text(
            "SELECT source_agency, entity, source_record_id, role, person_uid FROM mdm.person_link"))}


def _events(engine, run_id: int) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT event, person_uid, other_uid, records FROM mdm.person_event WHERE run_id = :r ORDER BY event_id"),
            {"r": run_id})]


# -- accuracy ------------------------------------------------------------------------------------


def test_linking_is_accurate_on_a_city_with_typos_formats_and_missing_id_numbers(city: dict) -> None:
    linking = city["result"].linking
    m = linking.metrics
    assert m["records"] > 1500 and m["true_pairs"] > 500
    assert m["precision"] >= 0.99, m
    assert m["recall"] >= 0.99, m
    # the city really is hard: records without a valid ID number were linked by the model
    assert linking.records - linking.records_with_id > 40
    assert linking.pairs_linked > 20
    engine = make_engine(city["settings"].warehouse_url)
    with engine.connect() as conn:
        rules = dict(conn.execute(text("SELECT substr(match_rule, 1, 5), count(*) FROM mdm.person_link "
                                       "GROUP BY 1")).all())
        model = conn.execute(text("SELECT version, model FROM mdm.link_model")).all()
    assert rules["id_nu"] > 1500 and rules["model"] > 20
    assert len(model) == 1 and model[0][0] == linking.model_version and '"splink_settings"' in model[0][1]


# -- stable ids ----------------------------------------------------------------------------------


def test_rerunning_on_the_same_data_keeps_every_person_uid(copy: dict) -> None:
    engine = copy["engine"]
    before = _links(engine)
    again = link_persons(engine, CONFIG)
    assert _links(engine) == before
    assert (again.persons_new, again.merges, again.splits, again.moves, again.retired) == (0, 0, 0, 0, 0)
    assert again.links_written == 0
    assert not again.model_trained
    assert _events(engine, again.run_id) == []


def test_rerunning_on_the_same_data_rewrites_no_golden_row(copy: dict) -> None:
    # same data, same settings: every golden value and its source link are chosen again exactly
    again = link_persons(copy["engine"], CONFIG)
    assert again.persons_written == 0 and again.links_written == 0
    # another survivorship ranking is a real change: golden rows (and only they) are rewritten
    other = LinkConfig(survivorship=Survivorship(fields={"address": ["civil_affairs", "police"]}))
    changed = link_persons(copy["engine"], other)
    assert changed.persons_written > 0 and changed.links_written == 0 and changed.persons_new == 0


def test_new_records_join_existing_persons_without_renumbering(copy: dict) -> None:
    engine = copy["engine"]
    before = _links(engine)
    with engine.begin() as conn:
        row = conn.execute(text("SELECT * FROM core.person WHERE source_agency = 'police' AND phone IS NOT NULL "
                                "AND birth_date IS NOT NULL ORDER BY source_record_id LIMIT 1")).mappings().one()
        new = dict(row)
        new.update(source_agency="health", source_record_id="NEW-1", id_number=None, _batch_id="health-new-1")
        conn.execute(text(f"INSERT INTO core.person ({', '.join(new)}) VALUES ({', '.join(':' + k for k in new)})"),
                     new)
    target = before[("police", "person", row["source_record_id"], "subject")]
    result = link_persons(engine, CONFIG)
    after = _links(engine)
    assert after[("health", "person", "NEW-1", "subject")] == target
    assert {k: v for k, v in after.items() if k in before} == before
    assert result.persons_new == 0 and result.merges == 0 and result.splits == 0
    with engine.connect() as conn:
        rule = conn.execute(text("SELECT match_rule, match_probability FROM mdm.person_link "
                                 "WHERE source_record_id = 'NEW-1'")).one()
    assert rule[0].startswith("model:") and rule[1] >= 0.9


def test_merges_and_splits_are_recorded_as_events(copy: dict) -> None:
    engine = copy["engine"]
    before = _links(engine)
    with engine.connect() as conn:
        # a case party without ID number or phone stays a person of its own
        lone = conn.execute(text(
            "SELECT l.source_record_id, l.person_uid FROM mdm.person_link l JOIN core.case_party c "
            "ON c.source_agency = l.source_agency AND c.source_record_id = l.source_record_id "
            "WHERE l.entity = 'case_party' AND l.match_rule = 'none' AND c.phone IS NULL LIMIT 1")).one()
        # a resident known to police and civil affairs by the same ID number
        pair = conn.execute(text(
            "SELECT p.source_record_id, c.source_record_id, p.id_number, l.person_uid FROM core.person p "
            "JOIN core.person c ON c.id_number = p.id_number AND c.source_agency = 'civil_affairs' "
            "JOIN mdm.person_link l ON l.source_agency = 'police' AND l.entity = 'person' "
            "AND l.source_record_id = p.source_record_id WHERE p.source_agency = 'police' AND p.phone IS NOT NULL "
            "AND l.person_uid <> :lone ORDER BY p.source_record_id LIMIT 1"), {"lone": lone[1]}).one()
    police_id, civil_id, id_number, uid = pair
    with engine.begin() as conn:
        phone = conn.execute(text("SELECT phone, name, gender FROM core.person WHERE source_agency = 'police' AND "
                                  "source_record_id = :r"), {"r": police_id}).one()
        # merge: the lone party now carries the resident's name, gender and phone
        conn.execute(text("UPDATE core.case_party SET phone = :p, name = :n, gender = :g, _batch_id = 'fix-1' "
                          "WHERE source_agency = 'police' AND source_record_id = :r"),
                     {"p": phone[0], "n": phone[1], "g": phone[2], "r": lone[0]})
        # split: civil affairs' record turns out to be someone else (ID number withdrawn, other details)
        conn.execute(text("UPDATE core.person SET id_number = NULL, name = '欧阳测试', phone = NULL, "
                          "birth_date = '1931-01-01', household_number = 'X1', address = '别处', _batch_id = 'fix-2' "
                          "WHERE source_agency = 'civil_affairs' AND source_record_id = :r"), {"r": civil_id})
    result = link_persons(engine, CONFIG)
    after = _links(engine)
    events = _events(engine, result.run_id)
    assert ("merge", lone[1], uid, 1) in events
    civil_uid = after[("civil_affairs", "person", civil_id, "subject")]
    assert civil_uid != uid
    assert ("split", uid, civil_uid, 1) in events
    assert result.merges == 1 and result.splits == 1 and result.persons_new == 1
    assert after[("police", "case_party", lone[0], "subject")] == uid
    # nobody else moved
    changed = {k for k in before if after.get(k) != before[k]}
    assert changed == {("police", "case_party", lone[0], "subject"), ("civil_affairs", "person", civil_id, "subject")}
    with engine.connect() as conn:
        merged = conn.execute(text("SELECT status, merged_into FROM mdm.person WHERE person_uid = :u"),
                              {"u": lone[1]}).one()
    assert tuple(merged) == ("merged", uid)
    # the merged id still resolves, to the surviving person
    with engine.connect() as conn:
        profile = person_profile(conn, lone[1])
    assert profile["person_uid"] == uid and profile["merged_from"] == [lone[1]]
    assert profile["identity"]["id_number"]["value"] == id_number


# -- golden record --------------------------------------------------------------------------------


def test_golden_record_follows_the_trust_ranking_then_recency(copy: dict) -> None:
    engine = copy["engine"]
    with engine.connect() as conn:
        # a person whose police and civil affairs records disagree on the phone number
        row = conn.execute(text(
            "SELECT p.id_number, p.phone, c.phone, c.source_record_id, c._batch_id FROM core.person p "
            "JOIN core.person c ON c.id_number = p.id_number AND c.source_agency = 'civil_affairs' "
            "WHERE p.source_agency = 'police' AND p.phone IS NOT NULL AND c.phone IS NOT NULL "
            "AND p.phone <> c.phone ORDER BY p.id_number LIMIT 1")).one()
        default = person_profile(conn, row[0])
    assert default["identity"]["phone"]["value"] == row[1]
    assert default["identity"]["phone"]["source"]["agency"] == "police"
    civil_first = LinkConfig(survivorship=Survivorship(fields={"phone": ["civil_affairs", "police"]}))
    result = link_persons(engine, civil_first)
    assert result.persons_written > 0 and result.persons_new == 0
    with engine.connect() as conn:
        ranked = person_profile(conn, row[0])
    assert ranked["identity"]["phone"]["value"] == row[2]
    assert ranked["identity"]["phone"]["source"] == {"agency": "civil_affairs", "entity": "person",
                                                     "record": row[3], "batch": row[4]}
    # name still comes from police (default ranking), and person_uid did not change
    assert ranked["identity"]["name"]["source"]["agency"] == "police"
    assert ranked["person_uid"] == default["person_uid"]


def test_golden_ties_in_trust_go_to_the_most_recent_record() -> None:
    import duckdb

    from exchange.linking.golden import golden_sql, rank_table

    con = duckdb.connect()
    con.register("l", pa.table({
        "rid": [0, 1, 2], "link_id": [10, 11, 12], "person_uid": ["MP1", "MP1", "MP1"],
        "source_agency": ["justice", "health", "police"], "entity": ["dispute", "special_population", "person"],
        "loaded_at": ["2026-01-01 00:00:00", "2026-03-01 00:00:00", "2025-01-01 00:00:00"],
        **{f: [None, None, None] for f in ("id_number", "gender", "birth_date", "ethnicity", "address",
                                           "division_code", "household_number")},
        "name": ["甲", "乙", None], "phone": ["1", "2", "3"]}))
    ranking = Survivorship(default=["police"], fields={"name": ["police"]})
    con.register("ranks", rank_table(ranking, [("health", "special_population"), ("justice", "dispute"),
                                               ("police", "person")]))
    gold = con.execute(golden_sql(ranking, "l", ranks="ranks")).fetchall()
    cols = [d[0] for d in con.description]
    row = dict(zip(cols, gold[0], strict=True))
    assert (row["phone"], row["phone_link"]) == ("3", 12)  # police ranked first
    assert (row["name"], row["name_link"]) == ("乙", 11)  # police has none: the newer of the others
    assert row["record_count"] == 3 and row["agencies"] == "health,justice,police"


# -- profile and API ------------------------------------------------------------------------------


def _rich_person(engine) -> tuple[str, str]:
    with engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT p.person_uid, p.id_number FROM mdm.person p JOIN mdm.person_link l USING (person_uid) "
            "WHERE p.status = 'active' AND p.id_number IS NOT NULL GROUP BY p.person_uid, p.id_number "
            "HAVING count(DISTINCT l.entity) >= 3 AND sum(CASE WHEN l.entity = 'case_party' THEN 1 ELSE 0 END) > 0 "
            "ORDER BY count(*) DESC, p.person_uid LIMIT 1")).one())


def test_profile_shows_every_fact_with_its_source(city: dict) -> None:
    engine = make_engine(city["settings"].warehouse_url)
    uid, id_number = _rich_person(engine)
    with engine.connect() as conn:
        by_uid = person_profile(conn, uid)
        by_id = person_profile(conn, id_number.lower())
        assert person_profile(conn, "MP9999999999") is None
        assert person_profile(conn, "110105194912310021") is None  # wrong check character
    assert by_uid == {**by_id, "query": uid}
    assert by_uid["identity"]["id_number"]["value"] == id_number
    for f, v in by_uid["identity"].items():
        assert v["source"]["agency"] and v["source"]["batch"] and v["source"]["record"], f
    assert by_uid["cases"], "the chosen person has a case"
    for c in by_uid["cases"]:
        assert c["role"] in ("suspect", "victim", "witness", "reporter")
        assert c["party_source"]["agency"] == "police" and c["party_source"]["batch"]
    assert by_uid["households"] and by_uid["households"][0]["members"][0]["person_uid"] == uid
    for key in ("disputes", "programmes", "organizations"):
        for item in by_uid[key]:
            assert item["source"]["agency"] and item["source"]["batch"]
    assert len(by_uid["records"]) >= 3 and all(r["batch"] for r in by_uid["records"])


def test_api_serves_profiles_to_the_admin_key(city: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from exchange.api.serve import api_app
    settings = _settings(city["root"], monkeypatch)
    engine = make_engine(settings.warehouse_url)
    uid, id_number = _rich_person(engine)
    client = TestClient(api_app(settings, admin_key=ADMIN))
    assert client.get(f"/persons/{uid}").status_code == 401
    assert client.get(f"/persons/{uid}", headers={"X-API-Key": "wrong"}).status_code == 401
    ok = client.get(f"/persons/{uid}", headers={"X-API-Key": ADMIN, "X-Purpose": "test"})
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("application/json")
    body = ok.json()
    assert body["person_uid"] == uid and body["identity"]["id_number"]["value"] == id_number
    assert body["cases"] and body["households"]
    by_id = client.get(f"/persons/{id_number}", headers={"Authorization": f"Bearer {ADMIN}"},
                       params={"purpose": "test"})
    assert by_id.status_code == 200 and by_id.json()["person_uid"] == uid
    missing = client.get("/persons/MP9999999999", headers={"X-API-Key": ADMIN, "X-Purpose": "test"})
    assert missing.status_code == 404 and "MP9999999999" in missing.json()["error"]


def test_api_honours_a_grant_that_limits_sections() -> None:
    from fastapi.testclient import TestClient

    from exchange.api import Caller, admin_key_authorizer, create_app

    profile = {"person_uid": "MP0000000001", "status": "active", "identity": {"name": {"value": "甲"}},
               "cases": [{"case_number": "A1"}], "programmes": [{"programme": "hiv_care"}]}
    grants = {"k-civil": Caller(name="civil_affairs", sections=frozenset({"identity"})),
              "k-none": Caller(name="education", sections=frozenset())}
    seen = []
    app = create_app(lambda ident: profile if ident == "MP0000000001" else None,
                     admin_key_authorizer("adm", grants), on_access=lambda c, i, p, why: seen.append((c.name, i, why)))
    client = TestClient(app)
    limited = client.get("/persons/MP0000000001", headers={"X-API-Key": "k-civil", "X-Purpose": "benefit check"})
    assert limited.status_code == 200 and set(limited.json()) == {"person_uid", "status", "identity"}
    assert client.get("/persons/MP0000000001", headers={"X-API-Key": "k-none"}).status_code == 403
    assert set(client.get("/persons/MP0000000001", headers={"X-API-Key": "adm"}).json()) == set(profile)
    assert seen[0] == ("civil_affairs", "MP0000000001", "benefit check")


def test_cli_link_evaluate_and_person(city: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from exchange.cli import app

    settings = _settings(city["root"], monkeypatch)
    engine = make_engine(settings.warehouse_url)
    uid, id_number = _rich_person(engine)
    runner = CliRunner()
    linked = runner.invoke(app, ["link", "--evaluate"])
    assert linked.exit_code == 0, linked.output
    assert "precision" in linked.output and "recall" in linked.output and "F1" in linked.output
    shown = runner.invoke(app, ["person", id_number])
    assert shown.exit_code == 0, shown.output
    assert uid in shown.output and "identity" in shown.output and "cases" in shown.output
    as_json = runner.invoke(app, ["person", uid, "--json"])
    assert as_json.exit_code == 0 and f'"person_uid": "{uid}"' in as_json.output
    assert runner.invoke(app, ["person", "MP9999999999"]).exit_code == 1


# -- the parts -------------------------------------------------------------------------------------


def test_two_validated_id_numbers_are_never_joined_by_the_model() -> None:
    # records 0,1 share ID group 0; record 2 has ID group 1; record 3 has none and resembles both
    ids = np.array([0, 0, 1, -1])
    labels, refused = cluster_records(ids, [(3, 2, 0.99), (3, 0, 0.98), (1, 2, 0.97)])
    assert labels.tolist() == [0, 0, 2, 2]  # 3 joins the strongest; the chain to group 0 is refused
    assert refused == 2


def test_stable_ids_prefer_the_largest_overlap_and_record_events() -> None:
    chosen = greedy_assign([(0, "MP0000000002", 3), (0, "MP0000000001", 3), (5, "MP0000000001", 1)])
    assert chosen == {0: "MP0000000001"}  # equal overlap: the older id wins; cluster 5 gets a new one
    changes = describe_changes([("MP0000000002", "MP0000000001", 3), ("MP0000000001", "MP0000000007", 1)],
                               kept={"MP0000000001"}, created={"MP0000000007"})
    assert changes.events == [("split", "MP0000000001", "MP0000000007", 1),
                              ("merge", "MP0000000002", "MP0000000001", 3)]
    assert changes.merged_into == {"MP0000000002": "MP0000000001"}


def test_record_normalisation() -> None:
    ids = normalize_id_numbers(["11010519491231002x", "110105491231002", "11010519491231002１", None, "123"],
                               today=dt.date(2026, 1, 1)).to_pylist()
    assert ids[0] == "11010519491231002X"
    assert ids[1] is not None and len(ids[1]) == 18 and ids[1].startswith("11010519491231")  # legacy upgraded
    assert ids[2:] == [None, None, None]
    py, fpy, tok = pinyin_columns(pa.array(["陈伟", "程伟", "张玲", "Zhang Yixiao", "YIXIAO ZHANG", "张怡晓"]))
    assert py.to_pylist()[:3] == ["chenwei", "chengwei", "zhangling"]
    assert fpy.to_pylist()[0] == fpy.to_pylist()[1] == "cenwei"  # chen/cheng: the usual confusion
    assert tok.to_pylist()[3] == tok.to_pylist()[4] == tok.to_pylist()[5] == "yixiao|zhang"  # either word order
    raw = pa.table({"source_agency": ["police"], "entity": ["case_party"], "source_record_id": ["1"],
                    "role": ["subject"], "batch_id": ["b"], "loaded_at": ["2026-01-01"],
                    "id_number": ["11010519491231002X"], "name": [" 张 三 "], "phone": ["+86 138 0013 8000"],
                    "address": ["陕西省安康市汉滨区新城街道1号"]})
    rec = normalize_records(raw, today=dt.date(2026, 1, 1)).to_pylist()[0]
    assert (rec["name"], rec["gender"], rec["birth_date"], rec["phone"]) == ("张三", "F", "1949-12-31",
                                                                            "13800138000")
    assert rec["address"] == "汉滨区新城街道1号"


def test_link_config_is_checked_at_the_boundary(tmp_path: Path) -> None:
    from exchange.errors import ConfigError
    from exchange.linking import load_link_config

    assert load_link_config(tmp_path) == LinkConfig()  # no file: the defaults
    assert load_link_config(REPO).survivorship.rank("address", "civil_affairs", "household") == 1
    path = tmp_path / "schemas" / "reference" / "person_linking.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("match_treshold: 0.8\nsurvivorship: {fields: {shoe_size: [police]}}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_link_config(tmp_path)
    text_ = str(exc.value)
    assert "schemas/reference/person_linking.yaml: (top level): unknown key 'match_treshold'" in text_
    assert "shoe_size" in text_


def test_an_id_number_its_own_record_contradicts_is_no_key() -> None:
    """A valid ID number copied from another row: the record's own gender or birth date (beyond a
    one-digit slip or a month/day swap) contradicts it, so it does not link by rule."""
    raw = pa.table({"source_agency": ["a"] * 5, "entity": ["person"] * 5, "source_record_id": list("12345"),
                    "role": ["subject"] * 5, "batch_id": ["b"] * 5, "loaded_at": ["2026-01-01"] * 5,
                    "id_number": ["11010519491231002X"] * 5, "name": ["张三"] * 5,
                    "gender": ["F", "M", "F", "F", "F"],
                    "birth_date": ["1949-12-31", "1949-12-31", "1985-03-02", "1949-12-21", None]})
    ids = [r["id_number"] for r in normalize_records(raw, today=dt.date(2026, 1, 1)).to_pylist()]
    assert ids == ["11010519491231002X", None, None, "11010519491231002X", "11010519491231002X"]


def test_a_uid_stays_with_the_id_number_it_was_issued_for() -> None:
    """A split: the id's records go to two clusters; the one with more of them holds another person's
    ID number, the other holds the ID number the id was issued for — the id stays with its anchor."""
    contested = [(7, "MP0000000001", 3, False), (2, "MP0000000001", 1, True)]
    assert greedy_assign(contested) == {2: "MP0000000001"}
    # without anchors the largest overlap wins, as before
    assert greedy_assign([(7, "MP0000000001", 3), (2, "MP0000000001", 1)]) == {7: "MP0000000001"}


def test_a_record_between_two_twins_waits_for_review_and_the_decision_holds(copy: dict) -> None:
    """Twins with ID numbers, same birth date and household; a record without an ID number whose name
    lost its last character fits both: it is not linked silently, but queued with both candidates and
    the evidence; an accepted decision links it (rule 'review') on every later run."""
    import datetime as _dt

    from exchange.formats import resident_id_check_char
    from exchange.linking import review

    engine = copy["engine"]

    def valid(first17: str) -> str:
        return first17 + resident_id_check_char([first17]).to_pylist()[0]

    twin_a, twin_b = valid("61090219880808123"), valid("61090219880808155")
    rows = [("police", "TW-A", twin_a, "欧阳鑫阳"), ("police", "TW-B", twin_b, "欧阳鑫文"),
            ("civil_affairs", "TW-R", None, "欧阳鑫")]
    with engine.begin() as conn:
        for agency, rid, ident, name in rows:
            conn.execute(text(
                "INSERT INTO core.person (source_agency, source_record_id, id_number, name, gender, birth_date, "
                "address, division_code, household_number, _batch_id, _row_hash, _loaded_at) VALUES "
                "(:a, :r, :i, :n, 'M', '1988-08-08', '北街9号', '610902001001', 'HH-TWINS', 'tw', 'x', "
                "'2026-01-01 00:00:00')"), {"a": agency, "r": rid, "i": ident, "n": name})
    result = link_persons(engine, CONFIG)
    assert result.reviews_pending >= 1
    with engine.connect() as conn:
        queued = [r for r in review.listing(conn) if r["source_record_id"] == "TW-R"]
    assert len(queued) == 1 and set(queued[0]["candidate_ids"].split(",")) == {twin_a, twin_b}
    evidence = json.loads(queued[0]["candidates"])[0]["evidence"]
    assert evidence["birth_date"]["agree"] is True and evidence["name"]["agree"] is False
    links = _links(engine)
    lone = links[("civil_affairs", "person", "TW-R", "subject")]
    assert lone not in (links[("police", "person", "TW-A", "subject")], links[("police", "person", "TW-B", "subject")])
    with engine.begin() as conn:
        review.decide(conn, queued[0]["review_id"], accept=twin_b, by="records officer", note="register",
                      at=_dt.datetime(2026, 12, 5))
    for _ in range(2):  # the decision holds, run after run
        link_persons(engine, CONFIG)
        links = _links(engine)
        assert links[("civil_affairs", "person", "TW-R", "subject")] == links[("police", "person", "TW-B", "subject")]
    with engine.connect() as conn:
        rule = conn.execute(text("SELECT match_rule FROM mdm.person_link WHERE source_record_id = 'TW-R'")).scalar()
    assert rule == "review"
