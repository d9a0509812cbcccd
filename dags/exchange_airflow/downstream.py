"""The downstream DAGs: scheduled on the core tables' assets, not on clocks.

- ``exchange.link_persons`` runs when any person-bearing core table (a schema with a resident
  ID field: person, household, case_party, dispute, ...) has an asset event, and links the
  records into the master person index; it emits ``mdm.person``.
- ``exchange.index_elements`` runs when a core table with searchable fields has an asset event, and
  brings the element index (``mdm.search_element``) up to every batch in core it lacks — off the
  feeds' own path, as linking is.
- ``exchange.publish_shares`` runs when any core table has an asset event, and refreshes what
  consumers and auditors read: the validation reports index and the catalog snapshot (rows and
  last published batch per table), later the grants' ``share_<agency>`` views.

Several events arriving while a run is queued are consumed by one run (Airflow's asset queue),
and ``max_active_runs=1`` keeps runs from overlapping.

- ``exchange.ops_check`` runs on a clock (``EXCHANGE_OPS_CHECK_SCHEDULE``, default every 15 minutes):
  the health of every feed and the audit ledger's verification; it raises and resolves alerts
  (``exchange ops check``), so a feed whose agency stopped sending is told even though its own
  runs "succeed".
"""

from __future__ import annotations

import os

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, AssetAny

from exchange.spec.catalog import Catalog, load_catalog
from exchange_airflow import tasks
from exchange_airflow.assets import core_asset, mdm_person_asset
from exchange_airflow.factory import RETRIES, RETRY_DELAY, START_DATE, heavy_pool, task_timeout, timetable
from exchange_airflow.notify import ExchangeAlertNotifier
from exchange_airflow.specs import person_bearing, searchable

LINK_DAG_ID = "exchange.link_persons"
INDEX_DAG_ID = "exchange.index_elements"
PUBLISH_DAG_ID = "exchange.publish_shares"
OWNER = "exchange-platform"


def _default_args() -> dict:
    return {"owner": OWNER, "retries": RETRIES, "retry_delay": RETRY_DELAY, "execution_timeout": task_timeout(),
            "on_failure_callback": [ExchangeAlertNotifier()]}


def _on_core_assets(dag_id: str, entities: list[str], *, description: str, tags: list[str], title: str,
                    scheduled_on: str, runs: str) -> DAG:
    """A downstream DAG scheduled on the assets of ``entities``' core tables (its task added by the caller
    inside ``with``): one run at a time, several events consumed by one run."""
    return DAG(
        dag_id=dag_id,
        description=description,
        schedule=AssetAny(*[core_asset(e) for e in entities]),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["exchange-downstream", *tags],
        default_args=_default_args(),
        doc_md="\n".join([f"# {title}", "", scheduled_on + ", ".join(f"`core.{e}`" for e in entities) + ".", runs]),
    )


def link_dag(entities: list[str]) -> DAG:
    with _on_core_assets(
        LINK_DAG_ID, entities, tags=["linking", "person"], title="Person linking",
        description="Link person records across agencies into mdm.person when a person-bearing core table changes.",
        scheduled_on="Scheduled on the assets of the person-bearing core tables: ",
        runs="Runs `exchange.workspace.persons.link_persons` (deterministic rules on validated ID numbers, then the "
             "Splink model) and emits `mdm.person`.",
    ) as dag:
        PythonOperator(task_id="link_persons", python_callable=tasks.link_persons, outlets=[mdm_person_asset()],
                       pool=heavy_pool(), doc_md="Link every person-bearing record into the master person index.")
    return dag


def index_dag(entities: list[str]) -> DAG:
    with _on_core_assets(
        INDEX_DAG_ID, entities, tags=["search"], title="Element index",
        description="Bring the element search index up to the new batches when a searchable core table changes.",
        scheduled_on="Scheduled on the assets of the core tables with searchable fields: ",
        runs="Runs `exchange.workspace.investigate.reindex` (`exchange search-index`): every batch in core that "
             "`mdm.search_indexed` lacks is indexed, several batches of a table at once. The feeds' own runs do "
             "not wait for it; a search tells how many batches it has yet to take.",
    ) as dag:
        PythonOperator(task_id="index_elements", python_callable=tasks.index_elements, pool=heavy_pool(),
                       doc_md="Index the searchable values of the batches the element index lacks.")
    return dag


def publish_dag(entities: list[str]) -> DAG:
    with _on_core_assets(
        PUBLISH_DAG_ID, entities, tags=["publishing"], title="Publish shares",
        description="Refresh what consumers and auditors read when any core table changes.",
        scheduled_on="Scheduled on every core table's asset: ",
        runs="Runs `exchange.workspace.batches.publish_catalog`: rewrites the validation reports index and "
             "`<reports>/catalog.json` (per table: schema version, rows, last published batch).",
    ) as dag:
        PythonOperator(task_id="publish_catalog", python_callable=tasks.publish_catalog,
                       doc_md="Reports index and catalog snapshot (ids and counts only).")
    return dag


OPS_DAG_ID = "exchange.ops_check"
OPS_SCHEDULE_ENV = "EXCHANGE_OPS_CHECK_SCHEDULE"


def ops_dag() -> DAG:
    schedule = os.environ.get(OPS_SCHEDULE_ENV) or "*/15 * * * *"
    with DAG(
        dag_id=OPS_DAG_ID,
        description="Feed health and the audit ledger, every few minutes: raise and resolve alerts.",
        schedule=timetable(schedule),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["exchange-ops"],
        default_args={**_default_args(), "retries": 0, "on_failure_callback": [ExchangeAlertNotifier()]},
        doc_md="\n".join([
            "# Operations check",
            "",
            f"Schedule `{schedule}` (`{OPS_SCHEDULE_ENV}`). Runs `exchange.workspace.ops.check`: every feed's health "
            "(late = no new data within the feed's `freshness`, failing = its last attempt failed, degraded = its "
            "last batch far from usual) and the audit ledger's verification. A new condition is told once to the "
            "feed's `alerts:` routes (else `EXCHANGE_ALERT_ROUTES`), a cleared one once more; every message is "
            "in `audit.alert_delivery`. The health page: `/exchange/health` (this Airflow's plugin) or "
            "`exchange feeds status`.",
        ]),
    ) as dag:
        PythonOperator(task_id="check", python_callable=tasks.ops_check,
                       doc_md="Feed health and ledger verification; alerts raised and resolved.")
    return dag


def build_downstream_dags(catalog: Catalog | None = None) -> dict:
    """The downstream DAGs by id; they depend on the shared schemas only (not on the feed specs)."""
    schemas = (catalog or load_catalog(feeds=False)).schemas
    entities = sorted(schemas)
    people = [e for e in entities if person_bearing(schemas[e])]
    found = [e for e in entities if searchable(schemas[e])]
    dags = [link_dag(people), index_dag(found), publish_dag(entities), ops_dag()]
    return {d.dag_id: d for d in dags}
