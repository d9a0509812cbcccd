"""Grant specs: ``grants/<consumer>.yaml`` — who may read what, masked how, in which rows.

A grant names the consumer agency, its purpose, and per shared entity the treatment of
*every* column (``full``, ``partial``, ``pseudonym`` or ``hidden``) and the rows it may read
(its jurisdiction: administrative-division prefixes at any of the five levels). Entities it
does not read are listed under ``withheld``, so that every entity of every schema gets a
deliberate decision. Specs are checked at the boundary like feed specs: unknown keys,
entities, columns and masks are rejected and every problem is reported at once with its
path (``grants/police.yaml: entities.person.columns.id_numbr: unknown column ...``).

Names that become SQL identifiers (the consumer, its logins) are constrained to
``^[a-z][a-z0-9_]{0,40}$`` without ``__``; every literal that ends up in a view (division
prefixes, code-list values) is validated against a closed form before it is quoted.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from exchange.errors import ConfigError
from exchange.formats.fields import field_format
from exchange.spec.loading import display_path, parse_model, read_yaml
from exchange.spec.schema import EntitySchema, FieldSpec

NAME_RE = r"^[a-z][a-z0-9_]{0,40}$"
MASKS = ("full", "partial", "pseudonym", "hidden")
HASH_WORDS = ("hash", "md5", "sha1", "sha256", "sha-256", "digest")
PG_NAME_MAX = 63
RESERVED = ("fn",)  # share_fn: the mask functions and pseudonym keys

# Division levels by the length of the prefix (GB/T 2260 + the 3-digit town and community codes).
LEVELS = {4: "city", 6: "district/county", 9: "town/street", 12: "community/village"}
COMPOUND_RE = re.compile(r"^XQ[0-9]{15}$")
PREFIX_RE = re.compile(r"^[0-9]+$")
VALUE_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
# Columns every shared view carries besides the schema's fields: provenance, never personal data.
PROVENANCE = ("source_agency", "_batch_id", "_loaded_at")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_text_list(v: object) -> object:
    """YAML reads ``[6109, 610902]`` as integers: division codes are text."""
    if isinstance(v, list):
        return [str(x) if isinstance(x, int) and not isinstance(x, bool) else x for x in v]
    return v


class RowRules(StrictModel):
    """Which rows of an entity the consumer reads, besides its jurisdiction."""

    via: str | None = Field(default=None, description=(
        "<entity>.<column>: rows with no division of their own (or an entity without a division column) "
        "are in the jurisdiction when a row of <entity> with the same <column> is"))
    where: dict[str, list[str]] = Field(default_factory=dict, description=(
        "column → allowed values (enumerated columns only), e.g. programme: [severe_mental_disorder]"))
    compound_column: str | None = Field(default=None, description=(
        "column holding compound codes (XQ + 15 digits), needed for a compound-level jurisdiction"))

    @field_validator("where", mode="before")
    @classmethod
    def _where_text(cls, v: object) -> object:
        if isinstance(v, dict):
            return {str(k): _as_text_list(val) for k, val in v.items()}
        return v


Jurisdiction = Literal["all"] | list[str]

DEFAULT_MIN_COUNT = 10
"""The small-count threshold of a grant that sets none (``aggregates.min_count``)."""


class AggregateSpec(StrictModel):
    """What the grant may count (the crime and dispute map, :mod:`exchange.investigate.area_counts`)."""

    min_count: int = Field(ge=1, le=1000, description=(
        "counts from 1 to min_count - 1 are shown as '<min_count' (and enough other cells with them that no "
        "subtraction recovers one); 1 suppresses nothing"))
    counts: list[str] = Field(default_factory=list, description=(
        "entities counted in the jurisdiction although their rows are withheld (counts only, never a row)"))


class EntityGrant(StrictModel):
    description: str | None = None
    jurisdiction: Jurisdiction | None = Field(default=None, description="overrides the grant's jurisdiction")
    rows: RowRules = Field(default_factory=RowRules)
    columns: dict[str, str] = Field(min_length=1, description="column → full | partial | pseudonym | hidden")

    @field_validator("jurisdiction", mode="before")
    @classmethod
    def _codes_text(cls, v: object) -> object:
        return _as_text_list(v)

    @field_validator("columns", mode="before")
    @classmethod
    def _columns_text(cls, v: object) -> object:
        if isinstance(v, dict):
            return {str(k): (val if isinstance(val, str) else repr(val)) for k, val in v.items()}
        return v


class GrantSpec(StrictModel):
    consumer: str = Field(pattern=NAME_RE, description="consumer agency; schema share_<consumer>")
    name: str = Field(min_length=1, description="the agency's name, for people")
    description: str = Field(min_length=1)
    purpose: str = Field(min_length=1, description="why it reads the data (legal basis, programme)")
    jurisdiction: Jurisdiction = Field(description="'all', or division prefixes / compound codes")
    logins: list[str] = Field(default_factory=list, description="login roles (passwords from the environment)")
    profile_api: bool = Field(default=False, description="may call GET /persons/{id} of the profile API")
    watch: bool = Field(default=False, description=(
        "may register watches (布控) on a person, ID number, phone or plate; alerted only of rows this grant shows"))
    case_number_required: bool = Field(default=False, description=(
        "every request (API, console) must name the case or file it is for, besides its purpose"))
    aggregates: AggregateSpec | None = Field(default=None, description=(
        f"the map's counts: the small-count threshold (default {DEFAULT_MIN_COUNT}) and entities counted only"))
    entities: dict[str, EntityGrant] = Field(default_factory=dict)
    withheld: list[str] = Field(default_factory=list, description="entities deliberately not shared")

    @field_validator("jurisdiction", mode="before")
    @classmethod
    def _codes_text(cls, v: object) -> object:
        return _as_text_list(v)


# --- the resolved grant: what the SQL generator, the API and the catalogue use ------------------------

PartialKind = Literal["id", "phone", "credit_code", "division", "name", "year"]


@dataclass(frozen=True)
class ColumnRule:
    name: str
    treatment: str  # full | partial | pseudonym (hidden columns are left out)
    field: FieldSpec
    partial: PartialKind | None = None

    @property
    def mask_label(self) -> str:
        if self.treatment == "partial":
            return f"partial ({self.partial})"
        return self.treatment


@dataclass(frozen=True)
class Region:
    """One jurisdiction entry: a division prefix (``level``) or a compound code."""

    code: str
    level: str

    @property
    def compound(self) -> bool:
        return self.level == "compound"


@dataclass(frozen=True)
class RowFilter:
    regions: tuple[Region, ...] | None  # None: every row (jurisdiction 'all')
    division_column: str | None  # the entity's own division column
    via_entity: str | None = None
    via_column: str | None = None
    via_division_column: str | None = None
    compound_column: str | None = None
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def unrestricted(self) -> bool:
        return self.regions is None and not self.where


@dataclass(frozen=True)
class EntityShare:
    entity: str
    schema: EntitySchema
    description: str
    columns: tuple[ColumnRule, ...]
    hidden: tuple[str, ...]
    rows: RowFilter

    def column(self, name: str) -> ColumnRule | None:
        return self._by_name.get(name)

    @functools.cached_property
    def _by_name(self) -> dict[str, ColumnRule]:  # every row shown asks for each of its columns
        return {c.name: c for c in self.columns}


@dataclass(frozen=True)
class Aggregates:
    """What a grant may count: the rows of its granted entities (their row rules), and of ``counted``
    entities within the jurisdiction; every count below ``min_count`` suppressed."""

    min_count: int = DEFAULT_MIN_COUNT
    counted: tuple[tuple[str, RowFilter], ...] = ()


@dataclass(frozen=True)
class Grant:
    consumer: str
    name: str
    description: str
    purpose: str
    logins: tuple[str, ...]
    profile_api: bool
    entities: dict[str, EntityShare]
    withheld: tuple[str, ...]
    file: str
    digest: str  # SHA-256 of the YAML file, recorded with every grant change
    case_number_required: bool = False
    watch: bool = False
    aggregates: Aggregates = Aggregates()

    @property
    def schema_name(self) -> str:
        return f"share_{self.consumer}"

    def share(self, entity: str) -> EntityShare | None:
        return self.entities.get(entity)


@dataclass
class GrantSet:
    grants: dict[str, Grant] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.grants[c] for c in sorted(self.grants))

    def __len__(self) -> int:
        return len(self.grants)

    def get(self, consumer: str) -> Grant:
        try:
            return self.grants[consumer]
        except KeyError:
            known = ", ".join(sorted(self.grants)) or "(none)"
            raise ConfigError(f"unknown consumer agency {consumer!r}; grants exist for: {known} "
                              f"(grants/<consumer>.yaml)") from None


# --- checks ----------------------------------------------------------------------------------------------


def division_column(schema: EntitySchema) -> str | None:
    """The entity's own division column: its field of format division_code (``division_code``)."""
    cols = [n for n, f in schema.fields.items() if f.format == "division_code"]
    return cols[0] if cols else None


