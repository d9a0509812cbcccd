"""What ``grants check`` looks at beyond roles, views and their privileges (PostgreSQL).

A grant can be undone without touching a single privilege the plan already compares: a view edited in
place (``CREATE OR REPLACE VIEW`` keeps its comment, hence its fingerprint), an exchange table handed to
a consumer (``ALTER TABLE … OWNER TO``), a SECURITY DEFINER function anyone may call, default privileges
that give the next table away, database-level CONNECT / TEMPORARY / CREATE for PUBLIC. Each planner here
reads the catalog and returns :class:`~exchange.access.changes.Change` objects that remove the difference;
``Change.refused`` marks what the exchange will not do itself (it says what to do instead).

The expected state:

- every schema, table, view, sequence and function of ``core``, ``quarantine``, ``mdm``, ``audit``,
  ``share_fn`` and ``share_*`` is owned by the role applying the grants (the warehouse owner);
- a shared view's definition is exactly what its grant compiles to (compared as PostgreSQL deparses
  both: the compiled SELECT is created as a temporary view inside a savepoint that is rolled back), with
  ``security_barrier`` and no other option;
- no SECURITY DEFINER function outside the system and extensions is executable by PUBLIC or a role the
  exchange manages;
- no default privilege gives anything to PUBLIC or a managed role;
- on the warehouse database PUBLIC holds nothing; each consumer group and the operator group hold
  CONNECT only; no managed role may CREATE in schema ``public``;
- a managed role owns nothing in this database (large objects are reassigned to the warehouse owner).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from exchange.access import sql

EXCHANGE_SCHEMAS = ("core", "quarantine", "mdm", "audit", sql.FN_SCHEMA)
OBJECT_KIND = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE",
               "f": "FOREIGN TABLE"}
DEFAULT_KIND = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS"}
VIEW_OPTIONS = ["security_barrier=true"]


def _rows(conn: Connection, query: str, **params: Any) -> list[Any]:
    return list(conn.execute(text(query), params))


def _who(role: str) -> str:
    return "PUBLIC" if role == "PUBLIC" else sql.ident(role) if _plain(role) else '"' + role.replace('"', '""') + '"'


def _plain(role: str) -> bool:
    try:
        sql.ident(role)
    except ValueError:
        return False
    return True


def compiled_definition(conn: Connection, select: str) -> str:
    """How PostgreSQL deparses ``select`` as a view (created as a temporary view, then rolled back)."""
    nested = conn.begin_nested()
    cursor = conn.connection.cursor()  # verbatim: the SELECT holds LIKE '6109%' patterns, no placeholders
    try:
        cursor.execute(f"CREATE TEMPORARY VIEW exchange_view_probe WITH (security_barrier = true) AS {select}")
        cursor.execute("SELECT pg_get_viewdef('pg_temp.exchange_view_probe'::regclass)")
        return cursor.fetchone()[0]
    finally:
        cursor.close()
        nested.rollback()


def view_differences(conn: Connection, wanted: dict[tuple[str, str], tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(schema, view) → why the view in the database is not what its grant compiles to; ``wanted`` maps
    each to (its SELECT, its relkind). Only relations of the right kind that exist are compared (a missing
    or mistyped one is the plan's own ``create_view`` / ``replace_view``)."""
    actual = {(r.nspname, r.relname): r for r in _rows(
        conn, r"SELECT n.nspname, c.relname, c.relkind, pg_get_viewdef(c.oid) AS definition, "
              r"coalesce(c.reloptions, '{}') AS options FROM pg_class c "
              r"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') "
              r"AND n.nspname LIKE 'share\_%'")}
    out = {}
    for key, (select, kind) in sorted(wanted.items()):
        have = actual.get(key)
        if have is None or have.relkind != kind:
            continue
        options = sorted(o.replace("=on", "=true") for o in have.options)
        expected = VIEW_OPTIONS if kind == "v" else []
        if options != expected:
            out[key] = f"options {options} differ from {expected}"
        elif have.definition != compiled_definition(conn, select):
            out[key] = "definition edited in place: it differs from what the grant compiles to"
    return out


