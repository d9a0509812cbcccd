"""The command line's one error handler: expected errors as one line and exit 2, usage errors as the
usage text and the closest command with exit 2, anything else as a bug (exit 3)."""

from __future__ import annotations

import logging
import os
import sys

import click
import typer
from rich.markup import escape

from exchange.cli.render import EXIT_ERROR, err, unshown_escaped
from exchange.errors import ConfigError, DataQualityError, ExchangeError, TerminalError, TransientError

_KINDS = ((ConfigError, "configuration error"), (TransientError, "transient error (a retry may succeed)"),
          (DataQualityError, "data quality"), (TerminalError, "error"))


def _message(exc: Exception) -> str:
    from exchange.formats.masking import redact  # numpy/pyarrow: imported on use
    kind = next((label for cls, label in _KINDS if isinstance(exc, cls)), "error")
    text = unshown_escaped(redact(str(exc)))  # e.g. a column name's NUL
    return f"[bold red]{kind}:[/] {escape(text)}"


def _fail(exc: Exception) -> None:
    err.print(_message(exc), highlight=False)
    raise typer.Exit(EXIT_ERROR)


def _exit_for(exc: Exception) -> None:
    err.print(_message(exc), highlight=False)
    sys.exit(EXIT_ERROR)


def _typer_click_errors() -> tuple[type[Exception], ...]:
    """Typer ≥ 0.20 raises usage errors from its own copy of click (``typer._click``): exit 2 with
    the usage text and the closest command name, like click's own."""
    try:
        from typer._click.exceptions import ClickException as TyperClickException
    except ImportError:
        return ()
    return (TyperClickException,)


_TYPER_CLICK_ERRORS = _typer_click_errors()


def run_cli() -> None:
    """Console entry point: expected errors are handled by the top group; anything else is a bug,
    reported in one line (the traceback only with --verbose, since it can hold row values)."""
    from exchange.cli import app

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    try:
        code = app(standalone_mode=False)  # click returns (not raises) a command's typer.Exit code here
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except (click.ClickException, *_TYPER_CLICK_ERRORS) as exc:  # a mistyped command, a missing argument
        exc.show()
        sys.exit(exc.exit_code)
    except ExchangeError as exc:
        _exit_for(exc)
    except Exception as exc:
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            raise
        from exchange.formats.masking import redact  # numpy/pyarrow: imported on use

        err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {escape(redact(str(exc)[:500]))}\n"
                  f"This is a bug in the exchange; rerun with -v for the traceback and report it.")
        sys.exit(3)
