"""Compile a shared schema into a Great Expectations suite.

Suites are generated, never written by hand per feed: one schema → one suite. Every
expectation carries in its ``meta`` the canonical field it checks and the rule code a
failing row is quarantined with, so GX results translate into per-row reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe

from exchange.formats.fields import field_format
from exchange.spec.catalog import Catalog
from exchange.spec.schema import DECIMAL_DIGITS, EntitySchema, FieldSpec
from exchange.validation import expectations as ex

# type → the regex a normalised value must match (date/datetime have their own expectations)
TYPE_PATTERNS = {
    "integer": r"^[+-]?[0-9]{1,18}$",
    "boolean": r"^(?:true|false)$",
}


def decimal_pattern(f: FieldSpec) -> str:
    """What a decimal field's normalised value must match: at most 15 digits before the point and its
    scale after it."""
    after = rf"(?:\.[0-9]{{1,{f.decimal_scale}}})?" if f.decimal_scale else ""
    return rf"^[+-]?[0-9]{{1,{DECIMAL_DIGITS}}}{after}$"


@dataclass(frozen=True)
class Rule:
    """What a failing row of one expectation means: the field and the rule code.

    ``explain`` names the formats rule family whose check function gives the precise code
    (``resident_id.checksum`` rather than just ``resident_id``) for each failing value.
    """

    field: str
    rule: str
    explain: str | None = None


def ensure_context() -> None:
    """GX builds suites against the current data context; make sure there is one."""
    from great_expectations.data_context.data_context.context_factory import project_manager

    from exchange.validation import quiet_gx

    quiet_gx()

    try:
        project_manager.get_current_project()
    except Exception:  # noqa: BLE001 - DataContextRequiredError: none yet
        gx.get_context(mode="ephemeral")


def suite_name(schema: EntitySchema) -> str:
    """``person_v1_0_0``: GX turns dots in suite names into folders of the docs site."""
    return f"{schema.name}_v{schema.version.replace('.', '_')}"


def _field_expectations(name: str, f: FieldSpec, allowed: list[str] | None) -> list[tuple[Any, Rule]]:
    out: list[tuple[Any, Rule]] = []
    if f.required:
        out.append((gxe.ExpectColumnValuesToNotBeNull(column=name), Rule(name, "required")))
    if allowed is not None:
        out.append((gxe.ExpectColumnValuesToBeInSet(column=name, value_set=list(allowed)),
                    Rule(name, "allowed_values")))
    if f.max_length is not None:
        out.append((gxe.ExpectColumnValueLengthsToBeBetween(column=name, max_value=f.max_length),
                    Rule(name, "max_length")))
    pattern = decimal_pattern(f) if f.type == "decimal" else TYPE_PATTERNS.get(f.type)
    if pattern is not None:
        out.append((gxe.ExpectColumnValuesToMatchRegex(column=name, regex=pattern),
                    Rule(name, "type")))
    if f.minimum is not None or f.maximum is not None:
        out.append((ex.ExpectColumnValuesToBeWithinRange(column=name, minimum=f.minimum, maximum=f.maximum),
                    Rule(name, "range")))
    if f.type == "date":
        out.append((ex.ExpectColumnValuesToBeIsoDate(column=name, not_future=f.not_future),
                    Rule(name, "date", explain="date")))
    elif f.type == "datetime":
        out.append((ex.ExpectColumnValuesToBeIsoDatetime(column=name, not_future=f.not_future),
                    Rule(name, "datetime", explain="datetime")))
    if f.format:
        kind = field_format(f.format)
        expected = kind.expectation(f)
        out.append((ex.FORMAT_EXPECTATIONS[expected.name](column=name, **expected.options),
                    Rule(name, kind.rule_family, explain=f.format)))
    if f.gender_field:
        out.append((ex.ExpectColumnPairResidentIdToMatchGender(column_A=name, column_B=f.gender_field),
                    Rule(name, "resident_id.gender")))
    if f.birth_date_field:
        out.append((ex.ExpectColumnPairResidentIdToMatchBirthDate(column_A=name, column_B=f.birth_date_field),
                    Rule(name, "resident_id.birth_mismatch")))
    return out


@dataclass
class CompiledSuite:
    schema: EntitySchema
    suite: gx.ExpectationSuite
    rules: list[Rule]


def compile_suite(schema: EntitySchema, catalog: Catalog) -> CompiledSuite:
    """The GX suite of ``schema``; ``rules[i]`` explains ``suite.expectations[i]``."""
    ensure_context()
    suite = gx.ExpectationSuite(name=suite_name(schema), meta={
        "schema": schema.name, "schema_version": schema.version,
        "generated_by": "exchange.validation.suites.compile_suite"})
    rules: list[Rule] = []
    for name, f in schema.fields.items():
        for expectation, rule in _field_expectations(name, f, schema.allowed_values(name, catalog.codes)):
            expectation.meta = {"field": rule.field, "rule": rule.rule}
            expectation.notes = f"{schema.name}.{name}: {f.description}"
            suite.add_expectation(expectation)
            rules.append(rule)
    return CompiledSuite(schema=schema, suite=suite, rules=rules)


def suite_to_golden(compiled: CompiledSuite) -> dict[str, Any]:
    """A stable JSON form of the suite for golden-file review (random ids removed)."""
    data = compiled.suite.to_json_dict()
    data.pop("id", None)
    for e in data.get("expectations", []):
        e.pop("id", None)
    return data
