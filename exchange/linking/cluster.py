"""Clustering: records → persons, with the ID number as a hard constraint.

1. Records sharing a validated ID number are one person (deterministic rule ``id_number``).
2. Scored pairs at or above the match threshold are applied greedily, strongest first (ties
   broken by record order, so the result is deterministic). Two groups are joined unless both
   already carry an ID number — and they differ: two validated ID numbers are two people,
   whatever the names say. This keeps one weak link from chaining two known persons together
   (plain connected components would) and attaches a record without an ID number to the ID
   number it resembles most.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class _Groups:
    """Union-find over record indices with the ID number of each group."""

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n, dtype=np.int64)
        self.ident: dict[int, int] = {}
        """root → ID group number, for groups holding ID-bearing records"""

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = int(parent[root])
        while parent[i] != root:
            nxt = int(parent[i])
            parent[i] = root
            i = nxt
        return root

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ia, ib = self.ident.get(ra), self.ident.get(rb)
        if ia is not None and ib is not None and ia != ib:
            return False
        if rb < ra:
            ra, rb = rb, ra
            ia, ib = ib, ia
        self.parent[rb] = ra
        ident = ia if ia is not None else ib
        self.ident.pop(rb, None)
        if ident is not None:
            self.ident[ra] = ident
        return True


def cluster_records(id_group: np.ndarray, edges: Iterable[tuple[int, int, float]]) -> tuple[np.ndarray, int]:
    """Cluster ``n`` records.

    ``id_group[i]`` is the ID-number group of record ``i`` (-1 when it has no valid ID number);
    ``edges`` are scored pairs (record, record, probability) already filtered by the threshold.
    Returns (the smallest record index of each record's cluster, number of refused edges).
    """
    n = len(id_group)
    groups = _Groups(n)
    with_id = np.flatnonzero(id_group >= 0)
    if with_id.size:
        order = with_id[np.argsort(id_group[with_id], kind="stable")]
        ids = id_group[order]
        first = np.r_[True, ids[1:] != ids[:-1]]
        leader = order[first][np.cumsum(first) - 1]
        # every member points at the first (smallest) record of its ID group
        groups.parent[order] = leader
        for lead, ident in zip(order[first].tolist(), ids[first].tolist(), strict=True):
            groups.ident[lead] = ident
    ordered = sorted(edges, key=lambda e: (-e[2], min(e[0], e[1]), max(e[0], e[1])))
    refused = 0
    for a, b, _p in ordered:
        if not groups.union(int(a), int(b)):
            refused += 1
    roots = groups.parent.copy()
    while True:  # pointer jumping, vectorised: every record to its root
        nxt = roots[roots]
        if np.array_equal(nxt, roots):
            break
        roots = nxt
    # label by the smallest record index in the cluster (stable, independent of union order)
    smallest = np.full(n, n, dtype=np.int64)
    np.minimum.at(smallest, roots, np.arange(n, dtype=np.int64))
    return smallest[roots], refused
