"""Airflow side of the exchange: the DAG factory, the core-table assets and the task callables.

The DAG files beside this package (``exchange_feeds.py``, ``exchange_feed_errors.py``,
``exchange_downstream.py``) call it; ``.airflowignore`` keeps the DAG processor from parsing
the package itself. Nothing here touches a database, the network or a secret at import time,
nor imports pandas, pyarrow, Great Expectations or Splink: the task callables import the
runner when they run (DESIGN.md, style rule 8).
"""
