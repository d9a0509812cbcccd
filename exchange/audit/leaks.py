"""Leak scanner: find resident ID numbers and known secrets where they must never be.

Logs, Airflow XComs, validation reports and staging manifests may name files, rows, fields,
counts and masked values — never a full resident ID number or a connection's password, API
token or signing key. :class:`LeakScanner` finds them in text, in Python values (an XCom) and
in files (``.log``, ``.json``, ``.html``, ``.txt``, ``.yaml``, … and their ``.gz``), and
reports each by file, line and a **masked** excerpt (the full ID or secret is never printed).
``exchange audit scan PATH...`` is its command line.

What counts as a resident ID number:

- 18 characters, 17 digits and a digit or ``X``, whose GB 11643 (ISO 7064 MOD 11-2) check
  character is right — checked with :func:`exchange.formats.check_resident_id`, the same code
  that validates agencies' data. Full-width digits (``６１０９…``) are read as digits. Only a
  whole run of digits counts: digits right before or after it make it part of a longer number
  (a timestamp, a count), and a run inside a longer hexadecimal token (a SHA-256, a batch id)
  is part of that hash. Spaced variants (``610902 19900101 123X``, one space between groups)
  count when the check character is right *and* the birth date is real.
- 15 digits (the legacy, first-generation number) only when it is plausible: a known GB/T
  2260 region and a real birth date ``19YYMMDD`` — 15-digit runs are otherwise common.

Secrets are exact strings given by the caller (:func:`secrets_from_env` collects those of a
run's environment: connection passwords and tokens, API keys, JWT and Fernet keys, database
URLs' passwords), found raw and in their URL-, JSON- and HTML-escaped forms.
"""

from __future__ import annotations

import bisect
import contextlib
import gzip
import html
import io
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from exchange.formats.masking import FULLWIDTH_DIGITS, mask_resident_id, within_hex_token
from exchange.formats.resident_id import check_resident_id, resident_id_check_char
from exchange.spec.connections import MASK, is_secret_key, mask_text, parse_connection

__all__ = [
    "DEFAULT_SUFFIXES",
    "Finding",
    "LeakScanner",
    "ScanResult",
    "connection_secrets",
    "secrets_from_env",
    "secrets_from_file",
]

# files read as text (after an optional .gz); anything else is skipped and counted
DEFAULT_SUFFIXES = (".log", ".json", ".jsonl", ".ndjson", ".html", ".htm", ".txt", ".yaml", ".yml", ".md",
                    ".csv", ".tsv", ".xml", ".out", ".err", ".svg", ".cfg", ".ini", ".toml")
MIN_SECRET_CHARS = 6
EXCERPT_CHARS = 32
_BLOCK_CHARS = 1 << 22  # files are read in blocks of whole lines (bounded memory for huge logs)

ID = "resident_id"
ID_LEGACY = "resident_id_15"
SECRET = "secret"
KIND_TEXT = {ID: "resident ID number (valid check character)",
             ID_LEGACY: "legacy 15-digit resident ID number (known region, real birth date)",
             SECRET: "secret"}

_SEP = "[ \u00a0\u3000]"
def _fraction(text: str, start: int) -> bool:
    """Digits right after ``<digit>.`` are the fractional part of a decimal number (a probability
    logged as ``0.002910…``), never an ID number."""
    return start >= 2 and text[start - 1] == "." and text[start - 2].isdigit()


_ID18 = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
# a legacy number stands alone: letters around 15 digits make it a code (a compound's XQ…)
_ID15 = re.compile(r"(?<![0-9A-Za-z])[0-9]{15}(?![0-9A-Za-z])")
# one space between any two characters; not part of a longer run of spaced digits
_ID18_SPACED = re.compile(rf"(?<![0-9])(?<![0-9]{_SEP})[0-9](?:{_SEP}?[0-9]){{16}}{_SEP}?[0-9Xx](?!{_SEP}?[0-9])")
_SPACES = re.compile(_SEP)
_NOT_CHECKSUM_VALID = {"resident_id.format", "resident_id.checksum", "resident_id.legacy_15"}
_BAD_BIRTH = {"resident_id.birth_date", "resident_id.birth_future"}


