"""The /benchmarks app's fixtures, shared by its REST and GraphQL tests."""

from __future__ import annotations

import pytest
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from airflow.api_fastapi.core_api.security import get_user
from fastapi import Request
from fastapi.testclient import TestClient

from instance_benchmarks import plugin, rate_limits
from tests.fakes.served import served_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return served_store(tmp_path_factory.mktemp("results"))


def signed_in(request: Request) -> SimpleAuthManagerUser:
    """The signed-in user: "tester", or the one the test names in an X-Test-User header."""
    return SimpleAuthManagerUser(username=request.headers.get("X-Test-User", "tester"), role="viewer")


@pytest.fixture
def client(store, monkeypatch):
    """The app as a signed-in user sees it: the store above, Airflow's auth dependency satisfied, and no rate limit
    unless the test sets one (INSTANCE_BENCHMARKS_API_RATE_LIMIT, then rate_limits.current.cache_clear())."""
    (airflow_auth,) = plugin.app.router.dependencies
    monkeypatch.setenv("INSTANCE_BENCHMARKS_API_RATE_LIMIT", "off")
    rate_limits.current.cache_clear()
    plugin.app.dependency_overrides = {plugin.get_store: lambda: store, airflow_auth.dependency: lambda: None,
                                       get_user: signed_in}
    yield TestClient(plugin.app, raise_server_exceptions=False)
    plugin.app.dependency_overrides = {}
    rate_limits.current.cache_clear()
