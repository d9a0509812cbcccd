"""What the demo city really contains: the ground truth the pipeline is measured against.

For every feed: the data rows written, each seeded defect (row, record id, canonical field,
rule code) and how many rows should load; for person-bearing feeds, which true resident
each record belongs to (to measure record-linkage precision and recall).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TRUTH_FORMAT = "exchange-demo-truth/1"


@dataclass(frozen=True)
class SeededDefect:
    """One defective row. ``row`` is the 1-based record number in the file (header excluded);
    ``field`` is the canonical field (None for a row that cannot be parsed at all)."""

    row: int
    source_record_id: str
    field: str | None
    rule: str
    severity: str = "quarantine"
    """``quarantine`` (the row is rejected) or ``flag`` (the row loads, the value kept as unverified)."""


@dataclass
class FeedTruth:
    feed_id: str
    path: str
    """The file written, relative to the landing folder (POSIX separators)."""
    format: str
    encoding: str
    rows: int
    defects: list[SeededDefect] = field(default_factory=list)
    person_keys: dict[str, str] = field(default_factory=dict)
    """source_record_id → person_key of the true person, for person-bearing feeds."""

    @property
    def quarantined(self) -> list[SeededDefect]:
        return [d for d in self.defects if d.severity == "quarantine"]

    @property
    def flagged(self) -> list[SeededDefect]:
        return [d for d in self.defects if d.severity == "flag"]

    @property
    def expected_loaded(self) -> int:
        """Rows that load, flagged ones included."""
        return self.rows - len(self.quarantined)

    @property
    def defect_rows(self) -> dict[int, SeededDefect]:
        return {d.row: d for d in self.defects}

    @property
    def quarantined_rows(self) -> dict[int, SeededDefect]:
        return {d.row: d for d in self.quarantined}

    @property
    def flagged_rows(self) -> dict[int, SeededDefect]:
        return {d.row: d for d in self.flagged}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["expected_loaded"] = self.expected_loaded
        data["expected_flagged"] = len(self.flagged)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeedTruth:
        return cls(feed_id=data["feed_id"], path=data["path"], format=data["format"],
                   encoding=data["encoding"], rows=int(data["rows"]),
                   defects=[SeededDefect(**d) for d in data.get("defects", [])],
                   person_keys=dict(data.get("person_keys", {})))


@dataclass
class CityTruth:
    """Ground truth of one generated city; JSON round-trips through to_json/from_json."""

    seed: int
    today: str
    """ISO date the city was generated for (dates after it are 'future')."""
    persons: int
    """Residents of the city (person keys P…); visitors (V…) appear in some feeds only."""
    visitors: int
    households: int
    city: str = "610900"
    feeds: dict[str, FeedTruth] = field(default_factory=dict)
    groups: list[dict[str, Any]] = field(default_factory=list)
    """People who move together (``members``: person keys; ``together``: [kind, place code, time]): what the
    relation graph's co-presence edges are measured against."""
    series: list[dict[str, Any]] = field(default_factory=list)
    """Planted series of police cases (``offence``, ``cases``: case numbers, ``shared``: suspect/vehicle/phone
    where some of its cases share one): what serial-case linking is measured against."""
    mediation: dict[str, Any] = field(default_factory=dict)
    """The disputes still open (``open``) and those past a time limit (``overdue``) on ``today``: what the
    mediation queue is measured against."""

    def feed(self, feed_id: str) -> FeedTruth:
        return self.feeds[feed_id]

    def rule_counts(self) -> Counter[str]:
        return Counter(d.rule for f in self.feeds.values() for d in f.defects)

    def to_dict(self) -> dict[str, Any]:
        return {"format": TRUTH_FORMAT, "seed": self.seed, "today": self.today,
                "persons": self.persons, "visitors": self.visitors, "households": self.households,
                "city": self.city,
                "feeds": {fid: ft.to_dict() for fid, ft in sorted(self.feeds.items())}, "groups": self.groups,
                "series": self.series, "mediation": self.mediation}

    def to_json(self, *, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CityTruth:
        if data.get("format") != TRUTH_FORMAT:
            raise ValueError(f"not a demo truth document (format {data.get('format')!r}, "
                             f"expected {TRUTH_FORMAT!r})")
        return cls(seed=int(data["seed"]), today=data["today"], persons=int(data["persons"]),
                   visitors=int(data["visitors"]), households=int(data["households"]),
                   city=data.get("city", "610900"),
                   feeds={fid: FeedTruth.from_dict(ft) for fid, ft in data["feeds"].items()},
                   groups=list(data.get("groups", [])), series=list(data.get("series", [])),
                   mediation=dict(data.get("mediation", {})))

    @classmethod
    def from_json(cls, text: str) -> CityTruth:
        return cls.from_dict(json.loads(text))

    def write(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> CityTruth:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
