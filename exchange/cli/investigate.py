"""The investigation tools: ``exchange search TEXT | timeline ID | graph ID | search-index``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from exchange.cli.app import _catalog, app
from exchange.cli.render import EXIT_INVALID_ROWS, console, err

Agency = Annotated[str | None, typer.Option(
    "--agency", help="answer as this agency's grant lets it see (default: the operator, everything)")]
Purpose = Annotated[str | None, typer.Option(help="why you look (recorded in audit.access)")]
CaseNumber = Annotated[str | None, typer.Option(help="the case or file it is for (recorded)")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]


def _dump(found: Any) -> None:
    console.print_json(json.dumps(found, ensure_ascii=False, default=str))


def _person_tool(req: Any, agency: str | None, purpose: str | None, case_number: str | None,
                 as_json: bool) -> dict[str, Any] | None:
    """A person's timeline or graph (exit 1 when nobody matches); None when printed as JSON already."""
    from exchange.workspace.investigate import investigate

    found = investigate(req, agency=agency, settings=_catalog()[0], purpose=purpose, case_number=case_number)
    if found is None:
        err.print(f"[red]no person with id {escape(req.ident)}[/]"
                  + (f" within the grant of {agency}" if agency else ""))
        raise typer.Exit(EXIT_INVALID_ROWS)
    if as_json:
        _dump(found)
        return None
    return found


def _when(value: str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r}: give a date or time like 2026-11-01 or 2026-11-01T08:00",
                                 param_hint=name) from None


@app.command("search")
def search(text: Annotated[str, typer.Argument(help="a name (汉字 or pinyin), ID number or its last digits, phone, "
                                                    "plate (陕G1?345), address, organization or case number")],
           kind: Annotated[str | None, typer.Option(help="id, phone, name, address, plate, org or case")] = None,
           agency: Agency = None, purpose: Purpose = None, case_number: CaseNumber = None,
           limit: Annotated[int, typer.Option(min=1, max=500, help="most groups shown")] = 50,
           as_json: AsJson = False) -> None:
    """Element joint search (要素联查): one text across every entity and event table, grouped by person
    (else by vehicle or organization), each hit with its agency, table, record and batch."""
    from exchange.workspace.investigate import ToolRequest, investigate

    found = investigate(ToolRequest("search", text, kind=kind, limit=limit), agency=agency,
                        settings=_catalog()[0], purpose=purpose, case_number=case_number)
    assert found is not None
    if as_json:
        _dump(found)
        return
    t = Table(title=f"search {escape(text)}: {found['hits']} hit(s) in {len(found['groups'])} group(s)"
                    + (" (more: raise --limit)" if found["truncated"] else ""), title_justify="left")
    for col in ("group", "who / what", "hits (agency · table · record · field: value)"):
        t.add_column(col, overflow="fold")
    for g in found["groups"]:
        ident = g.get("person_uid") or ""
        lines = [f"{h['agency']} · {h['table']} · {h['record']} · {h['field']}: {escape(str(h['value']))}"
                 + ("" if h["match"] == "exact" else f" ({h['match']})") for h in g["hits"][:8]]
        if len(g["hits"]) > 8:
            lines.append(f"… {len(g['hits']) - 8} more")
        t.add_row(g["group"], f"{escape(str(g['label']))}\n{ident}", "\n".join(lines))
    if found.get("too_common"):
        err.print(f"[yellow]note:[/] {escape(text)!r} is in too many {', '.join(found['too_common'])} value(s) to "
                  "search them all in time: those kinds were left out; give more of the text")
    if found.get("index_behind"):
        err.print(f"[yellow]note:[/] the element index has yet to take {found['index_behind']} published batch(es); "
                  f"their records are not searched until it does (`exchange search-index`)")
    console.print(t)


