"""A synthetic city at benchmark scale (millions of residents), generated with numpy.

Same kinds of people and variation as the demo city (``exchange.demo``: Faker's zh_CN
names, Ankang's geography, homophone / look-alike name typos, missing ID numbers, other
phone numbers, addresses with and without the province), but vectorised, and written
straight into the warehouse's ``core.*`` tables (no validation pass: the point is linking).
Every record carries the index of its true person, so linking can be scored exactly.

Records per agency for ``P`` residents (about 2.4 P in all):

- police: the resident register (P), case parties (about P/9, 12 % visitors, 12-20 % without
  an ID number, a quarter without phone)
- civil_affairs: members of 85 % of households (8 % without ID number, 3 % name typos, 8 %
  another phone, 5 % none) and the heads of those households (3 % without ID number)
- justice: dispute applicants (P/25; 10 % without ID number), respondents with an ID
  number, community correction (1 % of adults)
- health: severe mental disorder register (0.5 %)
- market_regulation: legal representatives of P/15 organizations
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger(__name__)

TODAY = dt.date(2026, 11, 28)
MOBILE_PREFIXES = np.array([130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158,
                            159, 166, 173, 175, 176, 177, 178, 180, 181, 182, 183, 185, 186, 187, 188, 189, 191,
                            193, 199], dtype=np.int64)
HOUSEHOLD_SIZES = np.array([1, 2, 3, 4, 5, 6])
HOUSEHOLD_WEIGHTS = np.array([18, 28, 25, 17, 8, 4], dtype=float)


@dataclass
class ScaleCity:
    persons: int
    tables: dict[str, pa.Table] = field(default_factory=dict)
    """entity → core rows (canonical columns + source_agency + lineage)"""
    truth: pa.Table | None = None
    """source_agency, entity, source_record_id, role, person (true person index)"""
    seconds: float = 0.0

    @property
    def records(self) -> int:
        return 0 if self.truth is None else self.truth.num_rows


def _names(rng: np.random.Generator, gender: np.ndarray, surname: np.ndarray | None = None) -> np.ndarray:
    from exchange.demo.people import NameMaker

    maker = NameMaker(random.Random(0))
    n = len(gender)
    surnames = np.array(maker.surnames, dtype=object)
    weights = np.array(maker.surname_weights, dtype=float)
    if surname is None:
        surname = surnames[rng.choice(len(surnames), n, p=weights / weights.sum())]
    out = np.empty(n, dtype=object)
    for g in ("M", "F"):
        idx = np.flatnonzero(gender == g)
        given = np.array(maker.given[g], dtype=object)
        single = np.array(maker.single[g], dtype=object)
        two = rng.random(idx.size) < 0.45
        a = single[rng.integers(0, single.size, idx.size)]
        b = single[rng.integers(0, single.size - 1, idx.size)]
        b = np.where(b == a, single[-1], b)
        listed = given[rng.integers(0, given.size, idx.size)]
        out[idx] = surname[idx] + np.where(two, a + b, listed)
    return out


def _typos(rng: np.random.Generator, names: np.ndarray, share: float) -> np.ndarray:
    from exchange.demo.variants import typo

    out = names.copy()
    pick = np.flatnonzero(rng.random(len(names)) < share)
    r = random.Random(int(rng.integers(1 << 30)))
    for i in pick.tolist():
        out[i] = typo(out[i], r)
    return out


def _unique_ints(rng: np.random.Generator, n: int, draw: Any) -> np.ndarray:
    values = draw(n)
    while True:
        _, first = np.unique(values, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            return values
        values[dup] = draw(int(dup.sum()))


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    def draw(k: int) -> np.ndarray:
        return MOBILE_PREFIXES[rng.integers(0, MOBILE_PREFIXES.size, k)] * 10**8 + rng.integers(0, 10**8, k)
    return _unique_ints(rng, n, draw).astype(str).astype(object)


def _id_numbers(rng: np.random.Generator, regions: np.ndarray, births: np.ndarray, gender: np.ndarray) -> np.ndarray:
    from exchange.formats import resident_id_check_char

    n = len(births)
    region_codes, region_idx = np.unique(regions, return_inverse=True)
    day = (births - np.datetime64("1900-01-01")).astype(np.int64)
    male = gender == "M"

    seq = np.where(male, rng.integers(0, 500, n) * 2 + 1, rng.integers(1, 500, n) * 2)
    while True:
        key = (region_idx.astype(np.int64) * 100_000 + day) * 1000 + seq
        _, first = np.unique(key, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        k = int(dup.sum())
        seq[dup] = np.where(male[dup], rng.integers(0, 500, k) * 2 + 1, rng.integers(1, 500, k) * 2)
    ymd = np.datetime_as_string(births, unit="D").astype(object)
    ymd = np.array([s.replace("-", "") for s in ymd], dtype=object)
    first17 = region_codes[region_idx].astype(object) + ymd + np.char.zfill(seq.astype(str), 3).astype(object)
    check = np.array(resident_id_check_char(first17.tolist()).to_pylist(), dtype=object)
    return first17 + check


def _pick(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    return rng.random(n) < share


def _arr(values: Any) -> pa.Array:
    if isinstance(values, np.ndarray) and values.dtype == object:
        arr = pa.array(values.tolist())
        return arr.cast(pa.string()) if pa.types.is_null(arr.type) else arr
    return pa.array(values)


def _null_where(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = values.astype(object).copy()
    out[mask] = None
    return out


def _lineage(n: int, agency: str, feed: str, entity: str, extra: dict[str, Any]) -> dict[str, Any]:
    batch = f"{agency}-{feed}-" + hashlib.sha256(f"bench/{agency}/{feed}/{n}".encode()).hexdigest()[:16]
    return {"source_agency": np.full(n, agency, dtype=object), **extra,
            "_batch_id": np.full(n, batch, dtype=object), "_source_file": np.full(n, f"bench/{feed}", dtype=object),
            "_source_row": np.arange(1, n + 1), "_row_hash": np.full(n, "bench", dtype=object),
            "_loaded_at": np.full(n, dt.datetime(2026, 11, 28, 8, 0, 0))}


def generate(persons: int, seed: int = 20261128, say: Any = print) -> ScaleCity:
    """The city's core rows and the truth of every person record."""
    from exchange.demo.geo import build_geography
    from exchange.formats import load_division_codes

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    divisions = load_division_codes()
    geo = build_geography(divisions, random.Random(f"{seed}/geography"), max(50, persons // 400))
    communities = geo.communities
    comm_code = np.array([c.code for c in communities], dtype=object)
    comm_prefix = np.array([c.prefix for c in communities], dtype=object)
    comm_urban = np.array([c.urban for c in communities])
    comm_w = np.array([c.county.weight for c in communities], dtype=float)
    compounds = geo.compounds
    cmp_comm = np.array([communities.index(c.community) for c in compounds])
    cmp_name = np.array([c.name for c in compounds], dtype=object)
    county_known = np.array(sorted(c for c in divisions.codes() if len(c) == 6 and not c.endswith("00")
                                   and divisions.is_known(c)), dtype=object)

    # households and residents ----------------------------------------------------------------
    sizes = rng.choice(HOUSEHOLD_SIZES, int(persons / 2.6) + 10, p=HOUSEHOLD_WEIGHTS / HOUSEHOLD_WEIGHTS.sum())
    ends = np.cumsum(sizes)
    n_hh = int(np.searchsorted(ends, persons)) + 1
    sizes = sizes[:n_hh]
    sizes[-1] -= int(ends[n_hh - 1] - persons)
    hh_of = np.repeat(np.arange(n_hh), sizes)
    head = np.r_[True, hh_of[1:] != hh_of[:-1]]
    in_compound = rng.random(n_hh) < 0.5
    hh_comm = np.where(in_compound, cmp_comm[rng.integers(0, len(compounds), n_hh)],
                       rng.choice(len(communities), n_hh, p=comm_w / comm_w.sum()))
    hh_cmp = rng.integers(0, len(compounds), n_hh)
    hh_comm = np.where(in_compound, cmp_comm[hh_cmp], hh_comm)
    number = rng.integers(1, 300, n_hh).astype(str).astype(object)
    words = np.array(list("兴安巴山汉江金州香溪育才新城文化大桥建设人民解放东方长春友谊"), dtype=object)
    road = words[rng.integers(0, words.size, n_hh)] + words[rng.integers(0, words.size, n_hh)] + "路"
    street = np.where(comm_urban[hh_comm], road + number + "号", rng.integers(1, 13, n_hh).astype(str).astype(object)
                      + "组" + number + "号")
    flat = (cmp_name[hh_cmp] + rng.integers(1, 25, n_hh).astype(str).astype(object) + "号楼"
            + rng.integers(1, 5, n_hh).astype(str).astype(object) + "单元"
            + rng.integers(101, 1805, n_hh).astype(str).astype(object) + "室")
    hh_address = comm_prefix[hh_comm] + np.where(in_compound, flat, street)
    hh_serial = np.arange(n_hh)
    hh_number = np.array([f"{c[:9]}{s:07d}" for c, s in zip(comm_code[hh_comm].tolist(), hh_serial.tolist(),
                                                             strict=True)], dtype=object)
    say(f"  {n_hh:,} households in {len(communities):,} communities")

    gender = np.where(rng.random(persons) < 0.5, "M", "F").astype(object)
    family = _names(rng, np.full(n_hh, "M", dtype=object))
    surname_of_hh = np.array([n[0] for n in family.tolist()], dtype=object)
    takes = rng.random(persons) < 0.8
    from exchange.demo.people import NameMaker
    maker = NameMaker(random.Random(0))
    sw = np.array(maker.surname_weights, float)
    own = np.array(maker.surnames, dtype=object)[rng.choice(len(maker.surnames), persons, p=sw / sw.sum())]
    surname = np.where(takes, surname_of_hh[hh_of], own)
    name = _names(rng, gender, surname)
    age = rng.integers(0, 91, persons)
    birth = (np.datetime64(TODAY.isoformat()) - (age * 365 + rng.integers(0, 365, persons)).astype("timedelta64[D]"))
    home_county = np.array([c[:6] for c in comm_code[hh_comm[hh_of]].tolist()], dtype=object)
    region = np.where(rng.random(persons) < 0.75, home_county, county_known[rng.integers(0, county_known.size,
                                                                                           persons)])
    ids = _id_numbers(rng, region, birth, gender)
    phone = _phones(rng, persons)
    phone = _null_where(phone, (age < 16) & (rng.random(persons) < 0.95))
    ethnicity = np.where(rng.random(persons) < 0.025, "回族", "汉族").astype(object)
    p_addr = hh_address[hh_of]
    p_comm = comm_code[hh_comm[hh_of]]
    p_hh = hh_number[hh_of]
    birth_s = np.datetime_as_string(birth, unit="D").astype(object)
    say(f"  {persons:,} residents")

    # visitors (only in police case records)
    n_vis = max(5, persons * 3 // 100)
    v_gender = np.where(rng.random(n_vis) < 0.5, "M", "F").astype(object)
    v_name = _names(rng, v_gender)
    v_birth = np.datetime64(TODAY.isoformat()) - (rng.integers(18, 76, n_vis) * 365).astype("timedelta64[D]")
    v_ids = _id_numbers(rng, county_known[rng.integers(0, county_known.size, n_vis)], v_birth, v_gender)
    v_phone = _phones(rng, n_vis)

    tables: dict[str, dict[str, Any]] = {}
    truth_parts: list[pa.Table] = []

    def add(entity: str, agency: str, feed: str, rows: dict[str, Any], who: np.ndarray, role: str = "subject",
            truth_mask: np.ndarray | None = None) -> None:
        n = len(who)
        data = _lineage(n, agency, feed, entity, rows)
        tables.setdefault(entity, {})
        for k, v in data.items():
            tables[entity].setdefault(k, []).append(v)
        keep = np.ones(n, dtype=bool) if truth_mask is None else truth_mask
        truth_parts.append(pa.table({
            "source_agency": pa.array([agency] * int(keep.sum()), pa.string()),
            "entity": pa.array([entity] * int(keep.sum()), pa.string()),
            "source_record_id": _arr(rows["source_record_id"][keep]),
            "role": pa.array([role] * int(keep.sum()), pa.string()),
            "person": pa.array(who[keep].astype(np.int64))}))

    # police: residents
    all_p = np.arange(persons)
    add("person", "police", "residents", {
        "source_record_id": np.array([f"RK{i + 1:09d}" for i in range(persons)], dtype=object),
        "id_number": ids, "name": name, "gender": gender, "birth_date": birth_s, "ethnicity": ethnicity,
        "phone": phone, "address": p_addr, "division_code": p_comm, "household_number": p_hh}, all_p)

    # civil affairs: 85 % of households, their members and heads
    covered = rng.random(n_hh) < 0.85
    members = np.flatnonzero(covered[hh_of])
    m = members.size
    c_phone = phone[members].copy()
    other = rng.random(m)
    c_phone[other < 0.08] = _phones(rng, int((other < 0.08).sum()))
    c_phone[(other >= 0.08) & (other < 0.13)] = None
    c_addr = p_addr[members].copy()
    strip = rng.random(m) < 0.3
    c_addr[strip] = np.array([a.removeprefix("陕西省") for a in c_addr[strip].tolist()], dtype=object)
    bs = birth_s[members]
    add("person", "civil_affairs", "members", {
        "source_record_id": np.array([f"CY{i + 1:09d}" for i in range(m)], dtype=object),
        "id_number": _null_where(ids[members], rng.random(m) < 0.08), "name": _typos(rng, name[members], 0.03),
        "gender": gender[members], "birth_date": bs, "ethnicity": np.full(m, None, dtype=object),
        "phone": c_phone, "address": c_addr, "division_code": np.full(m, None, dtype=object),
        "household_number": p_hh[members]}, members)
    heads = np.flatnonzero(head & covered[hh_of])
    hh_idx = hh_of[heads]
    add("household", "civil_affairs", "households", {
        "source_record_id": hh_number[hh_idx], "household_number": hh_number[hh_idx],
        "household_type": np.where(rng.random(heads.size) < 0.03, "collective", "family").astype(object),
        "head_id_number": _null_where(ids[heads], rng.random(heads.size) < 0.03),
        "head_name": _typos(rng, name[heads], 0.03), "address": hh_address[hh_idx],
        "division_code": comm_code[hh_comm[hh_idx]],
        "member_count": sizes[hh_idx], "low_income": rng.random(heads.size) < 0.06}, heads, role="head")
    say(f"  civil affairs: {m:,} members, {heads.size:,} households")

    # police: cases and their parties
    adults = np.flatnonzero(age >= 18)
    n_cases = max(8, persons // 20)
    case_no = np.array([f"A{c[:6]}2025{i:07d}" for i, c in enumerate(comm_code[rng.integers(0, len(communities),
                                                                                              n_cases)].tolist())],
                       dtype=object)
    case_type = rng.choice(np.array(["criminal", "administrative", "incident"], dtype=object), n_cases,
                           p=[0.2, 0.3, 0.5])
    tables["case"] = {k: [v] for k, v in _lineage(n_cases, "police", "incidents", "case", {
        "source_record_id": case_no, "case_number": case_no, "case_type": case_type,
        "title": np.full(n_cases, "群众报警称有人争吵", dtype=object),
        "occurred_at": np.full(n_cases, dt.datetime(2025, 6, 1, 12, 0)),
        "reported_date": np.full(n_cases, dt.date(2025, 6, 1)),
        "division_code": comm_code[rng.integers(0, len(communities), n_cases)],
        "address": np.full(n_cases, "附近", dtype=object),
        "status": np.full(n_cases, "closed", dtype=object),
        "handling_unit": np.full(n_cases, "派出所", dtype=object)}).items()}
    per_case = np.where(case_type == "incident", 1, 2) + (rng.random(n_cases) < 0.35)
    party_case = np.repeat(np.arange(n_cases), per_case)
    seq = np.arange(party_case.size) - np.repeat(np.cumsum(per_case) - per_case, per_case)
    k = party_case.size
    is_vis = rng.random(k) < 0.12
    who = np.where(is_vis, persons + rng.integers(0, n_vis, k), adults[rng.integers(0, adults.size, k)])
    vi = np.clip(who - persons, 0, n_vis - 1)
    has_id = rng.random(k) < np.where(is_vis, 0.8, 0.88)
    cp_name = np.where(is_vis, v_name[vi], name[np.minimum(who, persons - 1)])
    cp_gender = np.where(is_vis, v_gender[vi], gender[np.minimum(who, persons - 1)])
    cp_id = np.where(is_vis, v_ids[vi], ids[np.minimum(who, persons - 1)])
    cp_phone = np.where(is_vis, v_phone[vi], phone[np.minimum(who, persons - 1)])
    roles = np.array(["suspect", "victim", "witness"], dtype=object)
    add("case_party", "police", "case_parties", {
        "source_record_id": np.array([f"{case_no[c]}-{s + 1}" for c, s in zip(party_case.tolist(), seq.tolist(),
                                                                               strict=True)], dtype=object),
        "case_number": case_no[party_case],
        "role": np.where(case_type[party_case] == "incident", "reporter", roles[np.minimum(seq, 2)]).astype(object),
        "id_number": _null_where(cp_id, ~has_id), "name": _typos(rng, cp_name, 0.01), "gender": cp_gender,
        "phone": _null_where(cp_phone, rng.random(k) < 0.25)}, who)
    say(f"  police: {n_cases:,} cases, {k:,} parties")

    # justice: disputes (applicants; respondents with an ID number), community correction
    n_d = max(8, persons // 25)
    app = adults[rng.integers(0, adults.size, n_d)]
    resp = adults[rng.integers(0, adults.size, n_d)]
    resp_has = rng.random(n_d) < 0.3 * 0.7
    d_id = np.array([f"TJ2025{i + 1:08d}" for i in range(n_d)], dtype=object)
    cats = np.array(["traffic_accident", "labour", "neighbourhood", "marriage_family", "contract", "other"],
                    dtype=object)
    add("dispute", "justice", "disputes", {
        "source_record_id": d_id, "dispute_number": d_id, "category": cats[rng.integers(0, cats.size, n_d)],
        "status": np.full(n_d, "resolved", dtype=object), "accepted_date": np.full(n_d, dt.date(2025, 3, 1)),
        "closed_date": np.full(n_d, None, dtype=object),
        "applicant_name": name[app], "applicant_id_number": _null_where(ids[app], rng.random(n_d) < 0.1),
        "applicant_phone": _null_where(phone[app], rng.random(n_d) < 0.15),
        "respondent_name": np.where(resp_has, name[resp], "某某有限公司").astype(object),
        "respondent_id_number": _null_where(ids[resp], ~resp_has),
        "division_code": p_comm[app], "amount": np.full(n_d, None, dtype=object),
        "summary": np.full(n_d, "邻里纠纷", dtype=object)}, app, role="applicant")
    d_truth = pa.table({"source_agency": pa.array(["justice"] * int(resp_has.sum()), pa.string()),
                        "entity": pa.array(["dispute"] * int(resp_has.sum()), pa.string()),
                        "source_record_id": _arr(d_id[resp_has]),
                        "role": pa.array(["respondent"] * int(resp_has.sum()), pa.string()),
                        "person": pa.array(resp[resp_has].astype(np.int64))})
    truth_parts.append(d_truth)
    n_cc = max(8, adults.size // 100)
    cc = rng.choice(adults, n_cc, replace=False)
    cc_id = np.array([f"SQJZ2025{i + 1:07d}" for i in range(n_cc)], dtype=object)
    add("special_population", "justice", "community_correction", {
        "source_record_id": cc_id, "id_number": ids[cc], "name": name[cc], "gender": gender[cc],
        "programme": np.full(n_cc, "community_correction", dtype=object),
        "managing_unit": np.full(n_cc, "司法所", dtype=object),
        "risk_level": np.full(n_cc, "low", dtype=object), "start_date": np.full(n_cc, dt.date(2025, 1, 1)),
        "end_date": np.full(n_cc, None, dtype=object), "division_code": p_comm[cc]}, cc)
    n_mh = max(8, persons // 200)
    mh = rng.choice(np.flatnonzero(age >= 12), n_mh, replace=False)
    mh_id = np.array([f"JSWS{i + 1:08d}" for i in range(n_mh)], dtype=object)
    add("special_population", "health", "mental_health", {
        "source_record_id": mh_id, "id_number": ids[mh], "name": name[mh], "gender": gender[mh],
        "programme": np.full(n_mh, "severe_mental_disorder", dtype=object),
        "managing_unit": np.full(n_mh, "社区卫生服务中心", dtype=object),
        "risk_level": np.full(n_mh, "medium", dtype=object), "start_date": np.full(n_mh, dt.date(2024, 5, 1)),
        "end_date": np.full(n_mh, None, dtype=object), "division_code": p_comm[mh]}, mh)

    # market regulation: organizations and their legal representatives
    n_o = max(8, persons // 15)
    rep = adults[rng.integers(0, adults.size, n_o)]
    code = np.array([f"91610902MA{i:08d}" for i in range(n_o)], dtype=object)
    add("organization", "market_regulation", "organizations", {
        "source_record_id": code, "credit_code": code,
        "name": np.array([f"安康市第{i}商贸有限公司" for i in range(n_o)], dtype=object),
        "legal_representative": name[rep], "legal_rep_id_number": ids[rep],
        "registered_address": np.full(n_o, None, dtype=object), "division_code": p_comm[rep],
        "established_date": np.full(n_o, dt.date(2015, 1, 1)), "status": np.full(n_o, "active", dtype=object),
        "industry": np.full(n_o, "批发和零售业", dtype=object), "registered_capital": np.full(n_o, None, dtype=object)},
        rep, role="legal_representative")
    say(f"  justice: {n_d:,} disputes, {n_cc:,} in community correction; health: {n_mh:,}; "
        f"market regulation: {n_o:,} organizations")

    city = ScaleCity(persons=persons)
    for entity, cols in tables.items():
        city.tables[entity] = pa.table({k: _arr(np.concatenate(v)) for k, v in cols.items()})
    city.truth = pa.concat_tables(truth_parts)
    city.seconds = time.perf_counter() - started
    return city


def load(city: ScaleCity, engine: Any, say: Any = print) -> dict[str, int]:
    """Create ``core.*`` and bulk-load the city (PostgreSQL: COPY; SQLite: executemany)."""
    from exchange.linking.store import replace_rows
    from exchange.spec.catalog import load_catalog
    from exchange.warehouse.load import ensure_tables
    from exchange.warehouse.tables import EntityTables

    catalog = load_catalog(feeds=False)
    schemas = [catalog.schema(e) for e in city.tables]
    ensure_tables(engine, schemas)
    counts = {}
    for entity, table in city.tables.items():
        core = EntityTables(catalog.schema(entity)).core
        cols = [c.name for c in core.columns]
        table = table.select([c for c in cols if c in table.column_names])
        for c in cols:
            if c not in table.column_names:
                table = table.append_column(c, pa.nulls(table.num_rows, pa.string()))
        table = table.select(cols)
        t = time.perf_counter()
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DELETE FROM core."{entity}"')
            n = replace_rows(conn, core, ["source_agency", "source_record_id"], table.to_batches(200_000),
                             target_empty=True)
        counts[entity] = n
        say(f"  core.{entity}: {n:,} rows in {time.perf_counter() - t:.1f}s")
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    return counts


def truth_pairs_sql(truth_table: str, links_table: str) -> str:
    """DuckDB: pairwise precision/recall over ``truth_table`` joined to ``links_table``."""
    return (f"WITH ev AS (SELECT l.person_uid, t.person FROM {truth_table} t JOIN {links_table} l "
            f"USING (source_agency, entity, source_record_id, role)) "
            f"SELECT (SELECT count(*) FROM ev), "
            f"(SELECT sum(n*(n-1)/2) FROM (SELECT count(*) n FROM ev GROUP BY person_uid, person)), "
            f"(SELECT sum(n*(n-1)/2) FROM (SELECT count(*) n FROM ev GROUP BY person_uid)), "
            f"(SELECT sum(n*(n-1)/2) FROM (SELECT count(*) n FROM ev GROUP BY person))")


__all__ = ["ScaleCity", "generate", "load", "pc", "truth_pairs_sql"]
