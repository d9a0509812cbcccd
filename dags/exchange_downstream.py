"""Airflow DAGs past the feeds: person linking and publishing shares (on the core tables' assets), and
the operations check (on a clock).

See ``exchange_airflow/downstream.py``.
"""

from exchange_airflow.downstream import build_downstream_dags

globals().update(build_downstream_dags())
