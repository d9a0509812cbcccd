"""Every core table of the warehouse is an Airflow Asset.

``core.<entity>`` is ``Asset(name="core.<entity>", uri="exchange://warehouse/core/<entity>")``.
A feed DAG's ``load`` task declares its target table as outlet and emits an asset event when
its batch changed rows there; the downstream DAGs (person linking, publishing) are scheduled
on those assets, not on clocks. ``exchange`` is our own URI scheme: Airflow keeps URIs of
schemes it has no normaliser for as they are.
"""

from __future__ import annotations

from airflow.sdk import Asset

SCHEME = "exchange"
GROUP = "exchange-warehouse"


def table_asset(namespace: str, table: str) -> Asset:
    return Asset(name=f"{namespace}.{table}", uri=f"{SCHEME}://warehouse/{namespace}/{table}", group=GROUP)


def core_asset(entity: str) -> Asset:
    """The asset of ``core.<entity>``."""
    return table_asset("core", entity)


def mdm_person_asset() -> Asset:
    """``mdm.person``: the master person index, updated by the linking DAG."""
    return table_asset("mdm", "person")
