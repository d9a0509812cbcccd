"""The probabilistic part of linking: a Splink 5 (Fellegi–Sunter) model on DuckDB.

Only records without a valid ID number need it: records sharing a validated ID number are
the same person by rule (:mod:`exchange.linking.cluster`). Predictions are therefore made
*between* the records without an ID number and the ID-bearing records (one row per distinct
variant of an ID number's attributes), and *within* the records without an ID number; pairs
of two ID-bearing records are never generated.

Comparisons: name (exact with term-frequency adjustment → same pinyin → same fuzzy pinyin →
one character differs), birth date, gender, phone, residence (household number, then
address), administrative division (12/9/6-digit prefixes), and the ID number where one side
holds only an unverified one (same number → one slip away → different; no evidence where the
record's own birth date or gender contradicts its number). Blocking rules are equi-joins on
phone, fuzzy pinyin + birth date, household number, name + division and — only for names at
most ``name_frequency_cap`` records carry — the name alone, so each record without an ID
number meets a bounded number of candidates and the work grows linearly with the records.

Training is offline and deterministic: u from random pairs (fixed seed), m from pairs of
records that share a validated ID number (the ID number is the label). The trained model is
saved as Splink's JSON and versioned by its SHA-256. The prior (probability that two random
records match) depends on the size of the population, so it is re-estimated on every run
from the ID-bearing records and recorded with the run, not baked into the model.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MODEL_FORMAT = "exchange-person-model/1"
COMPARED = ("name", "name_py", "name_fpy", "name_rare", "name_tok", "name_p2", "surname", "gender", "birth_date",
            "phone", "address", "division_code", "household_number", "idn", "id_conflict", "idn_a", "idn_b", "idn_c")
"""Columns of the tables handed to Splink (with ``unique_id``)."""


def _comparisons() -> list[Any]:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_description="name: exact, same pinyin, same fuzzy pinyin, one character differs",
        comparison_levels=[
            cll.NullLevel("name"),
            cll.ExactMatchLevel("name", term_frequency_adjustments=True),
            cll.CustomLevel("name_py_l = name_py_r", "same pinyin (homophone)"),
            cll.CustomLevel("name_fpy_l = name_fpy_r", "same fuzzy pinyin (zh/z, l/n, -ng/-n)"),
            cll.CustomLevel("name_tok_l = name_tok_r", "same pinyin words in another order (romanised)"),
            cll.CustomLevel("length(name_l) = length(name_r) AND length(name_l) >= 3 AND "
                            "levenshtein(name_l, name_r) <= 1",
                            "one character differs (of a given name of two or more)"),
            cll.CustomLevel("abs(length(name_l) - length(name_r)) = 1 AND name_p2_l = name_p2_r",
                            "one given-name character missing"),
            cll.CustomLevel("surname_l = surname_r AND (regexp_matches(name_l, '^.[某氏]$') OR "
                            "regexp_matches(name_r, '^.[某氏]$'))", "surname with a placeholder (张某, 张氏)"),
            cll.ElseLevel(),
        ])
    birth = cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            cll.CustomLevel("levenshtein(birth_date_l, birth_date_r) <= 1", "one digit differs"),
            cll.CustomLevel("substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4) AND "
                            "substr(birth_date_l, 6, 2) = substr(birth_date_r, 9, 2) AND "
                            "substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)", "month and day swapped"),
            cll.ElseLevel(),
        ])
    residence = cl.CustomComparison(
        output_column_name="residence",
        comparison_description="household number, then address (one piece of evidence, not two)",
        comparison_levels=[
            cll.CustomLevel("(household_number_l IS NULL OR household_number_r IS NULL) AND "
                            "(address_l IS NULL OR address_r IS NULL)", "no residence to compare")
            .configure(is_null_level=True),
            cll.CustomLevel("household_number_l = household_number_r", "same household"),
            cll.CustomLevel("address_l = address_r", "same address"),
            cll.CustomLevel("jaro_winkler_similarity(address_l, address_r) >= 0.92", "similar address"),
            cll.ElseLevel(),
        ])
    division = cl.CustomComparison(
        output_column_name="division_code",
        comparison_levels=[
            cll.NullLevel("division_code"),
            cll.ExactMatchLevel("division_code"),
            cll.CustomLevel("substr(division_code_l, 1, 9) = substr(division_code_r, 1, 9)", "same town"),
            cll.CustomLevel("substr(division_code_l, 1, 6) = substr(division_code_r, 1, 6)", "same county"),
            cll.ElseLevel(),
        ])
    number = cl.CustomComparison(
        output_column_name="id_number",
        comparison_description="ID numbers where one side is unverified (two valid ones never meet here)",
        comparison_levels=[
            cll.CustomLevel("idn_l IS NULL OR idn_r IS NULL OR id_conflict_l OR id_conflict_r",
                            "no number, or one its own record contradicts").configure(is_null_level=True),
            cll.CustomLevel("idn_l = idn_r", "same number"),
            cll.CustomLevel("damerau_levenshtein(idn_l, idn_r) = 1", "one digit wrong or two adjacent digits swapped"),
            cll.ElseLevel(),
        ])
    return [name, birth, cl.ExactMatch("gender"), cl.ExactMatch("phone"), residence, division, number]


BLOCKING_KEYS: tuple[tuple[str, ...], ...] = (
    ("phone",),
    ("name_fpy", "birth_date"),
    ("household_number",),
    ("name", "division_code"),
    ("name_rare",),
    ("name_tok", "birth_date"),
    ("name_tok", "division_code"),
    ("surname", "birth_date"),
    ("name_p2", "division_code"),
    ("birth_date", "address"),
    ("idn_a",),
    ("idn_b",),
    ("idn_c",),
)
"""Equi-join keys of the blocking rules; a pair is scored when it agrees on every column of one."""


def _blocking_rules() -> list[Any]:
    from splink import block_on

    return [block_on(*key) for key in BLOCKING_KEYS]


def blocking_filter_sql(candidate: str, probe: str) -> str:
    """SQL condition on alias ``candidate``: it shares some blocking key with a row of table ``probe``
    (only such rows can ever be paired with ``probe``'s rows)."""
    parts = []
    for key in BLOCKING_KEYS:
        if len(key) == 1:
            parts.append(f"{candidate}.{key[0]} IN (SELECT {key[0]} FROM {probe} WHERE {key[0]} IS NOT NULL)")
        else:
            joined = " || '|' || ".join(key)
            mine = " || '|' || ".join(f"{candidate}.{k}" for k in key)
            present = " AND ".join(f"{k} IS NOT NULL" for k in key)
            parts.append(f"{mine} IN (SELECT {joined} FROM {probe} WHERE {present})")
    return "(" + " OR ".join(parts) + ")"


def settings_creator(prior: float = 1e-4) -> Any:
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=_comparisons(),
        blocking_rules_to_generate_predictions=_blocking_rules(),
        probability_two_random_records_match=prior,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


@dataclass(frozen=True)
class PersonModel:
    """A trained model: Splink's settings JSON, its version and how it was trained."""

    settings: dict[str, Any]
    version: str
    trained: dict[str, Any]

    @classmethod
    def from_settings(cls, settings: dict[str, Any], trained: dict[str, Any]) -> PersonModel:
        clean = copy.deepcopy(settings)
        clean.pop("linker_uid", None)
        text = json.dumps(clean, sort_keys=True, ensure_ascii=False)
        version = "pm-" + hashlib.sha256(text.encode()).hexdigest()[:16]
        return cls(settings=clean, version=version, trained=trained)

    def to_json(self) -> str:
        return json.dumps({"format": MODEL_FORMAT, "version": self.version, "trained": self.trained,
                           "splink_settings": self.settings}, ensure_ascii=False, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PersonModel:
        data = json.loads(text)
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"not a person model (format {data.get('format')!r}, expected {MODEL_FORMAT!r})")
        return cls(settings=data["splink_settings"], version=data["version"], trained=data["trained"])

    def with_prior(self, prior: float) -> dict[str, Any]:
        settings = copy.deepcopy(self.settings)
        settings["probability_two_random_records_match"] = prior
        return settings

    def weights(self) -> list[dict[str, Any]]:
        """Per comparison level: label, m, u and match weight (for humans)."""
        out = []
        for comp in self.settings["comparisons"]:
            for level in comp["comparison_levels"]:
                if level.get("is_null_level"):
                    continue
                m, u = level.get("m_probability"), level.get("u_probability")
                weight = math.log2(m / u) if m and u else None
                out.append({"comparison": comp.get("output_column_name"),
                            "level": level.get("label_for_charts") or level.get("sql_condition"),
                            "m": m, "u": u, "weight": weight})
        return out


def _quiet_splink() -> None:
    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.WARNING)


