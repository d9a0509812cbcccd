"""The attacker suite: a demo city on PostgreSQL with the grants applied, attacked as each consumer
(and as an operator) would. Needs PostgreSQL: under ``CI=true`` a missing server fails, elsewhere the
tests skip saying how to run them (``tests/integration/conftest.unavailable``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg_city import City, demo_city


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    yield from demo_city(tmp_path_factory.mktemp("security"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/security" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