@app.command("timeline")
def timeline(ident: Annotated[str, typer.Argument(help="a person_uid (MP…) or an 18-digit resident ID number")],
             since: Annotated[str | None, typer.Option(help="from this date or time")] = None,
             until: Annotated[str | None, typer.Option(help="before this date or time")] = None,
             agency: Agency = None, purpose: Purpose = None, case_number: CaseNumber = None,
             as_json: AsJson = False) -> None:
    """A person's timeline (活动轨迹): every event and dated record in time order, with places."""
    from exchange.workspace.investigate import ToolRequest

    found = _person_tool(ToolRequest("timeline", ident, start=_when(since, "--since"), end=_when(until, "--until")),
                         agency, purpose, case_number, as_json)
    if found is None:
        return
    t = Table(title=f"{escape(str(found['label']))} {found['person_uid']}: {len(found['entries'])} entries",
              title_justify="left")
    for col in ("when", "what", "where", "detail", "source"):
        t.add_column(col, overflow="fold")
    for e in found["entries"]:
        place = e.get("place") or {}
        where = " ".join(str(v) for v in (place.get("name"), place.get("code"), place.get("division")) if v)
        detail = ", ".join(f"{k}={v}" for k, v in (e.get("detail") or {}).items() if v not in (None, ""))
        t.add_row(str(e["at"]), e["label"], escape(where), escape(detail[:120]),
                  f"{e['agency']}/{e['entity']}/{e['record']}")
    console.print(t)


@app.command("graph")
def graph(ident: Annotated[str, typer.Argument(help="a person_uid (MP…) or an 18-digit resident ID number")],
          depth: Annotated[int, typer.Option(min=1, max=3, help="how far from the person (1-3)")] = 1,
          fan_out: Annotated[int, typer.Option(min=1, max=200, help="heaviest edges kept per person")] = 25,
          agency: Agency = None, purpose: Purpose = None, case_number: CaseNumber = None,
          as_json: AsJson = False) -> None:
    """The relation graph (关系查询): persons related through a household, a case, a dispute, a phone, an
    address, a hotel room, a vehicle or repeated co-presence, each edge with its evidence."""
    from exchange.workspace.investigate import ToolRequest

    found = _person_tool(ToolRequest("graph", ident, depth=depth, fan_out=fan_out), agency, purpose, case_number,
                         as_json)
    if found is None:
        return
    labels = {n["person_uid"]: n["label"] for n in found["nodes"]}
    t = Table(title=f"graph of {found['root']} (depth {found['depth']}): {len(found['nodes'])} persons, "
                    f"{len(found['edges'])} edges", title_justify="left")
    for col in ("from", "to", "kind", "weight", "evidence"):
        t.add_column(col, overflow="fold")
    for e in found["edges"]:
        ev = e["evidence"][0] if e["evidence"] else {}
        records = "; ".join(f"{r['agency']}/{r['entity']}/{r['record']}" for r in ev.get("records", []))
        extra = ", ".join(f"{k}={v}" for k, v in e.items() if k in ("times", "places", "case_number", "plate", "room"))
        t.add_row(f"{escape(str(labels.get(e['source'])))} {e['source']}",
                  f"{escape(str(labels.get(e['target'])))} {e['target']}", e["kind"],
                  f"{e['weight']:g} ×{e['count']}", escape(f"{records} {extra}".strip()))
    console.print(t)


@app.command("search-index")
def search_index(rebuild: Annotated[bool, typer.Option("--rebuild", help="index every record of every table again, "
                                                       "from scratch (a schema gained `search` fields)")] = False
                 ) -> None:
    """Bring the element index (mdm.search_element) up to every published batch it lacks: what `exchange
    run` does after its batch, and Airflow's exchange.index_elements on the core tables' assets."""
    from exchange.workspace.investigate import reindex

    counts = reindex(_catalog()[0], say=lambda m: err.print(m), rebuild=rebuild)
    console.print(f"indexed {sum(counts.values()):,} elements of {len(counts)} tables"
                  + ("" if rebuild or counts else " (the index already held every published batch)"))
