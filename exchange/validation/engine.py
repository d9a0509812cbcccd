"""Run a compiled suite over a stream of chunks and turn GX results into per-row reasons.

GX runs on each chunk (a pandas frame of normalised canonical strings) with the COMPLETE
result format, so every failing row index of every expectation is known. The failing
values are then explained by the same ``exchange.formats`` rule functions that back the
custom expectations (``resident_id`` → ``resident_id.checksum``). Per-batch statistics
are accumulated for the auditor's report, with sample values masked.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from exchange import formats
from exchange.formats.fields import field_format
from exchange.spec.reasons import GENERIC_MESSAGES, Reason
from exchange.spec.schema import FieldSpec
from exchange.validation.suites import CompiledSuite, Rule

log = logging.getLogger(__name__)

SAMPLE_LIMIT = 20
PAIR_RULES = {"resident_id.gender": "gender_field", "resident_id.birth_mismatch": "birth_date_field"}
"""Rules on a pair of columns → the field option naming the second column (samples show both)."""

def reason_message(rule: str) -> str:
    return formats.REASON_MESSAGES.get(rule) or GENERIC_MESSAGES.get(rule) or rule


def _explain(rule: Rule, spec: FieldSpec, values: pa.Array, today: dt.date) -> pa.Array:
    """Precise reason codes for failing values of a format/date rule."""
    if rule.explain == "date":
        return formats.check_date(values, not_future=spec.not_future, today=today)
    if rule.explain == "datetime":
        return formats.check_datetime(values, not_future=spec.not_future, today=today)
    return field_format(rule.explain or "").check(values, spec, today=today)


def mask_samples(values: list[Any], kind: str) -> list[Any]:
    """Mask sample values shown to auditors so no full ID or phone number is exposed. Samples of
    fields not declared personal (``kind`` "none") are shown as they are, except anything in them
    shaped like an identifier (an ID number in the wrong column, a shifted row)."""
    if not values:
        return values
    if kind == "none":
        return [v if not isinstance(v, str) else formats.scrub_identifiers(v) for v in values]
    if kind == "pair":
        firsts = mask_samples([v[0] if isinstance(v, list | tuple) else v for v in values], "resident_id")
        return [[m, *(list(v[1:]) if isinstance(v, list | tuple) else [])] for m, v in zip(firsts, values,
                                                                                   strict=True)]
    arr = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    masker = {"resident_id": formats.mask_resident_id, "phone": formats.mask_phone,
              "name": formats.mask_name, "credit_code": formats.mask_credit_code,
              "generic": formats.mask_generic}.get(kind)
    return masker(arr).to_pylist() if masker else values


@dataclass
class _Stat:
    element_count: int = 0
    unexpected_count: int = 0
    missing_count: int = 0
    samples: list[Any] = field(default_factory=list)
    sample_rows: list[int] = field(default_factory=list)


class BatchValidator:
    """Validate the chunks of one batch with a compiled suite, accumulating a report."""

    def __init__(self, compiled: CompiledSuite, *, feed_id: str, today: dt.date | None = None) -> None:
        import great_expectations as gx
        from great_expectations.execution_engine import pandas_execution_engine

        from exchange.validation import quiet_gx

        quiet_gx()
        # GX fingerprints every dataframe it is given (an MD5 over pandas' hash of every value, twice
        # per chunk: a third of GX's time here) only to label the batch in the result's markers. A
        # chunk of a batch is identified by the batch id, the staged files' SHA-256 and its records.
        pandas_execution_engine.HASH_THRESHOLD = 0
        self.compiled = compiled
        self.today = today or dt.date.today()
        self.feed_id = feed_id
        self._context = gx.get_context(mode="ephemeral")
        self._context.variables.progress_bars = {"globally": False, "metric_calculations": False}
        datasource = self._context.data_sources.add_pandas(name="exchange")
        asset = datasource.add_dataframe_asset(name=feed_id)
        self._batch_definition = asset.add_batch_definition_whole_dataframe(name="chunk")
        self._stats = [_Stat() for _ in compiled.rules]
        self._template: Any = None
        self.rows_validated = 0
        self._mask_kind = [self._sample_kind(r) for r in compiled.rules]

    def _sample_kind(self, rule: Rule) -> str:
        f = self.compiled.schema.fields[rule.field]
        if rule.rule in PAIR_RULES:
            return "pair"
        if f.format and field_format(f.format).sample_mask != "by_pii":
            return field_format(f.format).sample_mask
        if f.pii == "direct_identifier":
            return "name" if "name" in rule.field else "generic"
        if f.pii in ("sensitive", "quasi_identifier"):
            return "generic"
        return "none"

    def validate(self, table: pa.Table, row_numbers: list[int] | None = None) -> dict[int, list[Reason]]:
        """Validate one chunk of canonical string columns; return row index → reasons."""
        frame = table.to_pandas()
        frame.index = range(len(frame))
        batch = self._batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(self.compiled.suite, result_format={
            "result_format": "COMPLETE", "partial_unexpected_count": SAMPLE_LIMIT,
            "return_unexpected_index_query": False})
        if self._template is None:
            self._template = result
        reasons: dict[int, list[Reason]] = defaultdict(list)
        for i, (res, rule) in enumerate(zip(result.results, self.compiled.rules, strict=True)):
            if res.exception_info and res.exception_info.get("raised_exception"):
                raise RuntimeError(f"expectation {res.expectation_config.type} on {rule.field} failed to "
                                   f"run: {res.exception_info.get('exception_message')}")
            r = res.result or {}
            stat = self._stats[i]
            stat.element_count += int(r.get("element_count", len(frame)) or 0)
            stat.missing_count += int(r.get("missing_count", 0) or 0)
            indices = list(r.get("unexpected_index_list") or [])
            stat.unexpected_count += len(indices)
            if not indices:
                continue
            values = frame[rule.field].iloc[indices]
            if len(stat.samples) < SAMPLE_LIMIT:
                take = SAMPLE_LIMIT - len(stat.samples)
                if rule.rule in PAIR_RULES:
                    other = getattr(self.compiled.schema.fields[rule.field], PAIR_RULES[rule.rule])
                    pairs = frame[[rule.field, other]]
                    stat.samples.extend(pairs.iloc[indices[:take]].values.tolist())
                else:
                    stat.samples.extend(values.iloc[:take].tolist())
                rows = [row_numbers[k] for k in indices[:take]] if row_numbers else indices[:take]
                stat.sample_rows.extend(rows)
            self._add_reasons(reasons, rule, indices, values)
        self.rows_validated += len(frame)
        return reasons

    def _add_reasons(self, reasons: dict[int, list[Reason]], rule: Rule,
                     indices: list[int], values: Any) -> None:
        py = [None if v is None or v != v else str(v) for v in values.tolist()]
        if rule.explain:
            spec = self.compiled.schema.fields[rule.field]
            codes = _explain(rule, spec, pa.array(py, type=pa.string()), self.today).to_pylist()
        else:
            codes = [rule.rule] * len(indices)
        for idx, value, code in zip(indices, py, codes, strict=True):
            code = code or f"{rule.rule}.invalid"
            reasons[int(idx)].append(Reason(rule.field, code, value, reason_message(code)))

    # --- the report ------------------------------------------------------------------------

    def summary(self) -> list[dict[str, Any]]:
        """One row per expectation: counts and masked samples (for audit.validation)."""
        out = []
        for exp, rule, stat, kind in zip(self.compiled.suite.expectations, self.compiled.rules, self._stats,
                                         self._mask_kind, strict=True):
            evaluated = stat.element_count - stat.missing_count
            out.append({
                "expectation": exp.expectation_type, "field": rule.field, "rule": rule.rule,
                "success": stat.unexpected_count == 0, "element_count": stat.element_count,
                "missing_count": stat.missing_count, "unexpected_count": stat.unexpected_count,
                "unexpected_percent": (100.0 * stat.unexpected_count / evaluated) if evaluated else 0.0,
                "sample_values": mask_samples(stat.samples, kind),
                "sample_rows": stat.sample_rows,
            })
        return out

    def merged_result(self, *, batch_id: str) -> Any:
        """The batch's GX validation result (all chunks merged), with sample values masked."""
        if self._template is None:
            return None
        result = copy.deepcopy(self._template)
        rows = self.summary()
        for res, row in zip(result.results, rows, strict=True):
            evaluated = row["element_count"] - row["missing_count"]
            samples = row["sample_values"]
            counts: dict[str, int] = defaultdict(int)
            for s in samples:
                counts[str(s)] += 1
            res.success = row["success"]
            res.result = {
                "element_count": row["element_count"],
                "unexpected_count": row["unexpected_count"],
                "unexpected_percent": row["unexpected_percent"],
                "missing_count": row["missing_count"],
                "missing_percent": (100.0 * row["missing_count"] / row["element_count"])
                if row["element_count"] else 0.0,
                "unexpected_percent_nonmissing": row["unexpected_percent"] if evaluated else 0.0,
                "partial_unexpected_list": samples,
                "partial_unexpected_counts": [{"value": k, "count": v} for k, v in counts.items()],
                "partial_unexpected_index_list": row["sample_rows"],
            }
        ok = sum(1 for r in rows if r["success"])
        result.success = ok == len(rows)
        result.statistics = {"evaluated_expectations": len(rows), "successful_expectations": ok,
                             "unsuccessful_expectations": len(rows) - ok,
                             "success_percent": 100.0 * ok / len(rows) if rows else 100.0}
        result.meta = {**(result.meta or {}), "batch_id": batch_id, "feed": self.feed_id,
                       "rows_validated": self.rows_validated,
                       "note": "sample values are masked; the exchange never shows full identifiers"}
        return result
