"""Read YAML specs at the boundary and report every problem at once, with its path.

Messages look like ``feeds/police/residents.yaml: mapping.性别: unknown field 'sex'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from exchange.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

# Discriminator tags pydantic inserts into locations of tagged unions, by the key they follow.
_UNION_TAGS = {"source": {"file", "sql", "http"},
               "pagination": {"page", "offset", "cursor", "next_link"}}


def display_path(path: Path, root: Path | None = None) -> str:
    """The path as the user should read it: relative to the project root when possible."""
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


def read_yaml(path: Path, shown: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{shown}: not UTF-8 text (byte {exc.start}); save the spec as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{shown}: {where}invalid YAML: {problem}") from None


def format_loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for i, p in enumerate(loc)
             if not (i > 0 and isinstance(p, str) and p in _UNION_TAGS.get(str(loc[i - 1]), ()))]
    return ".".join(parts) if parts else "(top level)"


def validation_problems(exc: ValidationError, shown: str) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            where = format_loc(loc[:-1])
            problems.append(f"{shown}: {where}: unknown key {loc[-1]!r}")
            continue
        msg = err["msg"]
        if kind == "missing":
            msg = "required key is missing"
        elif kind == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif kind == "literal_error":
            msg = f"{msg} (got {err.get('input')!r})"
        problems.append(f"{shown}: {format_loc(loc)}: {msg}")
    return problems


def parse_model(model: type[M], data: Any, shown: str) -> M:
    """Validate ``data`` as ``model``; on failure raise ConfigError listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError(f"{shown}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, shown)
        raise ConfigError(f"{shown}: {len(problems)} problem(s)", problems) from None