def train_model(con: Any, sample_table: str, *, u_max_pairs: float, seed: int) -> PersonModel:
    """Train on ``sample_table`` (a DuckDB table with ``unique_id``, :data:`COMPARED` and
    ``id_number``): u by random sampling, m from pairs sharing a validated ID number."""
    from splink import DuckDBAPI, Linker

    _quiet_splink()
    started = time.perf_counter()
    db_api = DuckDBAPI(con)
    sdf = db_api.register(sample_table)
    linker = Linker(sdf, settings_creator(), log_level=None)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed, min_count_per_level=None)
    linker.training.estimate_m_from_label_column("id_number")
    settings = linker.misc.save_model_to_json()
    rows = con.execute(f"SELECT count(*), count(id_number), count(DISTINCT id_number) "
                       f"FROM {sample_table}").fetchall()[0]
    label_pairs = con.execute(f"SELECT coalesce(sum(k * (k - 1) // 2), 0) FROM (SELECT count(*) AS k FROM "
                              f"{sample_table} WHERE id_number IS NOT NULL GROUP BY id_number)").fetchall()[0][0]
    linker.table_management.delete_tables_created_by_splink_from_db()
    smooth(settings, m_pairs=int(label_pairs), u_pairs=int(u_max_pairs))
    id_keying_prior(settings)
    trained = {"records": rows[0], "records_with_id": rows[1], "id_numbers": rows[2], "label_pairs": int(label_pairs),
               "u_max_pairs": u_max_pairs, "seed": seed, "m_floor": M_FLOOR, "u_floor": U_FLOOR,
               "method": "u: random sampling; m: pairs sharing a validated ID number; additive smoothing"}
    log.info("person model trained in %.1fs on %s records", time.perf_counter() - started, rows[0])
    return PersonModel.from_settings(settings, trained)


