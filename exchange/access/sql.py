"""SQL of the shared views, generated from a grant (pure functions: golden-tested).

PostgreSQL: ``share_<consumer>.<entity>``, a ``security_barrier`` view over ``core.<entity>`` (a
materialized view when the grant filters rows: see :func:`materialized`) that selects the granted
columns (masks computed by the database: ``share_fn.mask_*`` functions and pgcrypto's ``hmac``) and
only the rows of the consumer's jurisdiction. The view filters first and the consumer's own
predicates run after it (``security_barrier``), so a consumer-defined function in a WHERE clause
never sees a filtered row (a materialized view holds no other row to see).

Pseudonyms read the consumer's HMAC key with a scalar subquery on ``share_fn.pseudonym_key``,
a table no consumer role can read; the view (run with its owner's rights on tables) can. There
is deliberately no pseudonym *function* a consumer could call: it would be an oracle that
pseudonymises any ID number the caller enumerates.

SQLite: the same SELECT, with the masks as functions registered on the exchange's
connections (``exchange_mask``, ``exchange_pseudonym``). A SQLite view may only read tables
of its own database file, so the views live in the ``core`` file and are named
``core.share_<consumer>__<entity>``. SQLite has no roles: nothing is enforced there.

Identifiers are validated (``^[a-z][a-z0-9_]*$``) and double-quoted; the only literals are
validated division prefixes, compound codes, code-list values and the consumer's name,
each single-quoted with quotes doubled.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from exchange.access.spec import PROVENANCE, ColumnRule, EntityShare, Grant, RowFilter

Dialect = Literal["postgresql", "sqlite"]

FN_SCHEMA = "share_fn"
KEY_TABLE = "pseudonym_key"
SQLITE_SEP = "__"
MARK = "exchange-grant"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_SAFE_LITERAL = re.compile(r"^[A-Za-z0-9_\-]*$")


def ident(name: str) -> str:
    """A double-quoted identifier; anything but lower-case letters, digits and _ is refused."""
    if not _IDENT.match(name) or len(name) > 63:
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return '"' + name + '"'


def literal(value: str) -> str:
    """A single-quoted literal of a validated value (letters, digits, _ and -)."""
    if not _SAFE_LITERAL.match(value):
        raise ValueError(f"not a safe SQL literal: {value!r}")
    return "'" + value.replace("'", "''") + "'"


def share_schema(consumer: str) -> str:
    return f"share_{consumer}"


class ShareSql:
    """The statements of the shared views in one warehouse dialect (one subclass each, in ``SHARE_SQL``)."""

    def view_name(self, consumer: str, entity: str) -> str:
        raise NotImplementedError

    def qualified_view(self, consumer: str, entity: str) -> str:
        raise NotImplementedError

    def table(self, entity: str) -> str:
        raise NotImplementedError

    def pseudonym(self, consumer: str, col: str, pgcrypto: str) -> str:
        raise NotImplementedError

    def mask(self, kind: str, col: str) -> str:
        raise NotImplementedError

    def create(self, grant: Grant, share: EntityShare, name: str, select: str) -> list[str]:
        raise NotImplementedError


class PostgresShareSql(ShareSql):
    """``share_<consumer>.<entity>``: security-barrier or materialized views, masks in ``share_fn``."""

    def view_name(self, consumer: str, entity: str) -> str:
        return f"{share_schema(consumer)}.{entity}"

    def qualified_view(self, consumer: str, entity: str) -> str:
        return f"{ident(share_schema(consumer))}.{ident(entity)}"

    def table(self, entity: str) -> str:
        return f"core.{ident(entity)}"

    def pseudonym(self, consumer: str, col: str, pgcrypto: str) -> str:
        key = (f"(SELECT k.key FROM {FN_SCHEMA}.{KEY_TABLE} AS k WHERE k.consumer = {literal(consumer)})")
        return (f"'ps_' || left(encode({ident(pgcrypto)}.hmac(convert_to({col}, 'UTF8'), {key}, 'sha256'), "
                f"'hex'), 32)")

    def mask(self, kind: str, col: str) -> str:
        if kind == "year":
            return f"{FN_SCHEMA}.mask_year(({col})::date)"
        return f"{FN_SCHEMA}.mask_{kind}({col})"

    def create(self, grant: Grant, share: EntityShare, name: str, select: str) -> list[str]:
        if materialized(share):
            index = ident(f"{share.entity}__key")
            out = [f"CREATE MATERIALIZED VIEW {name} AS\n{select}\nWITH DATA",
                   f"CREATE UNIQUE INDEX {index} ON {name} (source_agency, source_record_id)",
                   f"COMMENT ON MATERIALIZED VIEW {name} IS {pg_string(view_comment(grant, share, select))}"]
        else:
            out = [f"CREATE VIEW {name} WITH (security_barrier = true) AS\n{select}",
                   f"COMMENT ON VIEW {name} IS {pg_string(view_comment(grant, share, select))}"]
        for rule in share.columns:
            out.append(f"COMMENT ON COLUMN {name}.{ident(rule.name)} IS {pg_string(column_comment(rule))}")
        return out


class SqliteShareSql(ShareSql):
    """``core.share_<consumer>__<entity>``: plain views in the core file, masks as connection functions."""

    def view_name(self, consumer: str, entity: str) -> str:
        return f"core.{share_schema(consumer)}{SQLITE_SEP}{entity}"

    def qualified_view(self, consumer: str, entity: str) -> str:
        return f"core.{ident(share_schema(consumer) + SQLITE_SEP + entity)}"

    def table(self, entity: str) -> str:
        return ident(entity)  # the view lives in the core file and may only name its tables unqualified

    def pseudonym(self, consumer: str, col: str, pgcrypto: str) -> str:
        return f"exchange_pseudonym({literal(consumer)}, {col})"

    def mask(self, kind: str, col: str) -> str:
        return f"exchange_mask({literal(kind)}, {col})"

    def create(self, grant: Grant, share: EntityShare, name: str, select: str) -> list[str]:
        return [f"CREATE VIEW {name} AS\n{select}"]


SHARE_SQL: dict[str, ShareSql] = {"postgresql": PostgresShareSql(), "sqlite": SqliteShareSql()}
"""A warehouse dialect's name (``exchange.warehouse.dialects``) → the statements of its shared views."""