@dataclass(frozen=True)
class Finding:
    """One leak: where (file or label, 1-based line and column), what, and a masked excerpt."""

    where: str
    line: int
    column: int
    kind: str
    excerpt: str
    detail: str = ""

    def __str__(self) -> str:
        what = KIND_TEXT.get(self.kind, self.kind) + (f" ({self.detail})" if self.detail else "")
        return f"{self.where}:{self.line}:{self.column}: {what}: {self.excerpt}"

    def as_dict(self) -> dict[str, Any]:
        return {"where": self.where, "line": self.line, "column": self.column, "kind": self.kind,
                "detail": self.detail, "excerpt": self.excerpt}


@dataclass
class ScanResult:
    """Findings of a scan, with what was read and what was left out (and why)."""

    findings: list[Finding] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.findings

    def extend(self, other: ScanResult) -> None:
        self.findings.extend(other.findings)
        self.scanned.extend(other.scanned)
        self.skipped.update(other.skipped)

    def skipped_summary(self) -> str:
        reasons = Counter(self.skipped.values())
        return ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items())) or "none"


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    kind: str
    detail: str
    masked: str


class LeakScanner:
    """Scan text, values and files for resident ID numbers and for the given secrets.

    ``secrets`` maps a label (e.g. the environment variable it came from — shown in findings)
    to the secret value; a plain iterable of values is labelled ``secret #1``, ``#2``, ….
    Values shorter than ``min_secret_chars`` are not searched (they would match everywhere);
    :attr:`ignored_secrets` lists their labels.
    """

    def __init__(self, secrets: Mapping[str, str] | Iterable[str] = (), *, ids: bool = True,
                 legacy_ids: bool = True, min_secret_chars: int = MIN_SECRET_CHARS,
                 suffixes: Iterable[str] = DEFAULT_SUFFIXES) -> None:
        labelled = dict(secrets) if isinstance(secrets, Mapping) else \
            {f"secret #{i}": s for i, s in enumerate(secrets, start=1)}
        self.ids = ids
        self.legacy_ids = legacy_ids
        self.suffixes = tuple(s.lower() for s in suffixes)
        self.ignored_secrets = sorted(k for k, v in labelled.items() if not v or len(v) < min_secret_chars)
        forms: dict[str, str] = {}
        for label, value in sorted(labelled.items()):
            if value and len(value) >= min_secret_chars:
                for form in _secret_forms(value):
                    forms.setdefault(form, label)
        self._secret_labels = forms
        self._secret_re = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))) \
            if forms else None

    @property
    def secret_count(self) -> int:
        return len(set(self._secret_labels.values()))

    # --- text --------------------------------------------------------------------------------

    def scan_text(self, text: str, where: str = "<text>", *, first_line: int = 1) -> list[Finding]:
        """Findings in ``text`` (lines numbered from ``first_line``)."""
        if not text:
            return []
        hits = self._hits(text)
        findings = self._findings(text, hits, where, first_line) if hits else []
        if "&" in text and "<" in text:  # HTML: entities could spell digits or a secret's characters
            unescaped = html.unescape(text)
            if unescaped != text:
                seen = {(h.kind, h.masked, h.detail) for h in hits}
                extra = [h for h in self._hits(unescaped) if (h.kind, h.masked, h.detail) not in seen]
                if extra:
                    findings.extend(self._findings(unescaped, extra, where, first_line))
        return findings

    def scan_value(self, value: Any, where: str = "<value>") -> list[Finding]:
        """Findings in a Python value (an XCom, a log record's fields), read as JSON text."""
        if isinstance(value, bytes | bytearray):
            value = bytes(value).decode("utf-8", errors="replace")
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str,
                                                               sort_keys=True)
        return self.scan_text(text, where)

    def _hits(self, text: str) -> list[_Hit]:
        hits: list[_Hit] = []
        if self._secret_re is not None:
            for m in self._secret_re.finditer(text):
                hits.append(_Hit(m.start(), m.end(), SECRET, self._secret_labels[m.group(0)], MASK))
        if self.ids:
            hits.extend(self._id_hits(text))
        return hits

    def _id_hits(self, text: str) -> list[_Hit]:
        norm = text.translate(FULLWIDTH_DIGITS)  # same length: positions stay valid
        found: list[tuple[int, int, str, bool]] = []  # start, end, the 18 characters, spaced
        for m in _ID18.finditer(norm):
            if not within_hex_token(norm, m.start(), m.end()) and not _fraction(norm, m.start()):
                found.append((m.start(), m.end(), m.group(0).upper(), False))
        for m in _ID18_SPACED.finditer(norm):
            if _SPACES.search(m.group(0)) and not within_hex_token(norm, m.start(), m.end()):
                found.append((m.start(), m.end(), _SPACES.sub("", m.group(0)).upper(), True))
        hits: list[_Hit] = []
        if found:
            reasons = check_resident_id([f[2] for f in found]).to_pylist()
            for (start, end, number, spaced), reason in zip(found, reasons, strict=True):
                if reason in _NOT_CHECKSUM_VALID or (spaced and reason in _BAD_BIRTH):
                    continue
                detail = "spaced" if spaced else ("" if reason is None else f"check character right; {reason}")
                if text[start:end] != norm[start:end]:
                    detail = ", ".join(x for x in ("full-width digits", detail) if x)
                hits.append(_Hit(start, end, ID, detail, _mask_id(number)))
        if self.legacy_ids:
            legacy = [(m.start(), m.end(), m.group(0)) for m in _ID15.finditer(norm)]
            if legacy:
                upgraded = [f"{n[:6]}19{n[6:]}" for _, _, n in legacy]
                checks = resident_id_check_char(upgraded).to_pylist()
                reasons = check_resident_id([u + (c or "0") for u, c in zip(upgraded, checks, strict=True)]
                                            ).to_pylist()
                for (start, end, number), reason in zip(legacy, reasons, strict=True):
                    if reason is None:
                        hits.append(_Hit(start, end, ID_LEGACY, "", _mask_id(number)))
        return hits

    def _findings(self, text: str, hits: list[_Hit], where: str, first_line: int) -> list[Finding]:
        hits = sorted(hits, key=lambda h: (h.start, -h.end))
        line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
        out: list[Finding] = []
        by_line: dict[int, list[_Hit]] = {}
        for h in hits:
            by_line.setdefault(bisect.bisect_right(line_starts, h.start) - 1, []).append(h)
        for index, line_hits in by_line.items():
            start = line_starts[index]
            end = line_starts[index + 1] - 1 if index + 1 < len(line_starts) else len(text)
            line = text[start:end]
            for h in line_hits:
                out.append(Finding(where=where, line=first_line + index, column=h.start - start + 1, kind=h.kind,
                                   excerpt=_excerpt(line, start, h, line_hits), detail=h.detail))
        return out

    # --- files -------------------------------------------------------------------------------

    def wanted(self, path: Path) -> bool:
        """Is ``path`` a text file this scanner reads (by its suffix; ``.gz`` and a rotation number
        such as ``scheduler.log.1`` stripped)?"""
        name = re.sub(r"(\.[0-9]+)?(\.gz)?$", "", path.name.lower())
        return name.endswith(self.suffixes)

    def scan_file(self, path: Path, *, shown: str | None = None) -> ScanResult:
        """Findings in one file (read as text in blocks of lines; ``.gz`` decompressed)."""
        shown = shown or str(path)
        result = ScanResult()
        try:
            with _open_text(path) as f:
                if f is None:
                    result.skipped[shown] = "binary"
                    return result
                line = 1
                for block in _blocks(f):
                    result.findings.extend(self.scan_text(block, shown, first_line=line))
                    line += block.count("\n")
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            result.skipped[shown] = f"unreadable ({type(exc).__name__})"
            return result
        result.scanned.append(shown)
        return result

    def scan_paths(self, paths: Iterable[Path | str], *, all_files: bool = False,
                   exclude: Iterable[str] = ()) -> ScanResult:
        """Every file under ``paths`` (recursively) that :meth:`wanted` accepts — or every file
        that is not binary with ``all_files`` — except names matching an ``exclude`` glob."""
        result = ScanResult()
        patterns = list(exclude)
        for root in paths:
            root = Path(root)
            files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()) \
                if root.is_dir() else []
            if not files and not root.exists():
                result.skipped[str(root)] = "missing"
            for p in files:
                if any(p.match(pat) for pat in patterns):
                    result.skipped[str(p)] = "excluded"
                elif all_files or self.wanted(p) or p == root:
                    result.extend(self.scan_file(p))
                else:
                    result.skipped[str(p)] = f"not a text file type ({''.join(p.suffixes[-2:]) or 'no suffix'})"
        return result


