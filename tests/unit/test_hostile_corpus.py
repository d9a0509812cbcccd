"""The hostile input corpus (tests/hostile/cases.yaml) through `exchange validate` and `exchange run`,
on the default SQLite warehouse.

The machinery (projects, the checks, the golden files) is tests/hostile/corpus.py, shared with the
PostgreSQL run of the same cases (tests/integration/test_hostile_pg.py), which must give the same.
After an intended change: ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_hostile_corpus.py`` and
review the diff of tests/hostile/golden/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hostile import generate
from tests.hostile.corpus import CASES, FEEDS, HOSTILE, Case, case_params, flat, project, run_case

pytestmark = [pytest.mark.gx]  # not in `make check`: see the Makefile


def test_the_corpus_is_complete() -> None:
    """At least 40 files, each case once, every committed file used and every large one generated."""
    ids = [c.id for c in CASES]
    assert len(set(ids)) == len(ids) >= 40
    used = {c.file for c in CASES}
    assert {p.name for p in (HOSTILE / "files").iterdir()} == {c.file for c in CASES if not c.large}
    assert {c.file for c in CASES if c.large} == set(generate.LARGE)
    assert used <= set(generate.SMALL) | set(generate.LARGE)
    for c in CASES:
        assert c.feed in FEEDS, c.id
        assert set(c.expect) <= {"loaded", "loaded_count", "loaded_sample", "quarantined", "flagged", "values",
                                 "error", "state", "notes"}, c.id
        assert set(c.flagged) <= {str(i) for i in c.expect.get("loaded", c.flagged)}, c.id  # flagged rows load
        assert bool(c.error) != bool({"loaded", "loaded_count", "quarantined"} & set(c.expect)), c.id


@pytest.fixture(scope="session")
def large_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-large")


@pytest.mark.parametrize("case", case_params())
def test_hostile_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, large_files: Path) -> None:
    run_case(case, tmp_path, monkeypatch, large_files)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["json_lone_surrogate.json", "mixed_utf8_gbk.csv"])
def test_the_console_script_answers_without_a_traceback(name: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, large_files: Path) -> None:
    """The real entry point (``exchange``, with its own error handling), in a child process."""
    import subprocess
    import sys

    case = next(c for c in CASES if c.file == name)
    path = project(case, tmp_path, monkeypatch, large_files)
    exe = Path(sys.executable).with_name("exchange")
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False"}
    done = subprocess.run([str(exe), "validate", str(path), "--feed", case.feed_id], capture_output=True,
                          text=True, env=env, timeout=600, check=False)
    out = done.stdout + done.stderr
    assert "Traceback" not in out and "internal error" not in out, out[-3000:]
    assert name in flat(out)
    assert done.returncode == (2 if case.error else 1), out[-3000:]