def view_name(consumer: str, entity: str, dialect: Dialect) -> str:
    """What a consumer queries: ``share_police.person`` (PostgreSQL), ``core.share_police__person`` (SQLite)."""
    return SHARE_SQL[dialect].view_name(consumer, entity)


def qualified_view(consumer: str, entity: str, dialect: Dialect) -> str:
    return SHARE_SQL[dialect].qualified_view(consumer, entity)


def column_expr(rule: ColumnRule, consumer: str, dialect: Dialect, pgcrypto: str = "public",
                alias: str = "t") -> str:
    col = f"{alias}.{ident(rule.name)}"
    if rule.treatment == "full":
        return col
    if rule.treatment == "pseudonym":
        return SHARE_SQL[dialect].pseudonym(consumer, col, pgcrypto)
    return SHARE_SQL[dialect].mask(rule.partial or "name", col)


def _prefix_match(column: str, codes: list[str]) -> str:
    # literal() validates the code (digits only); the pattern is that literal with a trailing %
    return " OR ".join(f"{column} LIKE {literal(code)[:-1]}%'" for code in codes)


def row_condition(share: EntityShare, dialect: Dialect, alias: str = "t") -> str | None:
    """The WHERE clause of the view (None: every row)."""
    rows: RowFilter = share.rows
    parts: list[str] = []
    if rows.regions is not None:
        prefixes = [r.code for r in rows.regions if not r.compound]
        compounds = [r.code for r in rows.regions if r.compound]
        options: list[str] = []
        own = f"{alias}.{ident(rows.division_column)}" if rows.division_column else None
        if own and prefixes:
            options.append(_prefix_match(own, prefixes))
        if rows.via_entity and rows.via_column and rows.via_division_column and prefixes:
            key = ident(rows.via_column)
            their_division = f"j.{ident(rows.via_division_column)}"
            via = (f"EXISTS (SELECT 1 FROM {SHARE_SQL[dialect].table(rows.via_entity)} AS j "
                   f"WHERE j.{key} = {alias}.{key} AND ({_prefix_match(their_division, prefixes)}))")
            options.append(f"({own} IS NULL AND {via})" if own else via)
        if compounds and rows.compound_column:
            col = f"{alias}.{ident(rows.compound_column)}"
            options.append(" OR ".join(f"{col} = {literal(c)}" for c in compounds))
        parts.append("(" + (" OR ".join(options) if options else "FALSE") + ")")
    for column, values in rows.where:
        parts.append(f"{alias}.{ident(column)} IN ({', '.join(literal(v) for v in values)})")
    return " AND ".join(parts) if parts else None


def select_sql(grant: Grant, share: EntityShare, dialect: Dialect, pgcrypto: str = "public") -> str:
    cols = [f"t.{ident('source_agency')}"]
    for rule in share.columns:
        expr = column_expr(rule, grant.consumer, dialect, pgcrypto)
        cols.append(expr if rule.treatment == "full" else f"{expr} AS {ident(rule.name)}")
    cols += [f"t.{ident(c)}" for c in PROVENANCE if c != "source_agency"]
    sql = "SELECT " + ",\n       ".join(cols) + f"\nFROM {SHARE_SQL[dialect].table(share.entity)} AS t"
    cond = row_condition(share, dialect)
    if cond:
        sql += f"\nWHERE {cond}"
    return sql


