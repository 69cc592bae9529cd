"""docker-compose.yaml: the production stack's shape, checked without a Docker engine.

(tests/deployment runs the same configuration as processes.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.deployment.stack import COMPOSE, REPO, common_environment, compose, local_environment, own_environment

AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker", "airflow-init", "flower"}
LONG_RUNNING = {"postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                "airflow-triggerer", "airflow-worker", "flower"}


@pytest.fixture(scope="module")
def spec():
    return compose()


def test_the_services_of_the_official_layout(spec):
    assert set(spec["services"]) == {"postgres", "redis"} | AIRFLOW_SERVICES
    assert spec["services"]["flower"]["profiles"] == ["flower"]
    assert spec["services"]["airflow-worker"]["command"] == "celery worker"


def test_every_long_running_service_has_a_health_check(spec):
    for name in LONG_RUNNING:
        check = spec["services"][name].get("healthcheck")
        assert check and check["test"] and check.get("interval"), name


def test_airflow_services_share_one_environment_and_image(spec):
    common = common_environment(spec)
    for name in AIRFLOW_SERVICES:
        service = spec["services"][name]
        env = {k: str(v) for k, v in service["environment"].items()}
        assert {k: env.get(k) for k in common} == common, name
        assert service["image"] == "instance-benchmarks-airflow:latest" and service["env_file"] == [".env"]
        assert {"./dags:/opt/airflow/dags", "./plugins:/opt/airflow/plugins", "./include:/opt/airflow/include"} <= set(
            service["volumes"]), name
    assert own_environment(spec, "airflow-worker") == {"DUMB_INIT_SETSID": "0"}
    assert common["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert common["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"


def test_the_image_installs_the_pinned_lock_not_additional_requirements(spec):
    dockerfile = (REPO / spec["x-airflow-common"]["build"]["dockerfile"]).read_text()
    assert "requirements.txt" in dockerfile and "_PIP_ADDITIONAL_REQUIREMENTS" not in COMPOSE.read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.2-python3\.11$", dockerfile, re.MULTILINE)


def test_secrets_come_from_an_uncommitted_env_file(spec):
    text = COMPOSE.read_text()
    for secret in ("FERNET_KEY", "JWT_SECRET", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"):
        assert secret not in text
    example = (REPO / ".env.example").read_text()
    for variable in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AWS_ACCESS_KEY_ID"):
        assert re.search(rf"^{variable}=$", example, re.MULTILINE), variable
    assert ".env" in (REPO / ".gitignore").read_text().split()


def test_workers_scale_and_start_after_init(spec):
    worker = spec["services"]["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker  # `--scale airflow-worker=N` works
    assert worker["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    init = " ".join(spec["services"]["airflow-init"]["command"])
    assert "airflow db migrate" in init
    assert "airflow pools set instance_benchmarks_hosts" in init and "--include-deferred" in init


def test_every_container_name_in_a_setting_is_mapped_by_the_process_stack(spec, tmp_path):
    env = local_environment(common_environment(spec), pg_port=5, redis_port=6, api_port=7, home=Path(tmp_path))

    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@127.0.0.1:5/airflow")
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@127.0.0.1:6/0"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:7/execution/"