def partial_kind(f: FieldSpec) -> PartialKind | None:
    """What ``partial`` means for a field: by its format, else by its type; None if it has no meaning."""
    if f.format:
        return field_format(f.format).partial  # type: ignore[return-value]
    if f.type == "string":
        return "name"
    if f.type in ("date", "datetime"):
        return "year"
    return None


PARTIAL_DOC = {
    "id": "ID number: first 6 + 10 '*' + last 2 (610902**********1X)",
    "phone": "phone: 138****5678; landlines keep the last 4",
    "credit_code": "credit code: first 8, the rest '*'",
    "division": "division code: the district/county (first 6 digits)",
    "name": "text: the first character, '*' for the rest (张*)",
    "year": "date: the year only",
}


def parse_region(code: str, divisions: Any | None) -> tuple[Region | None, str | None]:
    """A jurisdiction entry → Region, or an error message."""
    if COMPOUND_RE.match(code):
        return Region(code, "compound"), None
    if not PREFIX_RE.match(code) or len(code) not in LEVELS:
        return None, (f"{code!r} is not a division prefix of 4 (city), 6 (district/county), 9 (town/street) "
                      f"or 12 (community/village) digits, nor a compound code XQ + 15 digits")
    if divisions is not None:
        head = code[:6] if len(code) >= 6 else code + "00"
        if not divisions.is_known(head):
            return None, f"{code!r}: {head} is not a known GB/T 2260 division code"
    return Region(code, LEVELS[len(code)]), None


