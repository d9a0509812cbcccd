"""Great Expectations custom expectations for the format rules GX lacks.

Each is a real GX ``ColumnMapExpectation`` (or column-pair expectation) whose metric is
computed by the vectorised rule functions of ``exchange.formats`` — the same functions
the mapping stage, masking and linking use, so a value judged here is judged the same
way everywhere. Importing this module registers the expectations with GX.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import (
    ColumnMapExpectation,
    ColumnPairMapExpectation,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
)

from exchange import formats
from exchange.formats.numbers import check_range


def _passes(column: pd.Series, reasons: pa.Array) -> pd.Series:
    """Reason codes (null = valid) → the boolean Series GX expects, on the column's index."""
    ok = reasons.is_null().to_numpy(zero_copy_only=False)
    return pd.Series(np.asarray(ok, dtype=bool), index=column.index)


def _arrow(column: pd.Series) -> pa.Array:
    return formats.as_string_array(column)


def _today(iso: str | None) -> dt.date | None:
    return dt.date.fromisoformat(iso) if iso else None


# --- metrics ---------------------------------------------------------------------------------


class ColumnValuesResidentId(ColumnMapMetricProvider):
    condition_metric_name = "column_values.exchange_resident_id"
    condition_value_keys = ("today",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(self, column: pd.Series, today: str | None = None, **kwargs: object) -> pd.Series:
        return _passes(column, formats.check_resident_id(_arrow(column), today=_today(today)))


class ColumnPairResidentIdGender(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.exchange_resident_id_gender"
    condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "row_condition",
                             "condition_parser", "ignore_row_if")
    condition_value_keys = ()

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(self, column_A: pd.Series, column_B: pd.Series, **kwargs: object) -> pd.Series:  # noqa: N803
        ids, genders = _arrow(column_A), _arrow(column_B)
        reasons = formats.check_resident_id(ids, genders)
        # Only the parity rule is this expectation's business; format faults are reported
        # by the resident-id expectation of the column itself.
        mismatch = pa.compute.equal(reasons.fill_null(""), "resident_id.gender")
        return pd.Series(~np.asarray(mismatch.to_numpy(zero_copy_only=False), dtype=bool),
                         index=column_A.index)


class ColumnPairResidentIdBirthDate(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.exchange_resident_id_birth_date"
    condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "row_condition",
                             "condition_parser", "ignore_row_if")
    condition_value_keys = ()

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(self, column_A: pd.Series, column_B: pd.Series, **kwargs: object) -> pd.Series:  # noqa: N803
        mismatch = formats.resident_id_birth_mismatch(_arrow(column_A), _arrow(column_B))
        return pd.Series(~np.asarray(mismatch.to_numpy(zero_copy_only=False), dtype=bool), index=column_A.index)


class ColumnValuesCreditCode(ColumnMapMetricProvider):
    condition_metric_name = "column_values.exchange_credit_code"
    condition_value_keys = ()

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(self, column: pd.Series, **kwargs: object) -> pd.Series:
        return _passes(column, formats.check_credit_code(_arrow(column)))


class ColumnValuesDivisionCode(ColumnMapMetricProvider):
    condition_metric_name = "column_values.exchange_division_code"
    condition_value_keys = ("allow_historical",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(self, column: pd.Series, allow_historical: bool = False, **kwargs: object) -> pd.Series:
        return _passes(column, formats.check_division_code(_arrow(column),
                                                           allow_historical=allow_historical))


class ColumnValuesPhone(ColumnMapMetricProvider):
    condition_metric_name = "column_values.exchange_phone"
    condition_value_keys = ("kind",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(self, column: pd.Series, kind: str = "any", **kwargs: object) -> pd.Series:
        return _passes(column, formats.check_phone(_arrow(column), kind=kind))


class ColumnValuesPlate(ColumnMapMetricProvider):
    condition_metric_name = "column_values.exchange_plate"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(self, column: pd.Series, **kwargs: object) -> pd.Series:
        return _passes(column, formats.check_plate(_arrow(column)))


class ColumnValuesPersonName(ColumnMapMetricProvider):
    condition_metric_name = "column_values.exchange_person_name"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(self, column: pd.Series, **kwargs: object) -> pd.Series:
        return _passes(column, formats.check_person_name(_arrow(column)))


class ColumnValuesWithinRange(ColumnMapMetricProvider):
    condition_metric_name = "column_values.exchange_within_range"
    condition_value_keys = ("minimum", "maximum")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(self, column: pd.Series, minimum: float | None = None, maximum: float | None = None,
                **kwargs: object) -> pd.Series:
        return _passes(column, check_range(_arrow(column), minimum, maximum))


class ColumnValuesIsoDate(ColumnMapMetricProvider):
    condition_metric_name = "column_values.exchange_iso_date"
    condition_value_keys = ("not_future", "today")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(self, column: pd.Series, not_future: bool = False, today: str | None = None,
                **kwargs: object) -> pd.Series:
        return _passes(column, formats.check_date(_arrow(column), not_future=not_future,
                                                  today=_today(today)))


class ColumnValuesIsoDatetime(ColumnMapMetricProvider):
    condition_metric_name = "column_values.exchange_iso_datetime"
    condition_value_keys = ("not_future", "today")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(self, column: pd.Series, not_future: bool = False, today: str | None = None,
                **kwargs: object) -> pd.Series:
        return _passes(column, formats.check_datetime(_arrow(column), not_future=not_future,
                                                      today=_today(today)))


# --- expectations ----------------------------------------------------------------------------

_META: dict[str, object] = {"maturity": "experimental", "tags": ["agency data exchange"],
                            "contributors": ["@agency-data-exchange"], "requirements": [],
                            "has_full_test_suite": True, "manually_reviewed_code": True}


class ExpectColumnValuesToBeValidResidentId(ColumnMapExpectation):
    """Expect 18-digit resident identity numbers (GB 11643): check character (ISO 7064
    MOD 11-2), a real birth date not in the future, a known GB/T 2260 region prefix."""

    today: str | None = None
    map_metric = "column_values.exchange_resident_id"
    success_keys = ("today", "mostly")
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, object]] = _META


class ExpectColumnPairResidentIdToMatchGender(ColumnPairMapExpectation):
    """Expect the sequence digit of the resident identity number (column_A) to be odd
    for gender M and even for gender F (column_B)."""

    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
        "either_value_is_missing")
    map_metric = "column_pair_values.exchange_resident_id_gender"
    success_keys = ("column_A", "column_B", "ignore_row_if", "mostly")
    args_keys = ("column_A", "column_B")
    library_metadata: ClassVar[dict[str, object]] = _META


