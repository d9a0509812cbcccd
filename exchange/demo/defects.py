"""Seeded defects: a known set of rows, each carrying exactly one defect.

A feed declares a *menu* of defect kinds (rule code + agency column), most important
first; the planner deals them out round-robin over randomly chosen clean rows. Cell
defects replace one value using the maker of the rule (table :data:`MAKERS`); two kinds
act on a whole row: ``key.duplicate`` inserts a later copy of a clean row (the first
occurrence loads, the copy is the defect) and ``parse.error`` appends an extra field.
"""

from __future__ import annotations

import datetime
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from exchange.demo.geo import ABOLISHED_CITY_CODE
from exchange.demo.truth import SeededDefect
from exchange.formats import CREDIT_CODE_ALPHABET, DivisionCodes, resident_id_check_char
from exchange.formats.fields import severity
from exchange.spec.feed import FeedSpec
from exchange.spec.schema import SOURCE_RECORD_ID, EntitySchema

log = logging.getLogger(__name__)

KEY_DUPLICATE = "key.duplicate"
PARSE_ERROR = "parse.error"
KEY_SEPARATOR = "|"  # as the mapping stage joins a multi-field key into source_record_id
MAX_PERCENT = 15
EXTRA_FIELD = "多余字段"
_UNKNOWN_REGIONS = ("990101", "970302", "610999", "619901", "000000")
_BAD_DATES = ("去年", "不详", "待补充", "1990年")
_TYPE_VALUES = {"integer": "three", "decimal": "abc", "boolean": "maybe"}
_FILLER = "情况有待进一步核实，"


@dataclass(frozen=True)
class Seed:
    """One kind of defect a feed can carry: a rule code on an agency column.

    ``value`` is the replacement where it depends on the feed (a label missing from the
    value map...); ``limit`` caps how often it is dealt (``parse.error``: once)."""

    rule: str
    column: str | None = None
    value: str | None = None
    limit: int | None = None


@dataclass
class FeedTable:
    """Rows of one feed before defects: cells are strings ('' = empty)."""

    feed_id: str
    columns: list[str]
    rows: list[list[str]]
    person_keys: list[str] | None = None
    menu: list[Seed] = field(default_factory=list)

    def column(self, name: str) -> int:
        return self.columns.index(name)


@dataclass
class SeededTable:
    columns: list[str]
    rows: list[list[str]]
    record_ids: list[str]
    person_keys: list[str] | None
    defects: list[SeededDefect]


@dataclass
class MakeContext:
    rng: random.Random
    today: datetime.date
    schema: EntitySchema
    divisions: DivisionCodes

    def unknown_region(self) -> str:
        return next(code for code in _UNKNOWN_REGIONS if not self.divisions.is_known(code))


Maker = Callable[[MakeContext, Seed, str, str], str]
"""(context, seed, canonical field, current value) → the defective value."""


# -- resident ID numbers ---------------------------------------------------------------------

def is_plain_id(value: str) -> bool:
    return len(value) == 18 and value[:17].isascii() and value[:17].isdigit() and value[17] in "0123456789X"


def _with_check(first17: str) -> str:
    return first17 + resident_id_check_char([first17])[0].as_py()


