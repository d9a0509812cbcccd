"""The person profile: one person's whole picture across agencies, every fact with its source.

``person_profile(conn, "MP0000000042")`` or ``person_profile(conn, "61090219800101001X")``
returns identity (golden values, each with the record, agency and batch it came from), the
source records linked, households (with their members), cases with the person's role,
disputes, special-population programmes and organizations — read live from ``core.*``
through indexed lookups (:data:`PROFILE_INDEXES`, created by :func:`ensure_profile_indexes`).

Two implementations give the same document: a portable one (a handful of queries, used on
SQLite) and, on PostgreSQL, one statement that builds the JSON in the database
(:meth:`ProfileReader.profile_json`: one round trip, what the HTTP API serves). Every list
has a defined order so both agree exactly.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import unicodedata
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Engine, Index, MetaData, Table, Text, bindparam, inspect, text
from sqlalchemy.dialects.postgresql import psycopg as _psycopg_dialect

from exchange.formats import check_char_of
from exchange.linking.config import GOLDEN_FIELDS
from exchange.linking.records import PERSON_SOURCES, RecordSource
from exchange.linking.stable import is_uid
from exchange.spec.coroutines import inline, run_inline
from exchange.warehouse.dialects import dialect_of

MAX_REDIRECTS = 16
_PSYCOPG = _psycopg_dialect.dialect()
MAX_MEMBERS = 50

PROFILE_INDEXES: tuple[tuple[str, str, str], ...] = (
    ("person", "ix_person_household_number", "household_number"),
    ("household", "ix_household_household_number", "household_number"),
    ("case", "ix_case_case_number", "case_number"),
)
"""(core table, index name, column): what the profile looks up besides primary keys."""

RELATED: dict[str, tuple[tuple[str, str, str], ...]] = {
    "person": (("household", "household_number", "division_code"),),
    "case_party": (("case", "case_number", "division_code"),),
}
"""entity → (related entity, shared key column, the related entity's division column): the relations a
row without a division of its own is placed through (a member by its household, a party by its case).
An evidence entry carries the related rows' divisions under ``"<entity>.<key>.<division>"``."""

EvidenceColumns = dict[str, tuple[str, ...]]
"""entity → the columns of its rows an evidence entry carries (what the grants' row rules read)."""


def related_key(entity: str, column: str, division: str) -> str:
    return f"{entity}.{column}.{division}"


def ensure_profile_indexes(engine: Engine, schema: str = "core",
                           indexes: tuple[tuple[str, str, str], ...] = PROFILE_INDEXES) -> list[str]:
    """Create the indexes the profile needs (or ``indexes``: the investigation tools') on existing tables
    of ``schema``; return those created."""
    present = set(inspect(engine).get_table_names(schema=schema))
    created = []
    for table_name, index_name, column in indexes:
        if table_name not in present:
            continue
        existing = {ix["name"] for ix in inspect(engine).get_indexes(table_name, schema=schema)}
        if index_name in existing:
            continue
        table = Table(table_name, MetaData(), Column(column, Text()), schema=schema)
        Index(index_name, table.c[column]).create(engine, checkfirst=True)
        created.append(f"{schema}.{table_name}({column})")
    return created


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _rows(conn: Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    stmt = text(sql)
    for name, value in params.items():
        if isinstance(value, list | tuple | set):
            stmt = stmt.bindparams(bindparam(name, expanding=True))
            params[name] = list(value)
    return [{k: _json(v) for k, v in r._mapping.items()} for r in conn.execute(stmt, params)]


def _source(row: dict[str, Any]) -> dict[str, Any]:
    return {"agency": row.pop("source_agency"), "record": row.pop("source_record_id"),
            "batch": row.pop("_batch_id")}


def _by_source(row: dict[str, Any]) -> tuple[str, str]:
    return (row["source_agency"], row["source_record_id"])


@dataclass(frozen=True)
class ProfileJson:
    """A profile already serialised (PostgreSQL builds it): who it is and the JSON text."""

    person_uid: str
    status: str
    body: str


class ProfileReader:
    """Reads profiles; table locations are passed in (``core`` and ``mdm`` by default)."""

    def __init__(self, core: str = "core", mdm: str = "mdm", evidence_columns: EvidenceColumns | None = None) -> None:
        self.core = core
        self.mdm = mdm
        self.evidence_columns = dict(evidence_columns) if evidence_columns is not None else None
        variants = {False: ""}
        if self.evidence_columns is not None:
            variants[True] = ",\n  'evidence', " + _pg_evidence(core, self.evidence_columns)
        self._pg_sql = {(key, with_evidence): text(_PG_PROFILE.format(core=core, mdm=mdm, where=where)
                                                   .replace("{evidence}", extra))
                        for key, where in (("uid", "person_uid = :key"),
                                           ("id", "id_number = :key AND status = 'active'"))
                        for with_evidence, extra in variants.items()}
        # the same statements for a psycopg connection itself (the hot path: no SQLAlchemy layer)
        self._pg_raw = {key: str(stmt.compile(dialect=_PSYCOPG)) for key, stmt in self._pg_sql.items()}

    # -- resolving an id ---------------------------------------------------------------------

    def resolve(self, conn: Connection, ident: str) -> tuple[dict[str, Any] | None, list[str]]:
        """The person row for a person_uid (following merges) or an ID number; and the uids followed."""
        ident = ident.strip()
        followed: list[str] = []
        if is_uid(ident):
            uid: str | None = ident
            for _ in range(MAX_REDIRECTS):
                rows = _rows(conn, f"SELECT * FROM {self.mdm}.person WHERE person_uid = :uid", uid=uid)
                if not rows:
                    return None, followed
                row = rows[0]
                if row["status"] != "merged" or not row["merged_into"]:
                    return row, followed
                followed.append(row["person_uid"])
                uid = row["merged_into"]
            return None, followed
        normalized = _normal_id(ident)
        if normalized is None:
            return None, followed
        rows = _rows(conn, f"SELECT * FROM {self.mdm}.person WHERE id_number = :id AND status = 'active'",
                     id=normalized)
        return (rows[0] if rows else None), followed

    # -- PostgreSQL: one statement -------------------------------------------------------------

    def _check_evidence(self, evidence: bool) -> None:
        if evidence and self.evidence_columns is None:
            raise ValueError("this ProfileReader was made without evidence_columns: it cannot give evidence")

    def profile_json(self, conn: Connection, ident: str, evidence: bool = False) -> ProfileJson | None:
        """PostgreSQL: the profile built by the database in one round trip (merges followed); with
        ``evidence``, every linked record with what it says (what a grant is applied to)."""
        self._check_evidence(evidence)
        driver = getattr(conn.connection, "driver_connection", None)
        if driver is not None and type(driver).__module__.startswith("psycopg"):
            # the hot path: psycopg prepares it server-side after a few runs (parsed and planned once)
            def fetch(kind: str, params: dict[str, Any]) -> Any:
                return driver.execute(self._pg_raw[(kind, evidence)], params).fetchone()
        else:
            def fetch(kind: str, params: dict[str, Any]) -> Any:
                return conn.execute(self._pg_sql[(kind, evidence)], params).first()
        return run_inline(self._follow(inline(fetch), ident))

    async def profile_json_async(self, aconn: Any, ident: str, evidence: bool = False) -> ProfileJson | None:
        """:meth:`profile_json` on a psycopg ``AsyncConnection`` (the asyncio API server)."""
        self._check_evidence(evidence)

        async def fetch(kind: str, params: dict[str, Any]) -> Any:
            cur = await aconn.execute(self._pg_raw[(kind, evidence)], params)
            return await cur.fetchone()
        return await self._follow(fetch, ident)

    async def _follow(self, fetch: Callable[[str, dict[str, Any]], Awaitable[Any]], ident: str) -> ProfileJson | None:
        """The profile statement for a uid or ID number, following merges (``fetch(kind, params)``
        runs the statement of that kind)."""
        ident = ident.strip()
        if is_uid(ident):
            kind, key = "uid", ident
        else:
            kind, key = "id", _normal_id(ident)
            if key is None:
                return None
        followed: list[str] = []
        for _ in range(MAX_REDIRECTS):
            row = await fetch(kind, {"key": key, "q": ident})
            if row is None:
                return None
            uid, status, merged_into, body = row
            if status == "merged" and merged_into:
                followed.append(uid)
                kind, key = "uid", merged_into
                continue
            if followed:
                doc = json.loads(body)
                body = json.dumps({**doc, "merged_from": followed}, ensure_ascii=False, separators=(",", ":"))
            return ProfileJson(person_uid=uid, status=status, body=body)
        return None

    # -- portable: a few queries ---------------------------------------------------------------

    def profile(self, conn: Connection, ident: str, evidence: bool = False) -> dict[str, Any] | None:
        """The profile as a dict (PostgreSQL: built by the database; elsewhere: a few queries)."""
        if dialect_of(conn).json_profiles:
            found = self.profile_json(conn, ident, evidence)
            return None if found is None else json.loads(found.body)
        return self.profile_portable(conn, ident, evidence)

    def profile_portable(self, conn: Connection, ident: str, evidence: bool = False) -> dict[str, Any] | None:
        """The same profile from a handful of plain queries (any database)."""
        self._check_evidence(evidence)
        person, followed = self.resolve(conn, ident)
        if person is None:
            return None
        uid = person["person_uid"]
        out: dict[str, Any] = {"person_uid": uid, "status": person["status"], "query": ident}
        if followed:
            out["merged_from"] = followed
        if person["status"] != "active":
            return out
        links = _rows(conn, f"SELECT source_agency, entity, source_record_id, role, link_id, match_rule, "
                            f"match_probability, batch_id FROM {self.mdm}.person_link WHERE person_uid = :uid "
                            f"ORDER BY source_agency, entity, source_record_id, role", uid=uid)
        by_link = {link["link_id"]: link for link in links}
        out["identity"] = self._identity(person, by_link)
        out["agencies"] = sorted({link["source_agency"] for link in links})
        out["records"] = [{"agency": link["source_agency"], "entity": link["entity"],
                           "record": link["source_record_id"], "role": link["role"], "batch": link["batch_id"],
                           "rule": link["match_rule"], "probability": link["match_probability"]} for link in links]
        keys: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        roles: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for link in links:
            keys[link["entity"]][link["source_agency"]].append(link["source_record_id"])
            roles[(link["entity"], link["source_agency"], link["source_record_id"])].append(link["role"])
        out["households"] = self._households(conn, keys.get("person", {}), keys.get("household", {}), uid)
        out["cases"] = self._cases(conn, keys.get("case_party", {}))
        out["disputes"] = self._disputes(conn, keys.get("dispute", {}), roles)
        out["programmes"] = self._programmes(conn, keys.get("special_population", {}))
        out["organizations"] = self._organizations(conn, keys.get("organization", {}))
        out["reviews"] = [] if not person.get("id_number") else _rows(
            conn, f"SELECT review_id AS review, source_agency || '/' || entity || '/' || source_record_id AS record, "
                  f"reason FROM {self.mdm}.review WHERE status = 'pending' AND candidate_ids LIKE :pattern "
                  f"ORDER BY review_id", pattern=f"%{person['id_number']}%")
        if evidence and self.evidence_columns is not None:
            out["evidence"] = self._evidence(conn, uid, self.evidence_columns)
        return out

    def _evidence(self, conn: Connection, uid: str, columns: EvidenceColumns) -> list[dict[str, Any]]:
        """Every linked record with what it says of the person and what the grants' row rules read."""
        out = []
        for source in PERSON_SOURCES:
            row_cols = columns.get(source.entity, ())
            picks = [f'CAST(c."{col}" AS TEXT) AS "v_{col}"' for col in sorted(set(source.columns.values()))]
            picks += [f'CAST(c."{col}" AS TEXT) AS "r_{col}"' for col in row_cols]
            picks += [f'CAST(c."{key}" AS TEXT) AS "k_{key}"' for _e, key, _d in RELATED.get(source.entity, ())]
            rows = _rows(conn, f"SELECT l.link_id, l.source_agency, l.entity, l.source_record_id, l.role, l.batch_id, "
                               f"l.loaded_at, {', '.join(picks)} FROM {self.mdm}.person_link l "
                               f'JOIN {self.core}."{source.entity}" c ON c.source_agency = l.source_agency '
                               f"AND c.source_record_id = l.source_record_id WHERE l.person_uid = :uid "
                               f"AND l.entity = :entity AND l.role = :role", uid=uid, entity=source.entity,
                         role=source.role)
            for r in rows:
                related: dict[str, list[Any]] = {}
                for entity, key, division in RELATED.get(source.entity, ()):
                    value = r[f"k_{key}"]
                    related[related_key(entity, key, division)] = [x["d"] for x in _rows(
                        conn, f'SELECT {division} AS d FROM {self.core}."{entity}" WHERE "{key}" = :k '
                              f"ORDER BY source_agency, source_record_id", k=value)] if value is not None else []
                out.append({"link": r["link_id"], "agency": r["source_agency"], "entity": r["entity"],
                            "record": r["source_record_id"], "role": r["role"], "batch": r["batch_id"],
                            "loaded_at": r["loaded_at"], "columns": dict(source.columns),
                            "values": {col: r[f"v_{col}"] for col in sorted(set(source.columns.values()))},
                            "row": {col: r[f"r_{col}"] for col in row_cols}, "related": related})
        return sorted(out, key=lambda e: (e["agency"], e["entity"], e["record"], e["role"]))

    @staticmethod
    def _identity(person: dict[str, Any], by_link: dict[Any, dict[str, Any]]) -> dict[str, Any]:
        identity = {}
        for f in GOLDEN_FIELDS:
            value = person.get(f)
            if value is None:
                continue
            link = by_link.get(person.get(f"{f}_link"), {})
            identity[f] = {"value": value, "source": {"agency": link.get("source_agency"), "entity": link.get("entity"),
                                                      "record": link.get("source_record_id"),
                                                      "batch": link.get("batch_id")}}
        return identity

    def _fetch(self, conn: Connection, entity: str, by_agency: dict[str, list[str]], columns: str) -> list[dict]:
        out: list[dict[str, Any]] = []
        for agency, ids in sorted(by_agency.items()):
            out.extend(_rows(conn, f'SELECT source_agency, source_record_id, _batch_id, {columns} '
                                   f'FROM {self.core}."{entity}" WHERE source_agency = :agency '
                                   f'AND source_record_id IN :ids', agency=agency, ids=sorted(set(ids))))
        return sorted(out, key=_by_source)

    def _households(self, conn: Connection, person_keys: dict[str, list[str]], head_keys: dict[str, list[str]],
                    uid: str) -> list[dict[str, Any]]:
        numbers: dict[str, set[str]] = defaultdict(set)  # household number → how we know (member / head)
        for row in self._fetch(conn, "person", person_keys, "household_number"):
            if row["household_number"]:
                numbers[row["household_number"]].add("member")
        for row in self._fetch(conn, "household", head_keys, "household_number"):
            numbers[row["household_number"]].add("head")
        if not numbers:
            return []
        hh_rows = _rows(conn, f"SELECT source_agency, source_record_id, _batch_id, household_number, household_type, "
                              f"head_name, address, division_code, member_count, low_income "
                              f"FROM {self.core}.household WHERE household_number IN :nums", nums=sorted(numbers))
        members = _rows(conn, f"SELECT p.household_number, p.name, p.gender, p.birth_date, p.division_code, "
                              f"p.source_agency, "
                              f"p.source_record_id, p._batch_id, l.person_uid FROM {self.core}.person p "
                              f"LEFT JOIN {self.mdm}.person_link l ON l.source_agency = p.source_agency "
                              f"AND l.entity = 'person' AND l.source_record_id = p.source_record_id "
                              f"AND l.role = 'subject' WHERE p.household_number IN :nums", nums=sorted(numbers))
        members.sort(key=_by_source)
        uids = sorted({m["person_uid"] for m in members if m["person_uid"]})
        golden = {g["person_uid"]: g for g in _rows(
            conn, f"SELECT person_uid, name, gender, birth_date FROM {self.mdm}.person WHERE person_uid IN :uids",
            uids=uids)} if uids else {}
        out = []
        for number in sorted(numbers):
            registers = [dict(r) for r in sorted(hh_rows, key=_by_source) if r["household_number"] == number]
            for r in registers:
                r["source"] = _source(r)
            seen: dict[str, dict[str, Any]] = {}
            for m in members:
                if m["household_number"] != number:
                    continue
                key = m["person_uid"] or f"{m['source_agency']}/{m['source_record_id']}"
                best = golden.get(m["person_uid"], m)  # the golden values where the member is linked
                entry = seen.setdefault(key, {"person_uid": m["person_uid"], "name": best["name"],
                                              "gender": best["gender"], "birth_date": best["birth_date"],
                                              "sources": []})
                entry["sources"].append({"agency": m["source_agency"], "record": m["source_record_id"],
                                         "batch": m["_batch_id"], "name": m["name"], "gender": m["gender"],
                                         "birth_date": m["birth_date"], "division_code": m["division_code"]})
            order = sorted(seen, key=lambda k: (seen[k]["person_uid"] != uid, seen[k]["birth_date"] or "", k))
            out.append({"household_number": number, "relation": sorted(numbers[number]), "registrations": registers,
                        "members": [seen[k] for k in order[:MAX_MEMBERS]], "member_total": len(order)})
        return out

    def _cases(self, conn: Connection, party_keys: dict[str, list[str]]) -> list[dict[str, Any]]:
        parties = self._fetch(conn, "case_party", party_keys, "case_number, role, name")
        if not parties:
            return []
        numbers = sorted({p["case_number"] for p in parties})
        cases = _rows(conn, f'SELECT source_agency, source_record_id, _batch_id, case_number, case_type, title, '
                            f'occurred_at, reported_date, division_code, address, status, handling_unit '
                            f'FROM {self.core}."case" WHERE case_number IN :nums', nums=numbers)
        by_number: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in sorted(cases, key=_by_source):
            c = dict(c)
            c["source"] = _source(c)
            by_number[c["case_number"]].append(c)
        out = []
        for p in sorted(parties, key=lambda p: (p["case_number"], p["source_agency"], p["source_record_id"])):
            party_source = _source(p)
            entry = {"case_number": p["case_number"], "role": p["role"], "name_recorded": p["name"],
                     "party_source": party_source}
            found = by_number.get(p["case_number"], [])
            if found:
                entry.update({k: v for k, v in found[0].items() if k != "case_number"})
            out.append(entry)
        return sorted(out, key=lambda c: str(c.get("reported_date") or ""), reverse=True)

    def _disputes(self, conn: Connection, keys: dict[str, list[str]],
                  roles: dict[tuple[str, str, str], list[str]]) -> list[dict[str, Any]]:
        rows = self._fetch(conn, "dispute", keys, "dispute_number, category, status, accepted_date, closed_date, "
                                                  "applicant_name, respondent_name, division_code, amount, summary")
        out = []
        for r in rows:
            r = dict(r)
            role = sorted(roles.get(("dispute", r["source_agency"], r["source_record_id"]), []))
            r["source"] = _source(r)
            r["role"] = role[0] if len(role) == 1 else role
            out.append(r)
        return sorted(out, key=lambda d: str(d.get("accepted_date") or ""), reverse=True)

    def _programmes(self, conn: Connection, keys: dict[str, list[str]]) -> list[dict[str, Any]]:
        rows = self._fetch(conn, "special_population", keys,
                           "programme, managing_unit, risk_level, start_date, end_date, division_code")
        for r in rows:
            r["source"] = _source(r)
        return sorted(rows, key=lambda r: str(r.get("start_date") or ""), reverse=True)

    def _organizations(self, conn: Connection, keys: dict[str, list[str]]) -> list[dict[str, Any]]:
        rows = self._fetch(conn, "organization", keys, "credit_code, name, status, industry, division_code, "
                                                       "established_date")
        for r in rows:
            r["source"] = _source(r)
            r["role"] = "legal_representative"
        return sorted(rows, key=lambda r: r["credit_code"])


def _normal_id(value: str) -> str | None:
    """One ID number as the index holds it (full-width digits, spaces, a lower-case x and the
    legacy 15-digit form handled; a wrong check character → None). Scalar twin of
    :func:`~exchange.linking.records.normalize_id_numbers`, which is vectorised and would cost
    a millisecond of Arrow set-up for a single value."""
    text_ = unicodedata.normalize("NFKC", value).replace(" ", "").strip().upper()
    if len(text_) == 15 and text_.isascii() and text_.isdigit():
        first17 = text_[:6] + "19" + text_[6:]
        return first17 + check_char_of(first17)
    if len(text_) != 18 or not text_.isascii() or not text_[:17].isdigit():
        return None
    return text_ if text_[17] == check_char_of(text_[:17]) else None


def person_profile(conn: Connection, ident: str, reader: ProfileReader | None = None) -> dict[str, Any] | None:
    """The profile of a person_uid or ID number; None when nobody matches."""
    return (reader or ProfileReader()).profile(conn, ident)


def _src(alias: str) -> str:
    return (f"json_build_object('agency', {alias}.source_agency, 'record', {alias}.source_record_id, "
            f"'batch', {alias}._batch_id)")


def _json_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _pg_evidence_branch(core: str, source: RecordSource, row_cols: tuple[str, ...]) -> str:
    values = ", ".join(f"{_json_literal(col)}, CAST(c.\"{col}\" AS text)"
                       for col in sorted(set(source.columns.values())))
    columns = ", ".join(f"{_json_literal(a)}, {_json_literal(col)}" for a, col in source.columns.items())
    row = ", ".join(f"{_json_literal(col)}, CAST(c.\"{col}\" AS text)" for col in row_cols)
    related = ", ".join(
        f"{_json_literal(related_key(entity, key, division))}, coalesce((SELECT json_agg(j.{division} "
        f"ORDER BY j.source_agency COLLATE \"C\", j.source_record_id COLLATE \"C\") FROM {core}.\"{entity}\" j "
        f"WHERE j.\"{key}\" = c.\"{key}\"), '[]'::json)" for entity, key, division in RELATED.get(source.entity, ()))
    return (f"SELECT l.source_agency AS a, l.entity AS e, l.source_record_id AS r, l.role AS ro, json_build_object("
            f"'link', l.link_id, 'agency', l.source_agency, 'entity', l.entity, 'record', l.source_record_id, "
            f"'role', l.role, 'batch', l.batch_id, 'loaded_at', l.loaded_at, "
            f"'columns', json_build_object({columns}), 'values', json_build_object({values}), "
            f"'row', json_build_object({row}), 'related', json_build_object({related})) AS doc "
            f"FROM l JOIN {core}.\"{source.entity}\" c ON c.source_agency = l.source_agency "
            f"AND c.source_record_id = l.source_record_id "
            f"WHERE l.entity = {_json_literal(source.entity)} AND l.role = {_json_literal(source.role)}")


def _pg_evidence(core: str, columns: EvidenceColumns) -> str:
    """The profile statement's ``evidence`` member: :meth:`ProfileReader._evidence` in one subquery."""
    branches = "\n UNION ALL ".join(_pg_evidence_branch(core, s, columns.get(s.entity, ())) for s in PERSON_SOURCES)
    return (f"coalesce((SELECT json_agg(x.doc ORDER BY x.a COLLATE \"C\", x.e COLLATE \"C\", x.r COLLATE \"C\", "
            f"x.ro COLLATE \"C\") FROM ({branches}) x), '[]'::json)")


_IDENTITY_VALUES = ", ".join(f"({i}, '{f}', to_json(p.{f}), p.{f}_link)" for i, f in enumerate(GOLDEN_FIELDS))

# One statement per profile (PostgreSQL). Lists are ordered exactly as the portable reader
# orders them; a stable sort there is the ORDER BY here, ties broken by (agency, record).
_PG_PROFILE = """
WITH p AS (SELECT * FROM {mdm}.person WHERE {where} LIMIT 1),
l AS (SELECT pl.* FROM {mdm}.person_link pl JOIN p ON pl.person_uid = p.person_uid WHERE p.status = 'active'),
lk AS (SELECT entity, source_agency, source_record_id,
              array_agg(role ORDER BY role) AS roles FROM l GROUP BY 1, 2, 3),
hn AS (
  SELECT c.household_number AS number, 'member' AS relation FROM {core}.person c
    JOIN lk ON lk.entity = 'person' AND c.source_agency = lk.source_agency AND c.source_record_id = lk.source_record_id
   WHERE c.household_number IS NOT NULL
  UNION
  SELECT h.household_number, 'head' FROM {core}.household h
    JOIN lk ON lk.entity = 'household' AND h.source_agency = lk.source_agency
     AND h.source_record_id = lk.source_record_id)
SELECT p.person_uid, p.status, p.merged_into, CASE WHEN p.status <> 'active' THEN
  json_build_object('person_uid', p.person_uid, 'status', p.status, 'query', CAST(:q AS text))::text
ELSE json_build_object(
  'person_uid', p.person_uid, 'status', p.status, 'query', CAST(:q AS text),
  'identity', coalesce((
     SELECT json_object_agg(f.k, json_build_object('value', f.v, 'source', json_build_object(
              'agency', l.source_agency, 'entity', l.entity, 'record', l.source_record_id, 'batch', l.batch_id))
            ORDER BY f.i)
       FROM (VALUES {identity}) AS f(i, k, v, lk)
       LEFT JOIN l ON l.link_id = f.lk
      WHERE f.v IS NOT NULL AND f.v::text <> 'null'), '{{}}'::json),
  'agencies', coalesce((SELECT json_agg(a ORDER BY a) FROM (SELECT DISTINCT source_agency AS a FROM l) x),
                       '[]'::json),
  'records', coalesce((SELECT json_agg(json_build_object('agency', l.source_agency, 'entity', l.entity,
              'record', l.source_record_id, 'role', l.role, 'batch', l.batch_id, 'rule', l.match_rule,
              'probability', l.match_probability)
            ORDER BY l.source_agency, l.entity, l.source_record_id, l.role) FROM l), '[]'::json),
  'households', coalesce((SELECT json_agg(json_build_object(
       'household_number', n.number,
       'relation', (SELECT json_agg(r ORDER BY r) FROM (SELECT DISTINCT relation AS r FROM hn
                                                         WHERE hn.number = n.number) x),
       'registrations', coalesce((SELECT json_agg(json_build_object(
            'household_number', h.household_number, 'household_type', h.household_type, 'head_name', h.head_name,
            'address', h.address, 'division_code', h.division_code, 'member_count', h.member_count,
            'low_income', h.low_income, 'source', {src_h}) ORDER BY h.source_agency, h.source_record_id)
          FROM {core}.household h WHERE h.household_number = n.number), '[]'::json),
       'members', coalesce((SELECT json_agg(json_build_object('person_uid', m.person_uid, 'name', m.name,
            'gender', m.gender, 'birth_date', m.birth_date, 'sources', m.sources)
            ORDER BY m.person_uid IS DISTINCT FROM p.person_uid, coalesce(m.birth_date::text, ''), m.key)
          FROM (SELECT g.key, g.person_uid, g.sources,
                       CASE WHEN gp.person_uid IS NULL THEN g.name ELSE gp.name END AS name,
                       CASE WHEN gp.person_uid IS NULL THEN g.gender ELSE gp.gender END AS gender,
                       CASE WHEN gp.person_uid IS NULL THEN g.birth_date ELSE gp.birth_date END AS birth_date
                  FROM (
            SELECT coalesce(l2.person_uid, c.source_agency || '/' || c.source_record_id) AS key,
                   min(l2.person_uid) AS person_uid,
                   (array_agg(c.name ORDER BY c.source_agency, c.source_record_id))[1] AS name,
                   (array_agg(c.gender ORDER BY c.source_agency, c.source_record_id))[1] AS gender,
                   (array_agg(c.birth_date ORDER BY c.source_agency, c.source_record_id))[1] AS birth_date,
                   json_agg(json_build_object('agency', c.source_agency, 'record', c.source_record_id,
                            'batch', c._batch_id, 'name', c.name, 'gender', c.gender, 'birth_date', c.birth_date,
                            'division_code', c.division_code) ORDER BY c.source_agency, c.source_record_id) AS sources
              FROM {core}.person c
              LEFT JOIN {mdm}.person_link l2 ON l2.source_agency = c.source_agency AND l2.entity = 'person'
               AND l2.source_record_id = c.source_record_id AND l2.role = 'subject'
             WHERE c.household_number = n.number GROUP BY 1) g
                  LEFT JOIN {mdm}.person gp ON gp.person_uid = g.person_uid
            ORDER BY g.person_uid IS DISTINCT FROM p.person_uid,
                     coalesce((CASE WHEN gp.person_uid IS NULL THEN g.birth_date ELSE gp.birth_date END)::text, ''),
                     g.key
            LIMIT {max_members}) m), '[]'::json),
       'member_total', (SELECT count(DISTINCT coalesce(l3.person_uid, c.source_agency || '/' || c.source_record_id))
            FROM {core}.person c LEFT JOIN {mdm}.person_link l3 ON l3.source_agency = c.source_agency
             AND l3.entity = 'person' AND l3.source_record_id = c.source_record_id AND l3.role = 'subject'
           WHERE c.household_number = n.number))
     ORDER BY n.number) FROM (SELECT DISTINCT number FROM hn) n), '[]'::json),
  'cases', coalesce((SELECT json_agg(x.doc ORDER BY x.reported DESC, x.case_number, x.source_agency,
                                      x.source_record_id) FROM (
       SELECT cp.case_number, cp.source_agency, cp.source_record_id, coalesce(k.reported_date::text, '') AS reported,
              (jsonb_build_object('case_number', cp.case_number, 'role', cp.role, 'name_recorded', cp.name,
                                  'party_source', {src_cp})
               || CASE WHEN k.case_number IS NULL THEN '{{}}'::jsonb ELSE jsonb_build_object(
                    'case_type', k.case_type, 'title', k.title, 'occurred_at', k.occurred_at,
                    'reported_date', k.reported_date, 'division_code', k.division_code, 'address', k.address,
                    'status', k.status, 'handling_unit', k.handling_unit, 'source', {src_k}) END)::json AS doc
         FROM {core}.case_party cp
         JOIN lk ON lk.entity = 'case_party' AND cp.source_agency = lk.source_agency
          AND cp.source_record_id = lk.source_record_id
         LEFT JOIN LATERAL (SELECT * FROM {core}."case" kk WHERE kk.case_number = cp.case_number
                            ORDER BY kk.source_agency, kk.source_record_id LIMIT 1) k ON true) x), '[]'::json),
  'disputes', coalesce((SELECT json_agg(json_build_object(
       'dispute_number', d.dispute_number, 'category', d.category, 'status', d.status,
       'accepted_date', d.accepted_date, 'closed_date', d.closed_date, 'applicant_name', d.applicant_name,
       'respondent_name', d.respondent_name, 'division_code', d.division_code, 'amount', d.amount::text,
       'summary', d.summary, 'source', {src_d},
       'role', CASE WHEN cardinality(lk.roles) = 1 THEN to_json(lk.roles[1]) ELSE to_json(lk.roles) END)
     ORDER BY coalesce(d.accepted_date::text, '') DESC, d.source_agency, d.source_record_id)
     FROM {core}.dispute d JOIN lk ON lk.entity = 'dispute' AND d.source_agency = lk.source_agency
      AND d.source_record_id = lk.source_record_id), '[]'::json),
  'programmes', coalesce((SELECT json_agg(json_build_object(
       'programme', s.programme, 'managing_unit', s.managing_unit, 'risk_level', s.risk_level,
       'start_date', s.start_date, 'end_date', s.end_date, 'division_code', s.division_code, 'source', {src_s})
     ORDER BY coalesce(s.start_date::text, '') DESC, s.source_agency, s.source_record_id)
     FROM {core}.special_population s JOIN lk ON lk.entity = 'special_population'
      AND s.source_agency = lk.source_agency AND s.source_record_id = lk.source_record_id), '[]'::json),
  'organizations', coalesce((SELECT json_agg(json_build_object(
       'credit_code', o.credit_code, 'name', o.name, 'status', o.status, 'industry', o.industry,
       'division_code', o.division_code, 'established_date', o.established_date, 'source', {src_o},
       'role', 'legal_representative') ORDER BY o.credit_code, o.source_agency, o.source_record_id)
     FROM {core}.organization o JOIN lk ON lk.entity = 'organization' AND o.source_agency = lk.source_agency
      AND o.source_record_id = lk.source_record_id), '[]'::json),
  'reviews', coalesce((SELECT json_agg(json_build_object('review', v.review_id, 'record', v.source_agency || '/' ||
       v.entity || '/' || v.source_record_id, 'reason', v.reason) ORDER BY v.review_id)
     FROM {mdm}.review v WHERE v.status = 'pending' AND p.id_number IS NOT NULL
      AND v.candidate_ids LIKE '%' || p.id_number || '%'), '[]'::json){{evidence}}
)::text END AS body
FROM p
""".replace("{identity}", _IDENTITY_VALUES).replace("{max_members}", str(MAX_MEMBERS)) \
    .replace("{src_h}", _src("h")).replace("{src_cp}", _src("cp")).replace("{src_k}", _src("k")) \
    .replace("{src_d}", _src("d")).replace("{src_s}", _src("s")).replace("{src_o}", _src("o"))
