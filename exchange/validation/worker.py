"""Validation in a worker process: a batch's chunks checked by the compiled GX suite on the second core.

GX holds the interpreter lock while it checks a chunk, so in one process the checks, the mapping of the
next chunk, the Parquet writes and the ``COPY`` beside them share one core. :class:`ValidatorProcess`
runs a :class:`~exchange.validation.engine.BatchValidator` in a process of its own (started with
``spawn``: a fresh interpreter, safe beside this one's threads) that imports GX and compiles the feed's
suite itself. Chunks go to it as Arrow IPC streams; the per-row reasons come back in order. The caller
submits chunk k+1 before it splits chunk k (:meth:`FeedChecks.stream
<exchange.pipeline.checking.FeedChecks.stream>`), so the two run side by side; the process publishes
the batch's Data Docs and returns the report's summary at the end, so GX is never imported here.

What it changes nothing in: the reasons, counts, samples and report are those of the in-process
validator (``tests/integration/test_validation_worker.py``). A worker that fails fails the stage with
its error; one that dies (killed, out of memory) fails it as transient: a rerun goes on from the
extracted batch; a parent that dies takes the worker with it (its pipe closes). Not for processes
that may not have children: Airflow's Celery workers are daemonic, so only ``exchange run`` uses it
(``Settings.validate_worker_rows``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import traceback
from pathlib import Path
from typing import Any

import pyarrow as pa

from exchange.errors import TransientError
from exchange.spec.reasons import Reason

_ROW = "__exchange_row"
"""The column that carries each row's source record number to the worker."""


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _serve(conn: Any, root: str, feed_id: str, today: str | None) -> None:
    """The worker: compile the feed's suite, then answer each message until ``stop`` or a closed pipe."""
    try:
        from exchange.spec.catalog import load_catalog
        from exchange.validation.engine import BatchValidator
        from exchange.validation.suites import compile_suite

        catalog = load_catalog(Path(root))
        compiled = compile_suite(catalog.schema_for(catalog.feed(feed_id)), catalog)
        validator = BatchValidator(compiled, feed_id=feed_id, today=dt.date.fromisoformat(today) if today else None)
        conn.send(("ready", compiled.suite.name))
    except BaseException as exc:  # noqa: BLE001 - told to the parent, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        return
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        try:
            if message[0] == "stop":
                return
            if message[0] == "chunk":
                table = pa.ipc.open_stream(message[1]).read_all()
                rows = table.column(_ROW).to_pylist()
                conn.send(("ok", validator.validate(table.drop_columns([_ROW]), rows)))
            elif message[0] == "finish":
                _, reports_dir, batch_id, run_time = message
                report, summary = validator.finish(Path(reports_dir), batch_id=batch_id, run_time=run_time)
                conn.send(("ok", (str(report) if report else None, summary)))
        except (BrokenPipeError, EOFError):
            return
        except BaseException as exc:  # noqa: BLE001 - told to the parent, which raises it
            try:
                conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
            except OSError:
                return


class ValidatorProcess:
    """A :class:`~exchange.validation.engine.BatchValidator` of one batch in a worker process: ``submit``
    a chunk, then take its reasons with ``result(job)`` (in the order submitted); ``finish`` publishes the
    report; ``close`` stops the worker. Started at once: it imports GX while the caller goes on."""

    def __init__(self, root: Path, feed_id: str, today: dt.date | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.feed_id = feed_id
        self._process = context.Process(target=_serve, args=(child, str(root), feed_id,
                                                               today.isoformat() if today else None),
                                        name=f"exchange-validate-{feed_id}", daemon=True)
        self._process.start()
        child.close()
        self._suite: str | None = None
        self._sent = self._read = 0
        self._answers: dict[int, Any] = {}

    @property
    def suite_name(self) -> str:
        while self._suite is None:
            self._next()
        return self._suite

    def _receive(self) -> Any:
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            self._process.join(timeout=5)
            raise TransientError(f"feed {self.feed_id}: the validation worker (pid {self._process.pid}) stopped "
                                 f"with exit code {self._process.exitcode} (killed, or out of memory?); nothing was "
                                 f"loaded, and a rerun goes on from the extracted batch") from None

    def _next(self) -> None:
        message = self._receive()
        if message[0] == "ready":
            self._suite = message[1]
            return
        if message[0] == "error":
            raise RuntimeError(f"feed {self.feed_id}: validation failed in the worker process: {message[1]}\n"
                               f"{message[2]}")
        self._answers[self._read] = message[1]
        self._read += 1

    def _ask(self, message: tuple[Any, ...]) -> int:
        try:
            self._conn.send(message)
        except OSError:  # the worker is gone: what it still answered, then its error or that it stopped
            while True:
                self._next()
        self._sent += 1
        return self._sent - 1

    def _answer(self, job: int) -> Any:
        while job not in self._answers:
            self._next()
        return self._answers.pop(job)

    def submit(self, table: pa.Table, row_numbers: list[int]) -> int:
        """Send one chunk (canonical string columns) to the worker; returns the job to ask ``result`` for."""
        return self._ask(("chunk", _ipc(table.append_column(_ROW, pa.array(row_numbers, pa.int64())))))

    def result(self, job: int) -> dict[int, list[Reason]]:
        """Row index → reasons of the chunk ``job`` (waits for the worker)."""
        return self._answer(job)

    def validate(self, table: pa.Table, row_numbers: list[int] | None = None) -> dict[int, list[Reason]]:
        return self.result(self.submit(table, row_numbers or list(range(table.num_rows))))

    def finish(self, reports_dir: Path, *, batch_id: str, run_time: dt.datetime) -> tuple[Path | None,
                                                                                          list[dict[str, Any]]]:
        """The batch's Data Docs published by the worker; (report path or None, one row per expectation)."""
        report, summary = self._answer(self._ask(("finish", str(reports_dir), batch_id, run_time)))
        return (Path(report) if report else None), summary

    def close(self) -> None:
        """Stop the worker (at once if it is busy: its work is no longer wanted)."""
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send(("stop",))
            self._process.join(timeout=2 if self._sent == self._read else 0)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=5)
        self._conn.close()
