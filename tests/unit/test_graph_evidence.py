"""An edge's evidence is shown in a fixed order, whatever order the database returned the rows in."""

from __future__ import annotations

import datetime as dt
import itertools

from exchange.access.lens import Lens, Row
from exchange.investigate.graph import MAX_EVIDENCE, Edge


def _row(n: int) -> Row:
    return Row("hotel_stay", {"source_agency": "police", "source_record_id": f"H{n:03d}", "_batch_id": "b1",
                              "room": "301"}, Lens(None))


def test_the_same_evidence_in_any_order_gives_the_same_edge() -> None:
    at = dt.datetime(2026, 3, 1, 20, 0)
    pieces = [(_row(n), _row(100 + n), at + dt.timedelta(days=n % 4)) for n in range(MAX_EVIDENCE + 3)]
    answers = []
    for order in itertools.islice(itertools.permutations(pieces), 0, 720, 97):
        edge = Edge("MP1", "MP2", "co_presence")
        for a, b, when in order:
            edge.add(a, b, place="H1", at=when)
        answers.append(edge.as_dict())
    assert all(a == answers[0] for a in answers[1:])
    shown = answers[0]["evidence"]
    assert len(shown) == MAX_EVIDENCE and answers[0]["count"] == MAX_EVIDENCE + 3
    assert [e["at"] for e in shown] == sorted(e["at"] for e in shown)
    assert shown[0]["records"][0] == {"agency": "police", "entity": "hotel_stay", "record": "H000", "batch": "b1"}
