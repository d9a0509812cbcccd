"""``exchange schemas``: the shared canonical schemas (list, show, compatibility check)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from exchange.cli.app import (
    _catalog,
    schemas_app,
)
from exchange.cli.render import EXIT_INVALID_ROWS, console, err


@schemas_app.callback()
def schemas_list(ctx: typer.Context) -> None:
    """List the shared schemas (``exchange schemas show NAME`` for one)."""
    if ctx.invoked_subcommand:
        return
    _, cat = _catalog()
    t = Table(title="Shared canonical schemas", title_justify="left")
    for col in ("schema", "version", "fields", "PII fields", "feeds", "description"):
        t.add_column(col, overflow="fold")
    for name, s in sorted(cat.schemas.items()):
        feeds = [f for f, spec in cat.feeds.items() if spec.target_schema == name]
        pii = sum(1 for f in s.fields.values() if f.pii != "none")
        t.add_row(name, s.version, str(len(s.fields)), str(pii), ", ".join(sorted(feeds)) or "-",
                  s.description.strip())
    console.print(t)


@schemas_app.command("show")
def schemas_show(name: str, suite: Annotated[bool, typer.Option(help="print the compiled GX suite")] = False
                 ) -> None:
    """Show one schema's fields as a table (or its compiled Great Expectations suite)."""
    _, cat = _catalog()
    s = cat.schema(name)
    if suite:
        from exchange.validation.suites import compile_suite, suite_to_golden

        console.print_json(json.dumps(suite_to_golden(compile_suite(s, cat)), ensure_ascii=False))
        return
    t = Table(title=f"{s.name} {s.version} — {s.description.strip()}", title_justify="left")
    for col in ("field", "type", "format", "required", "PII", "allowed values", "description"):
        t.add_column(col, overflow="fold")
    for fname, f in s.fields.items():
        allowed = s.allowed_values(fname, cat.codes)
        t.add_row(fname + (" 🔑" if fname in s.natural_key else ""), f.type, f.format or "",
                  "yes" if f.required else "", f.pii, ", ".join(allowed) if allowed else "", f.description)
    console.print(t)
    console.print(f"natural key: (source_agency, {', '.join(s.natural_key)})")


@schemas_app.command("check")
def schemas_check(against: Annotated[str, typer.Option(help="git revision holding the published schemas")]
                  = "HEAD") -> None:
    """Check that every changed schema raised its version enough (breaking change → major)."""
    import subprocess

    import yaml

    from exchange.spec.compat import check, compare
    from exchange.spec.loading import parse_model
    from exchange.spec.schema import CodeList, EntitySchema

    settings, cat = _catalog()

    def show(path: str) -> str | None:
        res = subprocess.run(["git", "-C", str(settings.root), "show", f"{against}:{path}"],
                             capture_output=True, text=True)
        return res.stdout if res.returncode == 0 else None

    old_codes_text = show("schemas/reference/codes.yaml")
    old_cat = type(cat)(root=cat.root)
    if old_codes_text:
        old_cat.codes = {k: parse_model(CodeList, v, f"{against}:codes.yaml")
                         for k, v in yaml.safe_load(old_codes_text).items()}
    problems: list[str] = []
    t = Table(title=f"schema changes since {against}", title_justify="left")
    for col in ("schema", "version", "change", "needs"):
        t.add_column(col, overflow="fold")
    for name, new in sorted(cat.schemas.items()):
        text = show(f"schemas/{name}.yaml")
        if text is None:
            t.add_row(name, new.version, "new schema", "-")
            continue
        old = parse_model(EntitySchema, yaml.safe_load(text), f"{against}:schemas/{name}.yaml")
        for c in compare(old, new, old_cat, cat):
            t.add_row(name, f"{old.version} → {new.version}", c.what, c.level)
        problems.extend(check(old, new, old_cat, cat))
    console.print(t)
    if problems:
        for p in problems:
            err.print(f"[red]{escape(p)}[/]")
        raise typer.Exit(EXIT_INVALID_ROWS)
    console.print("[green]every schema change carries the version it needs[/]")


