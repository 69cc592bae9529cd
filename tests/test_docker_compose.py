"""docker-compose.yaml: the production stack's shape, checked without a Docker engine.

(tests/deployment runs the same configuration as processes.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.deployment.stack import (
    COMPOSE,
    REPO,
    MissingVariable,
    common_environment,
    compose,
    dotenv_for_tests,
    interpolate,
    local_environment,
    own_environment,
)

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
        assert service["image"] == "instance-benchmarks-airflow:latest" and service["env_file"][0] == ".env"
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
        assert not re.search(rf"{secret}\s*[:=]", text), secret  # named (airflow-init checks them), never set
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
    dotenv = dotenv_for_tests()
    env = local_environment(common_environment(spec), pg_port=5, redis_port=6, api_port=7, home=Path(tmp_path),
                            dotenv=dotenv)

    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        f"postgresql+psycopg2://airflow:{dotenv['POSTGRES_PASSWORD']}@127.0.0.1:5/airflow")
    assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:{dotenv['REDIS_PASSWORD']}@127.0.0.1:6/0"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:7/execution/"


def test_no_password_has_a_default_and_compose_refuses_to_start_without_one(spec):
    text = COMPOSE.read_text()
    assert "airflow:airflow@" not in text and "POSTGRES_PASSWORD: airflow" not in text
    uses = re.findall(r"\$\{(\w*PASSWORD\w*)(:[?-])?[^}]*\}", text)
    assert {name for name, _ in uses} == {"POSTGRES_PASSWORD", "REDIS_PASSWORD"}
    assert all(op == ":?" for _, op in uses)  # never a fallback value
    for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        dotenv = {k: v for k, v in dotenv_for_tests().items() if k != name}
        with pytest.raises(MissingVariable, match=f"^{name}: set {name} in .env$"):
            [interpolate(v, dotenv) for v in common_environment(spec).values()]
        assert re.search(rf"^{name}=$", (REPO / ".env.example").read_text(), re.MULTILINE)


def test_redis_requires_its_password_and_its_health_check_sends_it(spec):
    redis = spec["services"]["redis"]
    assert redis["command"][:2] == ["redis-server", "--requirepass"]
    assert interpolate(redis["command"][2], {"REDIS_PASSWORD": "s3cret"}) == "s3cret"
    assert interpolate(redis["environment"]["REDISCLI_AUTH"], {"REDIS_PASSWORD": "s3cret"}) == "s3cret"


@pytest.mark.parametrize("secret", ["AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"])
def test_airflow_init_refuses_an_empty_fernet_key_or_jwt_secret_naming_it(spec, secret, tmp_path):
    import subprocess

    init = spec["services"]["airflow-init"]
    command = [interpolate(part, {}) for part in init["command"]]
    env = {"PATH": "/usr/bin:/bin", **dotenv_for_tests(), secret: ""}
    (tmp_path / "airflow").write_text("#!/bin/sh\necho airflow ran >&2\nexit 0\n")  # must not be reached
    (tmp_path / "airflow").chmod(0o755)
    env["PATH"] = f"{tmp_path}:{env['PATH']}"

    done = subprocess.run([init["entrypoint"], *command], env=env, capture_output=True, text=True, timeout=30)

    assert done.returncode == 1
    assert done.stderr.startswith(f"{secret} is empty: set it in .env") and "airflow ran" not in done.stderr


def test_the_ui_and_flower_listen_on_loopback_unless_told_and_flower_needs_a_password(spec, tmp_path):
    import subprocess

    for service, port in (("airflow-apiserver", 8080), ("flower", 5555)):
        (published,) = spec["services"][service]["ports"]
        assert interpolate(published, {}) == f"127.0.0.1:{port}:{port}"
        assert interpolate(published, {"AIRFLOW_BIND_ADDRESS": "10.0.0.5"}) == f"10.0.0.5:{port}:{port}"
    flower = spec["services"]["flower"]
    assert flower["environment"]["AIRFLOW__CELERY__FLOWER_BASIC_AUTH"] == "${FLOWER_BASIC_AUTH:-}"
    command = [interpolate(part, {}) for part in flower["command"]]
    done = subprocess.run([flower["entrypoint"], *command], env={"PATH": "/usr/bin:/bin",
                          "AIRFLOW__CELERY__FLOWER_BASIC_AUTH": ""}, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and done.stderr.startswith("FLOWER_BASIC_AUTH is empty")


def test_the_api_server_gets_credentials_of_its_own_that_read_and_write_only_what_the_api_records(spec):
    import json

    assert spec["services"]["airflow-apiserver"]["env_file"] == [".env", ".env.api-server"]
    example = (REPO / ".env.api-server.example").read_text()
    assert re.search(r"^AWS_ACCESS_KEY_ID=$", example, re.MULTILINE)
    assert ".env.api-server" in (REPO / ".gitignore").read_text().split()
    policy = json.loads((REPO / "include" / "iam" / "api-server-policy.json").read_text())
    actions = {a for st in policy["Statement"]
               for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
    assert actions == {"s3:GetObject", "s3:ListBucket", "s3:PutObject"}
    assert all(st["Effect"] == "Allow" for st in policy["Statement"])
    # it writes only what the API itself records: demand counts and contributed results as they arrive
    (writes,) = [st for st in policy["Statement"] if st["Action"] == "s3:PutObject"]
    prefix = "arn:aws:s3:::RESULTS_BUCKET/RESULTS_PREFIX/"
    assert sorted(writes["Resource"]) == [f"{prefix}demand/*", f"{prefix}submissions/incoming/*",
                                          f"{prefix}submissions/status/*"]


def test_the_production_stack_never_allows_the_test_profile():
    """The runner's test profile (plumbing checks, never a figure) is a test deployment's only: neither the compose
    file nor the example environments an operator copies turn it on."""
    for path in (COMPOSE, COMPOSE.parent / ".env.example", COMPOSE.parent / ".env.api-server.example"):
        assert "INSTANCE_BENCHMARKS_ALLOW_TEST_PROFILE" not in path.read_text(), path
