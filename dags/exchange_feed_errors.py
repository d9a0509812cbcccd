"""Airflow import errors of the feed specs.

When a ``feeds/**/*.yaml`` is invalid, its DAG is left out of ``exchange_feeds.py`` (every other
feed still loads) and this file fails to import with every problem, each prefixed with its spec
file — so the Airflow UI lists it under "DAG Import Errors". It defines no DAG.
"""

from exchange_airflow.specs import report_spec_problems

report_spec_problems()
