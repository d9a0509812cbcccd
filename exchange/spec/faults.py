"""Named fault-injection points, for the crash-recovery tests.

A test sets ``EXCHANGE_FAULT_POINT=<name>`` (and ``EXCHANGE_FAULT_FILE=<path>``) on a child
process; when the code reaches that point it writes the file and stops there (sleeps), so
the test can kill it with SIGKILL at exactly that place. With the variable unset — always,
in production — ``point()`` is a dictionary lookup and nothing else.

Points: ``extract.batch``, ``validate.chunk``, ``stage.sealed``, ``load.copy``,
``load.upsert``, ``load.before_ledger``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

POINTS = ("extract.batch", "validate.chunk", "stage.sealed", "load.copy", "load.upsert", "load.before_ledger")


def point(name: str) -> None:
    if os.environ.get("EXCHANGE_FAULT_POINT") != name:
        return
    marker = os.environ.get("EXCHANGE_FAULT_FILE")
    if marker:
        Path(marker).write_text(f"{name} {os.getpid()}\n", encoding="utf-8")
    while True:  # wait to be killed
        time.sleep(1)
