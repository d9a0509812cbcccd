"""The feed specs as the DAG files see them: read at parse time, cheaply and tolerantly.

``load_specs`` reads the shared schemas (a broken schema stops every feed: it is raised) and
then each ``feeds/**/*.yaml`` on its own, so one bad feed spec is reported — with its file and
every problem in it — while every other feed still becomes a DAG. Only YAML and the pydantic
spec models are involved; the result is cached per process until a spec file changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from exchange.errors import ConfigError
from exchange.spec import paths
from exchange.spec.catalog import Catalog, check_feed, load_catalog, parse_feed
from exchange.spec.loading import display_path
from exchange.spec.schema import EntitySchema

STRICT_ENV = "EXCHANGE_DAGS_STRICT"
"""``1``: a bad feed spec fails the whole feeds DAG file (CI) instead of being set aside."""


def strict_mode() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class FeedSpecs:
    """The schemas, the feeds that are valid, and the problems of those that are not."""

    catalog: Catalog
    problems: dict[str, list[str]] = field(default_factory=dict)
    """spec file (as shown to the user, ``feeds/police/residents.yaml``) → its problems"""

    @property
    def root(self) -> Path:
        return self.catalog.root

    def error(self) -> ConfigError:
        """Every problem of every bad spec, one per line, each prefixed with its file."""
        found = [p for probs in self.problems.values() for p in probs]
        files = ", ".join(self.problems)
        return ConfigError(f"{len(self.problems)} feed spec(s) under {self.root} cannot become DAGs "
                           f"({files}); fix them and the DAGs appear at the next parse", found)


_cache: dict[Path, tuple[tuple[tuple[str, int, int], ...], FeedSpecs]] = {}


def _signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    files = [*sorted((root / "schemas").glob("**/*.yaml")), *sorted((root / "feeds").glob("**/*.yaml"))]
    out = []
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        out.append((str(f), st.st_mtime_ns, st.st_size))
    return tuple(out)


def load_specs(root: Path | None = None) -> FeedSpecs:
    """Schemas and feeds under ``root`` (default: ``EXCHANGE_HOME`` / the project folder)."""
    root = (root or paths.project_root()).resolve()
    signature = _signature(root)
    cached = _cache.get(root)
    if cached and cached[0] == signature:
        return cached[1]
    catalog = load_catalog(root, feeds=False)
    specs = FeedSpecs(catalog=catalog)
    for path in sorted((root / "feeds").glob("**/*.yaml")):
        shown = display_path(path, root)
        try:
            spec = parse_feed(path, shown)
        except ConfigError as exc:
            specs.problems[shown] = exc.problems or [str(exc)]
            continue
        found = check_feed(spec, catalog, shown, path)
        if spec.feed_id in catalog.feeds:
            found.append(f"{shown}: feed id {spec.feed_id!r} is already declared in "
                         f"{catalog.feed_files[spec.feed_id]}")
        if found:
            specs.problems[shown] = found
            continue
        catalog.feeds[spec.feed_id] = spec
        catalog.feed_files[spec.feed_id] = shown
    _cache[root] = (signature, specs)
    return specs


def report_spec_problems(specs: FeedSpecs | None = None) -> None:
    """Raise the problems of the invalid feed specs (so Airflow shows them as an import error of the
    calling DAG file, naming each spec file); do nothing when every spec is valid."""
    specs = specs or load_specs()
    if specs.problems:
        raise specs.error()


def feed_catalog(feed_id: str, root: Path | None = None) -> Catalog:
    """The catalog a task of ``feed_id`` runs with: the schemas and the valid feeds (another
    feed's broken spec does not stop this one). An invalid ``feed_id`` is a ConfigError naming
    its file and problems."""
    specs = load_specs(root)
    if feed_id not in specs.catalog.feeds:
        for shown, problems in specs.problems.items():
            if _file_feed_id(shown) == feed_id:
                raise ConfigError(f"feed {feed_id}: its spec {shown} is invalid", problems)
    specs.catalog.feed(feed_id)  # raises ConfigError listing the known feeds
    return specs.catalog


def _file_feed_id(shown: str) -> str:
    """The feed id a spec file declares by its place: ``feeds/<agency>/<feed>.yaml``."""
    path = Path(shown)
    return f"{path.parent.name}.{path.stem}"


def searchable(schema: EntitySchema) -> bool:
    """A table the element index holds: searchable fields, not an event table (events have their own indexes;
    ``exchange.investigate.elements.indexed``)."""
    return schema.event is None and bool(schema.search_fields())


def person_bearing(schema: EntitySchema) -> bool:
    """A schema naming a person: one of its fields holds a resident ID number."""
    return any(f.format == "resident_id" for f in schema.fields.values())