def fingerprint(select: str) -> str:
    return hashlib.sha256(select.encode("utf-8")).hexdigest()[:16]


def view_comment(grant: Grant, share: EntityShare, select: str) -> str:
    """The PostgreSQL view comment: what it is, and the fingerprint ``grants check`` compares."""
    return (f"{share.description} — shared with {grant.consumer} ({grant.name}) for: {grant.purpose} "
            f"[{MARK} {grant.consumer} sha256:{fingerprint(select)}]")


def column_comment(rule: ColumnRule) -> str:
    return f"{rule.field.description} [pii: {rule.field.pii}; mask: {rule.mask_label}]"


def pg_string(value: str) -> str:
    """A PostgreSQL string literal for free text (comments): dollar-quoted with a tag the text lacks."""
    tag = "c"
    while f"${tag}$" in value:
        tag += "c"
    return f"${tag}${value}${tag}$"


def materialized(share: EntityShare) -> bool:
    """PostgreSQL: is this share a materialized view? Every share that filters rows is: a consumer's
    ``EXPLAIN ANALYZE`` on a view shows how many base-table rows its filter removed (and, with a pushed-down
    condition of the consumer's own, whether a given hidden row exists); a materialized view holds only
    the rows the consumer may read, already masked, so its plans count nothing else. Refreshed when a
    batch of the entity is published. A share of every row stays a ``security_barrier`` view."""
    return not share.rows.unrestricted


def relation_kind(share: EntityShare) -> str:
    """The pg_class.relkind a share's relation has on PostgreSQL."""
    return "m" if materialized(share) else "v"


def create_view(grant: Grant, share: EntityShare, dialect: Dialect, pgcrypto: str = "public") -> list[str]:
    """The statements creating one view (after any old one was dropped)."""
    select = select_sql(grant, share, dialect, pgcrypto)
    return SHARE_SQL[dialect].create(grant, share, qualified_view(grant.consumer, share.entity, dialect), select)


# --- PostgreSQL: the mask functions (share_fn) -----------------------------------------------------------

_FN = ("CREATE OR REPLACE FUNCTION share_fn.{name}(v {arg}) RETURNS text LANGUAGE sql IMMUTABLE STRICT "
       "PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $f$ SELECT {body} $f$")

MASK_FUNCTIONS: dict[str, tuple[str, str]] = {
    # name: (argument type, body) — each mirrors exchange.formats.masking exactly
    "mask_id": ("text", "CASE WHEN char_length(v) = 18 THEN left(v, 6) || repeat('*', 10) || right(v, 2) "
                        "ELSE left(v, least(3, char_length(v) / 2)) "
                        "|| repeat('*', char_length(v) - least(3, char_length(v) / 2)) END"),
    "mask_phone": ("text", "CASE WHEN v ~ '^1[3-9][0-9]{9}$' THEN left(v, 3) || repeat('*', char_length(v) - 7) "
                           "|| right(v, 4) ELSE repeat('*', char_length(v) - least(4, char_length(v) / 2)) "
                           "|| right(v, least(4, char_length(v) / 2)) END"),
    "mask_credit_code": ("text", "left(v, least(8, char_length(v) / 2)) "
                                 "|| repeat('*', char_length(v) - least(8, char_length(v) / 2))"),
    "mask_division": ("text", "left(v, 6)"),
    "mask_name": ("text", "left(v, 1) || repeat('*', greatest(char_length(v) - 1, 0))"),
    "mask_year": ("date", "to_char(v, 'YYYY')"),
}


def function_ddl() -> list[str]:
    """``share_fn``: the mask functions and the table of the consumers' pseudonym keys."""
    out = [f"CREATE SCHEMA IF NOT EXISTS {FN_SCHEMA}",
           f"REVOKE ALL ON SCHEMA {FN_SCHEMA} FROM PUBLIC",
           f"CREATE TABLE IF NOT EXISTS {FN_SCHEMA}.{KEY_TABLE} (consumer text PRIMARY KEY, key bytea NOT NULL, "
           f"key_id text NOT NULL)",
           f"REVOKE ALL ON TABLE {FN_SCHEMA}.{KEY_TABLE} FROM PUBLIC",
           f"COMMENT ON TABLE {FN_SCHEMA}.{KEY_TABLE} IS 'Per-consumer HMAC keys of pseudonym masks, derived from "
           f"EXCHANGE_PSEUDONYM_KEY; readable by the view owner only'"]
    for name, (arg, body) in MASK_FUNCTIONS.items():
        out.append(_FN.format(name=name, arg=arg, body=body))
    return out
