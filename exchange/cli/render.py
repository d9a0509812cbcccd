"""How the command line shows things: the consoles, and values made safe for a terminal."""

from __future__ import annotations

import re
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

# Wide tables when piped (CI logs, files); the terminal's width otherwise.
console = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

EXIT_INVALID_ROWS = 1
EXIT_ERROR = 2

# Characters a terminal acts on instead of showing (C0/C1 controls, DEL; bidi overrides that reorder
# what is shown): a value holding them is printed with them escaped, never raw.
_UNSHOWN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
SHOW_MAX_CHARS = 200


def unshown_escaped(text: str) -> str:
    return _UNSHOWN.sub(lambda m: repr(m.group())[1:-1], text)


def _plain(value: object, limit: int | None = SHOW_MAX_CHARS) -> str:
    """A warehouse or source value fit for a Rich table: control characters escaped (``\\x1b``), Rich
    markup not interpreted, and a long value cut with a note of what was left out."""
    text = "" if value is None else str(value)
    cut = ""
    if limit is not None and len(text) > limit:
        cut = f"… (+{len(text) - limit:,} characters)"
        text = text[:limit]
    return escape(unshown_escaped(text)) + cut


def _outcome_table(outcomes: list[Any], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("feed", "state", "rows in", "loaded", "flagged", "quarantined", "reject %", "top reasons"):
        t.add_column(col, overflow="fold", justify="right" if col in ("rows in", "loaded", "flagged", "quarantined",
                                                                         "reject %") else "left")
    for o in outcomes:
        state = o.state + (" (already)" if o.already_loaded else "")
        style = "green" if o.published else "red"
        reasons = "; ".join(f"{rule}{'(' + fld + ')' if fld else ''} ×{n}" for rule, fld, n in o.top_reasons)
        t.add_row(o.feed, f"[{style}]{state}[/]", f"{o.rows_in:,}", f"{o.rows_loaded:,}", f"{o.rows_flagged:,}",
                  f"{o.rows_quarantined:,}", f"{o.reject_ratio:.1%}", reasons or "-")
    return t


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=None),
                    TextColumn("{task.completed:,} rows"), TimeElapsedColumn(), console=err,
                    transient=True, disable=not err.is_terminal)


def _link_table(r: Any) -> Table:
    t = Table(title=f"linking run {r.run_id} (model {r.model_version}"
                    f"{', trained now' if r.model_trained else ''})", title_justify="left")
    for col in ("records", "with ID number", "persons", "new", "merges", "splits", "moves", "retired",
                "pairs scored", "pairs linked", "seconds"):
        t.add_column(col, justify="right")
    t.add_row(f"{r.records:,}", f"{r.records_with_id:,}", f"{r.persons:,}", f"{r.persons_new:,}", str(r.merges),
              str(r.splits), str(r.moves), str(r.retired), f"{r.pairs_scored:,}", f"{r.pairs_linked:,}",
              f"{r.timings.get('total', 0):.1f}")
    return t


def _metrics_line(m: dict[str, Any]) -> str:
    return (f"pairwise precision {m['precision']:.4f}, recall {m['recall']:.4f}, F1 {m['f1']:.4f} "
            f"({m['records']:,} records of {m['persons_true']:,} true persons → {m['persons_found']:,} person_uids)")


def when_text(value: Any) -> str:
    """A moment as shown in tables (``never`` when it has not happened)."""
    return "never" if value is None else value.strftime("%Y-%m-%d %H:%M")


def pct_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
