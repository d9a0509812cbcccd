"""What stamps a batch: its deterministic id, the code version that ran it, and the ledger's clock."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import exchange
from exchange.spec.clock import now
from exchange.spec.feed import FeedSpec
from exchange.spec.schema import EntitySchema

__all__ = ["batch_id_for", "code_version", "now"]


def code_version(root: Path) -> str:
    """The package version, plus the git commit when run from a checkout."""
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{exchange.__version__}+{sha}" if sha else exchange.__version__


def batch_id_for(feed: FeedSpec, schema: EntitySchema, fingerprint: str) -> str:
    """Deterministic: the same feed spec, schema version and source bytes give the same id."""
    spec = json.dumps(feed.data_spec(), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(f"{spec}\n{schema.version}\n{fingerprint}".encode()).hexdigest()
    return f"{feed.agency}-{feed.feed}-{digest[:16]}"
