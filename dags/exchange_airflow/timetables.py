"""A feed's schedule shown in Airflow as its spec writes it.

Airflow resolves a cron preset (``@daily``) to its expression (``0 0 * * *``) before anything shows
it, so the UI's schedule column and a DAG's details lose what the data engineer wrote.
:class:`WrittenCron` is Airflow's own cron data-interval timetable — the same runs, the same data
intervals — that keeps the text as written for its ``summary`` (the cron description, "At 00:00",
stays its tooltip). Airflow serializes a custom timetable only when a plugin registers it:
``dags/plugins/exchange_timetables.py`` does. Where that plugin is not loaded (``[core]
plugins_folder`` not set to ``dags/plugins``), :func:`exchange_airflow.factory.timetable` falls back
to the plain timetable rather than break the DAG.
"""

from __future__ import annotations

from typing import Any

from airflow.timetables.interval import CronDataIntervalTimetable


class WrittenCron(CronDataIntervalTimetable):
    """A cron schedule (a preset or an expression) whose summary is the schedule as written."""

    def __init__(self, cron: str, timezone: Any) -> None:
        super().__init__(cron, timezone)
        self.written = cron

    @property
    def summary(self) -> str:
        return self.written

    def serialize(self) -> dict[str, Any]:
        return {**super().serialize(), "written": self.written}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> WrittenCron:
        plain = CronDataIntervalTimetable.deserialize(data)
        return cls(data.get("written") or data["expression"], plain._timezone)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WrittenCron) and self.written == other.written and super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # like Airflow's own timetables: compared, never hashed


def registered() -> bool:
    """Whether a loaded Airflow plugin registers :class:`WrittenCron` (so Airflow can serialize it)."""
    try:
        from airflow import plugins_manager

        return f"{WrittenCron.__module__}.{WrittenCron.__qualname__}" in plugins_manager.get_timetables_plugins()
    except Exception:  # noqa: BLE001 - a broken plugin elsewhere must not break every feed's DAG
        return False
