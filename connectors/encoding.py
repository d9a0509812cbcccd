"""Text encoding detection and strict validation for file sources.

Agencies export CSV/JSON in UTF-8 (with or without a BOM), UTF-16 (Excel's "Unicode
text", always with a BOM) or GBK/GB18030. ``resolve_encoding`` decides which codec a
file is read with and proves, by a streamed strict decode of the whole file, that
reading it will not fail half-way or produce replacement characters:

- a declared encoding is applied strictly; the first bad byte is reported with its offset;
- ``auto``: a BOM decides (UTF-8 → ``utf-8-sig``, FF FE / FE FF → ``utf-16``); otherwise
  strict UTF-8 over the whole file, and only if that fails strict GB18030. UTF-8 is
  always tried first: most valid UTF-8 Chinese text also "decodes" as GBK (into
  mojibake), so the reverse order silently corrupts data. For the same reason a file
  that is UTF-8 text up to its first bad byte (at least ``MIXED_MIN_WIDE`` characters from
  U+0800 up — CJK — or ``MIXED_MIN_NON_ASCII`` non-ASCII ones) is not handed to GB18030:
  it mixes encodings (a GBK row pasted into a UTF-8 file) or is damaged, and reading it
  as GB18030 would turn its UTF-8 part into mojibake. GBK text almost never passes for
  that much UTF-8 (a GBK character is valid UTF-8 by chance about one time in seven, and
  rarely as a three-byte sequence); ``encoding: gb18030`` reads such a file anyway.

NUL bytes are refused in every encoding but UTF-16 (a binary file, or UTF-16 without
its BOM). Every problem is a ``SourceError`` naming the file and the byte offset.
"""

from __future__ import annotations

import codecs
import io
import logging
from dataclasses import dataclass
from pathlib import Path

from exchange.errors import SourceError

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
FIX_HINT = "re-export the file as UTF-8 or declare source.encoding"
MIXED_MIN_WIDE = 4
MIXED_MIN_NON_ASCII = 10
_UTF8_LEADS = bytes(range(0xC2, 0xF5))       # first byte of a 2-, 3- or 4-byte sequence
_UTF8_WIDE_LEADS = bytes(range(0xE0, 0xF5))  # first byte of a character from U+0800 up


@dataclass(frozen=True)
class DecodeProblem:
    """Where and why a strict decode of a file failed."""

    offset: int
    reason: str
    kind: str  # "decode", "truncated" or "nul"

    def describe(self, codec: str) -> str:
        if self.kind == "nul":
            return f"NUL byte at offset {self.offset}"
        if self.kind == "truncated":
            return (f"not valid {codec}: truncated multibyte sequence at end of file "
                    f"(byte offset {self.offset}: {self.reason})")
        return f"not valid {codec}: invalid byte at offset {self.offset} ({self.reason})"


def sniff_bom(path: Path) -> str | None:
    """The codec a BOM at the start of ``path`` announces, or None."""
    with path.open("rb") as f:
        head = f.read(4)
    for bom, codec in BOMS:
        if head.startswith(bom):
            return codec
    return None


def scan_decode(path: Path, codec: str, *, allow_nul: bool = False) -> DecodeProblem | None:
    """Strictly decode the whole file in 1 MiB chunks; the first problem, or None.

    Memory stays flat whatever the file size. NUL bytes count as a problem unless
    ``allow_nul`` (UTF-16, where they are ordinary code-unit halves).
    """
    codec, pos = _past_bom(path, codec)
    decoder = codecs.getincrementaldecoder(codec)("strict")
    with path.open("rb") as f:
        f.seek(pos)
        while chunk := f.read(CHUNK_BYTES):
            nul = -1 if allow_nul else chunk.find(b"\x00")
            data = chunk if nul < 0 else chunk[:nul]
            problem = _decode_step(decoder, data, pos, final=False)
            if problem is not None:
                return problem
            if nul >= 0:
                return DecodeProblem(pos + nul, "NUL byte", "nul")
            pos += len(chunk)
    return _decode_step(decoder, b"", pos, final=True)


def _past_bom(path: Path, codec: str) -> tuple[str, int]:
    """(codec, start offset) decoding past a BOM the codec would strip, so that error offsets count
    from the start of the file (a BOM-stripping decoder reports them relative to the text after it)."""
    name = codecs.lookup(codec).name
    if name not in ("utf-8-sig", "utf-16"):
        return codec, 0
    with path.open("rb") as f:
        head = f.read(2 if name == "utf-16" else 3)
    if name == "utf-8-sig":
        return ("utf-8", 3) if head == codecs.BOM_UTF8 else ("utf-8", 0)
    if head == codecs.BOM_UTF16_LE:
        return "utf-16-le", 2
    if head == codecs.BOM_UTF16_BE:
        return "utf-16-be", 2
    return codec, 0


def _decode_step(decoder: codecs.IncrementalDecoder, data: bytes, pos: int, *,
                 final: bool) -> DecodeProblem | None:
    pending = decoder.getstate()[0]
    try:
        decoder.decode(data, final)
    except UnicodeDecodeError as exc:
        offset = pos - len(pending) + exc.start
        kind = "truncated" if final else "decode"
        return DecodeProblem(offset, exc.reason, kind)
    return None


