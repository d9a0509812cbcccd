"""Validation with Great Expectations: suites compiled from the shared schemas, custom
expectations for the format rules, per-row reasons and Data Docs for auditors.

This is the only package that imports great_expectations.
"""

import os

# No usage analytics from a government data platform (and no network to send them to).
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def quiet_gx() -> None:
    """GX sets its loggers to INFO on import; keep them at WARNING unless asked otherwise."""
    import logging

    if logging.getLogger().level > logging.INFO:
        for name in ("great_expectations", "great_expectations.data_context.types.base"):
            logging.getLogger(name).setLevel(logging.WARNING)
