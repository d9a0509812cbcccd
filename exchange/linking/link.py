"""One linking run: warehouse person records → ``mdm.*``.

1. read every person record (:mod:`~exchange.linking.records`) into DuckDB, in batches;
2. group records by validated ID number (deterministic rule);
3. score records without an ID number with the Splink model (trained on first use and saved;
   :mod:`~exchange.linking.model`), between them and the ID-bearing records and among themselves;
4. cluster with the ID number as a hard constraint (:mod:`~exchange.linking.cluster`);
5. map clusters onto the person_uids already issued (:mod:`~exchange.linking.stable`);
6. golden records by survivorship (:mod:`~exchange.linking.golden`);
7. write only what changed, in one transaction, with the run's ledger row and events.

Re-running on unchanged data writes nothing but the run row.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import Engine, func, select

from exchange.linking import review
from exchange.linking import tables as mdm
from exchange.linking.cluster import cluster_records
from exchange.linking.config import GOLDEN_FIELDS, LinkConfig
from exchange.linking.contrary import touched_facts, unkey_contradicted_names
from exchange.linking.evaluate import evaluate_pairs
from exchange.linking.golden import golden_sql, rank_table
from exchange.linking.model import PersonModel, blocking_filter_sql, predict_pairs, train_model, train_model_em
from exchange.linking.records import (
    IDENTITY,
    RECORD_SCHEMA,
    SourceTables,
    pinyin_columns,
    read_person_records,
    surname_pinyin,
)
from exchange.linking.stable import UID_DIGITS, UID_PREFIX, describe_changes, greedy_assign, uid_number
from exchange.linking.store import delete_keys, replace_rows, stream_query
from exchange.spec.clock import now as _now
from exchange.warehouse.dialects import dialect_of

log = logging.getLogger(__name__)

Say = Callable[[str], None]
LINK_KEY = list(IDENTITY)
LINK_COLUMNS = [c.name for c in mdm.person_link.columns]
PERSON_COLUMNS = [c.name for c in mdm.person.columns]


@dataclass
class LinkResult:
    run_id: int
    model_version: str
    model_trained: bool
    prior: float
    records: int = 0
    records_with_id: int = 0
    persons: int = 0
    persons_new: int = 0
    merges: int = 0
    splits: int = 0
    moves: int = 0
    retired: int = 0
    pairs_scored: int = 0
    """candidate pairs the blocking rules produced, every one scored by the model"""
    pairs_linked: int = 0
    pairs_refused: int = 0
    reviews_pending: int = 0
    """records left unlinked this run because their two best candidates were close (``mdm.review``)"""
    reviews_decided: int = 0
    """records whose link a records officer decided (the decision overrides the model)"""
    links_written: int = 0
    persons_written: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    peak_memory_mb: dict[str, float] = field(default_factory=dict)
    """peak resident memory (MB) of the process after each step"""
    metrics: dict[str, Any] | None = None
    skipped_sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _one(con: Any, sql: str) -> Any:
    return con.execute(sql).fetchall()[0][0]


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB (Linux; zeros elsewhere)."""
    try:
        fields = dict(line.split(":", 1) for line in open("/proc/self/status", encoding="ascii"))  # noqa: SIM115
        return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)
    except (OSError, KeyError, ValueError):
        return (0.0, 0.0)


class _Clock:
    def __init__(self, say: Say) -> None:
        self.timings: dict[str, float] = {}
        self.memory: dict[str, float] = {}
        self.say = say
        self._t = time.perf_counter()
        self._start = self._t

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._t, 3)
        rss, peak = _rss_mb()
        self.memory[name] = round(peak)
        log.info("linking: %s %.2fs (rss %.0f MB, peak %.0f MB)", name, now - self._t, rss, peak)
        self._t = now

    def total(self) -> None:
        self.timings["total"] = round(time.perf_counter() - self._start, 3)


def latest_model(engine: Engine) -> PersonModel | None:
    with engine.connect() as conn:
        row = conn.execute(select(mdm.link_model.c.model).order_by(mdm.link_model.c.created_at.desc(),
                                                                 mdm.link_model.c.version.desc()).limit(1)).first()
    return PersonModel.from_json(row[0]) if row else None


