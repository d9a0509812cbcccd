"""Named fault-injection points, for the crash-recovery and outage tests.

A test sets ``EXCHANGE_FAULT_POINT=<name>`` (and ``EXCHANGE_FAULT_FILE=<path>``) on a child
process; when the code reaches that point it writes the file and stops there (sleeps), so
the test can kill it with SIGKILL at exactly that place. With ``EXCHANGE_FAULT_MODE=pause``
it waits only until the test removes the file, then goes on (and does not stop at that point
again): the test does something in between — restarts a server, kills a connection — and
watches how the run copes. With the variable unset — always, in production — ``point()`` is
a dictionary lookup and nothing else.

Points: ``extract.batch`` (after each source batch is written to raw Parquet),
``validate.chunk`` (after each chunk is validated), ``stage.sealed`` (manifest written, state
not yet recorded), ``load.copy`` (in the bulk insert: COPY on PostgreSQL, INSERT chunks on
SQLite), ``load.upsert`` (history written, the upsert not yet run), ``load.before_ledger`` (every
row written, the ledger entry and commit not yet), ``load.committed`` (loaded, not yet published).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

POINTS = ("extract.batch", "validate.chunk", "stage.sealed", "load.copy", "load.upsert", "load.before_ledger",
          "load.committed")

_passed: set[str] = set()  # pause mode: the points already paused at once


def point(name: str) -> None:
    if os.environ.get("EXCHANGE_FAULT_POINT") != name:
        return
    _reached(name)


def _reached(name: str) -> None:
    if name in _passed:
        return
    marker = os.environ.get("EXCHANGE_FAULT_FILE")
    path = Path(marker) if marker else None
    if path is not None:
        path.write_text(f"{name} {os.getpid()}\n", encoding="utf-8")
    if path is not None and os.environ.get("EXCHANGE_FAULT_MODE") == "pause":
        while path.exists():  # until the test removes the file
            time.sleep(0.05)
        _passed.add(name)
        return
    while True:  # wait to be killed
        time.sleep(1)
