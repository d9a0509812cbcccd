"""Console accounts: passwords stored as scrypt only, weak ones refused, sessions stored hashed that end
when idle, at their absolute limit, on sign-out, on a password change and when the user is disabled;
a principal given by the console passes the gate's purpose (and, where the grant says so, case number)
rules like a key does, and is on record as the console user."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from exchange.access import accounts
from exchange.access.gate import ProfileGate, Request
from exchange.access.keys import KeyHolder
from exchange.access.spec import GrantSet, load_grants
from exchange.access.tables import access, console_session, console_user
from exchange.errors import ConfigError
from exchange.formats import load_division_codes
from exchange.spec.catalog import load_catalog
from tests.conftest import REPO

PASSWORD = "a sound password 42"


@pytest.fixture
def engine(audit_engine: Any) -> Any:
    return audit_engine


def test_passwords_are_stored_as_salted_scrypt_only(engine: Any) -> None:
    with engine.begin() as conn:
        accounts.create_user(conn, "wang.li", "police", "investigator", PASSWORD)
        accounts.create_user(conn, "li.na", "police", "investigator", PASSWORD)
        stored = dict(conn.execute(select(console_user.c.user_name, console_user.c.password_hash)).all())
    assert all(PASSWORD not in h and h.startswith("scrypt$16384$8$1$") for h in stored.values())
    assert stored["wang.li"] != stored["li.na"]  # salted
    assert accounts.password_matches(PASSWORD, stored["wang.li"])
    assert not accounts.password_matches(PASSWORD + "x", stored["wang.li"])
    assert not accounts.password_matches(PASSWORD, "md5$abc")


@pytest.mark.parametrize(("user", "password", "why"), [
    ("wang.li", "short1", "at least 12 characters"), ("wang.li", "aaaaaaaaaaaaaaa", "6 different"),
    ("wang.li", "my wang.li password", "not containing the user name"), ("Wang Li", PASSWORD, "a user name is"),
])
def test_weak_passwords_and_bad_names_are_refused(engine: Any, user: str, password: str, why: str) -> None:
    with engine.begin() as conn, pytest.raises(ConfigError, match=why):
        accounts.create_user(conn, user, "police", "investigator", password)


def test_sessions_are_hashed_and_end_idle_absolute_signed_out_or_disabled(engine: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(accounts.IDLE_ENV, "30")
    monkeypatch.setenv(accounts.ABSOLUTE_ENV, "8")
    t0 = dt.datetime(2026, 12, 6, 9, 0)
    with engine.begin() as conn:
        accounts.create_user(conn, "wang.li", "police", "investigator", PASSWORD)
        assert accounts.sign_in(conn, "wang.li", "wrong password!!") == "wrong password"
        assert accounts.sign_in(conn, "nobody", PASSWORD) == "unknown user"
        token, first = accounts.sign_in(conn, "wang.li", PASSWORD, now=t0)
        assert conn.execute(select(console_session.c.session_sha256)).scalar() == first.token_sha256 != token
        # active use keeps it alive until the absolute limit
        at = t0
        for _ in range(15):
            at += dt.timedelta(minutes=29)
            assert accounts.session_of(conn, token, now=at) is not None
        assert accounts.session_of(conn, token, now=t0 + dt.timedelta(hours=8)) is None
        assert accounts.session_of(conn, token, now=t0 + dt.timedelta(hours=1)) is None  # ended stays ended
        idle, _ = accounts.sign_in(conn, "wang.li", PASSWORD, now=t0)
        assert accounts.session_of(conn, idle, now=t0 + dt.timedelta(minutes=31)) is None
        out, session = accounts.sign_in(conn, "wang.li", PASSWORD)
        accounts.sign_out(conn, session)
        assert accounts.session_of(conn, out) is None
        a, _ = accounts.sign_in(conn, "wang.li", PASSWORD)
        accounts.set_password(conn, "wang.li", "another good password")
        assert accounts.session_of(conn, a) is None
        b, _ = accounts.sign_in(conn, "wang.li", "another good password")
        assert accounts.disable_user(conn, "wang.li")
        assert accounts.session_of(conn, b) is None
        assert accounts.sign_in(conn, "wang.li", "another good password") == "user disabled"
        assert accounts.session_of(conn, "x" * 500) is None


def test_a_console_principal_passes_the_gate_rules_and_is_on_record(engine: Any) -> None:
    cat = load_catalog(REPO)
    grants = load_grants(REPO, cat.schemas, cat.allowed, divisions=load_division_codes())
    strict = GrantSet({**grants.grants, "police": dataclasses.replace(grants.get("police"),
                                                                       case_number_required=True)})
    gate = ProfileGate(engine, strict, lambda ident, evidence: None, admin_key="admin-key-for-tests")
    who = KeyHolder("console:wang.li", "police")
    base = {"token": None, "ident": "MP0000000001", "user_id": "wang.li", "principal": who, "channel": "console"}
    assert gate.handle(Request(**base)).status == 400  # no purpose
    no_case = gate.handle(Request(**base, purpose="侦查"))
    assert no_case.status == 400 and "case" in no_case.json()
    assert gate.handle(Request(**base, purpose="侦查", case_number="A2026-1")).status == 404  # admitted
    with engine.connect() as conn:
        rows = conn.execute(select(access.c.agency, access.c.key_id, access.c.user_id, access.c.channel,
                                   access.c.outcome).order_by(access.c.id)).all()
    assert [r.outcome for r in rows] == ["refused: no purpose", "refused: no case number", "not found"]
    assert {(r.agency, r.key_id, r.user_id, r.channel) for r in rows} == {("police", "console:wang.li", "wang.li",
                                                                           "console")}
    # a request without the console's principal still needs a key: the principal is not a request field
    assert gate.handle(Request(token=None, ident="MP0000000001", purpose="x")).status == 401
