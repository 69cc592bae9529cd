"""The production deployment, proved with processes: CeleryExecutor on PostgreSQL and Redis.

Starts the stack of `docker-compose.yaml` as processes (tests/deployment/stack.py), triggers
`instance_benchmarks` through the REST API with a small conf, waits for the run, and checks it
succeeded with task instances on both Celery workers. Every process is stopped by its PID.

The faults that need a real scheduler and triggerer (a task killed by a user, a run marked failed
from outside) run here too, with target=aws against moto_server and the gap fakes served over HTTP
(tests/fakes/gap_server.py), since the workers and the triggerer are other processes.
"""

from __future__ import annotations

import datetime
import json
import logging
import signal
import time
import urllib.parse
from typing import Any

import pytest

from tests.conftest import PLUMBING_CONF, moto_server
from tests.dags.test_instance_benchmarks_aws import BUCKET, REGION, project_instances, s3_json, s3_keys
from tests.deployment.stack import Stack, api_call
from tests.fakes.aws import AwsGaps, FakeSsm
from tests.fakes.gap_server import GapServer
from tests.fakes.pricing import FakePriceList
from tests.fakes.service_quotas import FakeServiceQuotas

log = logging.getLogger(__name__)

pytestmark = [pytest.mark.e2e, pytest.mark.stack]
WORKERS = ("worker-a", "worker-b")
DAG_ID = "instance_benchmarks"
HEALTHY = "m7i.large"
WEEKLY_TYPE = HEALTHY
WEEKLY_PREFIX = "weekly"


