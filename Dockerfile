# The exchange on Apache Airflow 3: Airflow's own image with the project installed.
# Used by every Airflow service of docker-compose.yml (api-server, scheduler, dag-processor,
# triggerer, Celery workers). The exchange's package and its DAG files are baked in together (one
# version: the DAG code and the code it calls cannot drift apart); feeds/, schemas/ and grants/
# are mounted, so a new feed spec needs no rebuild, while a change to the Python code does.
#
#   docker compose build            # or: docker build -t agency-data-exchange .
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION
ENV EXCHANGE_HOME=/opt/exchange \
    GX_ANALYTICS_ENABLED=False \
    PIP_NO_CACHE_DIR=1

WORKDIR /opt/exchange
COPY --chown=airflow:0 pyproject.toml README.md ./
COPY --chown=airflow:0 exchange ./exchange
COPY --chown=airflow:0 connectors ./connectors
# Airflow stays at the image's version; the project brings GX, pyarrow, Splink, the Celery
# provider (celery<5.7, see pyproject.toml) and the PostgreSQL driver.
RUN pip install "apache-airflow==${AIRFLOW_VERSION}" /opt/exchange \
 && python -c "import exchange.runner, airflow.providers.celery" \
 && mkdir -p /opt/exchange/feeds /opt/exchange/schemas /opt/exchange/grants /data
COPY --chown=airflow:0 dags /opt/airflow/dags

WORKDIR /opt/airflow
