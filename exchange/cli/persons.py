"""The master person index: ``exchange link [review …] | hard-city | person | serve``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from exchange.cli.app import (
    _catalog,
    app,
    link_app,
    review_app,
)
from exchange.cli.render import EXIT_INVALID_ROWS, _link_table, _metrics_line, console, err


@link_app.callback()
def link(ctx: typer.Context,
         evaluate: Annotated[bool, typer.Option("--evaluate", help="measure pairwise precision / recall / F1 "
                                                "against the demo city's truth")] = False,
         retrain: Annotated[bool, typer.Option("--retrain", help="train and save a new model version first")]
         = False,
         truth: Annotated[Path | None, typer.Option(help="with --evaluate: a linking truth file (link_truth.json "
                                                         "of `exchange hard-city`): per hard case and relation")]
         = None) -> None:
    """Link every person record of the warehouse into the master person index (mdm.*): one
    stable person_uid per real person, golden records, merge/split events."""
    from exchange.workspace.persons import evaluate_linking, link_persons
    if ctx.invoked_subcommand is not None:
        return

    settings, cat = _catalog()
    result = link_persons(settings, cat, retrain=retrain, evaluate=evaluate and truth is None,
                          say=lambda m: err.print(m))
    measured = evaluate_linking(truth, settings=settings) if evaluate and truth is not None else None
    console.print(_link_table(result))
    if result.metrics:
        console.print(_metrics_line(result.metrics))
    if measured:
        _print_evaluation(measured)


@review_app.command("list")
def review_list(status: Annotated[str, typer.Option(help="pending, accepted, rejected, stale or all")] = "pending",
                limit: int = 100) -> None:
    """The review queue."""
    from exchange.workspace.persons import link_reviews
    rows = link_reviews(None if status == "all" else status, limit=limit, settings=_catalog()[0])
    t = Table(title=f"mdm.review ({status})", title_justify="left")
    for col in ("review", "record", "candidates (probability)", "status", "run", "decided by"):
        t.add_column(col, overflow="fold")
    for r in rows:
        cands = json.loads(r["candidates"])
        t.add_row(r["review_id"], f"{r['source_agency']}/{r['entity']}/{r['source_record_id']}",
                  "; ".join(f"{_masked_id(c['id_number'])} ({c['probability']:.3f})" for c in cands), r["status"],
                  str(r["created_run"]), r["decided_by"] or "")
    console.print(t)


def _masked_id(value: str | None) -> str:
    from exchange.formats.masking import scrub_identifiers

    return scrub_identifiers(value or "")


@review_app.command("show")
def review_show(review_id: str) -> None:
    """One review: the record, both candidates and the evidence per comparison."""
    from exchange.workspace.persons import link_review
    row = link_review(review_id, settings=_catalog()[0])
    console.print(f"[bold]{row['review_id']}[/] {row['status']}: {row['source_agency']}/{row['entity']}/"
                  f"{row['source_record_id']} ({row['role']}) — {row['reason']}")
    cands = json.loads(row["candidates"])
    t = Table(title_justify="left")
    t.add_column("comparison")
    t.add_column("this record", overflow="fold")
    for i, c in enumerate(cands, 1):
        t.add_column(f"candidate {i}: {c['id_number']} p={c['probability']:.3f} ({c['record']})", overflow="fold")
    for f in cands[0]["evidence"]:
        cells = [escape(str(cands[0]["evidence"][f]["record"] or ""))]
        for c in cands:
            e = c["evidence"][f]
            mark = "" if e["agree"] is None else (" [green]=[/]" if e["agree"] else " [red]≠[/]")
            cells.append(escape(str(e["candidate"] or "")) + mark)
        t.add_row(f, *cells)
    console.print(t)
    console.print("accept: exchange link review accept REVIEW --id-number <candidate's ID number>; "
                  "reject both: exchange link review reject REVIEW")


@review_app.command("accept")
def review_accept(review_id: str,
                  id_number: Annotated[str, typer.Option("--id-number", help="the candidate the record belongs to")],
                  by: Annotated[str | None, typer.Option(help="who decides (recorded)")] = None,
                  note: Annotated[str | None, typer.Option(help="why (recorded)")] = None) -> None:
    """Link the record to the candidate with this ID number (from the next `exchange link` on)."""
    _decide(review_id, id_number, by, note)


@review_app.command("reject")
def review_reject(review_id: str, by: Annotated[str | None, typer.Option(help="who decides (recorded)")] = None,
                  note: Annotated[str | None, typer.Option(help="why (recorded)")] = None) -> None:
    """The record is none of its candidates (it is never linked to them)."""
    _decide(review_id, None, by, note)


def _decide(review_id: str, id_number: str | None, by: str | None, note: str | None) -> None:
    from exchange.workspace.persons import decide_review
    entry = decide_review(review_id, accept=id_number, by=by or os.environ.get("USER"), note=note,
                          settings=_catalog()[0])
    console.print(f"{review_id} {'accepted' if id_number else 'rejected'}: ledger entry {entry.seq}; it takes "
                  f"effect at the next `exchange link`")


def _print_evaluation(m: dict[str, Any]) -> None:
    o = m["overall"]
    console.print(f"against the truth: pairwise precision {o['precision']:.4f}, recall {o['recall']:.4f}, "
                  f"F1 {o['f1']:.4f} ({o['records']:,} records, {o['indexed']:,} in the index; "
                  f"{o['persons_true']:,} true persons, {o['persons_found']:,} found)")
    t = Table(title="per hard case (pairs involving a record with the tag)", title_justify="left")
    for col in ("tag", "records", "not in index", "true pairs", "precision", "recall", "F1"):
        t.add_column(col, justify="left" if col == "tag" else "right")
    for tag, v in m["tags"].items():
        t.add_row(tag, f"{v['records']:,}", f"{v['not_indexed']:,}", f"{v['true_pairs']:,}",
                  f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}")
    console.print(t)
    merges = ", ".join(f"{k} {v}" for k, v in m["false_merges"].items())
    console.print(f"false merges (distinct pairs of different persons in one person_uid): {merges}")


@app.command("hard-city")
def hard_city_cmd(out: Annotated[Path, typer.Argument(help="folder to write the project into")],
                  persons: Annotated[int, typer.Option(help="persons in the city")] = 20_000,
                  seed: Annotated[int, typer.Option(help="random seed")] = 20261205,
                  run: Annotated[bool, typer.Option(help="load every feed, link and evaluate")] = True,
                  id_numbers: Annotated[bool, typer.Option(help="write ID numbers (--no-id-numbers: none at all, "
                                                                "so the model trains without labels)")] = True) -> None:
    """A city of hard cases for the person index (typo'd and copied ID numbers, romanised and variant
    names, twins, namesakes), with a truth per record: loads it through every stage and reports
    precision / recall per hard case."""
    from exchange.workspace.persons import hard_city
    measured = hard_city(out, persons=persons, seed=seed, run=run, id_numbers=id_numbers,
                         say=lambda m: err.print(m))
    if measured:
        _print_evaluation(measured)
    console.print(f"project: {out} (EXCHANGE_HOME={out} exchange link --evaluate --truth {out}/link_truth.json)")


def _source_text(s: dict[str, Any] | None) -> str:
    if not s:
        return ""
    return f"{s.get('agency')} {s.get('record')} [dim]{s.get('batch')}[/]"


def _print_profile(p: dict[str, Any]) -> None:
    for r in p.get("reviews") or []:
        err.print(f"[yellow]pending review {r['review']}[/]: record {escape(r['record'])} may be this person "
                  f"({escape(r['reason'])}) — exchange link review show {r['review']}")
    console.print(f"[bold]{p['person_uid']}[/] ({p['status']})"
                  + (f" — merged from {', '.join(p['merged_from'])}" if p.get("merged_from") else "")
                  + (f"; agencies: {', '.join(p.get('agencies', []))}" if p.get("agencies") else ""))
    ident = Table(title="identity (golden record)", title_justify="left")
    for col in ("field", "value", "source (agency, record, batch)"):
        ident.add_column(col, overflow="fold")
    for f, v in p.get("identity", {}).items():
        ident.add_row(f, escape(str(v["value"])), _source_text(v["source"]))
    console.print(ident)
    sections: list[tuple[str, list[str], Any]] = [
        ("records", ["agency", "entity", "record", "role", "rule", "probability", "batch"], lambda r: [
            r["agency"], r["entity"], r["record"], r["role"], r["rule"],
            "" if r["probability"] is None else f"{r['probability']:.3f}", r["batch"]]),
        ("households", ["household", "relation", "address", "members", "source"], lambda h: [
            h["household_number"], ", ".join(h["relation"]),
            (h["registrations"][0]["address"] if h["registrations"] else ""),
            ", ".join(f"{m['name']}({m['person_uid'] or '-'})" for m in h["members"]),
            "; ".join(_source_text(r["source"]) for r in h["registrations"])]),
        ("cases", ["case", "role", "type", "reported", "status", "title", "source"], lambda c: [
            c["case_number"], c["role"], c.get("case_type", ""), str(c.get("reported_date", "")),
            c.get("status", ""), c.get("title", ""), _source_text(c["party_source"])]),
        ("disputes", ["dispute", "role", "category", "status", "accepted", "source"], lambda d: [
            d["dispute_number"], str(d["role"]), d["category"], d["status"], str(d["accepted_date"]),
            _source_text(d["source"])]),
        ("programmes", ["programme", "managing unit", "risk", "start", "end", "source"], lambda g: [
            g["programme"], g["managing_unit"], str(g.get("risk_level") or ""), str(g["start_date"]),
            str(g.get("end_date") or ""), _source_text(g["source"])]),
        ("organizations", ["credit code", "name", "role", "status", "source"], lambda o: [
            o["credit_code"], o["name"], o["role"], o["status"], _source_text(o["source"])]),
    ]
    for key, cols, row in sections:
        items = p.get(key) or []
        if not items:
            continue
        t = Table(title=key, title_justify="left")
        for col in cols:
            t.add_column(col, overflow="fold")
        for item in items:
            t.add_row(*[escape(str(x)) if not str(x).startswith(("police", "civil", "justice", "health", "market"))
                        else str(x) for x in row(item)])
        console.print(t)


@app.command("person")
def person(ident: Annotated[str, typer.Argument(help="a person_uid (MP…) or an 18-digit resident ID number")],
           as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
           purpose: Annotated[str | None, typer.Option(help="why you read (recorded in audit.access)")] = None,
           case_number: Annotated[str | None, typer.Option(help="the case or file it is for (recorded)")] = None,
           ) -> None:
    """A person's profile across agencies: identity, households, cases with roles, disputes,
    special-population programmes and organizations — every fact with its source agency and batch."""
    from exchange.workspace.persons import person_profile
    settings, _ = _catalog()
    found = person_profile(ident, settings=settings, purpose=purpose, case_number=case_number)
    if found is None:
        err.print(f"[red]no person with id {escape(ident)}[/] (run `exchange link` after loading person feeds)")
        raise typer.Exit(EXIT_INVALID_ROWS)
    if as_json:
        console.print_json(json.dumps(found, ensure_ascii=False, default=str))
    else:
        _print_profile(found)


@app.command("serve")
def serve(host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="port")] = 8000,
          workers: Annotated[int, typer.Option(min=1, help="worker processes (each with its own connection pool)")]
          = 1) -> None:
    """Serve the HTTP API (/persons/{id}, /search, timelines, graphs; docs at /docs) and the web console
    (/console); the admin key is EXCHANGE_API_ADMIN_KEY."""
    import uvicorn

    from exchange.api.serve import api_app
    settings, _ = _catalog()
    application = api_app(settings)
    if not os.environ.get("EXCHANGE_API_ADMIN_KEY"):
        err.print("[yellow]EXCHANGE_API_ADMIN_KEY is not set: every API request will be refused (401)[/]")
    err.print(f"serving the API on http://{host}:{port} (docs: /docs) and the web console on "
              f"http://{host}:{port}/console (users: exchange console user add)")
    if workers == 1:
        uvicorn.run(application, host=host, port=port, log_level="warning")
    else:  # each worker builds the app from the same environment (checked above)
        uvicorn.run("exchange.api.serve:api_app", factory=True, host=host, port=port, workers=workers,
                    log_level="warning")


