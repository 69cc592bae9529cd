"""The production deployment, proved with processes: CeleryExecutor on PostgreSQL and Redis.

Starts the stack of `docker-compose.yaml` as processes (tests/deployment/stack.py), triggers
`instance_benchmarks` through the REST API with a small conf, waits for the run, and checks it
succeeded with task instances on both Celery workers. Every process is stopped by its PID.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
import urllib.parse

import pytest

from tests.deployment.stack import Stack, api_call

log = logging.getLogger(__name__)

pytestmark = pytest.mark.e2e
WORKERS = ("worker-a", "worker-b")
DAG_ID = "instance_benchmarks"


@pytest.fixture(scope="module")
def moto_endpoint():
    """moto_server on loopback, the stack's `aws_default` connection (its .env would name real AWS)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, moto_endpoint):
    stack = Stack(root=tmp_path_factory.mktemp("stack"))
    timings = stack.timings
    try:
        start = time.monotonic()
        stack.start_postgres()
        stack.start_redis()
        timings["postgres and redis"] = time.monotonic() - start
        connection = {"conn_type": "aws", "login": "testing", "password": "testing",
                      "extra": {"endpoint_url": moto_endpoint, "region_name": "us-east-1"}}
        stack.configure({"AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection)})
        timings["airflow-init"] = stack.init()
        start = time.monotonic()
        stack.start_airflow(WORKERS)
        timings["airflow components"] = time.monotonic() - start
        yield stack
    finally:
        codes = stack.stop()
        log.info("Stopped %s", codes)
        assert all(p.poll() is not None for p in stack.processes.values()), "a process outlived the stack"


def _time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def wait_for(probe, what: str, timeout: float, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def trigger_and_wait(stack, token: str, conf: dict) -> tuple[dict, str, float, list[dict]]:
    api = f"{stack.api}/api/v2"
    triggered_at = time.monotonic()
    run = api_call(f"{api}/dags/{DAG_ID}/dagRuns", token, method="POST", body={"logical_date": None, "conf": conf})
    run_url = f"{api}/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}"

    def finished():
        state = api_call(run_url, token)["state"]
        return state if state in ("success", "failed") else None

    state = wait_for(finished, "the DAG run", 900, interval=2)
    seconds = time.monotonic() - triggered_at
    return run, state, seconds, api_call(f"{run_url}/taskInstances?limit=100", token)["task_instances"]


def test_a_run_triggered_through_the_rest_api_succeeds_on_both_celery_workers(stack, tmp_path):
    token = stack.token()
    api = f"{stack.api}/api/v2"

    def parsed():
        try:
            return api_call(f"{api}/dags/{DAG_ID}", token)
        except RuntimeError:
            return None

    dag = wait_for(parsed, "the dag-processor to parse the DAGs", 180)
    assert dag["is_paused"]  # AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION, as in the compose file
    api_call(f"{api}/dags/{DAG_ID}", token, method="PATCH", body={"is_paused": False})
    conf = {"target": "local", "profile": "quick", "repetitions": 2, "time_budget_s": 60,
            "results_uri": (tmp_path / "results").as_uri()}
    run, state, seconds, instances = trigger_and_wait(stack, token, conf)
    by_host = {}
    for ti in instances:
        by_host.setdefault(ti["hostname"], []).append(ti["task_id"])
    log.info("Run %s: %s in %.0f s; stack timings %s; task instances per host %s", run["dag_run_id"], state,
             seconds, stack.timings, {h: len(t) for h, t in by_host.items()})
    print(f"\nrun {state} in {seconds:.0f} s; set-up {stack.timings}; task instances per worker "
          f"{ {h: len(t) for h, t in by_host.items()} }")
    latency = sorted((_time(ti["start_date"]) - _time(ti["queued_when"])).total_seconds() for ti in instances
                     if ti["start_date"] and ti["queued_when"])
    print(f"{len(instances)} task instances; queued to started: median {latency[len(latency) // 2]:.1f} s, "
          f"max {latency[-1]:.1f} s")

    pool = api_call(f"{api}/pools/instance_benchmarks_hosts", token)
    print(f"pool {pool['name']}: {pool['slots']} slots, include_deferred={pool['include_deferred']}")
    assert pool["slots"] == 16 and pool["include_deferred"]  # created by the compose file's airflow-init

    assert state == "success", {ti["task_id"]: ti["state"] for ti in instances}
    ran = {ti["hostname"] for ti in instances if ti["state"] == "success"}
    assert ran == set(WORKERS), by_host
    assert (tmp_path / "results" / "reports" / "latest" / "index.html").exists()


def test_a_dry_run_of_the_whole_moto_catalog_plans_on_a_worker_through_the_aws_connection(stack, tmp_path):
    """target=aws with `all`: the plan task reads moto's catalog through the connection in a Celery worker."""
    token = stack.token()
    conf = {"target": "aws", "instance_types": ["all"], "dry_run": True, "aws_max_attempts": 1,
            "results_uri": (tmp_path / "results").as_uri()}

    run, state, seconds, instances = trigger_and_wait(stack, token, conf)

    assert state == "success", {ti["task_id"]: ti["state"] for ti in instances}
    (plans_file,) = [p for p in (tmp_path / "results" / "plans").glob("*.json")
                     if not p.name.endswith(".summary.json")]
    plans = json.loads(plans_file.read_text())
    summary = json.loads(plans_file.with_name(plans_file.stem + ".summary.json").read_text())
    assert summary["types"] == len(plans)
    plan_task = next(ti for ti in instances if ti["task_id"] == "plan")
    print(f"\ndry run of {len(plans)} types: {state} in {seconds:.0f} s (plan task {plan_task['duration']:.1f} s "
          f"on {plan_task['hostname']}); a real run of them would create {10 * len(plans) + 6} task instances")
    assert len(plans) > 1000 and plan_task["hostname"] in WORKERS
    assert {p["family"] for p in plans} == {"intel", "amd", "graviton"}
