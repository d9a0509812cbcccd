"""Agency Data Exchange: the core package.

Every stage of a batch (extract, map, validate, stage, load, audit) is a plain
function here; the CLI and the Airflow DAGs call the same functions.
"""

__version__ = "0.1.0"
