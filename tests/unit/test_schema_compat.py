"""The schema compatibility check: breaking changes need a major version."""

from __future__ import annotations

import pytest

from exchange.spec.compat import check, compare, needed
from exchange.spec.schema import EntitySchema

BASE = {
    "name": "thing", "version": "1.2.0", "description": "a thing", "natural_key": ["source_record_id"],
    "fields": {
        "source_record_id": {"type": "string", "required": True, "pii": "none", "description": "id"},
        "colour": {"type": "string", "values": ["red", "blue"], "pii": "none", "description": "c"},
        "size": {"type": "integer", "pii": "none", "description": "s"},
        "label": {"type": "string", "max_length": 10, "pii": "none", "description": "l"},
    },
}


def schema(version: str, **edits: object) -> EntitySchema:
    import copy

    data = copy.deepcopy(BASE)
    data["version"] = version
    for path, value in edits.items():
        *parents, last = path.split("__")
        target = data
        for p in parents:
            target = target[p]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return EntitySchema.model_validate(data)


CASES = [
    ("field removed", {"fields__size": None}, "major"),
    ("type changed", {"fields__size__type": "string"}, "major"),
    ("made required", {"fields__size__required": True}, "major"),
    ("value removed", {"fields__colour__values": ["red"]}, "major"),
    ("limit lowered", {"fields__label__max_length": 5}, "major"),
    ("optional field added", {"fields__extra": {"type": "string", "pii": "none", "description": "x"}}, "minor"),
    ("value added", {"fields__colour__values": ["red", "blue", "green"]}, "minor"),
    ("limit raised", {"fields__label__max_length": 50}, "minor"),
    ("description", {"fields__size__description": "size in cm"}, "patch"),
]


@pytest.mark.parametrize(("title", "edits", "level"), CASES, ids=[c[0] for c in CASES])
def test_change_levels(title: str, edits: dict[str, object], level: str) -> None:
    old = schema("1.2.0")
    assert needed(compare(old, schema("1.2.0", **edits))) == level


def test_breaking_change_under_a_minor_bump_is_caught() -> None:
    problems = check(schema("1.2.0"), schema("1.3.0", fields__size=None))
    assert problems and "needs a major version (field 'size' removed)" in problems[0]
    assert check(schema("1.2.0"), schema("2.0.0", fields__size=None)) == []


def test_unchanged_version_with_changes_is_caught() -> None:
    problems = check(schema("1.2.0"), schema("1.2.0", fields__colour__values=["red", "blue", "green"]))
    assert problems and "was not raised" in problems[0]


def test_no_change_no_problem() -> None:
    assert check(schema("1.2.0"), schema("1.2.0")) == []
