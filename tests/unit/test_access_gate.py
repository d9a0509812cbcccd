"""The profile API's gate: per-agency keys (stored hashed), a purpose on every request, the grant's
masks and rows applied to the profile, and every request — refused ones too — in audit.access."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import select, text

from exchange.access import masks
from exchange.access.gate import ProfileGate, Request
from exchange.access.keys import create_key, revoke_key
from exchange.access.profile import ProfilePolicy
from exchange.access.spec import load_grants
from exchange.access.tables import access, api_key
from exchange.formats import load_division_codes
from exchange.spec.catalog import load_catalog
from tests.conftest import REPO

MASTER = b"unit-test-pseudonym-key-0123456789"
ID = "11010519491231002X"


def _src(agency: str, record: str) -> dict[str, str]:
    return {"agency": agency, "record": record, "batch": "b1"}


PROFILE: dict[str, Any] = {
    "person_uid": "MP0000000001", "status": "active", "query": "MP0000000001",
    "identity": {k: {"value": v, "source": {"agency": "police", "entity": "person", "record": "P1", "batch": "b1"}}
                 for k, v in {"id_number": ID, "name": "张三", "gender": "F", "birth_date": "1949-12-31",
                              "ethnicity": "汉族", "phone": "13812345678", "address": "汉滨区某街1号",
                              "division_code": "610902001001", "household_number": "H1"}.items()},
    "agencies": ["civil_affairs", "health", "justice", "police"],
    "records": [
        {"agency": "police", "entity": "person", "record": "P1", "role": "subject", "batch": "b1"},
        {"agency": "police", "entity": "case_party", "record": "CP1", "role": "subject", "batch": "b1"},
        {"agency": "police", "entity": "case_party", "record": "CP9", "role": "subject", "batch": "b1"},
        {"agency": "justice", "entity": "dispute", "record": "D1", "role": "applicant", "batch": "b1"},
        {"agency": "health", "entity": "special_population", "record": "S1", "role": "subject", "batch": "b1"},
    ],
    "households": [{"household_number": "H1", "relation": ["member"], "member_total": 1,
                    "registrations": [{"household_number": "H1", "household_type": "family", "head_name": "张三",
                                       "address": "汉滨区某街1号", "division_code": "610902001001",
                                       "member_count": 1, "low_income": True,
                                       "source": _src("civil_affairs", "H1")}],
                    "members": [{"person_uid": "MP0000000001", "name": "张三", "gender": "F",
                                 "birth_date": "1949-12-31", "sources": [_src("police", "P1")]}]}],
    "cases": [
        {"case_number": "A1", "role": "suspect", "name_recorded": "张三", "party_source": _src("police", "CP1"),
         "case_type": "criminal", "title": "盗窃", "division_code": "610902001001", "status": "open",
         "reported_date": "2026-01-02", "source": _src("police", "A1")},
        {"case_number": "A9", "role": "victim", "name_recorded": "张三", "party_source": _src("police", "CP9"),
         "case_type": "incident", "title": "纠纷", "division_code": "610921100001", "status": "open",
         "reported_date": "2026-01-03", "source": _src("police", "A9")},
    ],
    "disputes": [{"dispute_number": "D1", "category": "labour", "status": "accepted", "applicant_name": "张三",
                  "respondent_name": "某公司", "division_code": "610902001001", "amount": "1000.0000",
                  "summary": "工资", "role": "applicant", "source": _src("justice", "D1")}],
    "programmes": [{"programme": "severe_mental_disorder", "managing_unit": "卫生院", "risk_level": "low",
                    "start_date": "2025-01-01", "end_date": None, "division_code": "610902001001",
                    "source": _src("health", "S1")}],
    "organizations": [],
}


def _evidence(link: int, agency: str, entity: str, record: str, role: str, columns: dict[str, str],
              values: dict[str, Any], row: dict[str, Any], related: dict[str, list[Any]] | None = None) -> dict:
    return {"link": link, "agency": agency, "entity": entity, "record": record, "role": role, "batch": "b1",
            "loaded_at": "2026-01-01 00:00:00", "columns": columns, "values": values, "row": row,
            "related": related or {}}


PERSON_COLUMNS = {k: k for k in PROFILE["identity"]}
PROFILE["evidence"] = [
    _evidence(1, "police", "person", "P1", "subject", PERSON_COLUMNS,
              {k: v["value"] for k, v in PROFILE["identity"].items()},
              {"division_code": "610902001001", "household_number": "H1"},
              {"household.household_number.division_code": ["610902001001"]}),
    _evidence(2, "police", "case_party", "CP1", "subject",
              {"id_number": "id_number", "name": "name", "gender": "gender", "phone": "phone"},
              {"id_number": ID, "name": "张三", "gender": "F", "phone": "13812345678"}, {"case_number": "A1"},
              {"case.case_number.division_code": ["610902001001"]}),
    _evidence(3, "police", "case_party", "CP9", "subject",
              {"id_number": "id_number", "name": "name", "gender": "gender", "phone": "phone"},
              {"id_number": ID, "name": "张三", "gender": "F", "phone": None}, {"case_number": "A9"},
              {"case.case_number.division_code": ["610921100001"]}),
    _evidence(4, "justice", "dispute", "D1", "applicant",
              {"id_number": "applicant_id_number", "name": "applicant_name", "phone": "applicant_phone",
               "division_code": "division_code"},
              {"applicant_id_number": ID, "applicant_name": "张三", "applicant_phone": "13812345678",
               "division_code": "610902001001"}, {"division_code": "610902001001"}),
    _evidence(5, "health", "special_population", "S1", "subject",
              {"id_number": "id_number", "name": "name", "gender": "gender", "division_code": "division_code"},
              {"id_number": ID, "name": "张三", "gender": "F", "division_code": "610902001001"},
              {"division_code": "610902001001", "programme": "severe_mental_disorder"}),
]


@pytest.fixture
def grants() -> Any:
    cat = load_catalog(REPO)
    return load_grants(REPO, cat.schemas, cat.allowed, divisions=load_division_codes())


@pytest.fixture
def engine(audit_engine: Any) -> Any:
    return audit_engine


def _gate(engine: Any, grants: Any, profile: dict[str, Any] | None = None) -> ProfileGate:
    people = {"MP0000000001": profile or PROFILE, ID: profile or PROFILE}

    def read(ident: str, evidence: bool) -> dict[str, Any] | None:
        found = copy.deepcopy(people.get(ident))
        if found is not None and not evidence:
            found.pop("evidence", None)
        return found

    return ProfileGate(engine, grants, read, master=MASTER, admin_key="admin-key-for-tests")


def _key(engine: Any, agency: str) -> str:
    with engine.begin() as conn:
        return create_key(conn, agency, label="test")[1]


def _log(engine: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(access).order_by(access.c.id)).mappings()]


def test_keys_are_stored_hashed_and_can_be_revoked(engine: Any, grants: Any) -> None:
    token = _key(engine, "police")
    with engine.connect() as conn:
        stored = conn.execute(select(api_key)).mappings().one()
    assert token.startswith(f"exk_{stored['key_id']}.")
    secret = token.split(".", 1)[1]
    assert secret not in str(dict(stored)) and len(stored["secret_sha256"]) == 64
    gate = _gate(engine, grants)
    assert gate.handle(Request(token, "MP0000000001", purpose="侦查")).status == 200
    assert gate.handle(Request(token[:-1] + ("A" if token[-1] != "A" else "B"), "MP0000000001",
                               purpose="侦查")).status == 401
    with engine.begin() as conn:
        assert revoke_key(conn, stored["key_id"])
    assert gate.handle(Request(token, "MP0000000001", purpose="侦查")).status == 401


def test_every_request_is_logged_refused_ones_too(engine: Any, grants: Any) -> None:
    gate = _gate(engine, grants)
    police = _key(engine, "police")
    street = _key(engine, "street_office_hanbin")
    answers = [
        gate.handle(Request(None, "MP0000000001", purpose="x", client="10.0.0.1")),
        gate.handle(Request("exk_000000000000.nope", "MP0000000001", purpose="x")),
        gate.handle(Request(police, "MP0000000001", purpose=None, user_id="u1")),
        gate.handle(Request(police, "MP0000000001", purpose="  ", user_id="u1")),
        gate.handle(Request(street, "MP0000000001", purpose="走访", user_id="u2")),
        gate.handle(Request(police, ID, purpose="刑事案件侦查", case_number="A1", user_id="u3")),
        gate.handle(Request(police, "MP0000000099", purpose="核查", user_id="u3")),
    ]
    assert [a.status for a in answers] == [401, 401, 400, 400, 403, 200, 404]
    log = _log(engine)
    assert [(r["agency"], r["status"], r["outcome"]) for r in log] == [
        ("-", 401, "refused: no API key"),
        ("-", 401, "refused: missing or unknown API key"),
        ("police", 400, "refused: no purpose"),
        ("police", 400, "refused: no purpose"),
        ("street_office_hanbin", 403, "refused: no profile grant"),
        ("police", 200, "ok"),
        ("police", 404, "not found"),
    ]
    ok = log[5]
    assert (ok["user_id"], ok["purpose"], ok["case_number"]) == ("u3", "刑事案件侦查", "A1")
    assert ok["subject"] == "MP0000000001"
    assert ok["row_count"] > 1 and ok["entity"] == "person_profile"
    assert ok["what"] == "GET /persons/110105**********2X"  # the ID number asked for is logged masked
    assert log[0]["client"] == "10.0.0.1"


def test_the_access_log_is_append_only(engine: Any, grants: Any) -> None:
    _gate(engine, grants).handle(Request(None, "MP0000000001"))
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit.access SET agency = 'someone else'"))
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit.access"))


def test_police_sees_everything_except_what_its_grant_masks(engine: Any, grants: Any) -> None:
    body = _gate(engine, grants).handle(Request(_key(engine, "police"), "MP0000000001", purpose="侦查")).body
    assert body["identity"]["id_number"]["value"] == ID
    assert len(body["cases"]) == 2
    # dispute parties are pseudonymised for the police: linking one to a named person would undo it
    assert body["disputes"] == []
    assert body["programmes"] == []  # severe_mental_disorder is not in the police grant's programmes
    assert {r["record"] for r in body["records"]} == {"P1", "CP1", "CP9"}
    low_income = body["households"][0]["registrations"][0]
    assert "low_income" not in low_income


def test_civil_affairs_sees_masked_ids_and_no_cases(engine: Any, grants: Any) -> None:
    body = _gate(engine, grants).handle(Request(_key(engine, "civil_affairs"), "MP0000000001", purpose="低保审核")).body
    ident = body["identity"]
    assert ident["id_number"]["value"] == "110105**********2X"
    assert ident["phone"]["value"] == "138****5678"
    assert "ethnicity" not in ident
    assert "cases" not in body and "disputes" not in body and "programmes" not in body
    assert {r["entity"] for r in body["records"]} == {"person"}
    assert body["agencies"] == ["police"]


def test_a_person_outside_the_jurisdiction_is_not_disclosed(engine: Any, grants: Any) -> None:
    elsewhere = copy.deepcopy(PROFILE)
    elsewhere["identity"]["division_code"]["value"] = "610921100001"
    elsewhere["households"][0]["registrations"][0]["division_code"] = "610921100001"
    elsewhere["evidence"][0]["row"]["division_code"] = "610921100001"
    elsewhere["evidence"][0]["related"]["household.household_number.division_code"] = ["610921100001"]
    policy = ProfilePolicy(grants.get("civil_affairs"))
    assert policy.apply(elsewhere).profile is not None  # 6109: the whole city
    narrow = ProfilePolicy(grants.get("police_hanbin"))
    # no person grant, but the district bureau reads the party of case A1 (in 汉滨区): it knows the person
    # through that row only — identity from it, masked as its case_party view masks it
    seen = narrow.apply(elsewhere).profile
    assert [r["record"] for r in seen["records"]] == ["CP1"]
    assert seen["identity"]["id_number"] == {"value": "110105**********2X", "source": {
        "agency": "police", "entity": "case_party", "record": "CP1", "batch": "b1"}}
    assert "birth_date" not in seen["identity"] and "households" not in seen
    import dataclasses

    hanbin = dataclasses.replace(grants.get("civil_affairs"),
                                 entities={**grants.get("civil_affairs").entities,
                                           "person": grants.get("street_office_hanbin").entities["person"]})
    served = ProfilePolicy(hanbin).apply(elsewhere)
    assert served.profile is None and served.reason == "outside grant"
    assert ProfilePolicy(hanbin).apply(PROFILE).profile is not None


def test_rows_and_masks_of_sections_follow_the_grant(grants: Any) -> None:
    import dataclasses

    police = grants.get("police")
    hanbin = grants.get("police_hanbin")
    # the district bureau's case rules on a profile (with person from the police grant)
    g = dataclasses.replace(hanbin, entities={**hanbin.entities, "person": police.entities["person"]})
    body = ProfilePolicy(g).apply(copy.deepcopy(PROFILE)).profile
    assert [c["case_number"] for c in body["cases"]] == ["A1"]  # A9 happened in 汉阴县
    assert {r["record"] for r in body["records"] if r["entity"] == "case_party"} == {"CP1"}
    health = grants.get("health")
    g = dataclasses.replace(health, entities={**health.entities, "person": police.entities["person"]})
    body = ProfilePolicy(g, masks.consumer_key(MASTER, "health")).apply(copy.deepcopy(PROFILE)).profile
    # health reads its programme's rows with the ID number as a pseudonym: the programme row is not
    # linked to the named person for it (that link would undo the pseudonym)
    assert body["programmes"] == [] and {r["entity"] for r in body["records"]} == {"person"}


@pytest.mark.parametrize("ident", ["' OR 1=1 --", "MP0000000001'; DROP TABLE audit.access; --", "x" * 100,
                                   "MP\x00001"])
def test_injection_through_parameters_is_inert(engine: Any, grants: Any, ident: str) -> None:
    gate = _gate(engine, grants)
    token = _key(engine, "police")
    answer = gate.handle(Request(token, ident, purpose="'); DELETE FROM audit.access; --",
                                 case_number="1' OR '1'='1", user_id="\x00admin"))
    assert answer.status in (400, 404)
    row = _log(engine)[-1]
    assert row["purpose"] == "'); DELETE FROM audit.access; --" and row["case_number"] == "1' OR '1'='1"
    assert row["user_id"] == "admin"  # control characters are dropped


def test_the_http_api_goes_through_the_gate(engine: Any, grants: Any) -> None:
    from fastapi.testclient import TestClient

    from exchange.access.gate import Request as GateRequest
    from exchange.api import admin_key_authorizer, create_app

    gate = _gate(engine, grants)

    def through(info: dict[str, Any]) -> tuple[int, str]:
        answer = gate.handle(GateRequest(**info))
        return answer.status, answer.json()

    client = TestClient(create_app(lambda _i: None, admin_key_authorizer(None), gate=through))
    token = _key(engine, "civil_affairs")
    assert client.get("/persons/MP0000000001").status_code == 401
    assert client.get("/persons/MP0000000001", headers={"X-API-Key": token}).status_code == 400
    ok = client.get("/persons/MP0000000001", headers={"Authorization": f"Bearer {token}", "X-User-Id": "cw7"},
                    params={"purpose": "低保审核", "case_number": "MZ-1"})
    assert ok.status_code == 200 and ok.json()["identity"]["id_number"]["value"] == "110105**********2X"
    assert client.get(f"/persons/{ID}", headers={"X-API-Key": token, "X-Purpose": "review",
                                                 "X-Case-Number": "MZ-2"}).status_code == 200
    log = _log(engine)
    assert [(r["status"], r["purpose"], r["case_number"], r["user_id"]) for r in log] == [
        (401, None, None, None), (400, None, None, None), (200, "低保审核", "MZ-1", "cw7"),
        (200, "review", "MZ-2", None)]
    assert log[2]["what"] == "GET /persons/MP0000000001" and log[2]["client"] == "testclient"


def test_a_warehouse_outage_is_answered_503_and_still_logged(engine: Any, grants: Any) -> None:
    """The profile read failing transiently (the server restarting, the pool empty) → 503 with a
    message that says to retry, never a traceback or the driver's text; the request is on record."""
    import dataclasses

    from exchange.errors import TransientError
    from exchange.spec.coroutines import run_inline

    gate = _gate(engine, grants)
    token = _key(engine, "police")

    async def down(_ident: str, _evidence: bool) -> Any:
        raise TransientError("the warehouse is unavailable: connection to server at 10.1.2.3 failed")

    io = dataclasses.replace(gate.blocking_io, profile=down)
    answer = run_inline(gate.respond(Request(token, "MP0000000001", purpose="侦查", user_id="u9"), io))
    assert answer.status == 503 and answer.body == {"error": "the warehouse is unavailable: retry later"}
    last = _log(engine)[-1]
    assert (last["agency"], last["status"], last["outcome"], last["user_id"]) == (
        "police", 503, "error: warehouse unavailable", "u9")

    async def log_down(_rec: Any) -> None:
        raise TransientError("the access log could not be written: server closed the connection")

    io = dataclasses.replace(gate.blocking_io, record=log_down)
    refused = run_inline(gate.respond(Request(token, "MP0000000001", purpose="侦查"), io))
    assert refused.status == 503 and "access log is unavailable" in refused.body["error"]