def save_model(engine: Engine, model: PersonModel) -> None:
    with engine.begin() as conn:
        exists = conn.execute(select(mdm.link_model.c.version).where(mdm.link_model.c.version == model.version)).first()
        if exists:
            conn.execute(mdm.link_model.update().where(mdm.link_model.c.version == model.version)
                         .values(created_at=_now()))
        else:
            conn.execute(mdm.link_model.insert().values(version=model.version, created_at=_now(),
                                                        model=model.to_json()))


def _duckdb(config: LinkConfig) -> tuple[Any, str]:
    import duckdb

    # A database file in a private temporary folder, not ":memory:": tables then live on disk
    # behind DuckDB's buffer pool, so memory stays within memory_limit whatever the city's size.
    spill = tempfile.mkdtemp(prefix="exchange-link-")
    con = duckdb.connect(str(Path(spill) / "link.duckdb"),
                         config={"memory_limit": config.duckdb_memory_limit, "temp_directory": spill,
                                 "preserve_insertion_order": False})
    if config.duckdb_threads:
        con.execute(f"SET threads = {int(config.duckdb_threads)}")
    return con, spill


def _load_records(con: Any, engine: Engine, tables: SourceTables, today: dt.date | None, spill: str) -> None:
    """Records → Parquet files in the run's folder (bounded memory) → ``rec``, numbered in
    identity order (so cluster labels and new ids never depend on the order rows were read)."""
    import pyarrow.parquet as pq

    folder = Path(spill) / "records"
    folder.mkdir()
    files = 0
    for batch in read_person_records(engine, tables, today, pinyin=False):
        pq.write_table(batch, folder / f"{files:06d}.parquet", compression="lz4")
        files += 1
    if not files:
        pq.write_table(RECORD_SCHEMA.empty_table(), folder / "empty.parquet")
    source = f"read_parquet('{folder}/*.parquet')"
    # pinyin once per distinct name
    names = con.sql(f"SELECT DISTINCT name FROM {source} WHERE name IS NOT NULL").to_arrow_table().column("name")
    py, fpy, tok = pinyin_columns(names)
    con.register("_pinyin", pa.table({"name": names, "py": py, "fpy": fpy, "tok": tok,
                                      "sfpy": surname_pinyin(names)}))
    # name variants as blocking keys: pinyin words in a fixed order (romanised names either way round),
    # the first two characters (a given-name character missing), the surname (张某, 张氏 placeholders)
    con.execute(f"CREATE TABLE rec AS SELECT (row_number() OVER (ORDER BY r.source_agency, r.entity, r.role, "
                f"r.source_record_id) - 1)::BIGINT AS rid, r.* REPLACE (p.py AS name_py, p.fpy AS name_fpy), "
                f"p.tok AS name_tok, CASE WHEN length(r.name) >= 2 AND p.tok IS NOT NULL AND NOT regexp_matches("
                f"r.name, '^[A-Za-z]') THEN substr(r.name, 1, 2) END AS name_p2, "
                f"CASE WHEN p.tok IS NOT NULL AND NOT regexp_matches(r.name, '^[A-Za-z]') THEN substr(r.name, 1, 1) "
                f"END AS surname, p.sfpy AS surname_fpy FROM {source} r LEFT JOIN _pinyin p USING (name)")
    con.unregister("_pinyin")
    shutil.rmtree(folder, ignore_errors=True)
    unkey_contradicted_names(con)
    con.execute("CREATE TABLE idg AS SELECT id_number, "
                "(row_number() OVER (ORDER BY id_number) - 1)::BIGINT AS id_group "
                "FROM (SELECT DISTINCT id_number FROM rec WHERE id_number IS NOT NULL)")


_IDN = "coalesce(r.id_number, r.id_unverified)"
_UNCONTESTED = "NOT coalesce(r.id_conflict, false)"
ID_EVIDENCE = (f"{_IDN} AS idn, coalesce(r.id_conflict, false) AS id_conflict, "
               f"CASE WHEN {_UNCONTESTED} THEN substr({_IDN}, 1, 14) END AS idn_a, "
               f"CASE WHEN {_UNCONTESTED} THEN substr({_IDN}, 7, 12) END AS idn_b, "
               f"CASE WHEN {_UNCONTESTED} THEN substr({_IDN}, 1, 6) || substr({_IDN}, 15, 4) END AS idn_c")
