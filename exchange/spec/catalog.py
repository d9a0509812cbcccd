"""The catalog: every schema, code list and feed of a project folder, cross-checked.

Loading reports every problem at once (not the first one), each with its file and path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from exchange.errors import ConfigError
from exchange.spec import paths
from exchange.spec.connections import secret_locations, secret_problems
from exchange.spec.feed import FeedSpec
from exchange.spec.loading import display_path, format_loc, parse_model, read_yaml
from exchange.spec.schema import CodeList, EntitySchema

CODES_FILE = "codes.yaml"


@dataclass
class Catalog:
    root: Path
    schemas: dict[str, EntitySchema] = field(default_factory=dict)
    codes: dict[str, CodeList] = field(default_factory=dict)
    feeds: dict[str, FeedSpec] = field(default_factory=dict)
    feed_files: dict[str, str] = field(default_factory=dict)

    def schema(self, name: str) -> EntitySchema:
        try:
            return self.schemas[name]
        except KeyError:
            known = ", ".join(sorted(self.schemas))
            raise ConfigError(f"unknown schema {name!r}; known schemas: {known}") from None

    def feed(self, feed_id: str) -> FeedSpec:
        try:
            return self.feeds[feed_id]
        except KeyError:
            known = ", ".join(sorted(self.feeds)) or "(none)"
            raise ConfigError(f"unknown feed {feed_id!r}; known feeds: {known} "
                              f"(a feed id is <agency>.<feed>, from feeds/<agency>/<feed>.yaml)") from None

    def schema_for(self, feed: FeedSpec) -> EntitySchema:
        return self.schema(feed.target_schema)

    @cached_property
    def allowed(self) -> dict[tuple[str, str], list[str]]:
        """(schema, field) → allowed values, for every enumerated field."""
        out = {}
        for s in self.schemas.values():
            for name in s.fields:
                values = s.allowed_values(name, self.codes)
                if values is not None:
                    out[(s.name, name)] = values
        return out


def load_catalog(root: Path | None = None, *, feeds: bool = True) -> Catalog:
    """Load and cross-check everything under ``root`` (default: the project root)."""
    root = (root or paths.project_root()).resolve()
    cat = Catalog(root=root)
    problems: list[str] = []

    def attempt(fn, *args):
        try:
            return fn(*args)
        except ConfigError as exc:
            problems.extend(exc.problems or [str(exc)])
            return None

    schema_dir = root / "schemas"
    codes_path = schema_dir / "reference" / CODES_FILE
    if codes_path.exists():
        raw = attempt(read_yaml, codes_path, display_path(codes_path, root))
        if isinstance(raw, dict):
            for name, body in raw.items():
                cl = attempt(parse_model, CodeList, body, f"{display_path(codes_path, root)}: {name}")
                if cl is not None:
                    cat.codes[str(name)] = cl
    for path in sorted(schema_dir.glob("*.yaml")):
        shown = display_path(path, root)
        s = attempt(lambda p, sh: parse_model(EntitySchema, read_yaml(p, sh), sh), path, shown)
        if s is None:
            continue
        if s.name != path.stem:
            problems.append(f"{shown}: name: {s.name!r} does not match the file name {path.stem!r}")
        for fname, f in s.fields.items():
            if f.code_list and f.code_list not in cat.codes:
                problems.append(f"{shown}: fields.{fname}.code_list: unknown code list {f.code_list!r} "
                                f"(known: {', '.join(sorted(cat.codes))})")
        cat.schemas[s.name] = s

    if feeds:
        for path in sorted((root / "feeds").glob("**/*.yaml")):
            shown = display_path(path, root)
            spec = attempt(parse_feed, path, shown)
            if spec is None:
                continue
            found = check_feed(spec, cat, shown, path)
            problems.extend(found)
            if spec.feed_id in cat.feeds:
                problems.append(f"{shown}: feed id {spec.feed_id!r} is already declared in "
                                f"{cat.feed_files[spec.feed_id]}")
            elif not found:
                cat.feeds[spec.feed_id] = spec
                cat.feed_files[spec.feed_id] = shown

    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in the specs under {root}", problems)
    return cat


def parse_feed(path: Path, shown: str) -> FeedSpec:
    """Read and validate one feed spec; a secret in it is a problem reported with the others."""
    data = read_yaml(path, shown)
    secrets = secret_problems(data, shown)
    try:
        spec = parse_model(FeedSpec, data, shown)
    except ConfigError as exc:
        # a secret key is also an unknown key: say it once, the way that tells what to do
        noise = {f"{shown}: {format_loc(loc[:-1])}: unknown key {loc[-1]!r}" for loc in secret_locations(data)}
        problems = secrets + [p for p in (exc.problems or [str(exc)]) if p not in noise]
        raise ConfigError(f"{shown}: {len(problems)} problem(s)", problems) from None
    if secrets:
        raise ConfigError(f"{shown}: {len(secrets)} problem(s)", secrets)
    return spec


def check_feed(spec: FeedSpec, cat: Catalog, shown: str, path: Path | None = None) -> list[str]:
    """Cross-check one feed against the schemas; return every problem found."""
    problems: list[str] = []
    if path is not None:
        if path.parent.name != spec.agency:
            problems.append(f"{shown}: agency: {spec.agency!r} does not match the folder "
                            f"{path.parent.name!r} (feeds/<agency>/<feed>.yaml)")
        if path.stem != spec.feed:
            problems.append(f"{shown}: feed: {spec.feed!r} does not match the file name {path.stem!r}")
    schema = cat.schemas.get(spec.target_schema)
    if schema is None:
        problems.append(f"{shown}: target: unknown schema {spec.target_schema!r} "
                        f"(known: {', '.join(sorted(cat.schemas))})")
        return problems
    if schema.major != spec.target_major:
        problems.append(f"{shown}: target: schema {schema.name} is at version {schema.version}; "
                        f"the feed targets major {spec.target_major} — update the feed to "
                        f"{schema.name}@{schema.major} after checking the changes")
    mapped: set[str] = set()
    for column, m in spec.field_for_column().items():
        if m.field not in schema.fields:
            problems.append(f"{shown}: mapping.{column}: unknown field {m.field!r} of {schema.name} "
                            f"(fields: {', '.join(schema.fields)})")
            continue
        mapped.add(m.field)
        allowed = cat.allowed.get((schema.name, m.field))
        if m.values and allowed is not None:
            for src, dst in m.values.items():
                if dst not in allowed:
                    problems.append(f"{shown}: mapping.{column}.values.{src}: {dst!r} is not an allowed "
                                    f"value of {schema.name}.{m.field} ({', '.join(allowed)})")
    for name, value in spec.constants.items():
        if name not in schema.fields:
            problems.append(f"{shown}: constants.{name}: unknown field {name!r} of {schema.name}")
            continue
        mapped.add(name)
        allowed = cat.allowed.get((schema.name, name))
        if allowed is not None and value not in allowed:
            problems.append(f"{shown}: constants.{name}: {value!r} is not an allowed value "
                            f"({', '.join(allowed)})")
    for key in spec.key:
        if key not in schema.fields:
            problems.append(f"{shown}: key: unknown field {key!r} of {schema.name}")
        elif key not in mapped:
            problems.append(f"{shown}: key: field {key!r} is not mapped from any column")
    for name, f in schema.fields.items():
        derived_id = name == "source_record_id" and spec.key != ["source_record_id"]
        if f.required and name not in mapped and not derived_id:
            problems.append(f"{shown}: mapping: required field {name!r} of {schema.name} is not mapped "
                            f"from any column or constant")
    return problems
