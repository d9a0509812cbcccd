"""Airflow plugin: registers the exchange's timetable, :class:`exchange_airflow.timetables.WrittenCron`
(a feed's schedule shown as its spec writes it, ``@daily`` rather than ``0 0 * * *``). Airflow
serializes a custom timetable only when a plugin registers it. Set ``[core] plugins_folder`` (or
``AIRFLOW__CORE__PLUGINS_FOLDER``) to this folder, as for the feed health page."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin

_dags = conf.get("core", "dags_folder")
if _dags not in sys.path:  # the scheduler and api-server, unlike the DAG processor, do not add it
    sys.path.append(_dags)

from exchange_airflow.timetables import WrittenCron  # noqa: E402 - needs the DAG folder on the path


class ExchangeTimetablesPlugin(AirflowPlugin):
    name = "exchange_timetables"
    timetables: ClassVar[list[Any]] = [WrittenCron]
