"""The PostgreSQL plan of ``exchange grants apply``: read the catalog's state of the managed roles,
schemas, views and privileges, and list every change that brings it to the grants, section by section."""


from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from exchange.access import hardening, sql
from exchange.access.changes import (
    MARK,
    OPERATOR_GROUP,
    PROTECTED,
    ROLE_PREFIX_ENV,
    Change,
    _dollar,
    _mark,
    _mask_body,
    _rows,
    _scalar,
    _uses_pseudonym,
    describe_rows,
    group_role,
    login_role,
    password_env,
)
from exchange.access.masks import consumer_key, master_key
from exchange.access.spec import Grant, GrantSet
from exchange.errors import ConfigError

log = logging.getLogger(__name__)



@dataclass
class PgState:
    roles: dict[str, dict[str, Any]]  # managed roles: name → attributes + consumer
    unmanaged: set[str]  # roles that exist without our mark
    members: dict[str, set[str]]  # login role → managed group roles it belongs to
    schemas: dict[str, str | None]  # share_* schemas → consumer mark (None: not ours)
    views: dict[tuple[str, str], dict[str, Any]]  # (schema, view) → {fingerprint, barrier, columns}
    relation_grants: list[tuple[str, str, str, str]]  # (grantee, schema, relation, privilege)
    schema_grants: list[tuple[str, str, str]]  # (grantee, schema, privilege)
    column_grants: list[tuple[str, str, str, str, str]]  # (grantee, schema, relation, column, privilege)
    functions: dict[str, str]  # share_fn function → body
    keys: dict[str, bytes]  # consumer → pseudonym key
    pgcrypto: str | None  # schema of pgcrypto, if installed
    fn_schema: bool


def _mark_consumer(comment: str | None) -> str | None:
    if comment and comment.startswith(MARK + " "):
        return comment.split()[1]
    return None


