"""Settings of the master person index: thresholds, model training sizes and survivorship.

Defaults live here; a project overrides them in ``schemas/reference/person_linking.yaml``
(checked at load: unknown keys are rejected and every problem is reported with its path).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from exchange.errors import ConfigError
from exchange.spec.loading import display_path, parse_model, read_yaml

CONFIG_FILE = Path("schemas") / "reference" / "person_linking.yaml"

GOLDEN_FIELDS = ("id_number", "name", "gender", "birth_date", "ethnicity", "phone", "address",
                 "division_code", "household_number")
"""Attributes of the golden record, each chosen by survivorship from the linked records."""

DEFAULT_RANKING = ("police", "civil_affairs", "justice", "health", "market_regulation")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Survivorship(_Strict):
    """Trust ranking of sources per golden field; ties (and unranked sources) go to the most
    recently loaded record. A source is an agency (``police``) or an agency and entity
    (``police.case_party``); the more specific name wins."""

    default: list[str] = Field(default_factory=lambda: list(DEFAULT_RANKING))
    fields: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_fields(self) -> Survivorship:
        unknown = sorted(set(self.fields) - set(GOLDEN_FIELDS))
        if unknown:
            raise ValueError(f"unknown golden field(s) {unknown}; known: {', '.join(GOLDEN_FIELDS)}")
        return self

    def ranking(self, field: str) -> list[str]:
        return self.fields.get(field, self.default)

    def rank(self, field: str, agency: str, entity: str) -> int:
        """0 = most trusted; unranked sources come after every ranked one."""
        order = self.ranking(field)
        for name in (f"{agency}.{entity}", agency):
            if name in order:
                return order.index(name)
        return len(order)


class LinkConfig(_Strict):
    match_threshold: float = Field(default=0.9, gt=0, lt=1,
                                   description="match probability at or above which a pair is linked")
    keep_threshold: float = Field(default=0.3, gt=0, lt=1,
                                  description="pairs below this probability are dropped before clustering")
    name_frequency_cap: int = Field(default=30, ge=1,
                                    description="block on the name alone only for names this rare")
    training_max_records: int = Field(default=400_000, ge=1000,
                                      description="records sampled to train the model")
    u_max_pairs: float = Field(default=4e6, ge=1e4, description="random pairs sampled to estimate u")
    review_margin_bits: float = Field(default=2.0, ge=0, description=(
        "a record whose two best candidates (different ID numbers) are within this many bits of match weight "
        "is not linked but sent to clerical review (0: never)"))
    min_label_records: int = Field(default=200, ge=1, description=(
        "records sharing a validated ID number needed to train m on them; with fewer, m is estimated by "
        "expectation maximisation without labels"))
    registers: list[str] = Field(default_factory=list, description=(
        "sources (agency.entity) that list each person at most once, such as a household register: two of "
        "their records are never linked as one person unless they share a validated ID number"))
    seed: int = 20261128
    duckdb_memory_limit: str = Field(default="3GB", description="DuckDB's memory limit while linking")
    duckdb_threads: int | None = Field(default=None, ge=1)
    survivorship: Survivorship = Field(default_factory=Survivorship)

    @model_validator(mode="after")
    def _thresholds(self) -> LinkConfig:
        if self.keep_threshold > self.match_threshold:
            raise ValueError("keep_threshold must not exceed match_threshold")
        return self


def load_link_config(root: Path | None) -> LinkConfig:
    """``<root>/schemas/reference/person_linking.yaml`` if it exists, else the defaults."""
    if root is None:
        return LinkConfig()
    path = root / CONFIG_FILE
    if not path.exists():
        return LinkConfig()
    shown = display_path(path, root)
    raw = read_yaml(path, shown)
    if raw is None:
        return LinkConfig()
    if not isinstance(raw, dict):
        raise ConfigError(f"{shown}: expected a mapping of settings, got {type(raw).__name__}")
    return parse_model(LinkConfig, raw, shown)