def test_run_inline_refuses_a_coroutine_that_really_suspends() -> None:
    import asyncio

    from exchange.spec.coroutines import inline, run_inline

    assert run_inline(inline(lambda x: x + 1)(41)) == 42

    async def sleeps() -> None:
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="suspended"):
        run_inline(sleeps())


def test_refused_keys_are_on_record_with_their_id(engine: Any, grants: Any) -> None:
    gate = _gate(engine, grants)
    token = _key(engine, "police")
    key_id = token[4:16]
    assert gate.handle(Request(token[:-1] + ("A" if token[-1] != "A" else "B"), "MP0000000001",
                               purpose="x")).status == 401
    with engine.begin() as conn:
        revoke_key(conn, key_id)
    assert gate.handle(Request(token, "MP0000000001", purpose="x")).status == 401
    log = _log(engine)
    assert [(r["key_id"], r["outcome"]) for r in log] == [
        (key_id, "refused: wrong secret for the key id (a key of police)"),
        (key_id, "refused: revoked API key (a key of police)")]


def test_failed_key_attempts_are_rate_limited_per_client(engine: Any, grants: Any) -> None:
    from exchange.access.gate import FailureLimiter

    now = [1000.0]
    gate = _gate(engine, grants)
    gate.limiter = FailureLimiter(limit=3, window=60, clock=lambda: now[0])
    statuses = [gate.handle(Request("exk_000000000000.nope", "MP0000000001", purpose="x", client="10.9.9.9")).status
                for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    token = _key(engine, "police")  # another address is not affected, nor is a good key from it later
    assert gate.handle(Request(token, "MP0000000001", purpose="x", client="10.9.9.8")).status == 200
    now[0] += 61
    assert gate.handle(Request(token, "MP0000000001", purpose="x", client="10.9.9.9")).status == 200
    log = _log(engine)
    assert [r["outcome"] for r in log][3:5] == ["refused: too many failed key attempts"] * 2
    assert all(r["status"] == 429 for r in log[3:5])


@pytest.mark.parametrize("weak", ["7", "admin", "x" * 40, "0123456789" * 3])
def test_a_weak_admin_key_is_refused(weak: str) -> None:
    from exchange.access.keys import check_admin_key
    from exchange.errors import ConfigError

    with pytest.raises(ConfigError, match="at least 32 random characters"):
        check_admin_key(weak)
    check_admin_key("kV3o-9xQ_2mZt8LpRw4YbNc7HsJd1FgE")


def test_non_ascii_headers_are_decoded_or_refused_and_other_paths_logged(engine: Any, grants: Any) -> None:
    from fastapi.testclient import TestClient

    from exchange.access.gate import Request as GateRequest
    from exchange.api import admin_key_authorizer, create_app

    gate = _gate(engine, grants)

    def through(info: dict[str, Any]) -> tuple[int, str]:
        answer = gate.handle(GateRequest(**info))
        return answer.status, answer.json()

    def other(info: dict[str, Any], status: int) -> None:
        gate.handle_other(GateRequest(**info), status)

    client = TestClient(create_app(lambda _i: None, admin_key_authorizer(None), gate=through, on_other=other))
    token = _key(engine, "police")
    app = client.app
    raw = _asgi_get(app, "/persons/MP0000000001", [(b"x-api-key", token.encode()),
                                                   (b"x-purpose", "刑事侦查".encode())])
    rfc = _asgi_get(app, "/persons/MP0000000001", [(b"x-api-key", token.encode()),
                                                   (b"x-purpose", b"UTF-8''%E5%88%91%E4%BA%8B%E4%BE%A6%E6%9F%A5")])
    bad = _asgi_get(app, "/persons/MP0000000001", [(b"x-api-key", token.encode()), (b"x-purpose", b"\xff\xfe\xb0")])
    assert (raw[0], rfc[0], bad[0]) == (200, 200, 400)
    assert "RFC 8187" in bad[1]
    assert client.get("/nope", headers={"X-API-Key": token}).status_code == 404
    assert client.get("/docs").status_code == 200
    log = _log(engine)
    assert [r["purpose"] for r in log[:2]] == ["刑事侦查", "刑事侦查"]
    assert (log[2]["status"], log[2]["outcome"]) == (400, "refused: undecodable header")
    assert [(r["what"], r["status"], r["outcome"]) for r in log[3:]] == [
        ("GET /nope", 404, "no data path"), ("GET /docs", 200, "no data path")]
    assert log[3]["key_id"] == token[4:16]


def _asgi_get(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, str]:
    """One GET with header bytes exactly as given (an HTTP client library would re-encode them)."""
    import asyncio

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("10.1.1.1", 5000), "server": ("testserver", 80)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body.decode()


def test_identifiers_never_reach_the_access_log_whole(engine: Any, grants: Any) -> None:
    """Full-width digits, spaces or dashes inside an ID number, and identifiers typed into the user id,
    case number or purpose are all stored masked."""
    gate = _gate(engine, grants)
    token = _key(engine, "police")
    full_width = "１１０１０５１９４９１２３１００２X"
    spaced = "110105 19491231 002X"
    for ident in (full_width, spaced, "110105-19491231-002X"):
        gate.handle(Request(token, ident, purpose=f"核查 {ID}", case_number=f"A-{ID}", user_id="13812345678",
                            path=f"/persons/{ident}"))
    for row in _log(engine):
        text_ = " ".join(str(v) for v in row.values())
        assert ID not in text_ and "1949123100" not in text_.replace(" ", "").replace("-", "")
        assert "13812345678" not in text_