class ExpectColumnPairResidentIdToMatchBirthDate(ColumnPairMapExpectation):
    """Expect the birth date embedded in the resident identity number (column_A, positions 7-14) to
    equal the record's own birth date (column_B)."""

    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
        "either_value_is_missing")
    map_metric = "column_pair_values.exchange_resident_id_birth_date"
    success_keys = ("column_A", "column_B", "ignore_row_if", "mostly")
    args_keys = ("column_A", "column_B")
    library_metadata: ClassVar[dict[str, object]] = _META


class ExpectColumnValuesToBeValidCreditCode(ColumnMapExpectation):
    """Expect unified social credit codes (GB 32100): 18 characters of the code alphabet,
    a valid registration authority and a valid check character."""

    map_metric = "column_values.exchange_credit_code"
    success_keys = ("mostly",)
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, object]] = _META


class ExpectColumnValuesToBeValidDivisionCode(ColumnMapExpectation):
    """Expect administrative division codes (6, 9 or 12 digits) whose county prefix is a
    current GB/T 2260 code (or a historical one where allowed)."""

    allow_historical: bool = False
    map_metric = "column_values.exchange_division_code"
    success_keys = ("allow_historical", "mostly")
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, object]] = _META


class ExpectColumnValuesToBeValidPhone(ColumnMapExpectation):
    """Expect mainland phone numbers: mobile (1[3-9] + 9 digits) and/or landline (0AA-NNNNNNNN)."""

    kind: Literal["any", "mobile", "landline"] = "any"
    map_metric = "column_values.exchange_phone"
    success_keys = ("kind", "mostly")
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, object]] = _META


class ExpectColumnValuesToBeValidPlate(ColumnMapExpectation):
    """Expect motor-vehicle plate numbers (GA 36): province, letter, 5 more (new energy: 6); no I or O."""

    map_metric = "column_values.exchange_plate"
    success_keys = ("mostly",)
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, object]] = _META


class ExpectColumnValuesToBeValidPersonName(ColumnMapExpectation):
    """Expect person names that are text, not UTF-8 read as Windows-1252/Latin-1 (mojibake)."""

    map_metric = "column_values.exchange_person_name"
    success_keys = ("mostly",)
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, object]] = _META


class ExpectColumnValuesToBeWithinRange(ColumnMapExpectation):
    """Expect numbers (as the source wrote them) between ``minimum`` and ``maximum``, both inclusive;
    text that is no number is the type rule's to refuse."""

    minimum: float | None = None
    maximum: float | None = None
    map_metric = "column_values.exchange_within_range"
    success_keys = ("minimum", "maximum", "mostly")
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, object]] = _META


class ExpectColumnValuesToBeIsoDate(ColumnMapExpectation):
    """Expect normalised ISO dates (YYYY-MM-DD) that exist in the calendar, optionally not in the future."""

    not_future: bool = False
    today: str | None = None
    map_metric = "column_values.exchange_iso_date"
    success_keys = ("not_future", "today", "mostly")
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, object]] = _META


class ExpectColumnValuesToBeIsoDatetime(ColumnMapExpectation):
    """Expect normalised ISO date-times (YYYY-MM-DD HH:MM:SS) that exist, optionally not in the future."""

    not_future: bool = False
    today: str | None = None
    map_metric = "column_values.exchange_iso_datetime"
    success_keys = ("not_future", "today", "mostly")
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, object]] = _META


FORMAT_EXPECTATIONS: dict[str, type[ColumnMapExpectation]] = {
    "resident_id": ExpectColumnValuesToBeValidResidentId, "credit_code": ExpectColumnValuesToBeValidCreditCode,
    "division_code": ExpectColumnValuesToBeValidDivisionCode, "phone": ExpectColumnValuesToBeValidPhone,
    "plate": ExpectColumnValuesToBeValidPlate, "person_name": ExpectColumnValuesToBeValidPersonName,
}
"""A field format's expectation (``exchange.formats.fields``, ``FieldFormat.expectation``) → its GX class."""
