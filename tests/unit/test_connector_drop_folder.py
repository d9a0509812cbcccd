"""The ``file`` kind as a drop folder: each new file exactly once, files still being written left
for later, and the state carried through the runner (``audit.feed_state``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import connectors.file as file_module
from connectors.base import connector_for
from connectors.file import FileConnector, in_progress_name
from exchange.errors import SourceError
from exchange.runner import run_feed
from exchange.spec.catalog import load_catalog
from exchange.spec.feed import FileSourceSpec
from exchange.warehouse.engine import make_engine
from tests.conftest import write

pytestmark = [pytest.mark.gx]  # not in `make check`: see the Makefile

HEADER = "id,name\n"


def drop(root: Path, name: str, ids: range, *, age: float = 3600) -> Path:
    path = write(root / "inbox" / name, HEADER + "".join(f"{i},n{i}\n" for i in ids))
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def connector(root: Path, state: dict[str, Any] | None = None, settle: float = 60) -> FileConnector:
    spec = FileSourceSpec(kind="file", path="inbox/*", format="csv", mode="drop_folder", settle_seconds=settle)
    conn = connector_for(spec, base_dir=root, feed_id="t.f", state=state)
    assert isinstance(conn, FileConnector)
    return conn


def run(root: Path, state: dict[str, Any] | None = None, settle: float = 60) -> tuple[list[str], dict | None, str]:
    conn = connector(root, state, settle)
    fp = conn.fingerprint()
    rows = [r["id"] for b in conn.batches() for r in b.to_pylist()]
    return rows, conn.new_state(), fp


@pytest.mark.parametrize(("name", "writing"), [
    ("a.csv.part", True), ("a.csv.tmp", True), ("a.CSV.PART", True), (".a.csv", True), ("~$a.xlsx", True),
    ("a.csv.crdownload", True), ("a.csv", False), ("part.csv", False),
])
def test_in_progress_names(name: str, writing: bool) -> None:
    assert in_progress_name(name) is writing


def test_each_new_file_is_taken_exactly_once(tmp_path: Path) -> None:
    drop(tmp_path, "a.csv", range(1, 4))
    rows, state, fp = run(tmp_path)
    assert rows == ["1", "2", "3"]
    assert state is not None and list(state["taken"]) == ["inbox/a.csv"] and state["fingerprint"] == fp
    drop(tmp_path, "b.csv", range(4, 6))
    rows, state2, fp2 = run(tmp_path, state)
    assert rows == ["4", "5"] and fp2 != fp
    assert list(state2["taken"]) == ["inbox/a.csv", "inbox/b.csv"]
    rows, state3, fp3 = run(tmp_path, state2)
    assert rows == [] and fp3 == state2["fingerprint"] and state3 == state2


def test_files_being_written_are_left_for_later(tmp_path: Path) -> None:
    drop(tmp_path, "a.csv", range(1, 3))
    drop(tmp_path, "b.csv.part", range(3, 5))
    drop(tmp_path, "c.csv", range(5, 7), age=1)  # modified a second ago
    conn = connector(tmp_path, settle=60)
    rows = [r["id"] for b in conn.batches() for r in b.to_pylist()]
    assert rows == ["1", "2"]
    assert conn.describe()["not_yet_settled"] == ["inbox/c.csv"]
    state = conn.new_state()
    (tmp_path / "inbox" / "b.csv.part").rename(tmp_path / "inbox" / "b.csv")
    rows, state, _ = run(tmp_path, state, settle=0)
    assert sorted(rows) == ["3", "4", "5", "6"]


def test_a_file_growing_while_hashed_is_not_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = drop(tmp_path, "a.csv", range(1, 3))
    real = file_module.sha256_file

    def hash_then_grow(p: Path) -> tuple[str, int]:
        result = real(p)
        with p.open("a", encoding="utf-8") as f:
            f.write("3,n3\n")
        return result

    monkeypatch.setattr(file_module, "sha256_file", hash_then_grow)
    conn = connector(tmp_path, settle=0)
    assert list(conn.batches()) == [] and conn.describe()["not_yet_settled"] == ["inbox/a.csv"]
    state = conn.new_state()
    assert state is not None and state["taken"] == {}
    monkeypatch.setattr(file_module, "sha256_file", real)
    rows, _, _ = run(tmp_path, state, settle=0)
    assert rows == ["1", "2", "3"] and path.exists()


def test_same_name_new_content_is_new_touched_is_not(tmp_path: Path) -> None:
    drop(tmp_path, "a.csv", range(1, 3))
    _, state, _ = run(tmp_path)
    path = drop(tmp_path, "a.csv", range(1, 3), age=60)  # same bytes, new mtime
    rows, state, _ = run(tmp_path, state, settle=0)
    assert rows == [] and state is not None
    assert state["taken"]["inbox/a.csv"]["mtime_ns"] == path.stat().st_mtime_ns
    drop(tmp_path, "a.csv", range(7, 9), age=30)  # replaced with other content
    rows, _, _ = run(tmp_path, state, settle=0)
    assert rows == ["7", "8"]


def test_processed_files_are_never_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drop(tmp_path, "a.csv", range(1, 3))
    _, state, _ = run(tmp_path)
    opened: list[str] = []
    real = file_module.sha256_file
    monkeypatch.setattr(file_module, "sha256_file", lambda p: (opened.append(p.name), real(p))[1])
    drop(tmp_path, "b.csv", range(3, 4))
    rows, _, _ = run(tmp_path, state)
    assert rows == ["3"] and opened == ["b.csv"]


def test_empty_drop_folder(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    conn = connector(tmp_path)
    assert len(conn.fingerprint()) == 64 and list(conn.batches()) == []
    with pytest.raises(SourceError, match="no file has arrived in the drop folder"):
        conn.columns()


FEED = """\
agency: police
feed: residents
description: residents dropped by the police system
source: {kind: file, path: police/inbox/*.csv, mode: drop_folder, settle_seconds: 0}
target: person@2
mapping:
  人员编号: source_record_id
  姓名: name
  性别: {field: gender, values: {男: M, 女: F}}
"""


def test_runner_keeps_the_drop_folder_state(project: Path, settings) -> None:
    write(project / "feeds" / "police" / "residents.yaml", FEED)
    catalog = load_catalog(project)
    inbox = settings.landing_dir / "police" / "inbox"
    write(inbox / "2026-03-01.csv", "人员编号,姓名,性别\nP1,张三,男\nP2,李四,女\n")
    first = run_feed("police.residents", settings=settings, catalog=catalog)
    assert (first.rows_in, first.rows_loaded) == (2, 2)
    again = run_feed("police.residents", settings=settings, catalog=catalog)
    assert again.already_loaded and again.batch_id == first.batch_id  # nothing new: a no-op
    write(inbox / "2026-03-02.csv", "人员编号,姓名,性别\nP3,王五,男\n")
    write(inbox / "2026-03-03.csv.part", "人员编号,姓名,性别\nP4,赵六,男\n")
    second = run_feed("police.residents", settings=settings, catalog=catalog)
    assert (second.rows_in, second.rows_loaded) == (1, 1) and second.batch_id != first.batch_id
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM core.person")).scalar()
        state = conn.execute(text("SELECT state, batch_id FROM audit.feed_state")).one()
    engine.dispose()
    assert count == 3
    assert '"police/inbox/2026-03-02.csv"' in state[0] and ".part" not in state[0]
    assert state[1] == second.batch_id