# --- helpers ---------------------------------------------------------------------------------------


def _mask_id(number: str) -> str:
    return mask_resident_id([number])[0].as_py()


def _secret_forms(value: str) -> set[str]:
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value), html.escape(value),
             json.dumps(value, ensure_ascii=False)[1:-1], json.dumps(value)[1:-1]}
    return {f for f in forms if f}


def _excerpt(line: str, line_start: int, hit: _Hit, line_hits: list[_Hit]) -> str:
    """The line around ``hit`` with every hit of the line masked (and URL passwords too)."""
    lo = max(0, hit.start - line_start - EXCERPT_CHARS)
    hi = min(len(line), hit.end - line_start + EXCERPT_CHARS)
    for h in line_hits:  # never cut through another hit: it would show part of its raw value
        s, e = h.start - line_start, h.end - line_start
        if s < lo < e:
            lo = s
        if s < hi < e:
            hi = e
    parts: list[str] = []
    pos = lo
    for h in sorted(line_hits, key=lambda x: x.start):
        s, e = h.start - line_start, h.end - line_start
        if e <= lo or s >= hi or s < pos:
            continue
        parts.append(line[pos:s])
        parts.append(h.masked)
        pos = e
    parts.append(line[pos:hi])
    text = "".join(parts)
    # a masked hit at the window's edge may have been cut: never show a partial raw value
    text = mask_text(text)
    text = _ID18.sub(lambda m: _mask_id(m.group(0)), text)
    return ("…" if lo > 0 else "") + " ".join(text.split()) + ("…" if hi < len(line) else "")


