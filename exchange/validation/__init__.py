"""Validation with Great Expectations: suites compiled from the shared schemas, custom
expectations for the format rules, per-row reasons and Data Docs for auditors.

This is the only package that imports great_expectations.
"""

import importlib
import importlib.machinery
import os
import sys
import types

# No usage analytics from a government data platform (and no network to send them to).
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def quiet_gx() -> None:
    """GX logs at INFO (temporary directories, Data Docs sites: most lines of a validate task's log);
    keep its loggers at WARNING — also in Airflow task logs, whose root logger is at INFO — unless
    ``EXCHANGE_GX_LOG_LEVEL`` says otherwise or the root logger is at DEBUG (``exchange -v``)."""
    import logging

    level = os.environ.get("EXCHANGE_GX_LOG_LEVEL", "").upper()
    if not level and logging.getLogger().level <= logging.DEBUG and logging.getLogger().level != logging.NOTSET:
        return
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(level or logging.WARNING)


DEFERRED = ("scipy.stats", "altair")
"""Modules GX imports at its own import only for expectations the exchange never compiles (KL divergence
and KS tests, their charts): about a third of GX's import time, spent at the start of every validate stage
and task. Each is imported when first used instead (:class:`_Deferred`)."""


class _Deferred(types.ModuleType):
    """Stands in ``sys.modules`` for a module not imported yet: ``import`` binds it at once; the first
    attribute looked up imports the module itself (which then takes its place) and answers from it.
    (``importlib.util.LazyLoader`` does not serve: the import system reads ``__spec__`` of a module it
    finds in ``sys.modules``, which loads a lazy module at once.)"""

    def __getattr__(self, attr: str) -> object:
        real = self.__dict__.get("_module")
        if real is None:
            name = self.__name__
            if sys.modules.get(name) is self:
                del sys.modules[name]
            try:
                real = importlib.import_module(name)
            except BaseException:
                sys.modules.setdefault(name, self)
                raise
            self.__dict__["_module"] = real
        return getattr(real, attr)


def defer_unused_imports() -> None:
    """Put a stand-in for each of :data:`DEFERRED` in ``sys.modules`` unless it is imported already."""
    for name in DEFERRED:
        if name not in sys.modules:
            stand_in = _Deferred(name)
            stand_in.__spec__ = importlib.machinery.ModuleSpec(name, None)
            sys.modules[name] = stand_in


defer_unused_imports()
