"""Where the project's declarative files live.

The exchange is run from a project folder holding ``schemas/``, ``feeds/`` and
``grants/`` (the layout of DESIGN.md). ``EXCHANGE_HOME`` names it explicitly;
otherwise the folder above this package is used when it holds ``schemas/``
(the repository itself, installed editable), else the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    env = os.environ.get("EXCHANGE_HOME")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[2]
    if (here / "schemas").is_dir():
        return here
    return Path.cwd().resolve()


def schemas_dir() -> Path:
    return project_root() / "schemas"


def reference_dir() -> Path:
    return schemas_dir() / "reference"
