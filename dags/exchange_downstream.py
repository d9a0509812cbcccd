"""Airflow DAGs scheduled on the core tables' assets: person linking and publishing shares.

See ``exchange_airflow/downstream.py``.
"""

from exchange_airflow.downstream import build_downstream_dags

globals().update(build_downstream_dags())