@pytest.fixture(scope="module")
def moto_endpoint():
    """moto_server on loopback, the stack's `aws_default` connection (its .env would name real AWS)."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def gap_server(moto_endpoint):
    """What moto lacks (SSM execution and agents, EC2 quotas, the Price List), served to every process."""
    import boto3

    from tests.conftest import MOTO_ENV

    gaps = AwsGaps()
    gaps.add_service_quotas(FakeServiceQuotas())
    gaps.add_price_list(FakePriceList())
    fake_ssm = FakeSsm(endpoint_url=moto_endpoint).install(gaps)
    monkeypatch = pytest.MonkeyPatch()
    for name, value in MOTO_ENV.items():  # for the test's own look at moto
        monkeypatch.setenv(name, value)
    boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint).create_bucket(Bucket=BUCKET)
    boto3.client("iam", region_name=REGION, endpoint_url=moto_endpoint).create_instance_profile(
        InstanceProfileName="instance-benchmarks")
    try:
        with GapServer(gaps, moto_endpoint=moto_endpoint) as server:
            yield server, fake_ssm
    finally:
        fake_ssm.close()
        monkeypatch.undo()


@pytest.fixture(scope="module")
def on_call(moto_endpoint):
    """The deployment's on-call topic in moto, with an SQS queue subscribed: (topic ARN, queue URL)."""
    import boto3

    from tests.conftest import MOTO_ENV

    clients = {name: boto3.client(name, region_name=REGION, endpoint_url=moto_endpoint,
                                  aws_access_key_id=MOTO_ENV["AWS_ACCESS_KEY_ID"],
                                  aws_secret_access_key=MOTO_ENV["AWS_SECRET_ACCESS_KEY"]) for name in ("sns", "sqs")}
    topic = clients["sns"].create_topic(Name="instance-benchmarks-on-call")["TopicArn"]
    queue = clients["sqs"].create_queue(QueueName="on-call")["QueueUrl"]
    arn = clients["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    clients["sns"].subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, queue


CONTRIBUTED_DIGEST = "sha256:" + "3" * 64


@pytest.fixture(scope="module")
def ec2_signer():
    """The stand-in for EC2's identity key the stack's deployment trusts for us-east-1 (tests/fakes/imds.py)."""
    from tests.fakes.imds import Signer

    return Signer.make()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, gap_server, on_call, ec2_signer):
    stack = Stack(root=tmp_path_factory.mktemp("stack"))
    certificates = stack.root / "identity-certificates"
    certificates.mkdir()
    (certificates / f"{REGION}.pem").write_bytes(ec2_signer.pem)
    timings = stack.timings

    def interrupted(signum, _frame):  # pytest tears its fixtures down on KeyboardInterrupt, not on SIGTERM
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupted)  # a test run killed by a timeout still stops the stack
    try:
        start = time.monotonic()
        stack.start_postgres()
        stack.start_redis()
        timings["postgres and redis"] = time.monotonic() - start
        connection = {"conn_type": "aws", "login": "testing", "password": "testing",
                      "extra": gap_server[0].connection_extra(REGION)}
        # A test deployment: it allows the test profile, which every run here uses (they check the stack, not
        # figures), the weekly refresh's included (one host of WEEKLY_TYPE, its wait polling every 2 s).
        # No scheduled runs: each run here is a test's own (the janitor's hourly sweep, or the latest week once
        # weekly_refresh is unpaused, would race them); backfills and triggered runs are scheduled as ever.
        stack.configure({"AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
                         "INSTANCE_BENCHMARKS_ALLOW_TEST_PROFILE": "true",
                         "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                         "INSTANCE_BENCHMARKS_RESULTS_URI": f"s3://{BUCKET}/{WEEKLY_PREFIX}",
                         "INSTANCE_BENCHMARKS_INSTANCE_TYPES": WEEKLY_TYPE,
                         "INSTANCE_BENCHMARKS_WEEKLY_PROFILE": "test",
                         "INSTANCE_BENCHMARKS_WEEKLY_INSTANCES_PER_TYPE": "1",
                         "INSTANCE_BENCHMARKS_WEEKLY_TIME_BUDGET_S": "120",
                         # the test profile's seconds of HPL stay as they are (no registry here: the plan's
                         # image build alone is 480 s of the host's 600)
                         "INSTANCE_BENCHMARKS_WEEKLY_HOST_TIME_BUDGET_S": "86400",
                         "INSTANCE_BENCHMARKS_WEEKLY_POLL_S": "2",
                         # the runs the tests do not configure themselves (the weekly ones): moto answers at once
                         "INSTANCE_BENCHMARKS_POLL_INTERVAL_S": "1",
                         # on-call: every failed run told by the dag-processor, every run still going 36 s after
                         # it was queued reported late by the triggerer (a Deadline Alert)
                         "INSTANCE_BENCHMARKS_ALERT_TOPIC_ARN": on_call[0],
                         "INSTANCE_BENCHMARKS_RUN_LATE_H": "0.01",
                         # contributions (issue 32): the test certificate, and one published image digest
                         "INSTANCE_BENCHMARKS_IDENTITY_CERTIFICATES": str(certificates),
                         "INSTANCE_BENCHMARKS_PUBLISHED_DIGESTS": CONTRIBUTED_DIGEST})
        timings["airflow-init"] = stack.init()
        start = time.monotonic()
        stack.start_airflow(WORKERS)
        timings["airflow components"] = time.monotonic() - start
        yield stack
    finally:
        codes = stack.stop()
        signal.signal(signal.SIGTERM, previous)
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


def run_url(stack, run: dict, dag_id: str = DAG_ID) -> str:
    return f"{stack.api}/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}"


def trigger(stack, token: str, conf: dict, dag_id: str = DAG_ID) -> dict:
    return api_call(f"{stack.api}/api/v2/dags/{dag_id}/dagRuns", token, method="POST",
                    body={"logical_date": None, "conf": conf})


def wait_for_run(stack, token: str, run: dict, dag_id: str = DAG_ID) -> str:
    def finished():
        state = api_call(run_url(stack, run, dag_id), token)["state"]
        return state if state in ("success", "failed") else None

    return wait_for(finished, f"the {dag_id} run", 900, interval=2)


def task_instances(stack, token: str, run: dict) -> list[dict]:
    return api_call(f"{run_url(stack, run)}/taskInstances?limit=100", token)["task_instances"]


def trigger_and_wait(stack, token: str, conf: dict) -> tuple[dict, str, float, list[dict]]:
    triggered_at = time.monotonic()
    run = trigger(stack, token, conf)
    state = wait_for_run(stack, token, run)
    return run, state, time.monotonic() - triggered_at, task_instances(stack, token, run)