@contextlib.contextmanager
def _open_text(path: Path) -> Iterator[io.TextIOBase | None]:
    """A text stream over the file (``.gz`` decompressed; UTF-16 by BOM, else UTF-8 with
    replacement), or None for a binary file (NUL bytes in its first 8 KiB)."""
    raw: Any = gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")  # noqa: SIM115
    with io.BufferedReader(raw) if not isinstance(raw, io.BufferedReader) else raw as buffered:
        head = buffered.peek(8192)[:8192]
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            yield io.TextIOWrapper(buffered, encoding="utf-16", errors="replace", newline="")
        elif b"\x00" in head:
            yield None
        else:
            yield io.TextIOWrapper(buffered, encoding=_encoding(head), errors="replace", newline="")


def _encoding(head: bytes) -> str:
    """UTF-8, unless the first lines are not UTF-8 but are GB18030 (an agency's file)."""
    cut = head.rfind(b"\n") + 1 or len(head)
    try:
        head[:cut].decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        try:
            head[:cut].decode("gb18030")
            return "gb18030"
        except UnicodeDecodeError:
            return "utf-8"


def _blocks(stream: io.TextIOBase) -> Iterator[str]:
    """Blocks of whole lines of about ``_BLOCK_CHARS`` characters."""
    while True:
        block = stream.read(_BLOCK_CHARS)
        if not block:
            return
        if not block.endswith("\n"):
            block += stream.readline()
        yield block


# --- where the secrets of a run come from ----------------------------------------------------------

# environment variables that hold a URL or JSON connection: their secrets, not the whole value
_CONNECTION_VARS = re.compile(r"^(EXCHANGE_CONN_.+|AIRFLOW_CONN_.+|EXCHANGE_WAREHOUSE_URL|EXCHANGE_TEST_PG|"
                              r"EXCHANGE_TEST_MARIADB|AIRFLOW__DATABASE__SQL_ALCHEMY_CONN(_ASYNC)?|"
                              r"AIRFLOW__CELERY__(BROKER_URL|RESULT_BACKEND)|.*_URL|.*_DSN|.*_URI)$")
