"""The workspace: what every capability needs first — the settings, the catalog (schemas, feeds) and
the warehouse engine, migrated once — opened once by a face (a CLI command, an Airflow task, the
demo) and shared by every component it calls::

    with Workspace(settings) as ws:
        link_persons()           # the components find the open workspace: its catalog, its engine
        person_profile("P123")

Outside an open workspace a component opens what it needs for that call only and closes it after,
so a test or a script may call one directly. Either way there is one place (here) that makes,
migrates and disposes of engines.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

from exchange.spec.catalog import Catalog, load_catalog
from exchange.spec.settings import Settings

if TYPE_CHECKING:  # the engine and migrations (SQLAlchemy, pyarrow) are imported on first use
    from sqlalchemy import Engine, MetaData

    from exchange.spec.schema import EntitySchema

_OPEN: ContextVar[Workspace | None] = ContextVar("exchange_workspace", default=None)


class Workspace:
    def __init__(self, settings: Settings | None = None, catalog: Catalog | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self._catalog = catalog
        self._engine: Engine | None = None
        self._migrated: set[tuple[str, ...]] = set()
        self._token: Token[Workspace | None] | None = None
        self._cache: dict[str, Any] = {}

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog(self.settings.root)
        return self._catalog

    @property
    def engine(self) -> Engine:
        """The warehouse engine, made on first use (not migrated: see ``migrated``)."""
        if self._engine is None:
            from exchange.warehouse.engine import make_engine

            self._engine = make_engine(self.settings.warehouse_url, root=self.settings.root)
        return self._engine

    def migrated(self, schemas: Iterable[EntitySchema] = (), metadata: Iterable[MetaData] = ()) -> Engine:
        """The engine, with the tables of ``schemas`` and ``metadata`` created or upgraded — once per
        workspace for each set asked for."""
        schemas, metadata = list(schemas), list(metadata)
        key = tuple(sorted(s.name for s in schemas)) + tuple(sorted(str(id(m)) for m in metadata))
        if key not in self._migrated:
            from exchange.warehouse.load import ensure_tables

            ensure_tables(self.engine, schemas, *metadata)
            self._migrated.add(key)
        return self.engine

    def cached(self, name: str, make: Callable[[], Any]) -> Any:
        """What ``make`` returns, made once per workspace (the grants, loaded and checked once)."""
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    def all_schemas(self) -> list[EntitySchema]:
        return [self.catalog.schemas[n] for n in sorted(self.catalog.schemas)]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        self._migrated.clear()

    def __enter__(self) -> Workspace:
        self._token = _OPEN.set(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._token is not None:
            _OPEN.reset(self._token)
            self._token = None
        self.close()


def current() -> Workspace | None:
    """The workspace a face opened around this call, if any."""
    return _OPEN.get()


@contextlib.contextmanager
def workspace(settings: Settings | None = None, catalog: Catalog | None = None) -> Iterator[Workspace]:
    """The open workspace — unless other settings are given — else one opened for this call only."""
    ws = _OPEN.get()
    if ws is not None and (settings is None or settings == ws.settings) \
            and (catalog is None or catalog is ws._catalog or ws._catalog is None):
        if catalog is not None and ws._catalog is None:
            ws._catalog = catalog
        yield ws
        return
    with Workspace(settings, catalog) as own:  # open: what this call calls reuses it
        yield own


@contextlib.contextmanager
def warehouse(settings: Settings | None = None, *, schemas: Iterable[EntitySchema] = (),
              metadata: Iterable[MetaData] = ()) -> Iterator[Engine]:
    """The warehouse engine of the open workspace (or of one opened for this call), migrated for
    ``schemas`` and ``metadata``."""
    with workspace(settings) as ws:
        yield ws.migrated(schemas, metadata)