"""The number a record holds (valid, else unverified) and three blocking keys on it: region + birth
date, birth date + sequence + check, region + sequence + check — one slip leaves at least one whole."""


def _prepare_model_inputs(con: Any, config: LinkConfig) -> None:
    n = _one(con, "SELECT count(*) FROM rec")
    con.execute(f"CREATE TABLE name_freq AS SELECT name, count(*) AS n, count(*) / {max(n, 1)}::DOUBLE AS tf_name "
                f"FROM rec GROUP BY name")
    con.execute("CREATE TABLE tf_name AS SELECT name, tf_name FROM name_freq")
    cols = (f"r.name, r.name_py, r.name_fpy, CASE WHEN f.n <= {config.name_frequency_cap} THEN r.name END "
            f"AS name_rare, r.name_tok, r.name_p2, r.surname, r.gender, r.birth_date, r.phone, r.address, "
            f"r.division_code, r.household_number, {ID_EVIDENCE}")
    con.execute(f"CREATE TABLE noid AS SELECT r.rid AS unique_id, {cols} FROM rec r JOIN name_freq f USING (name) "
                f"WHERE r.id_number IS NULL")
    # only ID-bearing records that share a blocking key with some record without an ID number can
    # ever be paired; one row per distinct variant of their attributes
    con.execute(f"CREATE TABLE idvar AS SELECT min(unique_id) AS unique_id, id_number, name, name_py, name_fpy, "
                f"name_rare, name_tok, name_p2, surname, gender, birth_date, phone, address, division_code, "
                f"household_number, idn, id_conflict, idn_a, idn_b, idn_c FROM ("
                f"SELECT r.rid AS unique_id, r.id_number, {cols} FROM rec r JOIN name_freq f USING (name) "
                f"WHERE r.id_number IS NOT NULL) r WHERE {blocking_filter_sql('r', 'noid')} GROUP BY ALL")


def _training_sample(con: Any, config: LinkConfig) -> str:
    """Every record of a deterministic subset of ID numbers (so labelled pairs stay whole) and
    a proportional share of the records without one; at most about ``training_max_records``."""
    total = _one(con, "SELECT count(*) FROM rec")
    share = min(1.0, config.training_max_records / max(total, 1))
    buckets = 10_000
    keep = max(1, int(share * buckets))
    con.execute(
        f"CREATE OR REPLACE TABLE train_sample AS SELECT r.rid AS unique_id, r.id_number, r.name, r.name_py, "
        f"r.name_fpy, NULL::VARCHAR AS name_rare, r.name_tok, r.name_p2, r.surname, r.gender, r.birth_date, "
        f"r.phone, r.address, r.division_code, r.household_number, {ID_EVIDENCE} FROM rec r "
        f"WHERE (r.id_number IS NOT NULL AND hash(r.id_number) % {buckets} < {keep}) "
        f"OR (r.id_number IS NULL AND hash(r.rid) % {buckets} < {keep})")
    return "train_sample"


def _prior(con: Any) -> float:
    """Probability that two random records are the same person, from the ID-bearing records:
    matching pairs among them, scaled to all records by the share that carries an ID number."""
    n, with_id, pairs = con.execute(
        "SELECT (SELECT count(*) FROM rec), (SELECT count(*) FROM rec WHERE id_number IS NOT NULL), "
        "(SELECT coalesce(sum(k * (k - 1) / 2), 0) FROM (SELECT count(*) AS k FROM rec "
        "WHERE id_number IS NOT NULL GROUP BY id_number))").fetchall()[0]
    if n < 2 or not with_id or not pairs:
        # no labels: pairs agreeing on name, birth date and gender, taken to find 60 % of the matches
        same = _one(con, "SELECT coalesce(sum(k * (k - 1) / 2), 0) FROM (SELECT count(*) AS k FROM rec WHERE "
                         "birth_date IS NOT NULL GROUP BY name, birth_date, gender)")
        return min(0.5, max(1e-12, float(same) / 0.6 / (n * (n - 1) / 2))) if n >= 2 and same else 1e-4
    share = with_id / n
    expected = float(pairs) / (share * share)
    return min(0.5, max(1e-12, expected / (n * (n - 1) / 2)))


