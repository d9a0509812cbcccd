"""Chinese motor-vehicle plate numbers (GA 36): a province abbreviation, the issuing authority's
letter, then

- ordinary plates (7 characters): 5 letters or digits, or 4 and a use character (挂 trailer,
  学 driving school, 警 police, 港/澳 cross-border, 领 consulate, 使 embassy at the start instead);
- new-energy plates (8 characters): small cars ``D``/``F`` + a letter or digit + 4 digits
  (D battery-electric, F other new energy), large vehicles 5 digits + ``D``/``F``.

Letters ``I`` and ``O`` are never issued (they read as 1 and 0). Values are normalised first:
full-width forms to ASCII, lower case to upper case, the separators people write (a space, ``·``,
``•``, ``-``, ``.``) removed: ``陕A·12345`` → ``陕A12345``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.formats.text import as_string_array, bool_np, codes_to_array, normalize_text

__all__ = ["PLATE_REASONS", "PROVINCES", "check_plate", "normalize_plate"]

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
"""The 31 provincial-level abbreviations of the mainland."""
PLATE_REASONS = ("plate.province", "plate.letters", "plate.format")
_REASON_CODES: tuple[str | None, ...] = (None, *PLATE_REASONS)

_LETTER = "A-HJ-NP-Z"                      # no I, no O
_ALNUM = f"{_LETTER}0-9"
_ORDINARY = rf"^[{PROVINCES}][{_LETTER}](?:[{_ALNUM}]{{5}}|[{_ALNUM}]{{4}}[挂学警港澳领])$"
_NEW_ENERGY = rf"^[{PROVINCES}][{_LETTER}](?:[DF][{_ALNUM}][0-9]{{4}}|[0-9]{{5}}[DF])$"
_EMBASSY = r"^使[0-9]{6}$"
_SHAPE_ANY_PROVINCE = r"^\p{Han}[A-Z](?:[A-Z0-9]{5}|[A-Z0-9]{4}\p{Han}|[A-Z0-9]{6})$"
_SEPARATORS = r"[\s·•\-.．・]"


def normalize_plate(values: Any) -> pa.StringArray:
    arr = normalize_text(values)
    arr = pc.replace_substring_regex(arr, _SEPARATORS, "")
    arr = pc.utf8_upper(arr)
    return pc.if_else(pc.equal(pc.binary_length(arr), 0), pa.scalar(None, pa.string()), arr)


def check_plate(values: Any) -> pa.StringArray:
    """Reason codes (null: valid or null): ``plate.province`` (the first character is no province's
    abbreviation), ``plate.letters`` (an I or an O, never issued), ``plate.format`` (any other shape)."""
    arr = as_string_array(values)
    valid = bool_np(arr.is_valid())
    ok = (bool_np(pc.match_substring_regex(arr, _ORDINARY)) | bool_np(pc.match_substring_regex(arr, _NEW_ENERGY))
          | bool_np(pc.match_substring_regex(arr, _EMBASSY)))
    shaped = bool_np(pc.match_substring_regex(arr, _SHAPE_ANY_PROVINCE))
    province = bool_np(pc.match_substring_regex(arr, rf"^[{PROVINCES}]"))
    has_io = bool_np(pc.match_substring_regex(arr, r"[IO]"))
    reason = np.zeros(len(arr), dtype=np.int8)
    bad = valid & ~ok
    reason[bad] = 3
    reason[bad & shaped & has_io] = 2
    reason[bad & shaped & ~province] = 1
    return codes_to_array(reason, _REASON_CODES)