def read_pg_state(conn: Connection, prefix: str) -> PgState:
    like = prefix.replace("_", r"\_") + "%"
    roles: dict[str, dict[str, Any]] = {}
    unmanaged: set[str] = set()
    for r in _rows(conn, "SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreatedb, r.rolcreaterole, "
                         "r.rolreplication, r.rolbypassrls, r.rolinherit, shobj_description(r.oid, 'pg_authid') AS c "
                         "FROM pg_roles r WHERE r.rolname LIKE :like", like=like):
        consumer = _mark_consumer(r.c)
        if consumer is None:
            unmanaged.add(r.rolname)
            continue
        roles[r.rolname] = {"consumer": consumer, "login": r.rolcanlogin, "inherit": r.rolinherit,
                            "elevated": any((r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolreplication,
                                             r.rolbypassrls))}
    members: dict[str, set[str]] = {}  # every role's memberships in managed roles (and logins' in any role)
    for r in _rows(conn, "SELECT m.rolname AS member, g.rolname AS grp FROM pg_auth_members a "
                         "JOIN pg_roles m ON m.oid = a.member JOIN pg_roles g ON g.oid = a.roleid "
                         "WHERE m.rolname LIKE :like OR g.rolname LIKE :like", like=like):
        if r.grp in roles or r.member in roles:
            members.setdefault(r.member, set()).add(r.grp)
    schemas = {r.nspname: _mark_consumer(r.c) for r in _rows(
        conn, r"SELECT n.nspname, obj_description(n.oid, 'pg_namespace') AS c FROM pg_namespace n "
              r"WHERE n.nspname LIKE 'share\_%' AND n.nspname <> :fn", fn=sql.FN_SCHEMA)}
    views: dict[tuple[str, str], dict[str, Any]] = {}
    for r in _rows(conn, r"SELECT n.nspname, c.relname, c.relkind, c.reloptions, "
                         r"obj_description(c.oid, 'pg_class') AS c, "
                         r"ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 "
                         r"AND NOT a.attisdropped ORDER BY a.attnum) AS cols "
                         r"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                         r"WHERE n.nspname LIKE 'share\_%' AND n.nspname <> :fn "
                         r"AND c.relkind IN ('v', 'm', 'r', 'p', 'f')", fn=sql.FN_SCHEMA):
        comment = r.c or ""
        m = re.search(r"sha256:([0-9a-f]{16})\]$", comment)
        views[(r.nspname, r.relname)] = {
            "kind": r.relkind, "fingerprint": m.group(1) if m else None, "columns": list(r.cols or []),
            "barrier": any(o in ("security_barrier=true", "security_barrier=on") for o in (r.reloptions or []))}
    watched = [*roles, "PUBLIC"]
    grantee = r"CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee"
    relation_grants = []
    for r in _rows(conn, f"SELECT {grantee}, "
                         r"n.nspname, c.relname, a.privilege_type FROM pg_class c "
                         r"JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a "
                         r"WHERE c.relacl IS NOT NULL AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S') "
                         r"AND (n.nspname = ANY(:protected) OR n.nspname LIKE 'share\_%')",
                     protected=list(PROTECTED)):
        if r.grantee in watched:
            relation_grants.append((r.grantee, r.nspname, r.relname, r.privilege_type))
    schema_grants = []
    for r in _rows(conn, f"SELECT {grantee}, "
                         r"n.nspname, a.privilege_type FROM pg_namespace n, aclexplode(n.nspacl) a "
                         r"WHERE n.nspacl IS NOT NULL AND (n.nspname = ANY(:protected) OR n.nspname LIKE 'share\_%')",
                     protected=list(PROTECTED)):
        if r.grantee in watched:
            schema_grants.append((r.grantee, r.nspname, r.privilege_type))
    column_grants = []
    for r in _rows(conn, f"SELECT {grantee}, "
                         r"n.nspname, c.relname, att.attname, a.privilege_type FROM pg_attribute att "
                         r"JOIN pg_class c ON c.oid = att.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace, "
                         r"aclexplode(att.attacl) a WHERE att.attacl IS NOT NULL AND NOT att.attisdropped "
                         r"AND (n.nspname = ANY(:protected) OR n.nspname LIKE 'share\_%')",
                     protected=list(PROTECTED)):
        if r.grantee in watched:
            column_grants.append((r.grantee, r.nspname, r.relname, r.attname, r.privilege_type))
    fn_schema = bool(_scalar(conn, "SELECT count(*) FROM pg_namespace WHERE nspname = :fn", fn=sql.FN_SCHEMA))
    functions = {r.proname: r.prosrc for r in _rows(
        conn, "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
              "WHERE n.nspname = :fn", fn=sql.FN_SCHEMA)}
    keys: dict[str, bytes] = {}
    if _scalar(conn, "SELECT to_regclass(:t) IS NOT NULL", t=f"{sql.FN_SCHEMA}.{sql.KEY_TABLE}"):
        keys = {r.consumer: bytes(r.key) for r in _rows(
            conn, f"SELECT consumer, key FROM {sql.FN_SCHEMA}.{sql.KEY_TABLE}")}
    pgcrypto = _scalar(conn, "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                             "WHERE e.extname = 'pgcrypto'")
    return PgState(roles, unmanaged, members, schemas, views, relation_grants, schema_grants, column_grants,
                   functions, keys, pgcrypto, fn_schema)


# --- PostgreSQL: the plan -----------------------------------------------------------------------------------


def plan_pg(conn: Connection, grants: GrantSet, *, prefix: str, env: dict[str, str] | None = None,
            reset_passwords: bool = False) -> list[Change]:
    """Every change that brings the database to the grants, in the order they are applied: mask functions
    and keys, roles and memberships, schemas and views, privileges, removed consumers, hardening."""
    env = dict(os.environ if env is None else env)
    st = read_pg_state(conn, prefix)
    wanted_roles = _refuse_unmanaged(st, grants, prefix)
    changes, pgcrypto = _plan_functions(conn, st, grants)
    changes += _plan_keys(st, grants, env)
    changes += _plan_roles(st, grants, prefix, env, reset_passwords)
    changes += _plan_memberships(st, grants, prefix)
    view_changes, wanted_views = _plan_views(conn, st, grants, pgcrypto)
    changes += view_changes
    changes += _plan_privileges(st, grants, prefix, wanted_views, changes)
    changes += _plan_removed_roles(conn, st, grants, set(wanted_roles))  # logins before their group
    # what else could undo a grant: owners, SECURITY DEFINER functions, default and database privileges
    changes += _plan_hardening(conn, st, grants, prefix)
    return changes


def _refuse_unmanaged(st: PgState, grants: GrantSet, prefix: str) -> dict[str, str]:
    """The roles the grants want (role → consumer); refuse to take over roles or schemas we did not create."""
    wanted_roles = {group_role(prefix, g.consumer): g.consumer for g in grants}
    wanted_roles.update({login_role(prefix, g.consumer, lg): g.consumer for g in grants for lg in g.logins})
    clashes = sorted(r for r in wanted_roles if r in st.unmanaged)
    if clashes:
        raise ConfigError("these roles exist but were not created by `exchange grants apply` (no "
                          f"'{MARK}' comment); rename the consumer or login, or set {ROLE_PREFIX_ENV}",
                          [f"role {r} (grant {wanted_roles[r]})" for r in clashes])
    clashes = sorted(s for s, mark in st.schemas.items() if mark is None
                     and s in {g.schema_name for g in grants})
    if clashes:
        raise ConfigError("these schemas exist but were not created by `exchange grants apply`; drop or rename them",
                          clashes)
    return wanted_roles


def _plan_functions(conn: Connection, st: PgState, grants: GrantSet) -> tuple[list[Change], str | None]:
    """share_fn: the mask functions, the pseudonym key table and pgcrypto; (changes, pgcrypto's schema)."""
    changes: list[Change] = []
    need_crypto = any(_uses_pseudonym(g) for g in grants)
    fn_stmts = []
    if not st.fn_schema or any(st.functions.get(n) != _mask_body(n) for n in sql.MASK_FUNCTIONS) \
            or not _scalar(conn, "SELECT to_regclass(:t) IS NOT NULL", t=f"{sql.FN_SCHEMA}.{sql.KEY_TABLE}"):
        fn_stmts = sql.function_ddl()
        changes.append(Change("*", "create_functions", sql.FN_SCHEMA,
                              f"mask functions {', '.join(sql.MASK_FUNCTIONS)} and the pseudonym key table",
                              tuple(fn_stmts)))
    pgcrypto = st.pgcrypto
    if need_crypto and pgcrypto is None:
        changes.append(Change("*", "create_extension", "pgcrypto", "hmac() for pseudonym masks",
                              ("CREATE EXTENSION IF NOT EXISTS pgcrypto",)))
        pgcrypto = "public"  # re-read after it is created (see apply_changes); public is the default
    return changes, pgcrypto


def _plan_keys(st: PgState, grants: GrantSet, env: dict[str, str]) -> list[Change]:
    """One pseudonym key per consumer whose grant pseudonymises a column, derived from the master key."""
    changes: list[Change] = []
    need_crypto = any(_uses_pseudonym(g) for g in grants)
    wanted_keys: dict[str, bytes] = {}
    if need_crypto:
        master = master_key(env)
        wanted_keys = {g.consumer: consumer_key(master, g.consumer) for g in grants if _uses_pseudonym(g)}
    for consumer, key in sorted(wanted_keys.items()):
        if st.keys.get(consumer) != key:
            key_id = hashlib.sha256(key).hexdigest()[:12]
            what = "rotated (EXCHANGE_PSEUDONYM_KEY changed: every pseudonym changes)" if consumer in st.keys \
                else "set"
            changes.append(Change(consumer, "set_pseudonym_key", f"{sql.FN_SCHEMA}.{sql.KEY_TABLE}",
                                  f"key {key_id} {what}", (), (
                f"INSERT INTO {sql.FN_SCHEMA}.{sql.KEY_TABLE} (consumer, key, key_id) VALUES "
                f"({sql.literal(consumer)}, '\\x{key.hex()}'::bytea, {sql.literal(key_id)}) "
                f"ON CONFLICT (consumer) DO UPDATE SET key = EXCLUDED.key, key_id = EXCLUDED.key_id",)))
    for consumer in sorted(set(st.keys) - set(wanted_keys)):
        changes.append(Change(consumer, "drop_pseudonym_key", f"{sql.FN_SCHEMA}.{sql.KEY_TABLE}",
                              "no pseudonym mask left", (
            f"DELETE FROM {sql.FN_SCHEMA}.{sql.KEY_TABLE} WHERE consumer = {sql.literal(consumer)}",)))
    return changes


def _plan_roles(st: PgState, grants: GrantSet, prefix: str, env: dict[str, str],
                reset_passwords: bool) -> list[Change]:
    """A NOLOGIN group role per consumer and its login roles, members of it and of nothing else."""
    changes: list[Change] = []
    q = sql.ident
    for g in grants:
        grp = group_role(prefix, g.consumer)
        mark = f"COMMENT ON ROLE {q(grp)} IS {_mark(g.consumer)}"
        have = st.roles.get(grp)
        if have is None:
            changes.append(Change(g.consumer, "create_role", grp, "group role (NOLOGIN) of the consumer agency",
                                  (f"CREATE ROLE {q(grp)} NOLOGIN NOINHERIT", mark)))
        elif have["login"] or have["elevated"] or have["consumer"] != g.consumer:
            changes.append(Change(g.consumer, "alter_role", grp, "reset to NOLOGIN without special attributes", (
                f"ALTER ROLE {q(grp)} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
                mark)))
        for lg in g.logins:
            name = login_role(prefix, g.consumer, lg)
            pw = env.get(password_env(g.consumer, lg))
            lmark = f"COMMENT ON ROLE {q(name)} IS {_mark(g.consumer, 'login')}"
            have = st.roles.get(name)
            if have is None:
                secret = (f"ALTER ROLE {q(name)} PASSWORD {_dollar(pw)}",) if pw else ()
                note = "" if pw else f"; no password: set {password_env(g.consumer, lg)} and apply with --passwords"
                changes.append(Change(g.consumer, "create_login", name, f"login role in {grp}{note}", (
                    f"CREATE ROLE {q(name)} LOGIN INHERIT", lmark, f"GRANT {q(grp)} TO {q(name)}"), secret))
                continue
            if not have["login"] or not have["inherit"] or have["elevated"] or have["consumer"] != g.consumer:
                changes.append(Change(g.consumer, "alter_login", name, "reset to LOGIN INHERIT without special "
                                      "attributes", (f"ALTER ROLE {q(name)} LOGIN INHERIT NOSUPERUSER NOCREATEDB "
                                                     f"NOCREATEROLE NOREPLICATION NOBYPASSRLS", lmark)))
            groups = st.members.get(name, set())
            if grp not in groups:
                changes.append(Change(g.consumer, "grant_membership", name, f"member of {grp}",
                                      (f"GRANT {q(grp)} TO {q(name)}",)))
            for other in sorted(groups - {grp}):
                changes.append(Change(g.consumer, "revoke_membership", name, f"not a member of {other}",
                                      (f"REVOKE {q(other)} FROM {q(name)}",)))
            if reset_passwords and pw:
                changes.append(Change(g.consumer, "set_password", name, f"password from {password_env(g.consumer, lg)}",
                                      (), (f"ALTER ROLE {q(name)} PASSWORD {_dollar(pw)}",)))
    return changes


def _plan_memberships(st: PgState, grants: GrantSet, prefix: str) -> list[Change]:
    """A group role belongs to no role; a managed group has only its grant's logins as members."""
    changes: list[Change] = []
    q = sql.ident
    current_logins = {login_role(prefix, g.consumer, lg) for g in grants for lg in g.logins}
    for member, groups in sorted(st.members.items()):
        info = st.roles.get(member)
        if member in current_logins or (info is not None and info["consumer"] not in grants.grants):
            continue  # logins are handled above; roles of removed grants are dropped below
        for grp in sorted(groups):
            if info is None and grp not in st.roles:
                continue
            owner = info["consumer"] if info is not None else st.roles[grp]["consumer"]
            changes.append(Change(owner, "revoke_membership", member, f"not a member of {grp}",
                                  (f"REVOKE {q(grp)} FROM {q(member)}",)))
    return changes


def _plan_views(conn: Connection, st: PgState, grants: GrantSet, pgcrypto: str | None
                ) -> tuple[list[Change], dict[tuple[str, str], tuple[Grant, Any, str]]]:
    """The share schemas and their views (plain or materialized, as the grant's rows need), replaced where
    their definition drifted; (changes, (schema, entity) → (grant, share, select))."""
    changes: list[Change] = []
    q = sql.ident
    wanted_views: dict[tuple[str, str], tuple[Grant, Any, str]] = {}
    for g in grants:
        for entity, share in g.entities.items():
            select = sql.select_sql(g, share, "postgresql", pgcrypto or "public")
            wanted_views[(g.schema_name, entity)] = (g, share, select)
    for g in grants:
        sch = g.schema_name
        if sch not in st.schemas:
            changes.append(Change(g.consumer, "create_schema", sch, f"views shared with {g.consumer}", (
                f"CREATE SCHEMA {q(sch)}",
                f"COMMENT ON SCHEMA {q(sch)} IS {_mark(g.consumer)}",
                f"REVOKE ALL ON SCHEMA {q(sch)} FROM PUBLIC")))
        for entity, share in g.entities.items():
            _, _, select = wanted_views[(sch, entity)]
            have = st.views.get((sch, entity))
            fp = sql.fingerprint(select)
            create = tuple(sql.create_view(g, share, "postgresql", pgcrypto or "public"))
            masks = ", ".join(f"{r.name}={r.mask_label}" for r in share.columns if r.treatment != "full") or "none"
            detail = (f"{len(share.columns)} column(s), {len(share.hidden)} hidden; masks: {masks}; rows: "
                      f"{describe_rows(share)}")
            if have is None:
                changes.append(Change(g.consumer, "create_view", f"{sch}.{entity}", detail, create))
            elif have["kind"] != sql.relation_kind(share) or have["fingerprint"] != fp \
                    or (have["kind"] == "v" and not have["barrier"]):
                why = (f"not a {_KIND_NAME[sql.relation_kind(share)]}" if have["kind"] != sql.relation_kind(share)
                       else "not security_barrier" if have["kind"] == "v" and not have["barrier"]
                       else "definition differs from the grant")
                drop = f"DROP {_DROP.get(have['kind'], 'TABLE')} {q(sch)}.{q(entity)} CASCADE"
                changes.append(Change(g.consumer, "replace_view", f"{sch}.{entity}", f"{why}; {detail}",
                                      (drop, *create)))
    replacing = {c.object for c in changes if c.action in ("create_view", "replace_view")}
    edited = hardening.view_differences(conn, {key: (select, sql.relation_kind(share))
                                               for key, (_g, share, select) in wanted_views.items()
                                               if f"{key[0]}.{key[1]}" not in replacing})
    for (sch, entity), why in sorted(edited.items()):
        g, share, _select = wanted_views[(sch, entity)]
        create = tuple(sql.create_view(g, share, "postgresql", pgcrypto or "public"))
        changes.append(Change(g.consumer, "replace_view", f"{sch}.{entity}", why,
                              (f"DROP {_DROP[sql.relation_kind(share)]} {q(sch)}.{q(entity)} CASCADE", *create)))
    for (sch, rel), have in sorted(st.views.items()):
        mark = st.schemas.get(sch)
        if mark is not None and (sch, rel) not in wanted_views and sch in {g.schema_name for g in grants}:
            kind = _DROP.get(have["kind"])
            if kind:
                changes.append(Change(mark, "drop_view", f"{sch}.{rel}", "no longer granted",
                                      (f"DROP {kind} {q(sch)}.{q(rel)} CASCADE",)))
    for sch, mark in sorted(st.schemas.items()):
        if mark is not None and mark not in grants.grants:
            changes.append(Change(mark, "drop_schema", sch, "grant file removed",
                                  (f"DROP SCHEMA {q(sch)} CASCADE",)))
    return changes, wanted_views


def _plan_privileges(st: PgState, grants: GrantSet, prefix: str,
                     wanted_views: dict[tuple[str, str], tuple[Grant, Any, str]],
                     planned: list[Change]) -> list[Change]:
    """Exactly USAGE on the own share schema and SELECT on its views; every other privilege revoked
    (``planned``: the changes so far, which create, replace or drop roles and views)."""
    changes: list[Change] = []
    q = sql.ident
    wanted_rel = {(group_role(prefix, s.split("share_", 1)[1]), s, e, "SELECT") for (s, e) in wanted_views}
    wanted_sch = {(group_role(prefix, g.consumer), g.schema_name, "USAGE") for g in grants}
    replaced = {c.object for c in planned if c.action in ("create_view", "replace_view")}
    new_roles = {c.object for c in planned if c.action in ("create_role", "create_login")}
    have_rel = set(st.relation_grants)
    have_sch = set(st.schema_grants)
    for grantee, sch, rel, priv in sorted(wanted_rel):
        if f"{sch}.{rel}" in replaced or grantee in new_roles or (grantee, sch, rel, priv) not in have_rel:
            changes.append(Change(grantee.removeprefix(prefix), "grant_select", f"{sch}.{rel}", f"SELECT to {grantee}",
                                  (f"GRANT SELECT ON {q(sch)}.{q(rel)} TO {q(grantee)}",)))
    for grantee, sch, priv in sorted(wanted_sch):
        if grantee in new_roles or (grantee, sch, priv) not in have_sch:
            changes.append(Change(grantee.removeprefix(prefix), "grant_usage", sch, f"USAGE to {grantee}",
                                  (f"GRANT USAGE ON SCHEMA {q(sch)} TO {q(grantee)}",)))
    dropping_schemas = {c.object for c in planned if c.action == "drop_schema"}
    dropping_views = {c.object for c in planned if c.action in ("drop_view", "replace_view")}
    extra_rel: dict[tuple[str, str, str], list[str]] = {}
    for grantee, sch, rel, priv in sorted(have_rel - wanted_rel):
        if sch in dropping_schemas or f"{sch}.{rel}" in dropping_views:
            continue
        extra_rel.setdefault((grantee, sch, rel), []).append(priv)
    for (grantee, sch, rel), privs in sorted(extra_rel.items()):
        who = "PUBLIC" if grantee == "PUBLIC" else q(grantee)
        changes.append(Change(_consumer_of(grantee, st), "revoke", f"{sch}.{rel}",
                              f"{', '.join(privs)} held by {grantee}",
                              (f"REVOKE {', '.join(privs)} ON {q(sch)}.{q(rel)} FROM {who}",)))
    for grantee, sch, rel, col, priv in sorted(st.column_grants):
        if sch in dropping_schemas or f"{sch}.{rel}" in dropping_views:
            continue
        who = "PUBLIC" if grantee == "PUBLIC" else q(grantee)
        changes.append(Change(_consumer_of(grantee, st), "revoke", f"{sch}.{rel}.{col}",
                              f"column privilege {priv} held by {grantee}",
                              (f"REVOKE {priv} ({q(col)}) ON {q(sch)}.{q(rel)} FROM {who}",)))
    extra_sch: dict[tuple[str, str], list[str]] = {}
    for grantee, sch, priv in sorted(have_sch - wanted_sch):
        if sch in dropping_schemas:
            continue
        extra_sch.setdefault((grantee, sch), []).append(priv)
    for (grantee, sch), privs in sorted(extra_sch.items()):
        who = "PUBLIC" if grantee == "PUBLIC" else q(grantee)
        changes.append(Change(_consumer_of(grantee, st), "revoke", sch, f"{', '.join(privs)} on the schema held by "
                              f"{grantee}", (f"REVOKE {', '.join(privs)} ON SCHEMA {q(sch)} FROM {who}",)))
    return changes


def _plan_removed_roles(conn: Connection, st: PgState, grants: GrantSet, wanted_roles: set[str]) -> list[Change]:
    """Drop the roles of removed grants and logins; one that owns objects in another database is
    disabled instead (and so is one whose drop fails at apply: its ``fallback``)."""
    q = sql.ident
    changes = []
    gone = sorted(((name, info) for name, info in st.roles.items() if info["consumer"] not in grants.grants
                   or (info["login"] and name not in wanted_roles)),
                  key=lambda item: (not item[1]["login"], item[0]))
    for name, info in gone:
        disable = (f"DROP OWNED BY {q(name)}", f"ALTER ROLE {q(name)} NOLOGIN NOINHERIT",
                   *(f"REVOKE {q(grp)} FROM {q(name)}" for grp in sorted(st.members.get(name, ()))),
                   _terminate(name))
        elsewhere = _owned_elsewhere(conn, name)
        if elsewhere:  # it cannot be dropped from here: disable it, and say what is left to do
            changes.append(Change(info["consumer"], "drop_role_refused", name, f"grant or login removed, but the "
                                  f"role owns objects in {elsewhere}: its logins are disabled and its privileges here "
                                  f"revoked; run REASSIGN OWNED BY {name} TO <owner> and DROP OWNED BY {name} in "
                                  f"that database, then apply again", disable))
            continue
        changes.append(Change(info["consumer"], "drop_role", name, "grant or login removed",
                              (_terminate(name), f"DROP OWNED BY {q(name)}", f"DROP ROLE {q(name)}"), fallback=disable))
    return changes


def _plan_hardening(conn: Connection, st: PgState, grants: GrantSet, prefix: str) -> list[Change]:
    """``exchange.access.hardening``'s planners, for the roles the exchange manages (consumers and the
    operators' read-only roles)."""
    operators = {r.rolname for r in _rows(conn, "SELECT rolname FROM pg_roles WHERE rolname = :g OR "
                                                "starts_with(rolname, :g || '__')", g=f"{prefix}{OPERATOR_GROUP}")}
    managed = set(st.roles) | operators
    groups = {group_role(prefix, g.consumer) for g in grants} | ({f"{prefix}{OPERATOR_GROUP}"} & operators)
    return [*hardening.plan_ownership(conn, managed, Change), *hardening.plan_functions(conn, managed, Change),
            *hardening.plan_default_privileges(conn, managed, Change),
            *hardening.plan_database(conn, groups, managed, Change), *hardening.plan_catalog(conn, Change)]


_DROP = {"v": "VIEW", "m": "MATERIALIZED VIEW", "r": "TABLE", "p": "TABLE", "f": "FOREIGN TABLE"}
_KIND_NAME = {"v": "security_barrier view", "m": "materialized view"}


def _terminate(role: str) -> str:
    """End every session of ``role`` (its access is being taken away)."""
    return f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = {sql.literal(role)}"


def _owned_elsewhere(conn: Connection, role: str) -> str:
    """Other databases in which ``role`` owns objects or holds privileges ('' when none)."""
    rows = _rows(conn, "SELECT d.datname, count(*) AS n FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid "
                       "WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = (SELECT oid FROM pg_roles "
                       "WHERE rolname = :r) AND s.dbid <> (SELECT oid FROM pg_database WHERE datname = "
                       "current_database()) GROUP BY 1 ORDER BY 1", r=role)
    return ", ".join(f"database {r.datname} ({r.n} object(s))" for r in rows)


def _consumer_of(grantee: str, st: PgState) -> str:
    info = st.roles.get(grantee)
    return info["consumer"] if info else "*"