def _nul_error(display: str, offset: int) -> SourceError:
    return SourceError(
        f"{display}: NUL byte at offset {offset}: this looks like a binary file or UTF-16 "
        f"without a BOM; {FIX_HINT} (utf-16)", source=display, offset=offset)


def _strict_error(display: str, codec: str, problem: DecodeProblem) -> SourceError:
    if problem.kind == "nul":
        return _nul_error(display, problem.offset)
    return SourceError(f"{display}: {problem.describe(codec)}; {FIX_HINT}",
                       source=display, offset=problem.offset)


def check_encoding(path: Path, codec: str, display: str | None = None) -> str:
    """Prove that ``path`` decodes strictly as ``codec``; returns the codec to read with.

    A declared ``utf-8`` file that starts with a BOM is read as ``utf-8-sig`` so the
    BOM does not end up in the first column name.
    """
    display = display or str(path)
    if codecs.lookup(codec).name == "utf-8" and sniff_bom(path) == "utf-8-sig":
        codec = "utf-8-sig"
    if codecs.lookup(codec).name == "utf-16" and sniff_bom(path) != "utf-16" and path.stat().st_size >= 2:
        # Python's utf-16 codec refuses a stream without a BOM: its byte order is unknown
        raise SourceError(f"{display}: declared utf-16, but the file does not start with a byte order mark "
                          f"(FF FE or FE FF), so its byte order is unknown; re-export it as UTF-16 with a BOM "
                          f"(Excel's \"Unicode text\") or as UTF-8", source=display, offset=0)
    problem = scan_decode(path, codec, allow_nul=_is_utf16(codec))
    if problem is not None:
        raise _strict_error(display, codec, problem)
    return codec


def detect_encoding(path: Path, display: str | None = None) -> str:
    """``encoding: auto``: BOM, else strict UTF-8 over the whole file, else strict GB18030."""
    display = display or str(path)
    bom_codec = sniff_bom(path)
    if bom_codec is not None:
        return check_encoding(path, bom_codec, display)
    utf8 = scan_decode(path, "utf-8")
    if utf8 is None:
        return "utf-8"
    if utf8.kind == "nul":
        raise _nul_error(display, utf8.offset)
    if utf8.kind == "truncated":
        # valid UTF-8 up to a sequence cut off at the very end: a UTF-8 file cut short, not
        # GB18030 (which would "decode" it into mojibake)
        raise SourceError(f"{display}: {utf8.describe('UTF-8')}; the file looks cut short: "
                          f"{FIX_HINT}", source=display, offset=utf8.offset)
    evidence = utf8_evidence(path, utf8.offset)
    if evidence is not None:
        raise SourceError(
            f"{display}: not valid UTF-8 at byte offset {utf8.offset} ({utf8.reason}), though the text before "
            f"it is UTF-8 ({evidence}): the file mixes encodings (e.g. rows pasted from a GBK file) or is "
            f"damaged; re-export it as UTF-8 (if it really is GB18030, declare source.encoding: gb18030)",
            source=display, offset=utf8.offset)
    gb = scan_decode(path, "gb18030")
    if gb is None:
        log.info("%s: not UTF-8 (offset %s); read as GB18030", display, utf8.offset)
        return "gb18030"
    if gb.kind == "nul":
        raise _nul_error(display, gb.offset)
    raise SourceError(
        f"{display}: cannot determine the text encoding: not UTF-8 (invalid byte at offset "
        f"{utf8.offset}: {utf8.reason}) and not GB18030 (invalid byte at offset {gb.offset}: "
        f"{gb.reason}); {FIX_HINT}", source=display, offset=utf8.offset)


def utf8_evidence(path: Path, offset: int) -> str | None:
    """Whether the valid UTF-8 text before ``offset`` is clearly UTF-8 (see the module docstring):
    a description of what was found, or None. Counts lead bytes (the prefix is known to be valid
    UTF-8) and reads only as far as it needs to decide."""
    wide = non_ascii = 0
    pos = 0
    with path.open("rb") as f:
        while pos < offset:
            chunk = f.read(min(CHUNK_BYTES, offset - pos))
            if not chunk:
                break
            pos += len(chunk)
            non_ascii += len(chunk) - len(chunk.translate(None, _UTF8_LEADS))
            wide += len(chunk) - len(chunk.translate(None, _UTF8_WIDE_LEADS))
            if wide >= MIXED_MIN_WIDE or non_ascii >= MIXED_MIN_NON_ASCII:
                return f"{non_ascii} non-ASCII characters, {wide} of them CJK or beyond U+0800, decode as UTF-8"
    return None


def resolve_encoding(path: Path, declared: str = "auto", display: str | None = None) -> str:
    """The codec to read ``path`` with, for a declared ``source.encoding`` (or ``auto``)."""
    if declared == "auto":
        return detect_encoding(path, display)
    return check_encoding(path, declared, display)


def open_text(path: Path, codec: str, *, newline: str | None = "") -> io.TextIOWrapper:
    """Open ``path`` for streamed strict decoding (call ``resolve_encoding`` first)."""
    return io.TextIOWrapper(path.open("rb"), encoding=codec, errors="strict", newline=newline)


def _is_utf16(codec: str) -> bool:
    return codecs.lookup(codec).name.startswith("utf-16")