@dataclass
class _Ctx:
    shown: str
    schemas: dict[str, EntitySchema]
    allowed: dict[tuple[str, str], list[str]]
    divisions: Any | None
    role_prefix: str
    problems: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{self.shown}: {where}: {message}")


def _regions(ctx: _Ctx, where: str, value: Jurisdiction) -> tuple[Region, ...] | None:
    if value == "all":
        return None
    if not value:
        ctx.add(where, "empty: give 'all' or at least one division prefix")
        return ()
    out: list[Region] = []
    for i, code in enumerate(value):
        region, problem = parse_region(str(code), ctx.divisions)
        if problem:
            ctx.add(f"{where}.{i}", problem)
        elif region is not None:
            out.append(region)
    return tuple(out)


def _column_rule(ctx: _Ctx, where: str, schema: EntitySchema, column: str, mask: str) -> ColumnRule | None:
    f = schema.fields[column]
    low = mask.strip().lower()
    if low not in MASKS:
        if any(w in low for w in HASH_WORDS):
            ctx.add(where, f"{mask!r} is not a mask: an unsalted hash of an ID number or phone is reversed by "
                           f"enumerating them; use pseudonym (a keyed HMAC)")
        else:
            ctx.add(where, f"unknown mask {mask!r} (masks: {', '.join(MASKS)})")
        return None
    if low == "partial":
        kind = partial_kind(f)
        if kind is None:
            ctx.add(where, f"partial has no meaning for a {f.type} column; use full, pseudonym or hidden")
            return None
        return ColumnRule(column, "partial", f, kind)
    if low == "pseudonym" and f.type != "string":
        ctx.add(where, f"pseudonym applies to text columns, not {f.type}; use full, partial or hidden")
        return None
    return ColumnRule(column, low, f)


