"""``exchange demo``: a synthetic city (安康市) whose agencies export one file per demo feed.

:func:`generate_city` writes each feed's file under a landing folder, at a path matching
the feed's source glob, in its format and encoding, with a known set of defective rows,
and returns the :class:`CityTruth` to measure the exchange against. The same seed (and
``today``) gives byte-identical files. Feeds of kind ``sql`` get a SQLite database and feeds
of kind ``http`` the NDJSON file their demo API serves (see :mod:`exchange.demo.sources`).
"""

from __future__ import annotations

import datetime
import fnmatch
import logging
import random
import time
from pathlib import Path

from exchange.demo.activity import build_activity
from exchange.demo.defects import MakeContext, seed_defects
from exchange.demo.feeds import FEED_BUILDERS
from exchange.demo.geo import CITY_CODE, BirthplaceCodes, build_geography
from exchange.demo.mediation import build_disputes, overdue
from exchange.demo.people import build_population
from exchange.demo.sources import source_location, write_sqlite
from exchange.demo.truth import CityTruth, FeedTruth
from exchange.demo.world import World, build_cases, build_organizations
from exchange.demo.writers import DEFAULT_DELIMITERS, WRITERS, WriteOptions
from exchange.errors import ConfigError
from exchange.formats import DivisionCodes, load_division_codes
from exchange.spec.catalog import Catalog, load_catalog
from exchange.spec.feed import FeedSpec

log = logging.getLogger(__name__)

DEFAULT_SEED = 20261128
# the encoding each agency's system exports in, where the feed spec says "auto"
DEMO_ENCODINGS = {"civil_affairs.households": "gbk", "civil_affairs.members": "utf-8-sig",
                  "police.case_parties": "gb18030"}
WINDOWS_ENCODINGS = frozenset({"gbk", "gb18030"})
DEFECT_RATE = (0.03, 0.05)
MIN_RECORDS = 8  # smallest feed size that can carry one defect within the 15 % bound


def generate_city(landing: Path, *, persons: int = 1000, seed: int = DEFAULT_SEED,
                  today: datetime.date | None = None) -> CityTruth:
    """Write the demo city's feed files under ``landing`` and return the ground truth.

    ``today`` (default: the current date) is the generation date: every clean date lies on
    or before it, seeded future dates lie well after it.
    """
    if persons < 1:
        raise ValueError(f"persons must be at least 1, got {persons}")
    started = time.perf_counter()
    today = today or datetime.date.today()
    landing = Path(landing)
    catalog = load_catalog()
    world = build_world(persons=persons, seed=seed, today=today, divisions=load_division_codes())
    truth = CityTruth(seed=seed, today=today.isoformat(), persons=len(world.population.residents),
                      visitors=len(world.population.visitors), households=len(world.population.households),
                      city=CITY_CODE)
    for feed_id in FEED_BUILDERS:
        truth.feeds[feed_id] = emit_feed(world, catalog, feed_id, landing)
    if world.activity is not None:
        truth.groups = [{"members": g.members, "together": [list(t) for t in g.together]}
                        for g in world.activity.groups]
    truth.series = [{"offence": s.offence, "cases": [c.number for c in s.cases], "shared": s.shared}
                    for s in world.series]
    truth.mediation = {"today": today.isoformat(), "overdue": sorted(d.number for d in world.disputes
                                                                     if overdue(d, today)),
                       "open": sorted(d.number for d in world.disputes if d.closed is None)}
    log.info("demo city: %d residents, %d feeds, %d defects under %s in %.1fs", truth.persons,
             len(truth.feeds), sum(len(f.defects) for f in truth.feeds.values()), landing,
             time.perf_counter() - started)
    return truth