# environment variables whose whole value is a secret (besides names that say so)
_SECRET_VARS = re.compile(r"^(EXCHANGE_API_ADMIN_KEY|EXCHANGE_PSEUDONYM_KEY|EXCHANGE_GRANT_PASSWORD_.+|"
                          r"AIRFLOW__API_AUTH__JWT_SECRET|AIRFLOW__API__SECRET_KEY|AIRFLOW__CORE__FERNET_KEY|"
                          r"AIRFLOW__WEBSERVER__SECRET_KEY)$")
# settings that are named like secrets but hold none
_NOT_SECRETS = re.compile(r"^(PWD|OLDPWD|AIRFLOW__SECRETS__BACKEND|AIRFLOW__.*(_CMD|_SECRET_PATH)|"
                          r".*_TOKEN_EXPIRATION.*|.*_TOKEN_TTL.*)$")
# settings holding a JSON object whose secret-named keys hold secrets (a secrets backend's token)
_JSON_VARS = re.compile(r"^AIRFLOW__.*_KWARGS$")


def connection_secrets(name: str, value: str) -> list[str]:
    """The secrets inside a connection value — a URL, the exchange's JSON form, or an Airflow
    connection (URI or JSON): passwords, tokens and every value under a key named like a secret.
    Empty when the value is not a connection."""
    value = value.strip()
    found: list[str] = []
    if value.startswith("{"):
        try:
            found.extend(_secret_values(json.loads(value)))
        except ValueError:
            return []
    elif "://" not in value:
        return []
    with contextlib.suppress(Exception):  # another format (e.g. Airflow's JSON): its keys were read above
        found.extend(parse_connection(name, value, origin=name).secrets())
    return sorted(set(found), key=len, reverse=True)


def _secret_values(data: Any, secret: bool = False) -> list[str]:
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in _secret_values(v, secret or is_secret_key(str(k)))]
    if isinstance(data, list):
        return [s for v in data for s in _secret_values(v, secret)]
    if isinstance(data, str):
        if data.strip().startswith("{"):
            try:
                return _secret_values(json.loads(data), secret)
            except ValueError:
                pass
        if secret:
            return [data]
        return connection_secrets("value", data) if "://" in data else []
    return []


def secrets_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The secrets a run's environment holds, labelled by variable: the passwords and tokens of
    connections (``EXCHANGE_CONN_*``, ``AIRFLOW_CONN_*``, database and broker URLs), the API and
    pseudonym keys, Airflow's JWT secret, API secret key and Fernet key, and every variable
    named like a secret (``*_PASSWORD``, ``*_TOKEN``, ``*_API_KEY``, …)."""
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    for name, value in env.items():
        if not value or _NOT_SECRETS.match(name):
            continue
        if _JSON_VARS.match(name):
            with contextlib.suppress(ValueError):
                for i, secret in enumerate(_secret_values(json.loads(value)), start=1):
                    found[f"{name} (secret {i})"] = secret
        elif _CONNECTION_VARS.match(name):
            for i, secret in enumerate(connection_secrets(name, value), start=1):
                found[f"{name} (secret {i})"] = secret
        elif _SECRET_VARS.match(name) or is_secret_key(name):
            found[name] = value
    return found


def secrets_from_file(path: Path) -> dict[str, str]:
    """Secrets listed in a file: ``NAME=value`` lines (a ``.env`` file; connection values give
    their passwords and tokens) or one bare secret per line; ``#`` comments and blanks skipped."""
    found: dict[str, str] = {}
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if sep and re.fullmatch(r"(export\s+)?[A-Za-z_][A-Za-z0-9_]*", name.strip()):
            name = name.strip().removeprefix("export").strip()
            value = value.strip().strip("'\"")
            secrets = connection_secrets(name, value)
            if secrets:
                for i, s in enumerate(secrets, start=1):
                    found[f"{path.name}:{n} {name} (secret {i})"] = s
            elif value:
                found[f"{path.name}:{n} {name}"] = value
        else:
            found[f"{path.name}:{n}"] = line
    return found
