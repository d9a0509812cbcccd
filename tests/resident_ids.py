"""Finding valid resident ID numbers in rendered text: what the audit report tests assert is never shown."""

from __future__ import annotations

import re

import pyarrow as pa

from exchange import formats

ID_TOKEN = re.compile(r"(?<![0-9A-Za-z])(\d{17}[0-9Xx])(?![0-9A-Za-z])")


def valid_ids_in(html: str) -> list[str]:
    """18-character resident IDs with a correct check character (the format rules decide)."""
    tokens = [m.group(1).upper() for m in ID_TOKEN.finditer(html)]
    if not tokens:
        return []
    checks = formats.resident_id_check_char(pa.array([t[:17] for t in tokens])).to_pylist()
    return [t for t, c in zip(tokens, checks, strict=True) if t[17] == c]