EM_BLOCKS: tuple[tuple[str, ...], ...] = (("name_fpy", "birth_date"), ("birth_date", "phone"), ("name_fpy", "phone"))
"""Expectation maximisation passes (no labels): each estimates m for every comparison but those its
blocking columns decide, and together they cover all. Each blocks on two attributes so that most of
its pairs are the same person — a block on a household or a phone alone is mostly family members,
and EM would learn "family" as the match class."""


def train_model_em(con: Any, sample_table: str, *, u_max_pairs: float, seed: int, label_pairs: int) -> PersonModel:
    """Train without labels: u by random sampling, m by expectation maximisation (Splink) over the
    pairs of :data:`EM_BLOCKS` — for a warehouse where too few records share a validated ID number."""
    from splink import DuckDBAPI, Linker, block_on

    _quiet_splink()
    started = time.perf_counter()
    db_api = DuckDBAPI(con)
    linker = Linker(db_api.register(sample_table), settings_creator(prior=1e-4), log_level=None)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed, min_count_per_level=None)
    passes = []
    for key in EM_BLOCKS:
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*key), estimate_without_term_frequencies=True)
            passes.append("+".join(key))
        except Exception as exc:  # noqa: BLE001 - a pass with no pairs (no phones at all) is skipped, said why
            log.warning("EM pass on %s skipped: %s", "+".join(key), str(exc).splitlines()[0] if str(exc) else exc)
    settings = linker.misc.save_model_to_json()
    rows = con.execute(f"SELECT count(*), count(id_number), count(DISTINCT id_number) FROM {sample_table}"
                       ).fetchall()[0]
    linker.table_management.delete_tables_created_by_splink_from_db()
    smooth(settings, m_pairs=max(1000, int(rows[0])), u_pairs=int(u_max_pairs))
    id_keying_prior(settings)
    cap_name_slip(settings)
    trained = {"records": rows[0], "records_with_id": rows[1], "id_numbers": rows[2], "label_pairs": label_pairs,
               "u_max_pairs": u_max_pairs, "seed": seed, "m_floor": M_FLOOR, "u_floor": U_FLOOR,
               "em_passes": passes, "name_slip_cap": NAME_SLIP,
               "method": "u: random sampling; m: expectation maximisation without labels (too few records share "
                         "a validated ID number); additive smoothing"}
    log.info("person model trained by EM in %.1fs on %s records", time.perf_counter() - started, rows[0])
    return PersonModel.from_settings(settings, trained)


M_FLOOR = 1e-3
"""No disagreement level is taken as impossible among matches: the training pairs (records
sharing an ID number) are cleaner than the records that lack one."""
U_FLOOR = 1e-7


ID_KEYING_ERROR = 0.02
"""m of "one digit wrong or two adjacent digits swapped" between ID numbers: the share of a person's
records whose number was keyed with one such slip. Training cannot see it — its labels are records
whose numbers are equal and valid — so it is set from what registers show (1-3 % of hand-keyed numbers)."""