def plan_ownership(conn: Connection, managed: set[str], change: Any) -> list[Any]:
    """Exchange objects owned by anyone but the warehouse owner; anything a managed role owns here."""
    changes = []
    schemas = list(EXCHANGE_SCHEMAS)
    for r in _rows(conn, r"SELECT n.nspname, pg_get_userbyid(n.nspowner) AS owner FROM pg_namespace n "
                         r"WHERE (n.nspname = ANY(:s) OR n.nspname LIKE 'share\_%') "
                         r"AND n.nspowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)", s=schemas):
        changes.append(change("*", "alter_owner", r.nspname, f"schema owned by {r.owner}, not the warehouse owner",
                              (f"ALTER SCHEMA {sql.ident(r.nspname)} OWNER TO CURRENT_USER",)))
    for r in _rows(conn, r"SELECT n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner) AS owner "
                         r"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                         r"WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
                         r"AND (n.nspname = ANY(:s) OR n.nspname LIKE 'share\_%') "
                         r"AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) "
                         r"AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
                         r"AND d.objid = c.oid AND d.deptype IN ('a', 'i')) ORDER BY 1, 2", s=schemas):
        name = f"{sql.ident(r.nspname)}.{sql.ident(r.relname)}" if _plain(r.relname) else None
        if name is None:
            changes.append(change("*", "refused", f"{r.nspname}.{r.relname}", f"owned by {r.owner}; the name is not "
                                  "one the exchange creates: drop or rename it by hand"))
            continue
        changes.append(change("*", "alter_owner", f"{r.nspname}.{r.relname}", f"{OBJECT_KIND[r.relkind].lower()} "
                              f"owned by {r.owner}, not the warehouse owner",
                              (f"ALTER {OBJECT_KIND[r.relkind]} {name} OWNER TO CURRENT_USER",)))
    for r in _rows(conn, "SELECT p.oid::regprocedure::text AS fn, pg_get_userbyid(p.proowner) AS owner "
                         "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY(:s) "
                         "AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) "
                         "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') "
                         "ORDER BY 1", s=schemas):
        changes.append(change("*", "alter_owner", r.fn, f"function owned by {r.owner}, not the warehouse owner",
                              (f"ALTER FUNCTION {r.fn} OWNER TO CURRENT_USER",)))
    if managed:
        for r in _rows(conn, "SELECT m.oid, pg_get_userbyid(m.lomowner) AS owner FROM pg_largeobject_metadata m "
                             "WHERE pg_get_userbyid(m.lomowner) = ANY(:roles) ORDER BY 1", roles=sorted(managed)):
            changes.append(change("*", "alter_owner", f"large object {r.oid}", f"owned by {r.owner}: a consumer "
                                  f"owns nothing in the warehouse", (f"ALTER LARGE OBJECT {int(r.oid)} OWNER TO "
                                                                     f"CURRENT_USER",)))
    return changes


def plan_functions(conn: Connection, managed: set[str], change: Any) -> list[Any]:
    """SECURITY DEFINER functions (outside the system and extensions) that PUBLIC or a managed role may run."""
    watched = {"PUBLIC", *managed}
    grantee = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END"
    found: dict[str, list[str]] = {}
    for r in _rows(conn, f"SELECT p.oid::regprocedure::text AS fn, {grantee} AS grantee FROM pg_proc p "
                         "JOIN pg_namespace n ON n.oid = p.pronamespace, "
                         "aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a "
                         "WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                         "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') "
                         "AND a.privilege_type = 'EXECUTE' ORDER BY 1, 2"):
        if r.grantee in watched:
            found.setdefault(r.fn, []).append(r.grantee)
    return [change("*", "revoke_execute", fn, f"SECURITY DEFINER function executable by {', '.join(who)}: it runs "
                   f"with its owner's rights", tuple(f"REVOKE EXECUTE ON FUNCTION {fn} FROM {_who(w)}" for w in who))
            for fn, who in sorted(found.items())]


def plan_default_privileges(conn: Connection, managed: set[str], change: Any) -> list[Any]:
    """Default privileges (ALTER DEFAULT PRIVILEGES) that give future objects to PUBLIC or a managed role."""
    grantee = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END"
    out = []
    for r in _rows(conn, f"SELECT pg_get_userbyid(d.defaclrole) AS owner, n.nspname, d.defaclobjtype AS kind, "
                         f"{grantee} AS grantee, string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) "
                         f"AS privs FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace, "
                         f"aclexplode(d.defaclacl) a GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"):
        builtin = r.grantee == "PUBLIC" and r.kind in ("f", "T") and r.nspname is None
        if builtin or (r.grantee != "PUBLIC" and r.grantee not in managed):
            continue
        where = f" IN SCHEMA {_who(r.nspname)}" if r.nspname else ""
        out.append(change("*", "revoke_default", f"default privileges of {r.owner}{where.lower()}",
                          f"{r.privs} on future {DEFAULT_KIND.get(r.kind, r.kind).lower()} for {r.grantee}",
                          (f"ALTER DEFAULT PRIVILEGES FOR ROLE {_who(r.owner)}{where} REVOKE ALL ON "
                           f"{DEFAULT_KIND[r.kind]} FROM {_who(r.grantee)}",)))
    return out


