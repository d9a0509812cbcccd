"""Airflow plugin: the exchange's feed health page inside Airflow's UI (Airflow 3 plugins: a FastAPI
app mounted on the API server, and a link in the UI's navigation).

- ``/exchange/health`` — every feed's state (ok, new, degraded, late, failing), last success, next
  due, last rows and reject ratio against its usual, last error with its stage, owner and contact:
  the page of ``exchange feeds status`` and ``exchange serve``'s ``/ops/feeds``;
- ``/exchange/health.json`` — the same as JSON.

Only for users signed in to Airflow (its auth manager's token). Set ``[core] plugins_folder`` (or
``AIRFLOW__CORE__PLUGINS_FOLDER``) to this folder; the exchange's settings come from the
environment, as for the tasks.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse


def _workspace() -> Any:
    """The exchange's workspace on the environment's settings and the DAG folder's feed specs."""
    from exchange.spec.settings import Settings
    from exchange.workspace.space import Workspace

    dags = conf.get("core", "dags_folder")
    if dags not in sys.path:  # the api-server, unlike the DAG processor and workers, does not add it
        sys.path.append(dags)
    from exchange_airflow.specs import load_specs

    settings = Settings.from_env()
    return Workspace(settings, load_specs(settings.root).catalog)


def _signed_in() -> Any:
    from airflow.api_fastapi.core_api.security import requires_authenticated

    return Depends(requires_authenticated())


app = FastAPI(title="Agency Data Exchange: feed health", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/health", response_class=HTMLResponse, dependencies=[_signed_in()])
def health_page() -> HTMLResponse:
    from exchange.workspace.ops import feeds_status, health_html

    with _workspace():
        return HTMLResponse(health_html(feeds_status()))


@app.get("/health.json", dependencies=[_signed_in()])
def health_json() -> JSONResponse:
    from exchange.workspace.ops import feeds_status

    with _workspace():
        return JSONResponse([h.as_json() for h in feeds_status()])


class ExchangeHealthPlugin(AirflowPlugin):
    name = "exchange_health"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": app, "url_prefix": "/exchange", "name": "Exchange feed health"}]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {"name": "Feed health", "href": "/exchange/health", "destination": "nav", "category": "browse"}]