def unpaused(stack, token: str, dag_id: str = DAG_ID) -> dict:
    """The DAG once the dag-processor has parsed it, unpaused (the compose file pauses new DAGs)."""
    url = f"{stack.api}/api/v2/dags/{dag_id}"

    def parsed():
        try:
            return api_call(url, token)
        except RuntimeError:
            return None

    dag = wait_for(parsed, f"the dag-processor to parse {dag_id}", 180)
    if dag["is_paused"]:
        api_call(url, token, method="PATCH", body={"is_paused": False})
    return dag


def test_a_run_triggered_through_the_rest_api_succeeds_on_both_celery_workers(stack, tmp_path):
    token = stack.token()
    api = f"{stack.api}/api/v2"

    dag = unpaused(stack, token)
    assert dag["is_paused"]  # AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION, as in the compose file
    conf = {"target": "local", **PLUMBING_CONF, "results_uri": (tmp_path / "results").as_uri()}
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


def test_the_api_s_rate_limit_is_counted_in_redis_as_the_compose_file_sets_it(stack):
    """Issue 31 item 2 on the production-shaped stack: the api-server counts each user's requests in Redis's db 1
    (INSTANCE_BENCHMARKS_API_RATE_LIMIT_STORAGE, docker-compose.yaml), so every api-server worker shares them."""
    import httpx
    import redis

    headers = {"Authorization": f"Bearer {stack.token()}"}
    counts = redis.Redis(host="127.0.0.1", port=stack.redis_port, password=stack.dotenv["REDIS_PASSWORD"], db=1)
    user, _ = stack.credentials()

    answers = [httpx.get(f"{stack.api}/benchmarks/api/summary", headers=headers, timeout=60) for _ in range(2)]

    assert [a.status_code for a in answers] == [200, 200]
    first, second = (int(a.headers["RateLimit-Remaining"]) for a in answers)
    assert answers[0].headers["RateLimit-Limit"] == "120" and second == first - 1
    assert [k for k in counts.keys("*") if f"/{user}/".encode() in k]  # the user's window: in Redis, not a worker


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


def week_run(week: str) -> str:
    """The instance_benchmarks run of a week with no weekly budget: its one region, on demand, its one host."""
    return f"weekly__{week}__{REGION}__on-demand__1h"


def test_a_backfill_of_four_missed_weeks_measures_once_what_none_of_them_measured(stack, gap_server, moto_endpoint):
    """Issue 28 items 5 and 6, as an operator takes them: `weekly_refresh` was off for four weeks, and a backfill
    (the REST API's, which the UI's backfill dialog and `airflow backfill create` make alike) fills them. Each
    backfilled week plans itself (no weekly budget: every configured type), skips the review (a backfill is its
    operator's decision) and waits for its instance_benchmarks run (`weekly__<week>__<region>__on-demand__1h`);
    the first measures the weekly type, and each later week finds it measured since that week began and measures
    nothing (recorded at plan)."""
    gap_server[1].faults = {}
    token = stack.token()
    unpaused(stack, token)
    unpaused(stack, token, "weekly_refresh")
    weeks = ["2026-11-01", "2026-11-08", "2026-11-15", "2026-11-22"]  # Sundays: @weekly's logical dates
    backfill = api_call(f"{stack.api}/api/v2/backfills", token, method="POST", body={
        "dag_id": "weekly_refresh", "from_date": f"{weeks[0]}T00:00:00Z", "to_date": f"{weeks[-1]}T00:00:00Z",
        "max_active_runs": 1, "reprocess_behavior": "none", "dag_run_conf": {}})

    def ended():
        runs = api_call(f"{stack.api}/api/v2/dags/weekly_refresh/dagRuns?limit=50", token)["dag_runs"]
        mine = [r for r in runs if r["run_type"] == "backfill"]
        return mine if len(mine) == 4 and all(r["state"] in ("success", "failed") for r in mine) else None

    weekly_runs = wait_for(ended, "the four backfilled weeks", 900, interval=3)
    assert backfill["dag_id"] == "weekly_refresh"
    assert {r["state"] for r in weekly_runs} == {"success"}, [(r["dag_run_id"], r["state"]) for r in weekly_runs]
    every_run = api_call(f"{stack.api}/api/v2/dags/{DAG_ID}/dagRuns?limit=100", token)["dag_runs"]
    runs = {r["dag_run_id"]: r for r in every_run if r["dag_run_id"].startswith("weekly__")}
    assert sorted(runs) == [week_run(week) for week in weeks]
    assert {r["state"] for r in runs.values()} == {"success"}
    for week in weeks:
        assert runs[week_run(week)]["conf"]["skip_measured_since"] == week
    stored = s3_keys(moto_endpoint, f"{WEEKLY_PREFIX}/results/v1/")
    assert len(stored) == 1 and f"instance_type={WEEKLY_TYPE}" in stored[0], stored  # measured once, by week 1
    assert f"/{week_run(weeks[0])}.json" in stored[0]
    measured_on = stored[0].split("/date=")[1][:10]
    for week in weeks[1:]:
        skipped = s3_json(moto_endpoint, f"{WEEKLY_PREFIX}/skipped/{week_run(week)}/{WEEKLY_TYPE}.json")
        assert skipped["stage"] == "plan"
        assert skipped["reason"] == f"measured on {measured_on}, since {week} (skip_measured_since)"
    assert project_instances(moto_endpoint, week_run(weeks[0]))[0]["State"]["Name"] == "terminated"
    for week in weeks[1:]:
        assert project_instances(moto_endpoint, week_run(week)) == []  # nothing launched
    plans = s3_keys(moto_endpoint, f"{WEEKLY_PREFIX}/plans/weekly/")
    assert sorted(k.rsplit("/", 1)[1] for k in plans) == sorted(f"{w}.{x}" for w in weeks for x in ("json", "md"))


