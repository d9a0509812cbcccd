"""Airflow DAGs of the agency feeds: one DAG per ``feeds/<agency>/<feed>.yaml``.

extract → validate → stage → load → publish, each task a thin call into the exchange's runner
(see ``exchange_airflow/factory.py``). Adding a feed is writing its YAML: no Python.
"""

from exchange_airflow.factory import build_feed_dags

globals().update(build_feed_dags())
