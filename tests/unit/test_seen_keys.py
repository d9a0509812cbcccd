"""Duplicate-key tracking on disk (staging.SeenKeys) answers exactly like the in-memory reference."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from exchange.pipeline.checking import MemoryKeys
from exchange.staging import HashRuns, SeenKeys


@pytest.mark.parametrize("memory_hashes", [SeenKeys.MEMORY_HASHES, 40])
def test_seen_keys_match_the_in_memory_reference(tmp_path: Path, memory_hashes: int) -> None:
    """Random chunks with nulls, repeats inside a chunk and across chunks, record numbers that restart
    (several files); past ``MEMORY_HASHES`` keys the on-disk comparison takes over."""
    rng = random.Random(4)
    for trial in range(25):
        seen = SeenKeys(tmp_path / f"t{trial}")
        seen.MEMORY_HASHES = memory_hashes
        ref = MemoryKeys()
        try:
            for _ in range(6):
                n = rng.randint(0, 60)
                keys = pa.array([None if rng.random() < 0.1 else f"k{rng.randint(0, 80)}" for _ in range(n)],
                                pa.string())
                rows = pa.array([rng.randint(1, 20) for _ in range(n)], pa.int64())
                assert seen.duplicates(keys, rows) == ref.duplicates(keys, rows)
        finally:
            seen.close()
    assert not list(tmp_path.rglob("*.duckdb*"))


def test_hash_collisions_are_resolved_on_the_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two different keys with the same hash are not duplicates of each other."""
    seen = SeenKeys(tmp_path)
    real_sql = seen.db.sql

    def colliding(query: str):  # every key hashes to 7
        return real_sql(query.replace("hash(key)", "7::UBIGINT")) if "hash(key)" in query else real_sql(query)

    monkeypatch.setattr(seen, "db", _Proxy(seen.db, sql=colliding))
    try:
        first = seen.duplicates(pa.array(["a", "b", "a"]), pa.array([1, 2, 3], pa.int64()))
        second = seen.duplicates(pa.array(["c", "b", "d"]), pa.array([4, 5, 6], pa.int64()))
    finally:
        seen.close()
    assert first == {2: 1}
    assert second == {1: 2}


class _Proxy:
    def __init__(self, target: object, **overrides: object) -> None:
        self._target = target
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> object:
        return getattr(self._target, name)


def test_hash_runs_membership() -> None:
    rng = np.random.default_rng(1)
    runs = HashRuns()
    added: set[int] = set()
    for _ in range(40):
        h = rng.integers(0, 2**63, size=rng.integers(0, 300), dtype=np.uint64)
        h[: len(h) // 3] = rng.integers(0, 50, size=len(h) // 3).astype(np.uint64)  # repeats
        probe = np.sort(np.concatenate([h, rng.integers(0, 60, size=50).astype(np.uint64)]))
        assert runs.contains(probe).tolist() == [int(x) in added for x in probe]
        runs.add(h)
        added |= {int(x) for x in h}
        assert set(np.concatenate(runs.runs).tolist()) == added
        assert len(runs.runs) <= 2 + int(np.log2(max(len(added), 1)))