def test_a_week_waits_for_its_review_and_runs_once_a_person_approves_it_through_the_rest_api(stack, gap_server,
                                                                                           moto_endpoint):
    """Issue 30 item 4 under a real scheduler: a triggered week plans itself, its review waits in AWAITING_INPUT
    with the plan's summary as its body (Required actions in the UI), and the approval, made through the REST
    API's HITL endpoint as the UI makes it, starts its run; the week is green once that run is. After the
    backfill's weeks (whose results prefix it shares): those assert what their own weeks stored."""
    gap_server[1].faults = {}
    token = stack.token()
    unpaused(stack, token)
    unpaused(stack, token, "weekly_refresh")
    week = "2026-11-29"  # a Sunday in the past (a run dated in the future waits for its date)
    run = api_call(f"{stack.api}/api/v2/dags/weekly_refresh/dagRuns", token, method="POST",
                   body={"logical_date": f"{week}T00:00:00Z", "conf": {}})
    review_url = f"{run_url(stack, run, 'weekly_refresh')}/taskInstances/review"

    def awaiting():
        ti = api_call(review_url, token)
        return ti if ti["state"] == "awaiting_input" else None

    wait_for(awaiting, "the week's review to wait for a person", 300)
    detail = api_call(f"{review_url}/-1/hitlDetails", token)
    assert detail["options"] == ["Approve", "Reject"] and detail["defaults"] == ["Approve"]
    assert detail["body"].startswith(f"# The week of {week}") and WEEKLY_TYPE in detail["body"]
    def week_runs():
        return [r for r in api_call(f"{stack.api}/api/v2/dags/{DAG_ID}/dagRuns?limit=100", token)["dag_runs"]
                if r["dag_run_id"].startswith(f"weekly__{week}")]

    assert week_runs() == []  # nothing runs before the review is answered

    answered = api_call(f"{review_url}/-1/hitlDetails", token, method="PATCH", body={"chosen_options": ["Approve"]})

    assert answered["chosen_options"] == ["Approve"]
    assert wait_for_run(stack, token, run, "weekly_refresh") == "success"
    (measured,) = week_runs()
    assert measured["dag_run_id"] == week_run(week) and measured["state"] == "success"
    plan = s3_json(moto_endpoint, f"{WEEKLY_PREFIX}/plans/weekly/{week}.json")
    assert [o["instance_type"] for o in plan["chosen"]] == [WEEKLY_TYPE]
    assert project_instances(moto_endpoint, week_run(week))[0]["State"]["Name"] == "terminated"


