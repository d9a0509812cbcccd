"""Small-count suppression of a table of counts, so that no count below the grant's threshold can be read
off it — not directly, and not by subtracting the shown cells from a shown total.

The counts form a cube: areas (the five levels, each area the sum of its children), types (the total and
each case type or intake window) and periods (a year, its quarters, its months). Every cell is the sum of
its children along each of the three, so a total minus all but one of its parts gives that part. The
rule, applied until nothing changes:

1. **primary**: a count from 1 to ``min_count - 1`` is suppressed (zero is shown: it reveals no one);
2. **complementary**: in any shown total with exactly one suppressed part, the smallest other non-zero
   part is suppressed too, so the difference is the sum of two unknowns; when every other part is zero
   the total itself is suppressed (it equals the hidden part), and its own totals are checked in turn.

A suppressed cell is the same in every answer (the cube is the whole year, at every level, whatever is
asked), so asking for the towns and then the communities of one town cannot be combined to recover one.
This is the standard hypercube heuristic of statistical offices, not a full linear-programming audit: a
determined analyst with many published tables can still narrow some suppressed cells to a range.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Group = tuple[int, Sequence[int]]
"""A total and the parts it is the sum of (indices along one dimension)."""


def tree_groups(parent: Sequence[int]) -> list[Group]:
    """The groups of a tree given by each node's parent index (-1 for a top)."""
    children: dict[int, list[int]] = {}
    for i, p in enumerate(parent):
        if p >= 0:
            children.setdefault(p, []).append(i)
    return sorted(children.items())


def suppress(counts: np.ndarray, groups: Sequence[Sequence[Group]], min_count: int) -> np.ndarray:
    """The suppressed cells (a boolean array of ``counts``' shape). ``groups[d]``: along dimension ``d``,
    each total and its parts (a total may have several partitions: the cases by type and by offence)."""
    hidden = (counts > 0) & (counts < min_count)
    if min_count <= 1 or not hidden.any():
        return hidden
    changed = True
    while changed:
        changed = False
        for dim, dim_groups in enumerate(groups):
            c, h = np.moveaxis(counts, dim, 0), np.moveaxis(hidden, dim, 0)  # views: h changes ``hidden``
            for total, parts in dim_groups:
                changed |= _complement(c, h, total, list(parts))
    return hidden


BIG = np.iinfo(np.int64).max


def _complement(counts: np.ndarray, hidden: np.ndarray, total: int, parts: list[int]) -> bool:
    """Where the total is shown and exactly one part is suppressed, suppress the smallest other non-zero
    part (``hidden`` changed in place)."""
    h = hidden[parts]
    exposed = (h.sum(axis=0) == 1) & ~hidden[total]
    if not exposed.any():
        return False
    c = counts[parts]
    candidate = np.where(h | (c == 0), BIG, c)
    pick = candidate.argmin(axis=0)
    ok = exposed & (np.take_along_axis(candidate, pick[None], axis=0)[0] < BIG)
    rows = np.asarray(parts)[pick]
    idx = np.nonzero(ok)
    hidden[(rows[idx], *idx)] = True
    # the other parts are all zero: the total equals the hidden part, so the total goes too
    hidden[total] |= exposed & ~ok
    return True
