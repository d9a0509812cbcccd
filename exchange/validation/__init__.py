"""Validation with Great Expectations: suites compiled from the shared schemas, custom
expectations for the format rules, per-row reasons and Data Docs for auditors.

This is the only package that imports great_expectations.
"""

import os

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