def test_a_contribution_is_submitted_checked_and_accepted_by_a_person_through_the_rest_api(stack, ec2_signer,
                                                                                        moto_endpoint):
    """Issue 32 items 2 to 5 on the production-shaped stack: a contributor posts a result to the api-server,
    contributions (triggered by hand: this stack creates no scheduled or Asset-triggered runs) checks it on a
    Celery worker, its review waits in AWAITING_INPUT with the checks as its body, and the reviewer's Accept, made
    through the REST API's HITL endpoint as the UI makes it, is kept in the submission's status; the accepted
    result is stored as contributed and the results Asset event that schedules results_analysis is emitted."""
    import httpx

    from tests.fakes.imds import contributed_document

    token = stack.token()
    headers = {"Authorization": f"Bearer {token}"}
    document = contributed_document(ec2_signer, digest=CONTRIBUTED_DIGEST, instance_id="i-0c0ffee0c0ffee000")
    taken = httpx.post(f"{stack.api}/benchmarks/api/submissions", json=document, headers=headers, timeout=60)
    assert taken.status_code == 202, taken.text
    status_url = f"{stack.api}/benchmarks/{taken.json()['status_url']}"
    unpaused(stack, token, "contributions")
    run = api_call(f"{stack.api}/api/v2/dags/contributions/dagRuns", token, method="POST",
                   body={"logical_date": None, "conf": {}})
    review_url = f"{run_url(stack, run, 'contributions')}/taskInstances/review"

    def awaiting():
        try:
            listed = api_call(f"{review_url}/listMapped", token)["task_instances"]
        except RuntimeError:  # 404 until the review task is expanded
            return None
        return listed if listed and all(ti["state"] == "awaiting_input" for ti in listed) else None

    (review,) = wait_for(awaiting, "the contribution's review to wait for a person", 300)
    detail = api_call(f"{review_url}/{review['map_index']}/hitlDetails", token)
    assert detail["options"] == ["Accept", "Reject"] and not detail["defaults"]
    assert taken.json()["id"] in detail["subject"] and "| signature | passed |" in detail["body"]
    assert httpx.get(status_url, headers=headers, timeout=30).json()["status"] == "awaiting review"

    api_call(f"{review_url}/{review['map_index']}/hitlDetails", token, method="PATCH",
             body={"chosen_options": ["Accept"], "params_input": {"reason": ""}})

    assert wait_for_run(stack, token, run, "contributions") == "success"
    status = httpx.get(status_url, headers=headers, timeout=30).json()
    assert status["status"] == "accepted" and [c["check"] for c in status["checks"]][:2] == ["schema", "signature"]
    kept = s3_json(moto_endpoint, f"{WEEKLY_PREFIX}/submissions/accepted/{taken.json()['id']}.json")
    assert kept["provenance"]["source"] == "contributed" and kept["provenance"]["instance_id"] == "i-0c0ffee0c0ffee000"
    # merged with its source kept (item 5): stored as contributed, and the results Asset emitted for the rebuild
    (contributed,) = s3_keys(moto_endpoint, f"{WEEKLY_PREFIX}/contributed/v1/")
    assert contributed.endswith(f"/{taken.json()['id']}.json") and s3_json(moto_endpoint, contributed) == kept
    query = urllib.parse.urlencode({"source_dag_id": "contributions", "source_run_id": run["dag_run_id"]})
    events = api_call(f"{stack.api}/api/v2/assets/events?{query}", token)["asset_events"]
    assert [(e["name"], e["extra"].get("contributed")) for e in events] == [
        ("instance_benchmarks_results", [taken.json()["id"]])]


def aws_conf(instance_types: list[str], prefix: str) -> dict:
    return {"target": "aws", "instance_types": instance_types, **PLUMBING_CONF, "repetitions": 1,
            "agent_timeout_s": 60, "poll_interval_s": 1, "aws_max_attempts": 3,
            "results_uri": f"s3://{BUCKET}/{prefix}"}


