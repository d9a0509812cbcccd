"""The stages of a batch, in order, declared once: the driver ranks ledger states by it, ``run_feed``
runs the stages in it, and the Airflow DAG factory makes one task per entry. Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    name: str
    """The stage's name: the Airflow task id and the key of its time in ``audit.batch.timings``."""
    state: str
    """The ledger state a batch reaches when the stage is done."""
    summary: str


STEPS = (
    Step("extract", "extracted", "read the source once into raw Parquet; the batch id comes from its fingerprint"),
    Step("validate", "validated", "map to the canonical fields and validate every row with the schema's GX suite"),
    Step("stage", "staged", "seal the staged files with a SHA-256 manifest"),
    Step("load", "loaded", "quarantine the rejects; upsert the valid rows unless over the reject ratio"),
    Step("publish", "published", "mark the batch published; refresh the shares and the reports index"),
)
NAMES = tuple(step.name for step in STEPS)
STATES = ("started", *(step.state for step in STEPS))
"""The ledger's states in the order a batch reaches them (``failed`` is outside the order)."""
DONE = ("loaded", "published")
"""States of a batch whose rows are in core: nothing left to do but publishing."""
COUNTS = ("rows_in", "rows_valid", "rows_loaded", "rows_quarantined", "rows_flagged", "reject_ratio")
"""The ledger's counts of a batch: set from validation on, none for a batch that failed before."""


def step(name: str) -> Step:
    for s in STEPS:
        if s.name == name:
            return s
    raise KeyError(f"no stage {name!r}; the stages are {', '.join(NAMES)}")


def rank(state: str | None) -> int:
    """A state's place in the order; -1 for ``failed``, none or unknown."""
    return STATES.index(state) if state in STATES else -1
