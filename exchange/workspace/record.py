"""On the record: the access log rows every read and export leaves, and the errors a read turns into
clear messages. Shared by the components; no component reaches into another's internals for them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from exchange.errors import ConfigError, ExchangeError
from exchange.spec.settings import Settings
from exchange.warehouse.outages import outages_as_transient
from exchange.workspace.space import warehouse


@contextlib.contextmanager
def _on_record(settings: Settings | None, record: Any) -> Iterator[Any]:
    """An operator's read on the workspace's warehouse (the engine yielded): a failure is put on its
    ``audit.access`` row with the reason (masked), and the row is written whatever happens (the data
    may have left the warehouse already)."""
    with warehouse(settings) as engine:
        try:
            yield engine
        except ExchangeError as exc:
            from exchange.access.keys import clip
            from exchange.formats.masking import redact

            record.status, record.outcome = 400, clip(f"failed: {redact(str(exc))}") or "failed"
            raise
        finally:
            _log_export(engine, record)


@contextlib.contextmanager
def _query_errors(what: str) -> Iterator[None]:
    """A database's refusal of an operator query as a ConfigError naming it (never a traceback)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        raise ConfigError(f"{what}: the query failed: {getattr(exc, 'orig', None) or exc}") from None
    except Exception as exc:
        if type(exc).__module__.startswith(("psycopg", "sqlite3")):
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ConfigError(f"{what}: the query failed: {first}") from None
        raise


def _operator_record(channel: str, what: str, entity: str, purpose: str | None, case_number: str | None,
                     detail: str | None = None) -> Any:
    """The ``audit.access`` row of an operator's read: agency ``operator``, the OS account (from the
    process's uid, not ``$USER``) and host; outcome "interrupted" until the read completes."""
    from exchange.access.keys import AccessRecord
    from exchange.access.operator import Operator

    who = Operator.current()
    return AccessRecord(agency="operator", what=what, status=0, outcome="failed: interrupted", user_id=who.user,
                        purpose=purpose, case_number=case_number, entity=entity, client=who.host, channel=channel,
                        detail=detail)


def _log_export(engine: Any, record: Any) -> None:
    """The export's row in audit.access; the data has left the warehouse, so a failure to record it
    is an error of the command (the file is kept: deleting it would not undo a copy)."""
    from exchange.access.keys import write_access

    # audit.access exists: the engine comes from ``warehouse()``, which migrated it
    with outages_as_transient(engine, "recording the export in audit.access"), engine.begin() as conn:
        write_access(conn, record)


def _seal(conn: Any, settle_seconds: float | None = None) -> Any:
    from exchange.access import digest
    from exchange.audit import chain

    chain.lock(conn)  # one sealer at a time: the range starts where the last seal ended
    last = chain.latest_of_kind(conn, "access_digest")
    after = int(last.data["last_id"]) if last else 0
    found = digest.sealable(conn, after, settle_seconds=digest.SETTLE_SECONDS if settle_seconds is None
                            else settle_seconds)
    if found is None:
        return None
    return chain.append(conn, "access_digest", f"audit.access {found.first_id}-{found.last_id}", found.payload())
