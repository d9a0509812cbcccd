"""Schema compatibility: a change that breaks consumers needs a new major version.

``compare(old, new)`` lists every change between two versions of a schema with the bump it
needs; ``check(old, new)`` returns the problems when the new version number does not carry
that bump (e.g. a removed field under 1.3.0 → 1.4.0).

Breaking (major): a field removed or renamed, its type or format changed, a field made
required, an allowed value removed, a natural key changed, a length limit lowered.
Additive (minor): a new optional field, a new allowed value, a field made optional, a
limit raised. Anything else (descriptions, PII class) is a patch.
"""

from __future__ import annotations

from dataclasses import dataclass

from exchange.spec.catalog import Catalog
from exchange.spec.schema import EntitySchema

LEVELS = ("patch", "minor", "major")


@dataclass(frozen=True)
class Change:
    level: str
    what: str


def _version(v: str) -> tuple[int, int, int]:
    major, minor, patch = (int(x) for x in v.split("."))
    return major, minor, patch


def compare(old: EntitySchema, new: EntitySchema, old_codes: Catalog | None = None,
            new_codes: Catalog | None = None) -> list[Change]:
    changes: list[Change] = []
    if old.natural_key != new.natural_key:
        changes.append(Change("major", f"natural key {old.natural_key} → {new.natural_key}"))
    for name, f in old.fields.items():
        g = new.fields.get(name)
        if g is None:
            changes.append(Change("major", f"field {name!r} removed"))
            continue
        if f.type != g.type:
            changes.append(Change("major", f"{name}: type {f.type} → {g.type}"))
        if f.format != g.format:
            changes.append(Change("major", f"{name}: format {f.format} → {g.format}"))
        if not f.required and g.required:
            changes.append(Change("major", f"{name}: now required"))
        elif f.required and not g.required:
            changes.append(Change("minor", f"{name}: now optional"))
        if f.max_length != g.max_length:
            lowered = g.max_length is not None and (f.max_length is None or g.max_length < f.max_length)
            changes.append(Change("major" if lowered else "minor", f"{name}: max_length {f.max_length} → "
                                                                    f"{g.max_length}"))
        old_allowed = set((old.allowed_values(name, old_codes.codes) if old_codes else f.values) or [])
        new_allowed = set((new.allowed_values(name, new_codes.codes) if new_codes else g.values) or [])
        if old_allowed - new_allowed and new_allowed:
            changes.append(Change("major", f"{name}: allowed values removed: {sorted(old_allowed - new_allowed)}"))
        if new_allowed - old_allowed and old_allowed:
            changes.append(Change("minor", f"{name}: allowed values added: {sorted(new_allowed - old_allowed)}"))
        if (f.not_future, f.historical_ok, f.gender_field, f.birth_date_field) != (
                g.not_future, g.historical_ok, g.gender_field, g.birth_date_field):
            # a new cross-check refuses rows that loaded before — unless its failures are only flagged
            stricter = (g.gender_field and not f.gender_field) or (g.birth_date_field and not f.birth_date_field)
            changes.append(Change("major" if (g.not_future and not f.not_future) or (f.historical_ok and not
                                  g.historical_ok) or (stricter and g.on_invalid == "quarantine") else "minor",
                                  f"{name}: validation options changed"))
        if f.on_invalid != g.on_invalid:  # flag → quarantine drops rows that used to load
            changes.append(Change("major" if g.on_invalid == "quarantine" else "minor",
                                  f"{name}: on_invalid {f.on_invalid} → {g.on_invalid}"))
        if (f.pii, f.description) != (g.pii, g.description):
            changes.append(Change("patch", f"{name}: description or PII class changed"))
    for name, g in new.fields.items():
        if name not in old.fields:
            changes.append(Change("major" if g.required else "minor",
                                  f"field {name!r} added" + (" (required)" if g.required else "")))
    return changes


def needed(changes: list[Change]) -> str | None:
    if not changes:
        return None
    return max((c.level for c in changes), key=LEVELS.index)


def check(old: EntitySchema, new: EntitySchema, old_codes: Catalog | None = None,
          new_codes: Catalog | None = None) -> list[str]:
    """Problems with ``new``'s version number given what changed since ``old``."""
    changes = compare(old, new, old_codes, new_codes)
    level = needed(changes)
    if level is None:
        return []
    o, n = _version(old.version), _version(new.version)
    bumped = ("major" if n[0] > o[0] else "minor" if n[:2] > o[:2] else "patch" if n > o else None)
    if bumped is None:
        return [f"schemas/{new.name}.yaml: version {new.version} was not raised although it changed: "
                + "; ".join(c.what for c in changes)]
    if LEVELS.index(bumped) < LEVELS.index(level):
        culprits = "; ".join(c.what for c in changes if c.level == level)
        return [f"schemas/{new.name}.yaml: {old.version} → {new.version} is a {bumped} bump, but the change "
                f"needs a {level} version ({culprits})"]
    return []
