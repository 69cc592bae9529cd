"""The /benchmarks app's fixtures, shared by its REST and GraphQL tests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from instance_benchmarks import plugin
from tests.fakes.served import served_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return served_store(tmp_path_factory.mktemp("results"))


@pytest.fixture
def client(store):
    """The app as a signed-in user sees it: the store above, Airflow's auth dependency satisfied."""
    (airflow_auth,) = plugin.app.router.dependencies
    plugin.app.dependency_overrides = {plugin.get_store: lambda: store, airflow_auth.dependency: lambda: None}
    yield TestClient(plugin.app, raise_server_exceptions=False)
    plugin.app.dependency_overrides = {}
