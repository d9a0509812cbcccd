"""Source connectors: each turns a declared source into a stream of pyarrow RecordBatches.

Source kinds are a closed set looked up in ``Connector.registry``; a feed's YAML names a kind
(``file``), never a Python import path.
"""

from __future__ import annotations

from connectors.base import META_COLUMNS, Connector, connector_for

__all__ = ["META_COLUMNS", "Connector", "connector_for"]
