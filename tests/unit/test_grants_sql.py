"""SQL generated from the demo grants, compared with golden files (``tests/golden/grants``).

After an intended change: ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_grants_sql.py`` and review
the diff — every line of these files is a security decision.
"""

from __future__ import annotations

import os

import pytest

from exchange.access import sql
from exchange.access.spec import load_grants
from exchange.formats import load_division_codes
from exchange.spec.catalog import load_catalog
from tests.conftest import REPO

GOLDEN = REPO / "tests" / "golden" / "grants"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _grants():
    cat = load_catalog(REPO)
    return load_grants(REPO, cat.schemas, cat.allowed, divisions=load_division_codes())


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{path} differs (UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_views_match_golden(dialect: str) -> None:
    for g in _grants():
        statements = [s for share in g.entities.values() for s in sql.create_view(g, share, dialect)]
        _check(f"{g.consumer}.{dialect}.sql", ";\n\n".join(statements) + ";\n")


def test_mask_functions_match_golden() -> None:
    _check("share_fn.postgresql.sql", ";\n\n".join(sql.function_ddl()) + ";\n")


def test_views_are_security_barrier_and_read_core_only() -> None:
    for g in _grants():
        for share in g.entities.values():
            create = sql.create_view(g, share, "postgresql")[0]
            if share.rows.unrestricted:
                assert "WITH (security_barrier = true)" in create
            else:  # holds only the rows the consumer may read: no plan of it counts hidden rows
                assert create.startswith("CREATE MATERIALIZED VIEW") and create.endswith("WITH DATA")
            assert "quarantine." not in create and "mdm." not in create and "audit." not in create
            select_list = create.split("\nFROM ")[0]
            assert not any(f't."{h}"' in select_list for h in share.hidden), (g.consumer, share.entity)


def test_no_key_and_no_unsalted_hash_in_views() -> None:
    for g in _grants():
        for share in g.entities.values():
            for dialect in ("postgresql", "sqlite"):
                text = "\n".join(sql.create_view(g, share, dialect)).lower()
                assert "digest(" not in text and "md5(" not in text and "sha256(" not in text
                assert "exchange_pseudonym_key" not in text


@pytest.mark.parametrize("bad", ['x"; drop table core.person; --', "Person", "a b", "", "x" * 64, "é"])
def test_identifiers_are_validated(bad: str) -> None:
    with pytest.raises(ValueError):
        sql.ident(bad)


@pytest.mark.parametrize("bad", ["610902' OR '1'='1", "a;b", "x'--", "6109%"])
def test_literals_are_validated(bad: str) -> None:
    with pytest.raises(ValueError):
        sql.literal(bad)


def test_comment_text_cannot_break_out_of_its_quotes() -> None:
    text = "purpose $c$; DROP TABLE core.person; $c$ and $cc$"
    quoted = sql.pg_string(text)
    tag = quoted[: quoted.index("$", 1) + 1]
    assert quoted == f"{tag}{text}{tag}" and tag not in text