def stream_command(fake_ssm: FakeSsm, instance_type: str) -> tuple[str, str] | None:
    """(command id, instance id) of the SendCommand that runs STREAM on this type's instance, once sent."""
    for sent in list(fake_ssm.sent):
        script = "\n".join(sent["Parameters"]["commands"])
        if f"BENCHRUN_INSTANCE_TYPE={instance_type} " in script and '"$image" stream ' in script:
            return sent["CommandId"], sent["InstanceIds"][0]
    return None


def start_a_hanging_run(stack, fake_ssm: FakeSsm, hangs: str, prefix: str, *, faults: dict[str, str] | None = None,
                        **conf: Any) -> tuple[str, dict, str, Any]:
    """A run of HEALTHY, `hangs` (a graviton type, map index 0) whose STREAM never ends (fault
    stream-hangs) and the types of `faults`, returned once that STREAM runs, its task is deferred and a triggerer
    runs the trigger (a task marked failed before a triggerer picked its trigger up has no trigger to kill: its
    command runs on until the teardown terminates the instance): token, run, run_stream's URL, invocation."""
    fake_ssm.faults = {hangs: "stream-hangs", **(faults or {})}
    token = stack.token()
    unpaused(stack, token)
    run = trigger(stack, token, {**aws_conf([HEALTHY, hangs, *(faults or {})], prefix), **conf})
    ti_url = f"{run_url(stack, run)}/taskInstances/graviton.run_stream/0"

    def hanging():
        sent = stream_command(fake_ssm, hangs)
        if not sent:
            return None
        ti = api_call(ti_url, token)
        picked_up = (ti.get("trigger") or {}).get("triggerer_id") or ti.get("triggerer_job")
        return sent if ti["state"] == "deferred" and picked_up else None

    command_id, instance_id = wait_for(hanging, f"{hangs}'s STREAM running, its trigger too", 600)
    time.sleep(3)  # the trigger's first polls (poll_interval_s 1)
    return token, run, ti_url, fake_ssm.invocations[(command_id, instance_id)]


# Beside the killed task, the two faults that wait real time, waited out side by side by the triggerer (dag.test()
# would wait them one after the other): a STREAM past its execution timeout, the smallest time budget the form
# allows, and an agent that never comes online within the smallest agent_timeout_s it allows (both 60 s).
WAITED_OUT = {"c7a.large": ("stream-hangs", "SSM status TimedOut"),
              "m7a.large": ("agent-offline", "wait_for_host: the SSM agent on i-")}
RED_TASK = {"c7a.large": "run_stream", "m7a.large": "wait_for_host"}  # issue 28 item 10: where it went wrong


def test_a_task_killed_while_its_benchmark_runs_cancels_it_and_the_teardown_terminates(stack, gap_server,
                                                                                      moto_endpoint):
    """A user marks the deferred run_stream failed: the triggerer calls the trigger's on_kill, which
    cancels the SSM command; the terminate teardown still runs; the healthy type is stored; the STREAM that
    hangs past its timeout and the agent that never comes online are quarantined with their reasons."""
    killed = "c7g.large"
    token, run, ti_url, invocation = start_a_hanging_run(
        stack, gap_server[1], killed, "killed", faults={t: fault for t, (fault, _) in WAITED_OUT.items()},
        time_budget_s=60)

    marked = time.monotonic()
    api_call(ti_url, token, method="PATCH", body={"new_state": "failed"})

    wait_for(lambda: invocation.status != "InProgress", "on_kill to cancel the command", 120, interval=1)
    print(f"\nkilled {killed}: STREAM sent {marked - invocation.started:.1f} s before the task was marked failed, "
          f"cancelled {time.monotonic() - marked:.1f} s after")
    assert invocation.status == "Cancelled", invocation.status
    assert wait_for_run(stack, token, run) == "failed"  # the watcher fails a run with a failed task
    tis = task_instances(stack, token, run)
    states = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in tis}
    assert states[("graviton.run_stream", 0)] == "failed" and states[("graviton.terminate", 0)] == "success"
    assert states[("intel.store", 0)] == "success"
    red = {ti["rendered_map_index"].split(" #")[0]: ti["task_id"].split(".")[-1] for ti in tis
           if ti["state"] == "failed" and ti["map_index"] >= 0}
    assert red == {killed: "run_stream", **RED_TASK}, red
    instances = project_instances(moto_endpoint, run["dag_run_id"])
    assert sorted(i["InstanceType"] for i in instances) == sorted([HEALTHY, killed, *WAITED_OUT])
    assert {i["State"]["Name"] for i in instances} == {"terminated"}
    summary = s3_json(moto_endpoint, "killed/reports/latest/summary.json")
    assert len(summary["documents"]) == 1 and summary["skipped"] == []
    assert sorted(q["instance_type"] for q in summary["quarantined"]) == sorted(WAITED_OUT)
    for instance_type, (fault, expected) in WAITED_OUT.items():
        (record,) = [q for q in summary["quarantined"] if q["instance_type"] == instance_type]
        assert any(expected in reason for reason in record["reasons"]), (fault, record)
    (stopped,) = summary["unaccounted"]  # no record of its own: named by the task that stopped it
    assert stopped["instance_type"] == killed and stopped["stage"] == "run_stream"
    assert stopped["reason"].startswith("run_stream ended failed")