def _read_table(con: Any, engine: Engine, name: str, sql: str, schema: pa.Schema) -> None:
    """A warehouse query → a DuckDB table, through Parquet files (bounded memory, fast loads)."""
    import pyarrow.parquet as pq

    folder = Path(con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]) / f"read_{name}"
    folder.mkdir(parents=True, exist_ok=True)
    files = 0
    for part in stream_query(engine, sql):
        pq.write_table(part.cast(schema), folder / f"{files:06d}.parquet", compression="lz4")
        files += 1
    if not files:
        pq.write_table(schema.empty_table(), folder / "empty.parquet")
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{folder}/*.parquet')")
    shutil.rmtree(folder, ignore_errors=True)


def _strings(*names: str) -> pa.Schema:
    return pa.schema([(n, pa.string()) for n in names])


def link_persons(engine: Engine, config: LinkConfig | None = None, *, tables: SourceTables | None = None,
                 retrain: bool = False, today: dt.date | None = None,
                 truth: Mapping[tuple[str, str, str, str], str] | None = None,
                 say: Say | None = None) -> LinkResult:
    """Link every person record of the warehouse behind ``engine`` into ``mdm.*``.

    ``truth`` (record identity → true person key), when given, is used to measure pairwise
    precision / recall / F1; the figures are returned and stored with the run.
    """
    config = config or LinkConfig()
    tables = tables or SourceTables()
    say = say or (lambda msg: log.info("%s", msg))
    clock = _Clock(say)
    mdm.ensure_mdm_tables(engine)
    started = _now()
    with engine.connect() as conn:
        run_id = int(conn.execute(select(func.coalesce(func.max(mdm.link_run.c.run_id), 0))).scalar_one()) + 1
    con, spill = _duckdb(config)
    try:
        return _run(con, spill, engine, config, tables, retrain, today, truth, say, clock, run_id, started)
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _model(con: Any, engine: Engine, config: LinkConfig, retrain: bool, say: Say) -> tuple[PersonModel | None, bool]:
    """The newest saved model, or one trained now (on labels, else by EM) and saved: (model, trained now).
    None when there is nothing to score (every record carries a valid ID number)."""
    model = None if retrain else latest_model(engine)
    trained = False
    if model is None and _one(con, "SELECT count(*) FROM noid"):
        sample = _training_sample(con, config)
        labelled = _one(con, f"SELECT count(*) - count(DISTINCT id_number) FROM {sample} WHERE id_number IS NOT NULL")
        size = _one(con, f"SELECT count(*) FROM {sample}")
        if labelled >= config.min_label_records:
            say(f"training the person model on {size:,} records ({labelled:,} share a validated ID number)")
            model = train_model(con, sample, u_max_pairs=config.u_max_pairs, seed=config.seed)
        elif size >= 2:
            say(f"training the person model on {size:,} records without labels (expectation maximisation): only "
                f"{labelled:,} share a validated ID number, fewer than {config.min_label_records:,}")
            model = train_model_em(con, sample, u_max_pairs=config.u_max_pairs, seed=config.seed,
                                   label_pairs=int(labelled))
        if model is not None:
            save_model(engine, model)
            trained = True
        con.execute(f"DROP TABLE {sample}")
    return model, trained


def _run(con: Any, spill: str, engine: Engine, config: LinkConfig, tables: SourceTables, retrain: bool,
         today: dt.date | None, truth: Mapping[tuple[str, str, str, str], str] | None, say: Say, clock: _Clock,
         run_id: int, started: dt.datetime) -> LinkResult:
    _load_records(con, engine, tables, today, spill)
    records, with_id = con.execute("SELECT count(*), count(id_number) FROM rec").fetchall()[0]
    say(f"linking {records:,} person records ({with_id:,} with a valid ID number)")
    clock.lap("read_records")

    _prepare_model_inputs(con, config)
    model, trained = _model(con, engine, config, retrain, say)
    clock.lap("train_model" if trained else "load_model")

    prior = _prior(con)
    if model is not None:
        pairs, compared = predict_pairs(con, model, prior=prior, noid_table="noid", idvar_table="idvar",
                                        tf_table="tf_name", keep_threshold=config.keep_threshold)
    else:
        pairs, compared = "link_pairs", 0
        con.execute(f"CREATE TABLE {pairs} (unique_id_l BIGINT, unique_id_r BIGINT, match_weight DOUBLE, "
                    f"match_probability DOUBLE, match_key VARCHAR, kind VARCHAR)")
    scored = compared
    for done in ("noid", "idvar", "tf_name", "name_freq"):
        con.execute(f"DROP TABLE IF EXISTS {done}")
    clock.lap("predict")

    # clerical review: decisions override the model; doubtful records wait for one
    with engine.connect() as conn:
        decided = review.decisions(conn)
    n_decided = review.apply_decisions(con, pairs, decided)
    decided_rids = {r for (r,) in con.execute("SELECT rid FROM decided").fetchall()} if n_decided else set()
    doubts = review.find_doubts(con, pairs, match_threshold=config.match_threshold,
                                margin_bits=config.review_margin_bits, decided=decided_rids) \
        if config.review_margin_bits > 0 else []
    if doubts:
        say(f"{len(doubts):,} record(s) not linked: their two best candidates are too close (exchange link review)")

    edges, refused = _cluster(con, config, pairs)
    clock.lap("cluster")

    result = LinkResult(run_id=run_id, model_version=model.version if model else "-", model_trained=trained,
                        prior=prior,
                        records=records, records_with_id=with_id, pairs_scored=scored, pairs_linked=len(edges),
                        pairs_refused=refused, skipped_sources=list(tables.skipped))
    result.reviews_decided = n_decided
    result.reviews_pending = len(doubts)
    changes = _assign_ids(con, engine, result, run_id)
    clock.lap("stable_ids")

    _build_links(con, model.version if model else "-", config, pairs)
    sources = con.execute("SELECT DISTINCT source_agency, entity FROM rec ORDER BY 1, 2").fetchall()
    con.register("_ranks", rank_table(config.survivorship, [tuple(s) for s in sources]))
    con.execute("CREATE TABLE golden_ranks AS SELECT * FROM _ranks")
    con.unregister("_ranks")
    con.execute(f"CREATE TABLE gold AS {golden_sql(config.survivorship, 'lnk_full', ranks='golden_ranks')}")
    clock.lap("golden")

    if truth is not None:
        result.metrics = evaluate_pairs(con, truth)
    _write(con, engine, result, changes, run_id, started, config, clock, doubts)
    if result.links_written or result.persons_written:
        # fresh statistics: without them the planner guesses thousands of links per person, and the
        # profile's one-statement query crosses the JIT threshold (80 ms of compiling for 1 ms of work)
        dialect_of(engine).analyze(engine, [f"{mdm.SCHEMA}.person", f"{mdm.SCHEMA}.person_link"])
    clock.lap("write")
    clock.total()
    result.timings = clock.timings
    result.peak_memory_mb = clock.memory
    with engine.begin() as conn:
        conn.execute(mdm.link_run.update().where(mdm.link_run.c.run_id == run_id)
                     .values(timings=json.dumps(result.timings), finished_at=_now()))
    return result


def _cluster(con: Any, config: LinkConfig, pairs: str) -> tuple[list[Any], int]:
    """``clu`` (record → cluster): the ID numbers as hard constraints, the pairs at or above the match threshold
    strongest first, with each touched record's facts as cannot-link constraints. (the pairs applied or
    refused, how many were refused)."""
    id_group = con.execute("SELECT coalesce(g.id_group, -1) AS g FROM rec LEFT JOIN idg g USING (id_number) "
                           "ORDER BY rid").fetchnumpy()["g"].astype(np.int64)
    # strongest first by match weight: near 1 the probabilities of very different pairs are one float
    edges = con.execute(f"SELECT unique_id_l, unique_id_r, match_weight FROM {pairs} "
                        f"WHERE match_probability >= {config.match_threshold}").fetchall()
    facts = touched_facts(con, sorted({int(r) for e in edges for r in e[:2]}), config.registers)
    labels, refused = cluster_records(id_group, edges, facts)
    con.register("_labels", pa.table({"rid": pa.array(np.arange(len(labels), dtype=np.int64)),
                                      "c": pa.array(labels)}))
    con.execute("CREATE TABLE clu AS SELECT * FROM _labels")
    con.unregister("_labels")
    return edges, refused


def _assign_ids(con: Any, engine: Engine, result: LinkResult, run_id: int) -> Any:
    _read_table(con, engine, "old_link",
                f"SELECT {', '.join(IDENTITY)}, link_id, person_uid, match_rule, match_probability, batch_id, "
                f"id_number FROM {mdm.SCHEMA}.person_link",
                _strings(*IDENTITY, "link_id", "person_uid", "match_rule", "match_probability", "batch_id",
                         "id_number"))
    _read_table(con, engine, "old_person",
                f"SELECT person_uid, status, merged_into, created_run FROM {mdm.SCHEMA}.person",
                _strings("person_uid", "status", "merged_into", "created_run"))
    highest = _one(con, f"SELECT coalesce(max(CAST(substr(person_uid, {len(UID_PREFIX) + 1}) AS BIGINT)), 0) "
                        f"FROM old_person")
    con.execute("CREATE TABLE rec_old AS SELECT r.rid, o.person_uid AS old_uid, CAST(o.link_id AS BIGINT) AS link_id "
                "FROM rec r JOIN old_link o USING (source_agency, entity, source_record_id, role)")
    con.execute("CREATE TABLE ov AS SELECT c.c, o.old_uid AS uid, count(*) AS n FROM rec_old o JOIN clu c USING (rid) "
                "GROUP BY ALL")
    con.execute("CREATE TABLE ov_simple AS SELECT c, uid FROM ov WHERE c IN (SELECT c FROM ov GROUP BY c "
                "HAVING count(*) = 1) AND uid IN (SELECT uid FROM ov GROUP BY uid HAVING count(*) = 1)")
    # each id's anchor: the validated ID number of its oldest ID-bearing record (the one it was issued for)
    con.execute("CREATE TABLE anchor AS SELECT person_uid AS uid, arg_min(id_number, CAST(link_id AS BIGINT)) "
                "AS id_number FROM old_link WHERE id_number IS NOT NULL GROUP BY person_uid")
    contested = con.execute(
        "SELECT ov.c, ov.uid, ov.n, EXISTS (SELECT 1 FROM clu k JOIN rec r USING (rid) JOIN anchor a "
        "ON a.id_number = r.id_number WHERE k.c = ov.c AND a.uid = ov.uid) AS anchored "
        "FROM ov ANTI JOIN ov_simple USING (c, uid)").fetchall()
    chosen = greedy_assign([(int(c), u, int(n), bool(a)) for c, u, n, a in contested])
    con.register("_chosen", pa.table({"c": pa.array(list(chosen), pa.int64()),
                                      "uid": pa.array(list(chosen.values()), pa.string())}))
    con.execute(f"CREATE TABLE cmap AS WITH kept AS (SELECT c, uid FROM ov_simple UNION ALL "
                f"SELECT c, uid FROM _chosen), "
                f"fresh AS (SELECT DISTINCT c FROM clu WHERE c NOT IN (SELECT c FROM kept)) "
                f"SELECT c, uid, false AS new FROM kept UNION ALL "
                f"SELECT c, '{UID_PREFIX}' || lpad(CAST({highest} + row_number() OVER (ORDER BY c) AS VARCHAR), "
                f"{UID_DIGITS}, '0') AS uid, true AS new FROM fresh")
    con.unregister("_chosen")
    moved = con.execute("SELECT ov.uid, m.uid, ov.n FROM ov JOIN cmap m USING (c) WHERE ov.uid <> m.uid").fetchall()
    kept = {u for (u,) in con.execute("SELECT uid FROM cmap WHERE NOT new").fetchall()}
    created = {u for (u,) in con.execute("SELECT uid FROM cmap m WHERE new AND EXISTS "
                                         "(SELECT 1 FROM ov WHERE ov.c = m.c)").fetchall()}
    changes = describe_changes([(a, b, int(n)) for a, b, n in moved], kept=kept, created=created)
    retired = [u for (u,) in con.execute("SELECT person_uid FROM old_person WHERE status = 'active' AND person_uid "
                                         "NOT IN (SELECT uid FROM ov)").fetchall()]
    for uid in sorted(retired, key=uid_number):
        changes.events.append(("retire", uid, None, 0))
        changes.retired.append(uid)
    result.persons_new = _one(con, "SELECT count(*) FROM cmap WHERE new")
    result.persons = _one(con, "SELECT count(*) FROM cmap")
    for event, _a, _b, _n in changes.events:
        if event == "merge":
            result.merges += 1
        elif event == "split":
            result.splits += 1
        elif event == "move":
            result.moves += 1
        elif event == "retire":
            result.retired += 1
    return changes


def _build_links(con: Any, model_version: str, config: LinkConfig, pairs: str) -> None:
    """``lnk``: every record's link (stable link_id, person_uid, rule, probability)."""
    highest_link = _one(con, "SELECT coalesce(max(CAST(link_id AS BIGINT)), 0) FROM old_link")
    con.execute(
        f"CREATE TABLE best AS SELECT e.rid, max(e.p) AS p FROM ("
        f"SELECT unique_id_l AS rid, unique_id_r AS other, match_probability AS p FROM {pairs} "
        f"WHERE match_probability >= {config.match_threshold} UNION ALL "
        f"SELECT unique_id_r, unique_id_l, match_probability FROM {pairs} "
        f"WHERE match_probability >= {config.match_threshold}) e "
        f"JOIN clu a ON a.rid = e.rid JOIN clu b ON b.rid = e.other WHERE a.c = b.c GROUP BY e.rid")
    con.execute(
        f"CREATE TABLE lnk AS SELECT r.rid, "
        f"coalesce(o.link_id, {highest_link} + row_number() OVER (PARTITION BY o.link_id IS NULL ORDER BY r.rid)) "
        f"AS link_id, m.uid AS person_uid, "
        f"CASE WHEN r.id_number IS NOT NULL THEN 'id_number' "
        f"WHEN r.rid IN (SELECT unique_id_l FROM {pairs} WHERE kind = 'review') THEN 'review' "
        f"WHEN b.p IS NOT NULL THEN 'model:{model_version}' ELSE 'none' END AS match_rule, "
        f"CASE WHEN r.id_number IS NOT NULL THEN 1.0 ELSE b.p END AS match_probability "
        f"FROM rec r JOIN clu c ON c.rid = r.rid JOIN cmap m ON m.c = c.c "
        f"LEFT JOIN rec_old o ON o.rid = r.rid LEFT JOIN best b ON b.rid = r.rid")
    for done in ("best", "rec_old", "clu", pairs):
        con.execute(f"DROP TABLE IF EXISTS {done}")
    con.execute("CREATE VIEW lnk_full AS SELECT l.link_id, l.person_uid, l.match_rule, l.match_probability, r.* "
                "FROM lnk l JOIN rec r USING (rid)")


def _golden_hash_sql(alias: str) -> str:
    parts = ", ".join(f"{alias}.{c}" for c in [*GOLDEN_FIELDS, *(f"{f}_link" for f in GOLDEN_FIELDS),
                                               "record_count", "agencies"])
    return f"CAST(hash({parts}) AS VARCHAR)"


def _write(con: Any, engine: Engine, result: LinkResult, changes: Any, run_id: int, started: dt.datetime,
           config: LinkConfig, clock: _Clock, doubts: list[review.Doubt] | None = None) -> None:
    now = _now()
    old_links = _one(con, "SELECT count(*) FROM old_link")
    # links: new or changed rows, and rows whose record left the warehouse
    con.execute(
        "CREATE TABLE link_changed AS SELECT l.* FROM lnk_full l LEFT JOIN old_link o "
        "USING (source_agency, entity, source_record_id, role) WHERE o.person_uid IS NULL "
        "OR o.person_uid <> l.person_uid OR o.match_rule <> l.match_rule OR o.batch_id <> l.batch_id "
        "OR abs(coalesce(CAST(o.match_probability AS DOUBLE), -1) - coalesce(l.match_probability, -1)) > 1e-9")
    con.execute("CREATE TABLE link_gone AS SELECT o.source_agency, o.entity, o.source_record_id, o.role "
                "FROM old_link o ANTI JOIN lnk_full l USING (source_agency, entity, source_record_id, role)")
    # persons: golden rows that differ, plus status changes of merged and retired ids
    _read_table(con, engine, "old_gold",
                f"SELECT person_uid, golden_hash FROM ({_old_gold_sql(engine)}) g",
                _strings("person_uid", "golden_hash"))
    con.execute(f"CREATE TABLE gold_h AS SELECT g.*, {_golden_hash_sql('g')} AS golden_hash FROM gold g")
    merged = changes.merged_into
    retired = list(changes.retired)
    con.register("_status", pa.table({"person_uid": pa.array([*merged, *retired], pa.string()),
                                      "status": pa.array(["merged"] * len(merged) + ["retired"] * len(retired),
                                                         pa.string()),
                                      "merged_into": pa.array([*merged.values(), *([None] * len(retired))],
                                                              pa.string())}))
    con.execute("CREATE TABLE status_changes AS SELECT * FROM _status")
    con.unregister("_status")
    golden_cols = ", ".join([*(f"g.{f}" for f in GOLDEN_FIELDS), *(f"g.{f}_link" for f in GOLDEN_FIELDS)])
    null_golden = ", ".join([*(f"NULL AS {f}" for f in GOLDEN_FIELDS),
                             *(f"NULL::BIGINT AS {f}_link" for f in GOLDEN_FIELDS)])
    con.execute(
        f"CREATE TABLE person_out AS "
        f"SELECT g.person_uid, 'active' AS status, NULL::VARCHAR AS merged_into, {golden_cols}, g.record_count, "
        f"g.agencies, g.golden_hash, "
        f"coalesce(CAST(p.created_run AS BIGINT), {run_id}) AS created_run, {run_id}::BIGINT AS updated_run "
        f"FROM gold_h g LEFT JOIN old_person p USING (person_uid) LEFT JOIN old_gold o USING (person_uid) "
        f"WHERE o.golden_hash IS DISTINCT FROM g.golden_hash OR p.status IS DISTINCT FROM 'active' "
        f"UNION ALL SELECT s.person_uid, s.status, s.merged_into, {null_golden}, 0::BIGINT, NULL, NULL, "
        f"CAST(p.created_run AS BIGINT), {run_id}::BIGINT FROM status_changes s JOIN old_person p USING (person_uid)")
    link_cols = ", ".join(LINK_COLUMNS)
    person_cols = ", ".join(c for c in PERSON_COLUMNS)
    n_link_changed = _one(con, "SELECT count(*) FROM link_changed")
    n_person_out = _one(con, "SELECT count(*) FROM person_out")
    n_link_gone = _one(con, "SELECT count(*) FROM link_gone")
    has_old_person = _one(con, "SELECT count(*) FROM old_person") > 0
    events = changes.events
    clock.lap("diff")
    with engine.begin() as conn:
        conn.execute(mdm.link_run.insert().values(
            run_id=run_id, started_at=started, model_version=result.model_version, prior=result.prior,
            match_threshold=config.match_threshold, records=result.records, records_with_id=result.records_with_id,
            persons=result.persons, persons_new=result.persons_new, merges=result.merges, splits=result.splits,
            moves=result.moves, retired=result.retired, pairs_scored=result.pairs_scored,
            pairs_linked=result.pairs_linked, pairs_refused=result.pairs_refused,
            metrics=json.dumps(result.metrics) if result.metrics is not None else None))
        review.save(conn, doubts or [], run_id, config.review_margin_bits)
        if n_link_changed:
            reader = con.sql(f"SELECT {link_cols.replace('run_id', f'{run_id}::BIGINT AS run_id')} "
                                 f"FROM link_changed").to_arrow_reader(200_000)
            result.links_written = replace_rows(conn, mdm.person_link, LINK_KEY, reader, target_empty=not old_links)
        if n_link_gone:
            delete_keys(conn, mdm.person_link, LINK_KEY,
                        con.sql("SELECT * FROM link_gone").to_arrow_reader(200_000))
        if n_person_out:
            reader = con.sql(f"SELECT {person_cols} FROM person_out").to_arrow_reader(200_000)
            result.persons_written = replace_rows(conn, mdm.person, ["person_uid"], reader,
                                                  target_empty=not has_old_person)
        if events:
            conn.execute(mdm.person_event.insert(), [
                {"event_id": run_id * 10**9 + i, "run_id": run_id, "event": e, "person_uid": a, "other_uid": b,
                 "records": n, "created_at": now} for i, (e, a, b, n) in enumerate(events)])


def _old_gold_sql(engine: Engine) -> str:
    """Existing golden rows with the same hash expression, computed by the warehouse."""
    return (f"SELECT person_uid, golden_hash FROM {mdm.SCHEMA}.person WHERE status = 'active'")
