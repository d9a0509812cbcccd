"""``exchange``: the command line of the Agency Data Exchange (Typer + Rich), one module per command
group (``schemas``, ``feeds``, ``ops``, ``audit``, ``persons``, ``sharing``, ``investigate``, ``collide``,
``series``, ``watch``, ``mediation``, ``area_map``, ``console``), one rendering module and one error handler
(``errors``). Every command calls the same core functions the Airflow tasks call.
"""

from __future__ import annotations

from exchange.cli import (  # noqa: F401 - register the commands
    area_map,
    audit,
    collide,
    console,
    feeds,
    investigate,
    mediation,
    ops,
    persons,
    schemas,
    series,
    sharing,
    watch,
)
from exchange.cli.app import app
from exchange.cli.errors import run_cli

__all__ = ["app", "run_cli"]