def test_a_run_marked_failed_mid_run_cancels_its_commands_and_still_terminates(stack, gap_server, moto_endpoint):
    """Marking the run failed fails its running tasks (their triggers cancelled: on_kill cancels the
    commands) and skips the pending ones but the teardowns, which Airflow runs (apache/airflow#45530):
    every instance ends terminated. An instance the run leaked (a worker lost right after RunInstances)
    is the janitor's: its run has ended. An untagged instance is never touched."""
    import boto3

    token, run, _, invocation = start_a_hanging_run(stack, gap_server[1], "m7g.large", "marked-failed")

    api_call(run_url(stack, run), token, method="PATCH", body={"state": "failed"})

    wait_for(lambda: invocation.status == "Cancelled", "the cancelled trigger's on_kill to cancel the command", 120,
             interval=1)
    state = wait_for_run(stack, token, run)
    states = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in task_instances(stack, token, run)}
    print(f"\nrun marked failed mid-run ended {state} (teardowns ran: Airflow recomputes the state from the leaves); "
          f"graviton.run_stream {states[('graviton.run_stream', 0)]}")
    assert states[("graviton.run_stream", 0)] == "failed"
    assert states[("graviton.terminate", 0)] == states[("intel.terminate", 0)] == "success"
    instances = project_instances(moto_endpoint, run["dag_run_id"])
    assert len(instances) == 2 and {i["State"]["Name"] for i in instances} == {"terminated"}

    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=moto_endpoint)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tags = {"project": "instance-benchmarks", "dag-id": DAG_ID, "run-id": run["dag_run_id"], "map-index": "0",
            "expires-at": (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2)).isoformat()}
    leaked, untagged = (ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="m7i.large",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in t.items()]}],
    )["Instances"][0]["InstanceId"] for t in (tags, {"Name": "not-ours"}))
    unpaused(stack, token, "janitor")  # its hourly run may start too
    trigger(stack, token, {}, dag_id="janitor")

    def sweeps():
        runs = api_call(f"{stack.api}/api/v2/dags/janitor/dagRuns", token)["dag_runs"]
        if any(r["state"] not in ("success", "failed") for r in runs):
            return None
        assert {r["state"] for r in runs} == {"success"}
        return [api_call(f"{run_url(stack, r, 'janitor')}/taskInstances/sweep/xcomEntries/return_value",
                         token)["value"] for r in runs]

    terminated = {d["instance_id"]: d["reason"] for sweep in wait_for(sweeps, "the janitor's runs", 300)
                  for d in sweep["decisions"] if d["terminate"]}
    assert f"{run['dag_run_id']} has ended ({state})" in terminated[leaked]
    states = {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances(
        InstanceIds=[leaked, untagged])["Reservations"] for i in r["Instances"]}
    assert states == {leaked: "terminated", untagged: "running"}


