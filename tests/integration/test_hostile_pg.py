"""The hostile input corpus (tests/hostile/cases.yaml) on a PostgreSQL warehouse.

The same cases, the same checks and the same golden files as the SQLite run
(tests/unit/test_hostile_corpus.py; the machinery is tests/hostile/corpus.py), with
``EXCHANGE_WAREHOUSE_URL`` set to a fresh database: PostgreSQL loads by COPY and refuses what SQLite
takes (a NUL character in any text), so every file must leave exactly the same warehouse on both.
The large files are generated once per session and marked ``slow``, as in the SQLite run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.corpus import Case, case_params, run_case


@pytest.fixture(scope="session")
def large_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-large")


@pytest.mark.parametrize("case", case_params())
def test_hostile_input_on_postgres(case: Case, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   large_files: Path) -> None:
    run_case(case, tmp_path, monkeypatch, large_files, warehouse_url=pg_url)