def _rows(ctx: _Ctx, where: str, schema: EntitySchema, rules: RowRules, regions: tuple[Region, ...] | None,
          ) -> RowFilter:
    own = division_column(schema)
    via_entity = via_column = via_division = None
    if rules.via is not None:
        entity, _, column = rules.via.partition(".")
        target = ctx.schemas.get(entity)
        if not column or target is None:
            known = ", ".join(sorted(ctx.schemas))
            ctx.add(f"{where}.rows.via", f"{rules.via!r} is not <entity>.<column> of a known entity ({known})")
        elif column not in schema.fields or column not in target.fields:
            ctx.add(f"{where}.rows.via", f"column {column!r} must exist in both {schema.name} and {entity}")
        elif division_column(target) is None:
            ctx.add(f"{where}.rows.via", f"{entity} has no division column to take the jurisdiction from")
        elif entity == schema.name:
            ctx.add(f"{where}.rows.via", "an entity cannot take its jurisdiction from itself")
        else:
            via_entity, via_column, via_division = entity, column, division_column(target)
    if rules.compound_column is not None and rules.compound_column not in schema.fields:
        ctx.add(f"{where}.rows.compound_column", f"unknown column {rules.compound_column!r} of {schema.name}")
    if regions:
        if own is None and via_entity is None and rules.via is None:
            ctx.add(f"{where}.rows", f"{schema.name} has no division column: take its jurisdiction from a related "
                                     f"entity (rows.via: <entity>.<column>, e.g. case.case_number) or use "
                                     f"jurisdiction: all")
        if any(r.compound for r in regions) and rules.compound_column is None:
            ctx.add(f"{where}.rows", f"a compound-level jurisdiction needs rows.compound_column (the {schema.name} "
                                     f"column holding compound codes); {schema.name} division codes stop at "
                                     f"the community: grant the community (12 digits) instead")
    where_rules: list[tuple[str, tuple[str, ...]]] = []
    for column, values in sorted(rules.where.items()):
        path = f"{where}.rows.where.{column}"
        if column not in schema.fields:
            ctx.add(path, f"unknown column {column!r} of {schema.name}")
            continue
        allowed = ctx.allowed.get((schema.name, column))
        if allowed is None:
            ctx.add(path, f"rows.where applies to enumerated columns only (a code list); {column!r} is not one")
            continue
        if not values:
            ctx.add(path, "empty list: no row would be shared")
            continue
        bad = [v for v in values if v not in allowed or not VALUE_RE.match(v)]
        if bad:
            ctx.add(path, f"{', '.join(repr(b) for b in bad)} not allowed values of {schema.name}.{column} "
                          f"({', '.join(allowed)})")
            continue
        where_rules.append((column, tuple(values)))
    return RowFilter(regions=regions, division_column=own, via_entity=via_entity, via_column=via_column,
                     via_division_column=via_division, compound_column=rules.compound_column,
                     where=tuple(where_rules))


def check_grant(spec: GrantSpec, shown: str, schemas: dict[str, EntitySchema],
                allowed: dict[tuple[str, str], list[str]], *, divisions: Any | None = None,
                role_prefix: str = "exchange_", stem: str | None = None, digest: str = "") -> Grant:
    """Cross-check a parsed grant against the schemas; raise ConfigError listing every problem."""
    ctx = _Ctx(shown, schemas, allowed, divisions, role_prefix)
    if stem is not None and stem != spec.consumer:
        ctx.add("consumer", f"{spec.consumer!r} does not match the file name {stem!r} (grants/<consumer>.yaml)")
    if "__" in spec.consumer:
        ctx.add("consumer", "'__' is reserved (it separates the consumer from a login in role names)")
    if spec.consumer in RESERVED:
        ctx.add("consumer", f"{spec.consumer!r} is reserved (schema share_{spec.consumer} holds the exchange's "
                            f"own objects)")
    seen_logins: set[str] = set()
    for i, login in enumerate(spec.logins):
        if not re.match(NAME_RE, login) or "__" in login:
            ctx.add(f"logins.{i}", f"{login!r} is not a login name (lower-case letters, digits, _; no '__')")
        elif login in seen_logins:
            ctx.add(f"logins.{i}", f"{login!r} is listed twice")
        elif len(f"{role_prefix}{spec.consumer}__{login}") > PG_NAME_MAX:
            ctx.add(f"logins.{i}", f"role name {role_prefix}{spec.consumer}__{login} is longer than "
                                   f"{PG_NAME_MAX} characters; shorten the login")
        seen_logins.add(login)
    regions = _regions(ctx, "jurisdiction", spec.jurisdiction)
    known = ", ".join(sorted(schemas))
    for i, name in enumerate(spec.withheld):
        if name not in schemas:
            ctx.add(f"withheld.{i}", f"unknown entity {name!r} (entities: {known})")
        elif name in spec.entities:
            ctx.add(f"withheld.{i}", f"{name!r} is both granted (entities.{name}) and withheld")
    undecided = [s for s in sorted(schemas) if s not in spec.entities and s not in spec.withheld]
    if undecided:
        ctx.add("entities", f"no decision for {', '.join(undecided)}: grant each entity under entities or list "
                            f"it under withheld")
    shares: dict[str, EntityShare] = {}
    for entity, eg in spec.entities.items():
        where = f"entities.{entity}"
        schema = schemas.get(entity)
        if schema is None:
            ctx.add(where, f"unknown entity {entity!r} (entities: {known})")
            continue
        rules: list[ColumnRule] = []
        hidden: list[str] = []
        for column, mask in eg.columns.items():
            if column not in schema.fields:
                ctx.add(f"{where}.columns.{column}", f"unknown column {column!r} of {entity} "
                                                     f"(columns: {', '.join(schema.fields)})")
                continue
            rule = _column_rule(ctx, f"{where}.columns.{column}", schema, column, mask)
            if rule is None:
                continue
            if rule.treatment == "hidden":
                hidden.append(column)
            else:
                rules.append(rule)
        missing = [c for c in schema.fields if c not in eg.columns]
        if missing:
            ctx.add(f"{where}.columns", f"no treatment for {', '.join(missing)}: give every column full, partial, "
                                        f"pseudonym or hidden")
        ent_regions = regions if eg.jurisdiction is None else _regions(ctx, f"{where}.jurisdiction",
                                                                        eg.jurisdiction)
        row_filter = _rows(ctx, where, schema, eg.rows, ent_regions)
        order = {c: i for i, c in enumerate(schema.fields)}
        shares[entity] = EntityShare(entity, schema, (eg.description or schema.description).strip(),
                                     tuple(sorted(rules, key=lambda r: order[r.name])), tuple(hidden), row_filter)
    aggregates = _aggregates(ctx, spec, regions, shares)
    if spec.watch and not spec.entities:
        ctx.add("watch", "a watch matches only rows the grant shows: grant at least one entity")
    if spec.profile_api and "person" not in spec.entities:
        ctx.add("profile_api", "the person profile needs a grant on person (entities.person)")
    if ctx.problems:
        raise ConfigError(f"{shown}: {len(ctx.problems)} problem(s)", ctx.problems)
    return Grant(consumer=spec.consumer, name=spec.name, description=spec.description.strip(),
                 purpose=spec.purpose.strip(), logins=tuple(spec.logins), profile_api=spec.profile_api,
                 entities=dict(sorted(shares.items())), withheld=tuple(sorted(spec.withheld)), file=shown,
                 digest=digest, case_number_required=spec.case_number_required, watch=spec.watch,
                 aggregates=aggregates)


