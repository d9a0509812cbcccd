"""The downstream DAGs: scheduled on the core tables' assets, not on clocks.

- ``exchange.link_persons`` runs when any person-bearing core table (a schema with a resident
  ID field: person, household, case_party, dispute, ...) has an asset event, and links the
  records into the master person index; it emits ``mdm.person``.
- ``exchange.publish_shares`` runs when any core table has an asset event, and refreshes what
  consumers and auditors read: the validation reports index and the catalog snapshot (rows and
  last published batch per table), later the grants' ``share_<agency>`` views.

Several events arriving while a run is queued are consumed by one run (Airflow's asset queue),
and ``max_active_runs=1`` keeps runs from overlapping.
"""

from __future__ import annotations

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, AssetAny

from exchange.spec.catalog import Catalog, load_catalog
from exchange_airflow import tasks
from exchange_airflow.assets import core_asset, mdm_person_asset
from exchange_airflow.factory import RETRIES, RETRY_DELAY, START_DATE
from exchange_airflow.specs import person_bearing

LINK_DAG_ID = "exchange.link_persons"
PUBLISH_DAG_ID = "exchange.publish_shares"
OWNER = "exchange-platform"


def _default_args() -> dict:
    return {"owner": OWNER, "retries": RETRIES, "retry_delay": RETRY_DELAY}


def link_dag(entities: list[str]) -> DAG:
    assets = [core_asset(e) for e in entities]
    with DAG(
        dag_id=LINK_DAG_ID,
        description="Link person records across agencies into mdm.person when a person-bearing core table changes.",
        schedule=AssetAny(*assets),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["exchange-downstream", "linking", "person"],
        default_args=_default_args(),
        doc_md="\n".join([
            "# Person linking",
            "",
            "Scheduled on the assets of the person-bearing core tables: "
            + ", ".join(f"`core.{e}`" for e in entities) + ".",
            "Runs `exchange.workspace.persons.link_persons` (deterministic rules on validated ID numbers, then the "
            "Splink model) and emits `mdm.person`.",
        ]),
    ) as dag:
        PythonOperator(task_id="link_persons", python_callable=tasks.link_persons, outlets=[mdm_person_asset()],
                       doc_md="Link every person-bearing record into the master person index.")
    return dag


def publish_dag(entities: list[str]) -> DAG:
    assets = [core_asset(e) for e in entities]
    with DAG(
        dag_id=PUBLISH_DAG_ID,
        description="Refresh what consumers and auditors read when any core table changes.",
        schedule=AssetAny(*assets),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["exchange-downstream", "publishing"],
        default_args=_default_args(),
        doc_md="\n".join([
            "# Publish shares",
            "",
            "Scheduled on every core table's asset: " + ", ".join(f"`core.{e}`" for e in entities) + ".",
            "Runs `exchange.workspace.batches.publish_catalog`: rewrites the validation reports index and "
            "`<reports>/catalog.json` (per table: schema version, rows, last published batch).",
        ]),
    ) as dag:
        PythonOperator(task_id="publish_catalog", python_callable=tasks.publish_catalog,
                       doc_md="Reports index and catalog snapshot (ids and counts only).")
    return dag


def build_downstream_dags(catalog: Catalog | None = None) -> dict:
    """The downstream DAGs by id; they depend on the shared schemas only (not on the feed specs)."""
    schemas = (catalog or load_catalog(feeds=False)).schemas
    entities = sorted(schemas)
    people = [e for e in entities if person_bearing(schemas[e])]
    dags = [link_dag(people), publish_dag(entities)]
    return {d.dag_id: d for d in dags}