def build_world(*, persons: int, seed: int, today: datetime.date, divisions: DivisionCodes) -> World:
    """Geography, residents and the facts several feeds share."""
    births = BirthplaceCodes(divisions)
    geo = build_geography(divisions, random.Random(f"{seed}/geography"),
                          max(MIN_RECORDS, round(persons / 40)))
    population = build_population(geo, births, random.Random(f"{seed}/people"), today, persons=persons,
                                  visitors=max(5, persons * 3 // 100))
    world = World(seed=seed, today=today, divisions=divisions, births=births, geo=geo, population=population)
    world.cases = build_cases(world, world.rng("cases"), max(MIN_RECORDS, round(persons / 20)),
                              series=max(2, persons // 2500))
    world.organizations = build_organizations(world, world.rng("organizations"),
                                              max(MIN_RECORDS, round(persons / 15)))
    world.disputes = build_disputes(world, world.rng("disputes"), max(MIN_RECORDS, round(persons / 25)))
    world.activity = build_activity(world, world.rng("activity"), groups=max(2, min(12, persons // 250)))
    return world


def landing_path(spec: FeedSpec) -> str:
    """A file name matching the feed's source glob: ``police/residents/*.csv`` → ``.../residents.csv``."""
    pattern = spec.source.path
    name = pattern.replace("**/", "").replace("*", spec.feed)
    if any(c in name for c in "?[]") or not fnmatch.fnmatch(name, pattern):
        raise ConfigError(f"{spec.feed_id}: source.path {pattern!r}: the demo cannot name a file "
                          f"matching it; use a glob like <agency>/<feed>/*.<ext>")
    return name


def _write_options(spec: FeedSpec, fmt: str, today: datetime.date) -> WriteOptions:
    source = spec.source
    encoding = source.encoding if source.encoding != "auto" else DEMO_ENCODINGS.get(spec.feed_id, "utf-8")
    return WriteOptions(encoding=encoding, delimiter=source.delimiter or DEFAULT_DELIMITERS.get(fmt, ","),
                        line_terminator="\r\n" if encoding in WINDOWS_ENCODINGS else "\n",
                        records_path=source.records_path, sheet=source.sheet or "Sheet1",
                        timestamp=datetime.datetime.combine(today, datetime.time(8, 0)))


def emit_feed(world: World, catalog: Catalog, feed_id: str, landing: Path) -> FeedTruth:
    """Build, seed and write one feed; return its truth."""
    spec = catalog.feed(feed_id)
    table = FEED_BUILDERS[feed_id](world, world.rng(feed_id))
    expected = set(spec.mapping)
    if set(table.columns) != expected:
        raise ConfigError(f"{catalog.feed_files.get(feed_id, feed_id)}: mapping columns "
                          f"{sorted(expected)} differ from the demo's {sorted(table.columns)}; "
                          f"update exchange/demo/feeds.py")
    rng = world.rng(f"{feed_id}/defects")
    ctx = MakeContext(rng=rng, today=world.today, schema=catalog.schema_for(spec), divisions=world.divisions)
    seeded = seed_defects(table, spec, ctx, rng.uniform(*DEFECT_RATE))
    if spec.source.kind == "file":
        relative = landing_path(spec)
        fmt = spec.source.format or Path(relative).suffix.lstrip(".").lower()
        if fmt not in WRITERS:
            raise ConfigError(f"{feed_id}: the demo cannot write format {fmt!r} (known: {', '.join(WRITERS)})")
        options = _write_options(spec, fmt, world.today)
    else:
        try:
            relative, fmt = source_location(spec)
        except KeyError as exc:
            raise ConfigError(str(exc.args[0])) from None
        options = WriteOptions()
    path = landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "sqlite":
        if spec.source.kind != "sql" or not spec.source.table:
            raise ConfigError(f"{feed_id}: the demo writes a table, so source.table must be set")
        first_update = datetime.datetime.combine(world.today - datetime.timedelta(days=1), datetime.time(9, 0))
        write_sqlite(path, spec.source.table, seeded.columns, seeded.rows, first_update)
    else:
        WRITERS[fmt](path, seeded.columns, seeded.rows, options)
    person_keys = {} if seeded.person_keys is None else dict(
        zip(seeded.record_ids, seeded.person_keys, strict=True))
    log.debug("%s: %d rows, %d defects → %s", feed_id, len(seeded.rows), len(seeded.defects), path)
    return FeedTruth(feed_id=feed_id, path=relative, format=fmt, encoding=options.encoding,
                     rows=len(seeded.rows), defects=seeded.defects, person_keys=person_keys)
