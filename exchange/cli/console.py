"""``exchange console user …``: the web console's users (the admin creates them)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from exchange.cli.app import console_users_app
from exchange.cli.render import EXIT_INVALID_ROWS, console, err

PASSWORD_ENV = "EXCHANGE_CONSOLE_PASSWORD"


def _password(ask: bool) -> str | None:
    """The password from EXCHANGE_CONSOLE_PASSWORD, typed (--ask), or None: one is generated and shown once."""
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if ask:
        return typer.prompt("password", hide_input=True, confirmation_prompt=True)
    return None


def _shown_once(user: str, generated: str | None) -> None:
    if generated:
        err.print(f"password of {escape(user)} — shown once, give it to the user (they sign in at /console/login):")
        console.print(generated, highlight=False, soft_wrap=True)


@console_users_app.command("add")
def console_user_add(
        user: Annotated[str, typer.Argument(help="the user name (a-z, 0-9, . _ -)")],
        agency: Annotated[str, typer.Option(help="the consumer agency whose grant the user reads through")],
        role: Annotated[str, typer.Option(help="investigator (search, persons) or auditor (batches, access log, "
                                               "ledger)")] = "investigator",
        name: Annotated[str | None, typer.Option(help="the person's name, shown in the console")] = None,
        ask: Annotated[bool, typer.Option("--ask", help="type the password (else EXCHANGE_CONSOLE_PASSWORD, else "
                                                        "one is generated)")] = False) -> None:
    """Create a console user tied to an agency's grant."""
    from exchange.workspace.console import add_console_user

    generated = add_console_user(user, agency, role, password=_password(ask), display_name=name,
                                 by=os.environ.get("USER"))
    console.print(f"console user {escape(user)} created: {agency}, {role}")
    _shown_once(user, generated)


@console_users_app.command("passwd")
def console_user_passwd(user: Annotated[str, typer.Argument(help="the user name")],
                        ask: Annotated[bool, typer.Option("--ask", help="type the password")] = False) -> None:
    """Set a new password (the user's sessions end)."""
    from exchange.workspace.console import set_console_password

    _shown_once(user, set_console_password(user, password=_password(ask), by=os.environ.get("USER")))
    console.print(f"password of {escape(user)} changed; their sessions are ended")


@console_users_app.command("disable")
def console_user_disable(user: Annotated[str, typer.Argument(help="the user name")]) -> None:
    """Disable a user (their sessions end at once)."""
    from exchange.workspace.console import disable_console_user

    if not disable_console_user(user, by=os.environ.get("USER")):
        err.print(f"[red]no active console user {escape(user)}[/]")
        raise typer.Exit(EXIT_INVALID_ROWS)
    console.print(f"console user {escape(user)} disabled")


@console_users_app.command("list")
def console_user_list(agency: Annotated[str | None, typer.Option(help="only this agency")] = None) -> None:
    """The console users (never their passwords)."""
    from exchange.workspace.console import console_users

    t = Table(title="audit.console_user", title_justify="left")
    for col in ("user", "agency", "role", "name", "created", "by", "password set", "disabled"):
        t.add_column(col, overflow="fold")
    for r in console_users(agency):
        t.add_row(r["user_name"], r["agency"], r["role"], r["display_name"] or "", str(r["created_at"]),
                  r["created_by"] or "", str(r["password_set_at"]), str(r["disabled_at"] or ""))
    console.print(t)
