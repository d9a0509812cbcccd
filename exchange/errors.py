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

from collections.abc import Iterable


class ExchangeError(Exception):
    """Base class of every error the exchange raises on purpose."""


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