def id_keying_prior(settings: dict[str, Any]) -> None:
    """Give the ID comparison's one-slip level at least :data:`ID_KEYING_ERROR` of the matches (taken
    from the exact level), so an unverified number one slip from a valid one is strong evidence."""
    for comp in settings["comparisons"]:
        if comp.get("output_column_name") != "id_number":
            continue
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        exact, slip = levels[0], levels[1]
        missing = max(0.0, ID_KEYING_ERROR - float(slip.get("m_probability") or 0.0))
        if missing and float(exact.get("m_probability") or 0.0) > missing:
            exact["m_probability"] = float(exact["m_probability"]) - missing
            slip["m_probability"] = float(slip.get("m_probability") or 0.0) + missing


NAME_SLIP = 0.03
"""Largest m EM may give "one character differs": without labels the pairs of a block on birth date and
phone are the same person *or twins* (王鑫阳, 王鑫文), and EM counts the twins as matches. Registers show
a one-character slip in about 1-3 % of a person's records; the excess goes to the exact level."""


def cap_name_slip(settings: dict[str, Any]) -> None:
    for comp in settings["comparisons"]:
        if comp.get("output_column_name") != "name":
            continue
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        exact = levels[0]
        for lv in levels:
            if str(lv.get("label_for_charts", "")).startswith("one character differs"):
                excess = float(lv.get("m_probability") or 0.0) - NAME_SLIP
                if excess > 0:
                    lv["m_probability"] = NAME_SLIP
                    exact["m_probability"] = float(exact.get("m_probability") or 0.0) + excess


def smooth(settings: dict[str, Any], *, m_pairs: int, u_pairs: int) -> None:
    """Additive (Laplace) smoothing of m and u over each comparison's levels, with floors, so
    a level never observed in training gets a small probability instead of Splink's default."""
    for comp in settings["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        for key, n, floor in (("m_probability", m_pairs, M_FLOOR), ("u_probability", u_pairs, U_FLOOR)):
            raw = [float(lv.get(key) or 0.0) for lv in levels]
            total = sum(raw) or 1.0
            values = [max((p / total * n + 1) / (n + len(levels)), floor) for p in raw]
            norm = sum(values)
            for lv, v in zip(levels, values, strict=True):
                lv[key] = v / norm


def predict_pairs(con: Any, model: PersonModel, *, prior: float, noid_table: str, idvar_table: str,
                  tf_table: str, keep_threshold: float) -> tuple[str, int]:
    """Score every candidate pair the blocking rules give — first between ``noid_table`` and
    ``idvar_table``, then within ``noid_table`` — and return (the name of a DuckDB table holding
    the pairs at or above ``keep_threshold``: unique_id_l, unique_id_r, match_weight,
    match_probability, match_key, kind; the number of pairs compared)."""
    from splink import DuckDBAPI, Linker

    _quiet_splink()
    db_api = DuckDBAPI(con)
    noid = db_api.register(noid_table)
    linker = Linker(noid, model.with_prior(prior), log_level=None)
    linker.table_management.register_term_frequency_lookup(db_api.register(tf_table), "name")
    out = "link_pairs"
    con.execute(f"CREATE OR REPLACE TABLE {out} (unique_id_l BIGINT, unique_id_r BIGINT, match_weight DOUBLE, "
                f"match_probability DOUBLE, match_key VARCHAR, kind VARCHAR)")
    n_idvar = con.execute(f"SELECT count(*) FROM {idvar_table}").fetchall()[0][0]
    n_noid = con.execute(f"SELECT count(*) FROM {noid_table}").fetchall()[0][0]
    compared = 0
    if n_noid and n_idvar:
        idvar = db_api.register(idvar_table, table_name=f"{idvar_table}_for_between")
        left = db_api.register(noid_table, table_name=f"{noid_table}_for_between")
        between = linker.inference.predict_between(left, idvar, warning_mode="never")
        compared += con.execute(f"SELECT count(*) FROM {between.physical_name}").fetchall()[0][0]
        con.execute(f"INSERT INTO {out} SELECT unique_id_l, unique_id_r, match_weight, match_probability, "
                    f"CAST(match_key AS VARCHAR), 'between' FROM {between.physical_name} "
                    f"WHERE match_probability >= {keep_threshold}")
        between.drop_table_from_database_and_remove_from_cache()
    if n_noid > 1:
        within = linker.inference.predict_within(noid, warning_mode="never")
        compared += con.execute(f"SELECT count(*) FROM {within.physical_name}").fetchall()[0][0]
        con.execute(f"INSERT INTO {out} SELECT unique_id_l, unique_id_r, match_weight, match_probability, "
                    f"CAST(match_key AS VARCHAR), 'within' FROM {within.physical_name} "
                    f"WHERE match_probability >= {keep_threshold}")
        within.drop_table_from_database_and_remove_from_cache()
    linker.table_management.delete_tables_created_by_splink_from_db()
    return out, int(compared)