def plan_database(conn: Connection, groups: set[str], managed: set[str], change: Any) -> list[Any]:
    """The warehouse database: PUBLIC holds nothing; ``groups`` hold CONNECT only; no managed role may
    CREATE in schema public."""
    db = conn.execute(text("SELECT current_database()")).scalar_one()
    grantee = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END"
    have: dict[str, set[str]] = {}
    for r in _rows(conn, f"SELECT {grantee} AS grantee, a.privilege_type FROM pg_database d, "
                         f"aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a WHERE d.datname = :db", db=db):
        have.setdefault(r.grantee, set()).add(r.privilege_type)
    name = '"' + db.replace('"', '""') + '"'
    out = []
    for who in sorted({"PUBLIC", *managed} & set(have)):
        extra = sorted(have[who] - ({"CONNECT"} if who in groups else set()))
        if extra:
            out.append(change("*", "revoke_database", db, f"{', '.join(extra)} on the database held by {who}",
                              (f"REVOKE {', '.join(extra)} ON DATABASE {name} FROM {_who(who)}",)))
    for who in sorted(groups):
        if "CONNECT" not in have.get(who, set()):
            out.append(change("*", "grant_connect", db, f"CONNECT to {who} (PUBLIC has none)",
                              (f"GRANT CONNECT ON DATABASE {name} TO {_who(who)}",)))
    for r in _rows(conn, f"SELECT {grantee} AS grantee FROM pg_namespace n, aclexplode(coalesce(n.nspacl, "
                         f"acldefault('n', n.nspowner))) a WHERE n.nspname = 'public' AND a.privilege_type = 'CREATE'"):
        if r.grantee == "PUBLIC" or r.grantee in managed:
            out.append(change("*", "revoke", "public", f"CREATE on schema public held by {r.grantee}",
                              (f"REVOKE CREATE ON SCHEMA public FROM {_who(r.grantee)}",)))
    return out


CATALOG_RELATIONS = ("pg_views", "pg_matviews", "pg_rewrite", "pg_stat_all_tables", "pg_stat_user_tables",
                     "pg_stat_xact_all_tables", "pg_stat_xact_user_tables", "pg_statio_all_tables",
                     "pg_statio_user_tables", "pg_stat_all_indexes", "pg_stat_user_indexes")
"""System views PUBLIC may read by default that tell a consumer about data it may not read: other
agencies' view definitions (jurisdictions, masks), tables' live row counts and activity."""
CATALOG_FUNCTIONS = ("pg_get_viewdef", "pg_get_ruledef")


def plan_catalog(conn: Connection, change: Any) -> list[Any]:
    """Revoke from PUBLIC, in the warehouse database, the catalog views and functions above (the
    warehouse owner and superusers keep them; ``pg_class.reltuples`` stays readable: PostgreSQL clients
    need ``pg_class``)."""
    out = []
    for r in _rows(conn, "SELECT c.relname FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', "
                         "c.relowner))) a WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relname = ANY(:n) "
                         "AND a.grantee = 0 AND a.privilege_type = 'SELECT' ORDER BY 1", n=list(CATALOG_RELATIONS)):
        out.append(change("*", "revoke_catalog", f"pg_catalog.{r.relname}", "readable by PUBLIC: tells a consumer "
                          "about data outside its grant", (f"REVOKE SELECT ON pg_catalog.{r.relname} FROM PUBLIC",)))
    for r in _rows(conn, "SELECT p.oid::regprocedure::text AS fn FROM pg_proc p, aclexplode(coalesce(p.proacl, "
                         "acldefault('f', p.proowner))) a WHERE p.pronamespace = 'pg_catalog'::regnamespace "
                         "AND p.proname = ANY(:n) AND a.grantee = 0 AND a.privilege_type = 'EXECUTE' ORDER BY 1",
                   n=list(CATALOG_FUNCTIONS)):
        out.append(change("*", "revoke_catalog", r.fn, "executable by PUBLIC: prints any view's definition",
                          (f"REVOKE EXECUTE ON FUNCTION {r.fn} FROM PUBLIC",)))
    return out
