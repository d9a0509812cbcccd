"""Stable person_uids: a new clustering is mapped onto the ids already issued.

Each new cluster is matched to the previous person_uid it shares most records with
(greedy, largest overlap first, older ids first on ties, each id used once) — except that an id
always stays with the validated ID number it was issued for: a split never hands it to another
ID holder, whichever side keeps more records. Clusters left
without one get new ids, numbered after the highest ever issued, in record order — so the
same data always gives the same ids and nobody is renumbered when records arrive.

What changed is reported as events:

- ``merge``: an id lost all its records to other persons; it points to where most went
  (``mdm.person.merged_into``) and is never reused;
- ``split``: some records of an id now form a new person;
- ``move``: some records of an id went to another existing person;
- ``retire``: an id whose records all left the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

UID_PREFIX = "MP"
UID_DIGITS = 10


def uid_number(uid: str) -> int:
    return int(uid[len(UID_PREFIX):])


def is_uid(value: str) -> bool:
    return (len(value) == len(UID_PREFIX) + UID_DIGITS and value.startswith(UID_PREFIX)
            and value[len(UID_PREFIX):].isdigit())


@dataclass
class Changes:
    events: list[tuple[str, str, str | None, int]] = field(default_factory=list)
    """(event, person_uid, other_uid, records)"""
    merged_into: dict[str, str] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)


def greedy_assign(contested: list[tuple[int, str, int]] | list[tuple[int, str, int, bool]]) -> dict[int, str]:
    """Clusters that share records with several previous ids (or ids shared by several
    clusters): an id goes first to the cluster holding the validated ID number it was issued for
    (its *anchor*: the ID number of its oldest ID-bearing record), then largest overlap first, older
    id first on ties; each cluster and id used once. ``contested`` rows are (cluster, previous
    person_uid, records shared[, the cluster holds the id's anchor])."""
    out: dict[int, str] = {}
    taken: set[str] = set()
    rows = [(t[0], t[1], t[2], bool(t[3]) if len(t) > 3 else False) for t in contested]
    for c, uid, _n, _anchored in sorted(rows, key=lambda t: (not t[3], -t[2], uid_number(t[1]), t[0])):
        if c in out or uid in taken:
            continue
        out[c] = uid
        taken.add(uid)
    return out


def describe_changes(moved: list[tuple[str, str, int]], *, kept: set[str], created: set[str]) -> Changes:
    """Events for records that changed person.

    ``moved``: (previous person_uid, person_uid now, records) for every pair that differs;
    ``kept``: previous ids still in use after the run; ``created``: ids issued by this run.
    An id no longer in use is merged into the person that received most of its records.
    """
    out = Changes()
    best: dict[str, tuple[int, int, str]] = {}
    for old, new, n in moved:
        if old in kept:
            continue
        key = (n, -uid_number(new), new)
        if old not in best or key > best[old]:
            best[old] = key
    for old, new, n in sorted(moved, key=lambda t: (uid_number(t[0]), uid_number(t[1]))):
        if old not in kept and best[old][2] == new:
            out.events.append(("merge", old, new, n))
            out.merged_into[old] = new
        elif new in created:
            out.events.append(("split", old, new, n))
        else:
            out.events.append(("move", old, new, n))
    return out
