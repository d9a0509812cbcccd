"""The ``exchange`` Typer application and its command groups; the command modules register on them.

One error handler for every command: an :class:`~exchange.errors.ExchangeError` raised anywhere below
the top group is printed as one line (kind, message with identifiers redacted) and exits 2.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from exchange.errors import ExchangeError


class _Handled(TyperGroup):
    """The top group: expected errors of any command become a message and exit code 2."""

    def invoke(self, ctx: Any) -> Any:
        """Every command runs in one workspace (settings, catalog, warehouse engine opened once)."""
        from exchange.workspace.space import Workspace

        try:
            with Workspace():
                return super().invoke(ctx)
        except ExchangeError as exc:
            from exchange.cli.errors import _fail

            _fail(exc)


app = typer.Typer(cls=_Handled, help="Agency Data Exchange: validate agency feeds against shared schemas and land "
                                     "them in the common warehouse.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_show_locals=False)
schemas_app = typer.Typer(help="The shared canonical schemas.", invoke_without_command=True)
app.add_typer(schemas_app, name="schemas")
audit_app = typer.Typer(help="For auditors: the hash-chained ledger, lineage of a row, the audit report.",
                        no_args_is_help=True)
app.add_typer(audit_app, name="audit")
quarantine_app = typer.Typer(help="Quarantined rows: re-validate them after a mapping or schema fix.",
                             no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")
grants_app = typer.Typer(help="Sharing: grants/<agency>.yaml → roles, masked share_<agency> views, privileges; "
                              "API keys; the access log.", no_args_is_help=True)
app.add_typer(grants_app, name="grants")
grant_keys_app = typer.Typer(help="Per-agency API keys of the profile API (stored hashed).", no_args_is_help=True)
grants_app.add_typer(grant_keys_app, name="key")
feeds_app = typer.Typer(help="The declared feeds (no subcommand: the list), and their health.",
                        invoke_without_command=True)
app.add_typer(feeds_app, name="feeds")
ops_app = typer.Typer(help="Operating the exchange: the health check that raises and resolves alerts, and the "
                           "alerts sent.", no_args_is_help=True)
app.add_typer(ops_app, name="ops")
link_app = typer.Typer(help="The master person index: link every person record (no subcommand), or work the "
                            "clerical review queue.", invoke_without_command=True)
app.add_typer(link_app, name="link")
review_app = typer.Typer(help="Records the model could not place with confidence: see them, accept a candidate, "
                              "or reject them all. Decisions persist, override the model and go to the ledger.",
                         no_args_is_help=True)
link_app.add_typer(review_app, name="review")
console_app = typer.Typer(help="The web console (served by `exchange serve` at /console): its users.",
                          no_args_is_help=True)
app.add_typer(console_app, name="console")
console_users_app = typer.Typer(help="Console users: one per person at a consumer agency, tied to its grant; "
                                     "passwords stored as scrypt; every change in the ledger.", no_args_is_help=True)
console_app.add_typer(console_users_app, name="user")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("great_expectations", "urllib3", "faker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False) -> None:
    _setup_logging(verbose)


def _catalog() -> Any:
    """The settings and catalog of the command's workspace."""
    from exchange.workspace.space import Workspace, current

    ws = current() or Workspace()
    return ws.settings, ws.catalog
