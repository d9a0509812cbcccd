"""All public exceptions of the exchange, grouped by how to recover from them.

- ``ConfigError``: a spec, schema or setting is wrong; fix the named file and rerun.
- ``TransientError``: an outage or time-out; retrying the same work may succeed.
- ``TerminalError``: the work cannot succeed as it stands (bad file, refused access);
  retrying without a change is pointless.
- ``DataQualityError``: the data was read but too much of it failed validation.
- ``AccessDenied``: the caller's grant does not allow what was asked.

Every message names the file, feed, row or field concerned and says what to do next.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u00a0\u00ad\u115f\u1160\u1680\u180e\u2000-\u200f"
                       "\u2028-\u202f\u205f-\u206f\u3000\u3164\ufeff\ufff0-\ufffb]")
"""Characters a reader cannot see or tell from a plain space: controls, zero-width and bidirectional
marks, the byte-order mark, non-breaking and ideographic spaces, fillers."""
MAX_MESSAGE = 4000
"""No message is longer (a file of 100,000 columns must not make a 789,093-character error)."""
MAX_NAMES = 20


def shown(text: str) -> str:
    """``text`` with every :data:`INVISIBLE` character written as its escape (``\\u200b``), so a
    header with a zero-width space glued to it does not look like the one that is missing."""
    return INVISIBLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                         else f"\\u{ord(m.group()):04x}", text)


def capped(text: str, limit: int = MAX_MESSAGE) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"… ({len(text) - limit:,} more characters not shown)"


def listed(names: Iterable[object], limit: int = MAX_NAMES) -> str:
    """Names for a message: the first ``limit``, then how many more (``a, b, c, … and 99,997 more``)."""
    items = [str(n) for n in names]
    head = ", ".join(items[:limit])
    return head + (f", … and {len(items) - limit:,} more" if len(items) > limit else "")


class ExchangeError(Exception):
    """Base class of every error the exchange raises on purpose. Its message is shown with invisible
    characters escaped and capped at :data:`MAX_MESSAGE` characters, wherever it goes (the terminal,
    the ledger, a task log, an alert)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(capped(shown(a)) if isinstance(a, str) else a for a in args))


class ConfigError(ExchangeError):
    """A spec, schema, grant or setting is invalid.

    ``problems`` holds every problem found, each already prefixed with its path
    (``feeds/police/residents.yaml: mapping.性别: unknown field 'sex'``).
    """

    def __init__(self, message: str, problems: Iterable[str] = ()) -> None:
        self.problems = list(problems)
        if self.problems:
            message = message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)


class TransientError(ExchangeError):
    """A failure that may go away on retry (network, lock wait, service restart)."""


class TerminalError(ExchangeError):
    """A failure that will repeat on retry until the input or setup is changed."""


class SourceError(TerminalError):
    """A source could not be read as declared (encoding, format, structure).

    Carries the file (or feed) and, where known, the byte offset or row.
    """

    def __init__(self, message: str, *, source: str = "", offset: int | None = None,
                 row: int | None = None) -> None:
        self.source = source
        self.offset = offset
        self.row = row
        super().__init__(message)


class DataQualityError(ExchangeError):
    """The batch was read but failed its quality thresholds; nothing was published."""


class AccessDenied(ExchangeError):
    """The caller's grant does not allow the requested data."""
