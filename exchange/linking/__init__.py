"""Master person index: each person linked across agencies once, with a stable person_uid.

Deterministic linking on validated ID numbers, a Splink 5 model for records without one,
constrained clustering, stable ids with merge/split events, golden records by survivorship,
and the person profile. Engines and table locations are passed in; nothing here imports the
warehouse, validation or runner modules (the runner composes them).
"""

from exchange.linking.config import GOLDEN_FIELDS, LinkConfig, Survivorship, load_link_config
from exchange.linking.link import LinkResult, latest_model, link_persons
from exchange.linking.profile import PROFILE_INDEXES, ProfileReader, ensure_profile_indexes, person_profile
from exchange.linking.records import PERSON_SOURCES, RecordSource, SourceTables
from exchange.linking.stable import is_uid
from exchange.linking.tables import ensure_mdm_tables, metadata

__all__ = [
    "GOLDEN_FIELDS",
    "PERSON_SOURCES",
    "PROFILE_INDEXES",
    "LinkConfig",
    "LinkResult",
    "ProfileReader",
    "RecordSource",
    "SourceTables",
    "Survivorship",
    "ensure_mdm_tables",
    "ensure_profile_indexes",
    "is_uid",
    "latest_model",
    "link_persons",
    "load_link_config",
    "metadata",
    "person_profile",
]
