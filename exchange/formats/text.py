"""String-array plumbing shared by every format rule, and generic text normalisation.

Every public function of ``exchange.formats`` accepts a ``pa.Array``, a
``pa.ChunkedArray`` or any sequence / pandas Series of ``str``/``None`` and turns it
into one ``pa.StringArray`` with :func:`as_string_array`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "as_string_array",
    "bool_np",
    "codes_to_array",
    "fixed_width_bytes",
    "normalize_text",
    "remove_spaces",
    "rowwise_except",
]

_STRING_NULL = pa.scalar(None, pa.string())


def as_string_array(values: Any) -> pa.StringArray:
    """Return ``values`` as a single (non-chunked) ``pa.StringArray``.

    Accepts ``pa.Array``/``pa.ChunkedArray`` of any string-like type (large_string,
    string_view and dictionary-encoded strings are cast), pandas Series / numpy arrays
    (NaN/None become null) and plain sequences of ``str``/``None``.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    elif not isinstance(values, pa.Array):
        if isinstance(values, str | bytes):
            raise TypeError("expected a sequence of strings, got a single string")
        if not isinstance(values, Sequence) and not hasattr(values, "__array__") \
                and not hasattr(values, "__arrow_array__"):
            values = list(values)
        values = pa.array(values, from_pandas=True)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return values


def bool_np(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A writable numpy bool array from a pyarrow boolean array, null → False."""
    return np.array(pc.fill_null(mask, False), dtype=bool)


def codes_to_array(index: np.ndarray, codes: Sequence[str | None]) -> pa.StringArray:
    """Map small integer ``index`` values to ``codes`` (index 0 is conventionally ``None``)."""
    table = pa.array(list(codes), type=pa.string())
    return table.take(pa.array(np.ascontiguousarray(index, dtype=np.int8)))


def fixed_width_bytes(values: pa.StringArray, width: int) -> np.ndarray:
    """The bytes of ``values`` as an ``(n, width)`` uint8 matrix.

    Every value must be non-null and exactly ``width`` bytes long (callers select such
    rows with a regex and ``take`` them, which lays them out contiguously). The result
    is a read-only view of the array's data buffer.
    """
    n = len(values)
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8)
    if values.null_count:
        raise ValueError("fixed_width_bytes needs non-null values")
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset: values.offset + n + 1]
    start, stop = int(offsets[0]), int(offsets[-1])
    if stop - start != n * width or not np.all(np.diff(offsets) == width):
        raise ValueError(f"fixed_width_bytes needs values of exactly {width} bytes")
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[start:stop]
    return data.reshape(n, width)


def _string_from_bytes(data: np.ndarray, offsets: np.ndarray, like: pa.StringArray) -> pa.StringArray:
    """Build a string array from a byte buffer and int32 offsets, with the nulls of ``like``."""
    n = len(offsets) - 1
    rebuilt = pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(np.ascontiguousarray(offsets, dtype=np.int32)),
                         pa.py_buffer(np.ascontiguousarray(data, dtype=np.uint8))])
    if like.null_count:
        rebuilt = pc.if_else(like.is_valid(), rebuilt, _STRING_NULL)
    return rebuilt


def _fold_width(values: pa.StringArray) -> pa.StringArray:
    """Map U+FF01..U+FF5E to ASCII and U+3000 / U+00A0 to a space, on the UTF-8 bytes."""
    n = len(values)
    if n == 0 or values.null_count == n or values.buffers()[1] is None:
        return values
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset: values.offset + n + 1]
    start, stop = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[start:stop] \
        if values.buffers()[2] is not None else np.zeros(0, dtype=np.uint8)
    offsets = offsets - start
    lead = np.flatnonzero((data == 0xEF) | (data == 0xE3) | (data == 0xC2))
    if lead.size == 0:
        return values
    size = data.size
    b1 = np.where(lead + 1 < size, data[np.minimum(lead + 1, size - 1)], 0)
    b2 = np.where(lead + 2 < size, data[np.minimum(lead + 2, size - 1)], 0)
    b0 = data[lead]
    # U+FF01..U+FF3F = EF BC 81..BF; U+FF40..U+FF5E = EF BD 80..9E
    fw_lo = (b0 == 0xEF) & (b1 == 0xBC) & (b2 >= 0x81) & (b2 <= 0xBF)
    fw_hi = (b0 == 0xEF) & (b1 == 0xBD) & (b2 >= 0x80) & (b2 <= 0x9E)
    ideo = (b0 == 0xE3) & (b1 == 0x80) & (b2 == 0x80)
    nbsp = (b0 == 0xC2) & (b1 == 0xA0)
    three = fw_lo | fw_hi | ideo
    hit = three | nbsp
    if not hit.any():
        return values
    out = data.copy()
    keep = np.ones(size, dtype=bool)
    pos = lead[hit]
    replacement = np.where(fw_lo, b2 - 0x60, np.where(fw_hi, b2 - 0x20, 0x20))[hit].astype(np.uint8)
    out[pos] = replacement
    keep[lead[hit] + 1] = False
    keep[lead[three] + 2] = False
    kept_before = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))
    new_offsets = kept_before[offsets]
    return _string_from_bytes(out[keep], new_offsets, values)


def normalize_text(values: Any) -> pa.StringArray:
    """Generic text clean-up applied before every format rule.

    Full-width ASCII forms (U+FF01..U+FF5E) become ASCII, the ideographic space
    (U+3000) and NBSP become a space, leading/trailing whitespace is stripped and
    empty strings become null. Nothing else changes (no case change).
    """
    arr = _fold_width(as_string_array(values))
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(pc.binary_length(arr), 0), _STRING_NULL, arr)


SEPARATORS = "[\\s\\-\u2010-\u2015\u2212]"  # the dashes as characters: RE2 has no \u escape
"""What people type between the digit groups of a number (an ID number, a phone): whitespace (NBSP and
full-width spaces are spaces after :func:`normalize_text`), hyphens, dashes and the minus sign."""


def remove_separators(values: pa.StringArray) -> pa.StringArray:
    """Remove every :data:`SEPARATORS` character (``110105-19850104-0027`` → ``110105198501040027``)."""
    found = pc.fill_null(pc.match_substring_regex(values, SEPARATORS), False)
    return rowwise_except(values, pc.invert(found), lambda v: pc.replace_substring_regex(v, SEPARATORS + "+", ""))


def remove_spaces(values: pa.StringArray) -> pa.StringArray:
    """Remove every whitespace character (ASCII whitespace after :func:`normalize_text`)."""
    spaced = pc.fill_null(pc.match_substring_regex(values, r"\s"), False)
    return rowwise_except(values, pc.invert(spaced), lambda v: pc.replace_substring_regex(v, r"\s+", ""))


def rowwise_except(values: pa.StringArray, keep: pa.BooleanArray,
                   fn: Callable[[pa.StringArray], pa.StringArray]) -> pa.StringArray:
    """``fn(values)`` computed only where ``keep`` is false, ``values`` as they are elsewhere.

    For a row-wise ``fn`` (each output value depends on its input value alone) whose result is known
    to equal the input on the ``keep`` rows — typically values already in canonical form, nearly
    all of them — this is ``fn(values)``, without running ``fn`` over every value.
    """
    todo = pc.invert(keep)
    n = pc.sum(todo).as_py() or 0
    if n == 0:
        return values
    if n == len(values):
        return fn(values)
    return pc.replace_with_mask(values, todo, fn(values.filter(todo)))