def _aggregates(ctx: _Ctx, spec: GrantSpec, regions: tuple[Region, ...] | None,
                shares: dict[str, EntityShare]) -> Aggregates:
    if spec.aggregates is None:
        return Aggregates()
    counted = []
    for i, entity in enumerate(spec.aggregates.counts):
        where = f"aggregates.counts.{i}"
        schema = ctx.schemas.get(entity)
        if schema is None:
            ctx.add(where, f"unknown entity {entity!r} (entities: {', '.join(sorted(ctx.schemas))})")
        elif entity in shares:
            ctx.add(where, f"{entity!r} is granted (entities.{entity}): its rows are counted already")
        elif division_column(schema) is None:
            ctx.add(where, f"{entity} has no division column: its rows cannot be placed in the jurisdiction")
        else:
            counted.append((entity, _rows(ctx, where, schema, RowRules(), regions)))
    return Aggregates(spec.aggregates.min_count, tuple(counted))


def load_grant(path: Path, schemas: dict[str, EntitySchema], allowed: dict[tuple[str, str], list[str]], *,
               root: Path | None = None, divisions: Any | None = None, role_prefix: str = "exchange_") -> Grant:
    shown = display_path(path, root)
    data = read_yaml(path, shown)
    spec = parse_model(GrantSpec, data, shown)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return check_grant(spec, shown, schemas, allowed, divisions=divisions, role_prefix=role_prefix,
                       stem=path.stem, digest=digest)


def load_grants(root: Path, schemas: dict[str, EntitySchema], allowed: dict[tuple[str, str], list[str]], *,
                divisions: Any | None = None, role_prefix: str = "exchange_") -> GrantSet:
    """Every ``grants/*.yaml`` under ``root``; every problem of every file reported at once."""
    out = GrantSet()
    problems: list[str] = []
    for path in sorted((root / "grants").glob("*.y*ml")):
        try:
            g = load_grant(path, schemas, allowed, root=root, divisions=divisions, role_prefix=role_prefix)
        except ConfigError as exc:
            problems.extend(exc.problems or [str(exc)])
            continue
        out.grants[g.consumer] = g
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in the grants under {root / 'grants'}", problems)
    return out