def test_a_user_signs_in_and_triggers_one_aws_type_from_the_form_and_it_runs_against_moto(stack, gap_server,
                                                                                          moto_endpoint):
    """The UI path end to end on the production-shaped stack: sign in, fill the trigger form as a user does
    (target aws, one type, a small budget), press Trigger; the run executes on the Celery workers against
    moto and the fakes, and its document lands in (moto's) S3."""
    import boto3

    from tests.conftest import SCREENSHOTS
    from tests.ui.browser import choose, chromium_page, fill, open_form, sign_in, submit

    token = stack.token()
    unpaused(stack, token)  # waits for the dag-processor's parse
    username, password = stack.credentials()
    gap_server[1].faults = {}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_page() as page:
        sign_in(page, stack.api, username, password)
        dialog = open_form(page, stack.api, DAG_ID)
        choose(page, "target", "aws")
        choose(page, "profile", "test")  # offered: this stack allows it (a deployment that does not, refuses it)
        fill(page, "instance_types", HEALTHY)
        fill(page, "repetitions", 1)
        fill(page, "time_budget_s", 120)
        fill(page, "results_uri", f"s3://{BUCKET}/ui-form")
        dialog.get_by_role("button", name="AWS (target=aws)").click()
        fill(page, "agent_timeout_s", 60)
        fill(page, "poll_interval_s", 1)
        page.screenshot(path=str(SCREENSHOTS / "stack-aws-form.png"), full_page=True)
        done = submit(page, dialog, DAG_ID)
        assert done.run_id, done.message or done.invalid_fields
        run = {"dag_run_id": done.run_id}
        state = wait_for_run(stack, token, run)
        page.goto(f"{stack.api}/dags/{DAG_ID}/runs/{urllib.parse.quote(done.run_id, safe='')}")
        page.wait_for_selector("text=graviton")
        page.screenshot(path=str(SCREENSHOTS / "stack-aws-run.png"))

    conf = api_call(run_url(stack, run), token)["conf"]
    assert conf["target"] == "aws" and conf["instance_types"] == [HEALTHY] and conf["repetitions"] == 1
    assert conf["profile"] == "test"
    assert state == "success", {ti["task_id"]: ti["state"] for ti in task_instances(stack, token, run)}
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint, aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    stored = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="ui-form/results/v1/").get("Contents", [])]
    assert len(stored) == 1 and f"instance_type={HEALTHY}" in stored[0]


def test_on_call_is_told_of_each_failed_run_and_of_each_late_one(stack, on_call, moto_endpoint):
    """Issue 28 items 7 and 9 under the real components: the dag-processor runs the failure callback (one
    message per failed run, naming each host with its reason), the triggerer the Deadline Alert. Runs after the
    killed-task and marked-failed runs, which failed, and the backfill, whose measured week took over 36 s."""
    import boto3

    from tests.conftest import MOTO_ENV

    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_endpoint,
                       aws_access_key_id=MOTO_ENV["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=MOTO_ENV["AWS_SECRET_ACCESS_KEY"])
    token = stack.token()
    (killed_run,) = [r["dag_run_id"] for r in api_call(f"{stack.api}/api/v2/dags/{DAG_ID}/dagRuns?limit=100",
                                                       token)["dag_runs"]
                     if (r["conf"] or {}).get("results_uri") == f"s3://{BUCKET}/killed"]
    received: list[dict] = []

    def told():
        while batch := sqs.receive_message(QueueUrl=on_call[1], MaxNumberOfMessages=10).get("Messages"):
            received.extend(json.loads(m["Body"]) for m in batch)
            sqs.delete_message_batch(QueueUrl=on_call[1], Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
        failure = [m for m in received if f"run {killed_run} failed" in m["Message"]]
        late = [m for m in received if "has not ended 0.01 h after it was queued" in m["Message"]]
        return (failure, late) if failure and late else None

    failure, late = wait_for(told, "the failed run's message and a late run's", 180, interval=3)
    (killed,) = [m["Message"] for m in failure]  # one message per failed run
    assert "c7g.large stopped at run_stream" in killed
    assert "c7a.large quarantined: " in killed and "m7a.large quarantined: wait_for_host" in killed
    assert "Report: s3://bench-results/killed/reports/runs/" in killed
    assert all(m["Subject"] == "instance-benchmarks: a run is late" for m in late)