def _id_checksum(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    wrong = [c for c in "0123456789X" if c != value[17]]
    return value[:17] + ctx.rng.choice(wrong)


def _id_legacy(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    return value[:6] + value[8:17]


def _id_birth_date(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    month_day = ctx.rng.choice(("0230", "0431", "1131", "0931"))
    return _with_check(value[:10] + month_day + value[14:17])


def _id_birth_future(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    future = ctx.today + datetime.timedelta(days=ctx.rng.randint(400, 3000))
    region = value[:6] if ctx.divisions.is_current(value[:6]) else "610902"
    return _with_check(f"{region}{future:%Y%m%d}{value[14:17]}")


def _id_region(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    return _with_check(ctx.unknown_region() + value[6:17])


def _id_gender(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    return _with_check(value[:16] + str(int(value[16]) ^ 1))


# -- other codes -------------------------------------------------------------------------------

def _credit_checksum(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    return value[:17] + ctx.rng.choice([c for c in CREDIT_CODE_ALPHABET if c != value[17]])


def _credit_format(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    i = ctx.rng.randint(8, 16)
    return value[:i] + ctx.rng.choice("IOSVZ") + value[i + 1:]


def _division_unknown(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    return ctx.unknown_region() + value[6:]


def _division_abolished(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    return ABOLISHED_CITY_CODE + value[6:]


def _phone_format(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    rng = ctx.rng
    style = rng.randrange(3)
    if style == 0:
        return f"1{rng.choice('3589')}{rng.randrange(10**8):08d}"  # 10 digits
    if style == 1:
        return f"13{rng.randrange(10**10):010d}"  # 12 digits
    return f"0915-{rng.randrange(10**5):05d}"  # local number too short


# -- plates and numbers --------------------------------------------------------------------

def _plate_province(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    return ctx.rng.choice("广台港北上") + value[1:]  # a city's or a place's first character, no province's


def _plate_letters(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    i = ctx.rng.randint(2, 5)
    return value[:i] + ctx.rng.choice("IO") + value[i + 1:]  # a 1 or a 0 misread as a letter


def _plate_format(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    i = ctx.rng.randint(2, len(value) - 1)
    # a character the camera could not read, or the plate cut to 6 characters (cutting only the last
    # one would turn an 8-character new-energy plate into a valid ordinary one)
    return value[:i] + "?" + value[i + 1:] if ctx.rng.random() < 0.5 else value[:6]


def _out_of_range(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    spec = ctx.schema.fields[name]
    if spec.maximum is not None and (spec.minimum is None or ctx.rng.random() < 0.5):
        return f"{spec.maximum + ctx.rng.randint(1, 100):g}"
    if spec.minimum is None:
        raise ValueError(f"defect range on {name}: the field declares no minimum or maximum")
    return f"{spec.minimum - ctx.rng.randint(1, 100):g}"


# -- dates -------------------------------------------------------------------------------------

def _date_format(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    return ctx.rng.choice(_BAD_DATES)


def _date_invalid(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    year = value[:4] if value[:4].isascii() and value[:4].isdigit() else str(ctx.today.year - 3)
    return f"{year}-{ctx.rng.choice(('02-30', '04-31', '06-31', '11-31'))}"


def _date_future(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    return (ctx.today + datetime.timedelta(days=ctx.rng.randint(400, 3000))).isoformat()


# -- generic field rules ---------------------------------------------------------------------

def _required(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    return ""


def _fixed(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    if seed.value is None:
        raise ValueError(f"defect {seed.rule} on {seed.column}: needs a replacement value")
    return seed.value


def _too_long(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    limit = ctx.schema.fields[name].max_length or 64
    repeats = (limit - len(value)) // len(_FILLER) + 2
    return f"{value}（备注：{_FILLER * repeats}）"


def _wrong_type(ctx: MakeContext, seed: Seed, name: str, value: str) -> str:
    return seed.value or _TYPE_VALUES[ctx.schema.fields[name].type]


MAKERS: dict[str, Maker] = {
    "required": _required,
    "allowed_values": _fixed,
    "mapping.value": _fixed,
    "max_length": _too_long,
    "type": _wrong_type,
    "resident_id.checksum": _id_checksum,
    "resident_id.legacy_15": _id_legacy,
    "resident_id.birth_date": _id_birth_date,
    "resident_id.birth_future": _id_birth_future,
    "resident_id.region": _id_region,
    "resident_id.gender": _id_gender,
    "credit_code.checksum": _credit_checksum,
    "credit_code.format": _credit_format,
    "division_code.unknown": _division_unknown,
    "division_code.abolished": _division_abolished,
    "phone.format": _phone_format,
    "plate.province": _plate_province,
    "plate.letters": _plate_letters,
    "plate.format": _plate_format,
    "range": _out_of_range,
    "date.format": _date_format,
    "date.invalid": _date_invalid,
    "date.future": _date_future,
}

# which current values a rule's maker can work from (default: any non-empty value)
ELIGIBLE: dict[str, Callable[[str], bool]] = {
    "resident_id.checksum": is_plain_id,
    "resident_id.legacy_15": lambda v: is_plain_id(v) and v[6:8] == "19",
    "resident_id.birth_date": is_plain_id,
    "resident_id.birth_future": is_plain_id,
    "resident_id.region": is_plain_id,
    "resident_id.gender": is_plain_id,
    "credit_code.checksum": lambda v: len(v) == 18,
    "credit_code.format": lambda v: len(v) == 18,
    "division_code.unknown": lambda v: len(v) in (6, 9, 12) and v.isdigit(),
    "division_code.abolished": lambda v: len(v) in (6, 9, 12) and v.isdigit(),
    "phone.format": lambda v: True,
    "plate.province": lambda v: len(v) in (7, 8),
    "plate.letters": lambda v: len(v) == 7 and v[2:7].isalnum(),
    "plate.format": lambda v: len(v) in (7, 8),
    "range": lambda v: True,
    "date.future": lambda v: True,
}


def _non_empty(value: str) -> bool:
    return value != ""


# -- planning ----------------------------------------------------------------------------------

def defect_count(rows: int, rate: float, menu: list[Seed]) -> int:
    """About ``rate`` of the rows, at least one, never more than 15 % of the rows written."""
    if not menu:
        return 0
    return min(max(1, round(rows * rate)), rows * MAX_PERCENT // 100)


def deal(menu: list[Seed], n: int) -> list[Seed]:
    """Round-robin over the menu, skipping kinds that reached their limit."""
    dealt: list[Seed] = []
    counts: dict[Seed, int] = {}
    while len(dealt) < n:
        progressed = False
        for seed in menu:
            if len(dealt) == n:
                break
            if seed.limit is not None and counts.get(seed, 0) >= seed.limit:
                continue
            counts[seed] = counts.get(seed, 0) + 1
            dealt.append(seed)
            progressed = True
        if not progressed:
            break
    return dealt


class _Picker:
    """Random distinct rows, found by scanning a shuffled order from a random start."""

    def __init__(self, n: int, rng: random.Random) -> None:
        self.order = list(range(n))
        rng.shuffle(self.order)
        self.rng = rng
        self.used: set[int] = set()

    def pick(self, ok: Callable[[int], bool]) -> int | None:
        n = len(self.order)
        start = self.rng.randrange(n) if n else 0
        for j in range(n):
            i = self.order[(start + j) % n]
            if i not in self.used and ok(i):
                self.used.add(i)
                return i
        return None


def key_columns(spec: FeedSpec) -> list[str]:
    """The agency columns whose values make the record's source_record_id (joined by ``|``)."""
    by_field = {m.field: column for column, m in spec.field_for_column().items()}
    missing = [k for k in spec.key if k not in by_field]
    if missing:
        raise ValueError(f"{spec.feed_id}: no column maps to the key field(s) {missing}")
    return [by_field[k] for k in spec.key]


def seed_defects(table: FeedTable, spec: FeedSpec, ctx: MakeContext, rate: float) -> SeededTable:
    """Apply about ``rate`` defects to ``table`` (in place) and number the result."""
    fields = {col: m.field for col, m in spec.field_for_column().items()}
    key_cols = [table.column(c) for c in key_columns(spec)]
    n = len(table.rows)
    picker = _Picker(n, ctx.rng)
    cell_rules: dict[int, tuple[str, str | None]] = {}
    copies: dict[int, list[tuple[int, list[str]]]] = {}  # insert before original index → (source, row)
    for seed in deal(table.menu, defect_count(n, rate, table.menu)):
        if seed.rule == KEY_DUPLICATE:
            i = picker.pick(lambda i: True)
            if i is not None:
                before = ctx.rng.randint(i + 1, n)
                copies.setdefault(before, []).append((i, list(table.rows[i])))
            continue
        if seed.rule == PARSE_ERROR:
            i = picker.pick(lambda i: True)
            if i is not None:
                table.rows[i].append(EXTRA_FIELD)
                cell_rules[i] = (PARSE_ERROR, None)
            continue
        col = table.column(seed.column or "")
        ok = ELIGIBLE.get(seed.rule, _non_empty)
        i = picker.pick(lambda i, col=col, ok=ok: ok(table.rows[i][col]))
        if i is None:
            log.debug("%s: no row eligible for %s on %s", table.feed_id, seed.rule, seed.column)
            continue
        name = fields[seed.column or ""]
        table.rows[i][col] = MAKERS[seed.rule](ctx, seed, name, table.rows[i][col])
        cell_rules[i] = (seed.rule, name)
    return _assemble(table, key_cols, cell_rules, copies, ctx.schema)


def record_id(row: list[str], key_cols: list[int]) -> str:
    return KEY_SEPARATOR.join(row[i] for i in key_cols)


def _assemble(table: FeedTable, key_cols: list[int], cell_rules: dict[int, tuple[str, str | None]],
              copies: dict[int, list[tuple[int, list[str]]]], schema: EntitySchema) -> SeededTable:
    """Rows in file order with the copies inserted; a duplicate's field is ``source_record_id``
    (the natural key of every schema, derived from the feed's ``key`` where it names others)."""
    rows: list[list[str]] = []
    keys: list[str] | None = [] if table.person_keys is not None else None
    defects: list[SeededDefect] = []

    def emit(row: list[str], source: int, rule: tuple[str, str | None] | None) -> None:
        rows.append(row)
        if keys is not None and table.person_keys is not None:
            keys.append(table.person_keys[source])
        if rule is not None:
            defects.append(SeededDefect(row=len(rows), source_record_id=record_id(row, key_cols),
                                        field=rule[1], rule=rule[0], severity=severity(schema, rule[1], rule[0])))

    for i, row in enumerate(table.rows):
        for source, copy in copies.get(i, []):
            emit(copy, source, (KEY_DUPLICATE, SOURCE_RECORD_ID))
        emit(row, i, cell_rules.get(i))
    for source, copy in copies.get(len(table.rows), []):
        emit(copy, source, (KEY_DUPLICATE, SOURCE_RECORD_ID))
    return SeededTable(columns=table.columns, rows=rows, record_ids=[record_id(r, key_cols) for r in rows],
                       person_keys=keys, defects=defects)
