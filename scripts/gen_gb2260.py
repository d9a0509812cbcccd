"""Generate ``schemas/reference/gb2260.csv`` (GB/T 2260 administrative division codes).

The data is not typed by hand: it is derived from ``stdnum/cn/loc.dat`` as shipped
by python-stdnum, whose maintainers generate it from the zh.wikipedia pages
"中华人民共和国行政区划代码 (1区 … 8区)". The file is read with python-stdnum's own
parser (``stdnum.numdb.read``) so its structure is interpreted exactly as
``stdnum.cn.ric.get_birth_place`` does:

- a top-level line ``11 province="北京市"`` names a province (2-digit prefix);
- an indented line ``  0101 county="东城区"`` completes the 6-digit code;
- a county value may hold several comma-separated names for successive periods,
  each optionally prefixed with a validity marker ``[start-end]`` (either year may
  be empty; both ends are inclusive, as in ``get_birth_place``).

One CSV row is written per (code, name period). ``status`` is ``abolished`` when the
period has an end year, else ``current``. A code is *known* if any row has it and
*current* if any of its rows is current.

Usage::

    python scripts/gen_gb2260.py [--output PATH]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import importlib.metadata
import importlib.resources
import io
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("gen_gb2260")

PACKAGE = "python-stdnum"
RESOURCE_PACKAGE = "stdnum.cn"
RESOURCE_NAME = "loc.dat"
COLUMNS = ("code", "name", "province", "level", "valid_from", "valid_to", "status")
# Release dates of python-stdnum versions whose loc.dat has been checked (the
# installed files carry only their install time). Date of the 2.2 wheel build.
KNOWN_RELEASE_DATES = {"2.2": "2026-01-04"}

_MARKER_RE = re.compile(r"^\[(?P<start>[0-9]{4})?-(?P<end>[0-9]{4})?\](?P<name>.+)$")
_URL_RE = re.compile(r"^#\s*(https?://\S+)\s*$")


@dataclass(frozen=True)
class DivisionRow:
    code: str
    name: str
    province: str
    level: str
    valid_from: str
    valid_to: str
    status: str

    def as_tuple(self) -> tuple[str, ...]:
        return (self.code, self.name, self.province, self.level, self.valid_from, self.valid_to,
                self.status)


def level_of(code: str) -> str:
    """Level of a 6-digit code by its shape: xx0000 province, xxyy00 prefecture, else county."""
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "prefecture"
    return "county"


def split_periods(value: str) -> Iterator[tuple[str, str, str]]:
    """Yield (name, valid_from, valid_to) for each comma-separated name of a loc.dat value."""
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        match = _MARKER_RE.match(part)
        if match:
            yield match.group("name").strip(), match.group("start") or "", match.group("end") or ""
        elif part.startswith("["):
            raise ValueError(f"malformed validity marker in {value!r}")
        else:
            yield part, "", ""


def _expand(low: str, high: str) -> Iterator[str]:
    """Expand a numdb prefix range (``0101-0105``) into its members."""
    width = len(low)
    for number in range(int(low), int(high) + 1):
        yield str(number).zfill(width)


def parse_loc_dat(text: str) -> list[DivisionRow]:
    """Parse the text of ``stdnum/cn/loc.dat`` into one row per (code, name period)."""
    from stdnum import numdb

    db = numdb.read(io.StringIO(text))
    rows: list[DivisionRow] = []
    for length, low, high, props, children in db.prefixes:
        if length != 2 or "province" not in props:
            raise ValueError(f"unexpected top-level entry {low}-{high} {props!r}")
        province = props["province"]
        for prov_code in _expand(low, high):
            child_codes: set[str] = set()
            for c_length, c_low, c_high, c_props, _grandchildren in children:
                if c_length != 4 or "county" not in c_props:
                    raise ValueError(f"unexpected entry {prov_code}{c_low} {c_props!r}")
                for suffix in _expand(c_low, c_high):
                    code = prov_code + suffix
                    child_codes.add(code)
                    for name, start, end in split_periods(c_props["county"]):
                        rows.append(DivisionRow(code, name, province, level_of(code), start, end,
                                                "abolished" if end else "current"))
            province_code = prov_code + "0000"
            if province_code not in child_codes:
                for name, start, end in split_periods(province):
                    rows.append(DivisionRow(province_code, name, province, "province", start, end,
                                            "abolished" if end else "current"))
    rows.sort(key=lambda r: (r.code, r.valid_from or "0000", r.valid_to or "9999"))
    return rows


def source_urls(text: str) -> list[str]:
    """The upstream URLs listed in loc.dat's leading comment."""
    return [m.group(1) for line in text.splitlines() if (m := _URL_RE.match(line))]


def read_source() -> tuple[str, str, str]:
    """Return (text of loc.dat, python-stdnum version, resource path shown in the header)."""
    version = importlib.metadata.version(PACKAGE)
    resource = importlib.resources.files(RESOURCE_PACKAGE).joinpath(RESOURCE_NAME)
    text = resource.read_bytes().decode("utf-8")
    return text, version, "stdnum/cn/loc.dat"


def header_lines(text: str, version: str, resource: str, generated: datetime.date) -> list[str]:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    release = KNOWN_RELEASE_DATES.get(version, "unknown (not recorded in scripts/gen_gb2260.py)")
    lines = [
        "GB/T 2260 administrative division codes (current and historical), one row per (code, name period).",
        f"Source: {PACKAGE} {version}, file {resource} (sha256 {digest}),",
        f"  python-stdnum {version} release (wheel build) date: {release}.",
        "Upstream origin of that file, as generated by the python-stdnum maintainers:",
        *(f"  {url}" for url in source_urls(text)),
        "Validity: valid_from/valid_to are inclusive years (empty = open);",
        "  status abolished = has an end year.",
        "Level by code shape: xx0000 province, xxyy00 prefecture, else county.",
        f"Generated: {generated.isoformat()} by: python scripts/gen_gb2260.py",
        "Do not edit by hand; rerun the command above after upgrading python-stdnum.",
    ]
    return [f"# {line}" for line in lines]


def render(rows: list[DivisionRow], header: list[str]) -> str:
    buffer = io.StringIO()
    for line in header:
        buffer.write(line + "\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(row.as_tuple() for row in rows)
    return buffer.getvalue()


def default_output() -> Path:
    return Path(__file__).resolve().parents[1] / "schemas" / "reference" / "gb2260.csv"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=default_output(), help="CSV file to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    text, version, resource = read_source()
    rows = parse_loc_dat(text)
    header = header_lines(text, version, resource, datetime.date.today())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(rows, header), encoding="utf-8")
    codes = {row.code for row in rows}
    current = {row.code for row in rows if row.status == "current"}
    logger.info("wrote %s: %d rows, %d codes (%d current) from %s %s %s",
                args.output, len(rows), len(codes), len(current), PACKAGE, version, resource)
    return 0


if __name__ == "__main__":
    sys.exit(main())
