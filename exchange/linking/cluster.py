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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from exchange.linking.records import beyond_variation


@dataclass(frozen=True, slots=True)
class Facts:
    """What a record says that two records of one person cannot disagree on: birth date (``YYYY-MM-DD``),
    gender, and the name (with the fuzzy pinyin of its surname, for Chinese names)."""

    birth: str | None = None
    gender: str | None = None
    name: str | None = None
    surname: str | None = None
    register: str | None = None
    """The register (agency.entity) that lists each person at most once, when the record is from one."""
    record: int = -1


def contradict(a: Facts, b: Facts) -> bool:
    """Two records that cannot be one person: two entries of one register, genders that differ, birth dates
    that differ beyond a slip, or names whose surnames differ in sound and whose given names share no
    character (陈伟 / 李娜)."""
    if a.register and a.register == b.register and a.record != b.record:
        return True
    if a.gender and b.gender and a.gender != b.gender:
        return True
    if a.birth and b.birth and a.birth != b.birth and beyond_variation(a.birth, b.birth):
        return True
    return bool(a.surname and b.surname and a.surname != b.surname and a.name and b.name
                and not set(a.name[1:]) & set(b.name[1:]))


class _Groups:
    """Union-find over record indices with the ID number of each group."""

    def __init__(self, n: int, facts: Mapping[int, Facts] | None = None) -> None:
        self.parent = np.arange(n, dtype=np.int64)
        self.ident: dict[int, int] = {}
        """root → ID group number, for groups holding ID-bearing records"""
        self.facts: dict[int, set[Facts]] = {i: {f} for i, f in (facts or {}).items()}
        """root → the distinct facts of its records that were handed in"""

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
        fa, fb = self.facts.get(ra), self.facts.get(rb)
        if fa and fb and any(contradict(x, y) for x in fa for y in fb):
            return False
        if rb < ra:
            ra, rb = rb, ra
            ia, ib = ib, ia
            fa, fb = fb, fa
        self.parent[rb] = ra
        ident = ia if ia is not None else ib
        self.ident.pop(rb, None)
        if ident is not None:
            self.ident[ra] = ident
        if fb:
            self.facts[ra] = (fa or set()) | fb
            self.facts.pop(rb, None)
        return True


def cluster_records(id_group: np.ndarray, edges: Iterable[tuple[int, int, float]],
                    facts: Mapping[int, Facts] | None = None) -> tuple[np.ndarray, int]:
    """Cluster ``n`` records.

    ``id_group[i]`` is the ID-number group of record ``i`` (-1 when it has no valid ID number);
    ``edges`` are scored pairs (record, record, strength: match weight or probability) already filtered
    by the threshold, applied strongest first;
    ``facts`` (record → :class:`Facts`, for the records the edges touch) are cannot-link constraints:
    an edge that would put two contradicting records in one cluster is refused, so a chain of
    plausible pairs (张某 to the father, 张某 to the son) never joins two different people.
    Returns (the smallest record index of each record's cluster, number of refused edges).
    """
    n = len(id_group)
    groups = _Groups(n, facts)
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
