"""instance_benchmarks with target=aws through dag.test(), against moto_server and the AWS-gap fakes.

moto (on 127.0.0.1, reached through an `aws_default` connection with endpoint_url, as a
user would point the DAG at any endpoint) serves EC2, S3, IAM, CloudWatch and the public
SSM parameters; tests/fakes/aws.py fills what moto lacks: Service Quotas for EC2, SSM
agent registration, and SSM command execution (the scripts run on this machine, where
the real runner benchmarks and uploads its document into moto's S3).
"""

from __future__ import annotations

import json

import boto3
import pytest
import requests

from instance_benchmarks import cli
from instance_benchmarks.images import VARIANT_FOR_FAMILY
from instance_benchmarks.results import safe_segment, schema_errors
from tests.conftest import E2E_TIME_BUDGET_S, MOTO_ENV, PLUMBING_CONF, moto_server, quick_retries
from tests.fakes.aws import AwsGaps, FakeSsm, Throttle
from tests.fakes.pricing import RECORDED_US_EAST_1, FakePriceList
from tests.fakes.s3_access import denied, recorded, s3_accesses
from tests.fakes.service_quotas import FakeServiceQuotas

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.e2e]

BUCKET = "bench-results"
REGION = "us-east-1"
STORED = {"m7i.large": "intel", "c7i.large": "intel", "m7a.large": "amd", "c7a.large": "amd",
          "m7g.large": "graviton", "c7g.large": "graviton"}
NO_CAPACITY = "m6i.large"  # InsufficientInstanceCapacity in every zone
OVER_QUOTA = "c7g.16xlarge"  # 64 vCPUs against a Standard on-demand quota of 32
STANDARD_ON_DEMAND = "L-1216C47A"


@pytest.fixture(scope="module")
def moto_endpoint():
    with moto_server() as endpoint:
        yield endpoint


def connect(monkeypatch, endpoint: str) -> None:
    """The `aws_default` connection pointed at moto_server, as a user points it at any endpoint."""
    for name, value in MOTO_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({
        "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": {"endpoint_url": endpoint, "region_name": REGION}}))


def aws_world(monkeypatch, endpoint: str, *, ssm_executes: bool, docker_host: str | None = None
              ) -> tuple[AwsGaps, FakeSsm | None]:
    """A fresh moto account with the results bucket and instance profile, and the gap fakes installed."""
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    connect(monkeypatch, endpoint)
    boto3.client("s3", region_name=REGION, endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    iam = boto3.client("iam", region_name=REGION, endpoint_url=endpoint)
    iam.create_instance_profile(InstanceProfileName="instance-benchmarks")
    gaps = AwsGaps().install(monkeypatch)
    gaps.honour_client_tokens()
    gaps.add_service_quotas(FakeServiceQuotas({STANDARD_ON_DEMAND: 32.0}))
    gaps.add_price_list(FakePriceList())
    fake_ssm = FakeSsm(endpoint_url=endpoint, docker_host=docker_host)
    if ssm_executes:
        fake_ssm.install(gaps)
    else:  # moto's own SendCommand/GetCommandInvocation (they execute nothing); only registration is faked
        gaps.on("ssm", "DescribeInstanceInformation", lambda c, p, _: fake_ssm.describe_instance_information(c, p))
    return gaps, fake_ssm


def conf(instance_types: list[str]) -> dict:
    """A plumbing run (the test profile: stored, never a figure); `figures_run` is the rule-sized one."""
    return {"target": "aws", "instance_types": instance_types, **PLUMBING_CONF,
            "results_uri": f"s3://{BUCKET}/ib", "poll_interval_s": 0.2}


def s3_json(endpoint: str, key: str) -> dict:
    body = boto3.client("s3", region_name=REGION, endpoint_url=endpoint).get_object(Bucket=BUCKET, Key=key)["Body"]
    return json.loads(body.read())


def s3_keys(endpoint: str, prefix: str) -> list[str]:
    pages = boto3.client("s3", region_name=REGION, endpoint_url=endpoint).get_paginator("list_objects_v2")
    return [o["Key"] for page in pages.paginate(Bucket=BUCKET, Prefix=prefix) for o in page.get("Contents", [])]


def project_instances(endpoint: str, run_id: str) -> list[dict]:
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    filters = [{"Name": "tag:project", "Values": ["instance-benchmarks"]}, {"Name": "tag:run-id", "Values": [run_id]}]
    return [i for r in ec2.describe_instances(Filters=filters)["Reservations"] for i in r["Instances"]]


@pytest.fixture(scope="module")
def full_run(moto_endpoint, docker_engine, runner_images, bare_runner_built):
    """The eight-type run, in the test profile (it checks plumbing; `figures_run` checks figures); the fakes are
    uninstalled once it ends (moto keeps its state for the checks).

    The instances pull their runner image from this machine's registry, as they would from ECR, and
    the Intel and AMD ones run it in the real engine; the Graviton ones run the stand-in (no arm64
    emulation for a benchmark)."""
    local_engine, registry = docker_engine
    with pytest.MonkeyPatch.context() as monkeypatch:
        gaps, fake_ssm = aws_world(monkeypatch, moto_endpoint, ssm_executes=True,
                                   docker_host=local_engine.docker_host)
        gaps.fail_run_instances({NO_CAPACITY})
        try:
            with recorded(moto_endpoint) as wire:  # S3 goes through s3fs, below the layer `gaps` sees
                dag_run = cli.load_dag().test(run_conf={
                    **conf([*STORED, NO_CAPACITY, OVER_QUOTA]),
                    "image_registry": f"{registry.address}/instance-benchmarks-runner"})
        finally:
            fake_ssm.close()
    return dag_run, set(gaps.calls), fake_ssm, s3_accesses(wire, bucket=BUCKET, access_key="testing")


def test_every_healthy_type_is_stored_valid_with_its_instance_provenance(full_run, moto_endpoint, runner_images):
    dag_run, *_ = full_run

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    keys = [k for k in s3_keys(moto_endpoint, "ib/results/v1/") if k.endswith(".json")]
    by_type = {k.split("instance_type=")[1].split("/")[0]: k for k in keys}
    assert sorted(by_type) == sorted(STORED)
    for instance_type, family in STORED.items():
        key = by_type[instance_type]
        assert key.startswith(f"ib/results/v1/region={REGION}/family={family}/instance_type={instance_type}/date=")
        doc = s3_json(moto_endpoint, key)
        assert schema_errors(doc) == []
        prov = doc["provenance"]
        assert prov["target"] == "aws" and prov["region"] == REGION and prov["instance_id"].startswith("i-")
        assert prov["availability_zone"].startswith(REGION) and prov["ami_id"].startswith("ami-")
        assert doc["host"]["instance_type"] == instance_type and doc["host"]["instance_id"] == prov["instance_id"]
        assert prov["container"]["source"] == "pulled"  # from image_registry, this machine's stand-in for ECR
        if family != "graviton":  # the real image, pulled by digest and run in the real engine
            image = runner_images[VARIANT_FOR_FAMILY[family]]  # amd: the generic image (OpenBLAS), issue 29
            assert prov["container"]["digest"] == image.pushed_digest == doc["host"]["container_digest"]
            assert prov["container"]["image"] == image.reference == doc["host"]["container_image"]
            assert doc["hpl"]["binary"]["path"] == "/opt/benchrun-bin/xhpl"
            assert doc["hpl"]["binary"]["blas"]["name"] == {"intel": "oneMKL", "amd": "OpenBLAS"}[family]
        cost = prov["cost"]  # launch to extraction x the run's on-demand price
        assert cost["market"] == "on-demand" and cost["price_per_hour"] == RECORDED_US_EAST_1[instance_type]
        assert cost["usd"] == pytest.approx(cost["instance_seconds"] / 3600 * cost["price_per_hour"], abs=1e-6)
        assert cost["predicted_usd"] > 0
        stages = {row["stage"]: row for row in prov["stages"]}  # issue 16 item 3, SSM's own execution times
        assert list(stages) == ["launch and agent online", "container", "stream", "hpl", "terminate"]
        assert all(stages[s]["actual_s"] > 0 and stages[s]["predicted_s"] > 0 for s in list(stages)[:-1])
        assert stages["terminate"]["actual_s"] is None  # it follows the document
        assert all(run["passed"] for run in doc["hpl"]["runs"]) and len(doc["hpl"]["runs"]) == 2
        assert doc["runner"]["profile"] == "test" and doc["runner"]["rule_sized"] is False


def test_the_x86_images_ran_in_the_engine_with_their_blas_and_mpi(full_run, moto_endpoint, runner_images):
    """What the images' own test once checked by running each again: the instances' documents say it."""
    keys = [k for k in s3_keys(moto_endpoint, "ib/results/v1/") if k.endswith(".json")]
    for key in keys:
        doc = s3_json(moto_endpoint, key)
        family = doc["provenance"]["family"]
        if family == "graviton":
            continue
        binary = doc["hpl"]["binary"]
        assert binary["kind"] == "xhpl" and {"intel": "Intel(R) MPI", "amd": "Open MPI"}[family] in binary["mpi"]
        blas = binary["blas"]
        assert blas["version"] and blas["kernel"] and blas["cpu_isa"], blas
        assert blas["matches_cpu"] in (True, False, None)
        if blas["matches_cpu"] is not True:
            assert blas["detail"]  # a fallback or an unknown width is explained, never silent


def test_every_instance_was_tagged_and_ends_terminated(full_run, moto_endpoint):
    dag_run, *_ = full_run

    instances = project_instances(moto_endpoint, dag_run.run_id)
    assert sorted(i["InstanceType"] for i in instances) == sorted(STORED)
    for instance in instances:
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert instance["State"]["Name"] == "terminated", instance["InstanceId"]
        assert tags["dag-id"] == "instance_benchmarks" and tags["map-index"].isdigit() and tags["ttl-seconds"]
        assert instance["MetadataOptions"]["HttpTokens"] == "required"
    # issue 28 item 12: each host's terminate started before its store (it follows run_hpl, not store)
    started = {(ti.task_id.split(".")[-1], ti.task_id.split(".")[0], ti.map_index): ti.start_date
               for ti in dag_run.get_task_instances() if ti.map_index >= 0 and str(ti.state).endswith("success")}
    stores = [(family, index) for task, family, index in started if task == "store"]
    assert len(stores) == len(STORED)
    for family, index in stores:
        assert started[("terminate", family, index)] < started[("store", family, index)], (family, index)


def test_capacity_and_quota_skips_are_recorded_and_summarised(full_run, moto_endpoint):
    dag_run, *_ = full_run

    summary = s3_json(moto_endpoint, "ib/reports/latest/summary.json")
    skipped = {s["instance_type"]: s for s in summary["skipped"]}
    assert sorted(skipped) == sorted([NO_CAPACITY, OVER_QUOTA])
    assert skipped[NO_CAPACITY]["stage"] == "provision"
    assert "InsufficientInstanceCapacity" in skipped[NO_CAPACITY]["reason"]
    assert skipped[OVER_QUOTA]["stage"] == "quota_check"
    assert "needs 64 vCPUs" in skipped[OVER_QUOTA]["reason"] and "is 32" in skipped[OVER_QUOTA]["reason"]
    assert summary["run_id"] == dag_run.run_id and len(summary["documents"]) == len(STORED)
    assert summary["quarantined"] == []


def test_test_profile_documents_are_stored_but_never_figures(full_run, moto_endpoint):
    """The test profile's refusals on the AWS path: stored (this deployment allows it), never in the dataset, the
    summaries, the rankings or CloudWatch, and the report says how many it withheld."""
    dag_run, *_ = full_run

    summary = s3_json(moto_endpoint, "ib/reports/latest/summary.json")
    assert sorted(summary["test_profile_documents"]) == sorted(summary["documents"])
    assert summary["summaries"] == [] and summary["rankings"] == []
    assert summary["dataset"]["raw_rows"] == summary["dataset"]["summary_rows"] == 0
    snapshot = s3_json(moto_endpoint, f"ib/prices/{safe_segment(dag_run.run_id)}.json")
    assert snapshot["errors"] == [] and snapshot["region"] == REGION  # the run was priced; its documents are not
    assert {p["on_demand"] for name, p in snapshot["prices"].items() if name in STORED} == {
        RECORDED_US_EAST_1[name] for name in STORED}
    cloudwatch = boto3.client("cloudwatch", region_name=REGION, endpoint_url=moto_endpoint)
    assert cloudwatch.list_metrics(Namespace="InstanceBenchmarks")["Metrics"] == []
    (report,) = [k for k in s3_keys(moto_endpoint, "ib/reports/latest/") if k.endswith("index.html")]
    body = boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint).get_object(Bucket=BUCKET, Key=report)
    assert f"{len(STORED)} stored document(s) come from the test profile" in body["Body"].read().decode()


def test_each_stage_was_one_ssm_command_on_its_own_instance(full_run):
    _, _, fake_ssm, _ = full_run

    assert len(fake_ssm.sent) == 3 * len(STORED)  # container, stream, hpl
    assert all(len(s["InstanceIds"]) == 1 and s["DocumentName"] == "AWS-RunShellScript" for s in fake_ssm.sent)
    assert {i.status for i in fake_ssm.invocations.values()} == {"Success"}


def test_results_analysis_over_s3_needs_only_what_the_airflow_role_grants(full_run, moto_endpoint, monkeypatch):
    """The Asset-scheduled rebuild, on the full run's S3 results: every request on the wire is granted."""
    from tests.conftest import load_dag
    from tests.fakes.aws import airflow_role_statements

    connect(monkeypatch, moto_endpoint)
    gaps = AwsGaps().install(monkeypatch)  # records the botocore-level calls (there should be none but S3's)

    with recorded(moto_endpoint) as wire:
        dag_run = load_dag("results_analysis").test(run_conf={"results_uri": f"s3://{BUCKET}/ib"})

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    s3 = s3_accesses(wire, bucket=BUCKET, access_key="testing")
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket"} <= {a.action for a in s3}
    assert denied(s3, airflow_role_statements()) == []
    assert {service for service, _ in gaps.calls} <= {"s3", "sts"}


FIGURES = "m7i.large"


@pytest.fixture(scope="module")
def figures_run(moto_endpoint, docker_engine, runner_images, bare_runner_built):
    """The one rule-sized run of the AWS path (quick profile, two repetitions): its figures are what the dataset,
    the price-performance and CloudWatch are checked on. Its own world, after the plumbing run's checks."""
    local_engine, registry = docker_engine
    with pytest.MonkeyPatch.context() as monkeypatch:
        gaps, fake_ssm = aws_world(monkeypatch, moto_endpoint, ssm_executes=True,
                                   docker_host=local_engine.docker_host)
        try:
            with recorded(moto_endpoint) as wire:
                dag_run = cli.load_dag().test(run_conf={
                    **conf([FIGURES]), "profile": "quick", "time_budget_s": E2E_TIME_BUDGET_S,
                    "image_registry": f"{registry.address}/instance-benchmarks-runner"})
        finally:
            fake_ssm.close()
    return dag_run, list(gaps.calls), s3_accesses(wire, bucket=BUCKET, access_key="testing")


def test_a_rule_sized_aws_run_is_priced_ranked_put_in_the_dataset_and_cloudwatch(figures_run, moto_endpoint):
    dag_run, *_ = figures_run

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    summary = s3_json(moto_endpoint, "ib/reports/latest/summary.json")
    assert summary["run_id"] == dag_run.run_id and summary["test_profile_documents"] == []
    (doc_key,) = [k for k in s3_keys(moto_endpoint, "ib/results/v1/") if k.endswith(".json")]
    doc = s3_json(moto_endpoint, doc_key)
    assert doc["provenance"]["plan"]["profile"] == "quick" and all(r["passed"] for r in doc["run_rules"])
    assert doc["hpl"]["binary"]["blas"]["name"] == "oneMKL"  # the intel image, pulled and run in the engine
    (hpl,) = [s for s in summary["summaries"] if s["benchmark"] == "hpl"]
    assert hpl["price_per_hour_on_demand"] == RECORDED_US_EAST_1[FIGURES]
    assert hpl["value_per_dollar_on_demand"] == pytest.approx(hpl["mean"] / RECORDED_US_EAST_1[FIGURES])
    assert hpl["price_per_hour_spot"] is not None  # moto's static spot history
    assert hpl["n"] == 2 and hpl["ci95_low"] <= hpl["mean"] <= hpl["ci95_high"]
    assert {r["by"] for r in summary["rankings"]} == {"performance", "per dollar"}
    version = s3_json(moto_endpoint, "ib/dataset/v1/CURRENT.json")["version"]
    parquet = [k for k in s3_keys(moto_endpoint, f"ib/dataset/v1/versions/{version}/raw/") if k.endswith(".parquet")]
    assert parquet and all(f"region={REGION}/family=intel/" in k for k in parquet)
    assert summary["dataset"]["summary_rows"] == 9  # 8 STREAM (4 kernels x 2 placements) + HPL
    cloudwatch = boto3.client("cloudwatch", region_name=REGION, endpoint_url=moto_endpoint)
    metrics = cloudwatch.list_metrics(Namespace="InstanceBenchmarks")["Metrics"]
    assert {d["Value"] for m in metrics for d in m["Dimensions"] if d["Name"] == "InstanceType"} == {FIGURES}
    assert {"stream/triad", "hpl/gflops"} <= {m["MetricName"] for m in metrics}
    assert {d["Value"] for m in metrics for d in m["Dimensions"] if d["Name"] == "Profile"} == {"quick"}


def test_the_airflow_role_policy_grants_every_call_the_run_made(full_run, figures_run):
    """boto3 calls seen at botocore's API layer; S3 (through s3fs/aiobotocore) seen on the wire by moto_server.
    The plumbing run and the rule-sized one together make every call (CloudWatch takes figures only)."""
    from tests.fakes.aws import NEEDS_NO_PERMISSION, airflow_role_actions, airflow_role_statements, iam_actions

    _, calls, _, wire_s3 = full_run
    _, figure_calls, figure_s3 = figures_run
    s3 = [*wire_s3, *figure_s3]
    granted, made = airflow_role_actions(), iam_actions([*calls, *figure_calls])

    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket"} <= {a.action for a in s3}
    assert denied(s3, airflow_role_statements()) == []

    assert {"ec2:RunInstances", "ssm:SendCommand", "servicequotas:ListServiceQuotas", "sts:GetCallerIdentity",
            "cloudwatch:PutMetricData", "pricing:GetProducts", "ec2:DescribeSpotPriceHistory"} <= made
    assert made - granted - NEEDS_NO_PERMISSION == set()
    # Nothing granted that is never called, except what AWS checks inside another call (PassRole and
    # CreateTags inside RunInstances/CreateSecurityGroup), CancelCommand (only when a task is killed:
    # tests/plugins/.../test_ssm.py), and s3:DeleteObject (the dataset's versions older than an hour, pruned).
    implicit = {"iam:PassRole", "ec2:CreateTags", "ssm:CancelCommand",
                "ec2:DescribeInstanceTypeOfferings",  # catalog_refresh's: tests/dags/test_catalog_refresh.py
                "sns:Publish"}  # on-call's, when a run fails and a topic is named: the plain-moto run
    # s3:GetBucketLocation: s3fs's fallback probe when AWS denies HeadBucket (moto does not; tests/fakes/s3_access.py)
    assert granted - made - {a.action for a in s3} - {a.fallback for a in s3} == implicit | {"s3:DeleteObject"}


def on_call_queue(monkeypatch, endpoint: str) -> str:
    """The deployment's alert topic with an SQS queue subscribed to it, as on-call would subscribe a pager."""
    sns = boto3.client("sns", region_name=REGION, endpoint_url=endpoint)
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
    topic = sns.create_topic(Name="instance-benchmarks-on-call")["TopicArn"]
    queue = sqs.create_queue(QueueName="on-call")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("INSTANCE_BENCHMARKS_ALERT_TOPIC_ARN", topic)
    return queue


def test_plain_moto_runs_nothing_every_type_fails_and_nothing_is_left_running(moto_endpoint, monkeypatch):
    """And on-call is told (issue 28 item 9): one message, naming the run, each type with its reason, the report."""
    _, fake_ssm = aws_world(monkeypatch, moto_endpoint, ssm_executes=False)
    queue = on_call_queue(monkeypatch, moto_endpoint)

    dag_run = cli.load_dag().test(run_conf=conf(["m7i.large", "m7g.large"]))

    assert str(dag_run.state) in ("failed", "DagRunState.FAILED")
    assert s3_keys(moto_endpoint, "ib/results/") == []
    reasons = {key.split("/")[-2]: s3_json(moto_endpoint, key)["reasons"]
               for key in s3_keys(moto_endpoint, "ib/quarantine/") if key.endswith("reason.json")}
    assert sorted(reasons) == ["m7g.large", "m7i.large"]
    for found in reasons.values():
        assert any("the instance uploaded nothing" in r for r in found), found
    instances = project_instances(moto_endpoint, dag_run.run_id)
    assert len(instances) == 2 and {i["State"]["Name"] for i in instances} == {"terminated"}
    assert fake_ssm.invocations == {}  # moto answered SendCommand; nothing ran here
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_endpoint)
    (received,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(received["Body"])  # SNS's envelope around the message
    assert envelope["Subject"] == f"instance-benchmarks: instance_benchmarks run {dag_run.run_id} failed"[:100]
    message = envelope["Message"]
    assert f"The instance_benchmarks run {dag_run.run_id} failed" in message
    assert "0 document(s) stored; 2 type(s) or host(s) not:" in message
    for instance_type in ("m7i.large", "m7g.large"):
        assert f"- {instance_type} quarantined: " in message and "the instance uploaded nothing" in message
    assert f"Report: s3://{BUCKET}/ib/reports/runs/" in message and "/index.html" in message


HEALTHY = "m7i.large"
FAULTS = {  # instance type -> injected fault, and the reason its quarantine record must give
    "c7i.large": ("pull-fails", "container: getting the runner image"),
    "m7a.large": ("benchrun-fails", "benchrun crashed before writing its document"),
    "c7a.large": ("invalid-document", "staged document unreadable"),
    "m7g.large": ("no-upload", "the instance uploaded nothing"),
    "c7g.large": ("residual-failed", "residual"),
}
# Issue 28 item 10: the task that turns red for each, the stage that failed (a document, even a failed benchmark's,
# is judged at validate and quarantined by store)
RED_TASK = {"c7i.large": "container", "m7a.large": "run_stream", "c7a.large": "store", "m7g.large": "run_stream",
            "c7g.large": "store"}
# The two faults that wait real time, a STREAM past its execution timeout (the time budget) and an agent that
# never comes online (agent_timeout_s), are the Celery stack's: its triggerer waits them out side by side, where
# dag.test() runs one trigger at a time (a minute each, one after the other): tests/deployment/test_celery_stack.py
# test_a_task_killed_while_its_benchmark_runs_...
PROVISION_FAILS = "r7a.large"  # RunInstances answers, then provision fails on the answer
ANSWER_LOST = "c6i.large"  # RunInstances launches, its answer never reaches the task (a lost worker)


def break_the_launch_answer(gaps: AwsGaps, instance_type: str) -> None:
    """RunInstances launches (the instance exists), but its answer lacks Placement: provision fails after
    RunInstances on every try (the ClientToken gives each retry the same answer back)."""

    def handler(client, params, passthrough):
        response = passthrough()
        if params.get("InstanceType") != instance_type:
            return response
        return {**response, "Instances": [{k: v for k, v in i.items() if k != "Placement"}
                                          for i in response["Instances"]]}

    gaps.wrap("ec2", "RunInstances", handler)


def lose_the_launch_answer(gaps: AwsGaps, instance_type: str) -> list[str]:
    """The first RunInstances of this type launches, then its answer is lost, as when the worker dies right
    after the call or the connection drops: provision has no handle to clean up with. Its retry must get that
    same instance back through the ClientToken (issue 17 item 1: the retry's parameters differed, AWS refused
    it with IdempotentParameterMismatch, and the instance was orphaned)."""
    from botocore.exceptions import ReadTimeoutError

    lost: list[str] = []

    def handler(client, params, passthrough):
        response = passthrough()
        if params.get("InstanceType") == instance_type and not lost:
            lost.append(response["Instances"][0]["InstanceId"])
            raise ReadTimeoutError(endpoint_url=f"https://ec2.{REGION}.amazonaws.com")
        return response

    gaps.wrap("ec2", "RunInstances", handler)
    return lost


def test_faults_in_some_types_are_quarantined_with_their_reasons_while_the_healthy_one_is_stored(
        moto_endpoint, monkeypatch, bare_runner_built):
    gaps, fake_ssm = aws_world(monkeypatch, moto_endpoint, ssm_executes=True)
    fake_ssm.faults = {instance_type: fault for instance_type, (fault, _) in FAULTS.items()}
    break_the_launch_answer(gaps, PROVISION_FAILS)
    lost = lose_the_launch_answer(gaps, ANSWER_LOST)
    try:
        dag_run = quick_retries(cli.load_dag()).test(run_conf={
            **conf([HEALTHY, *FAULTS, PROVISION_FAILS, ANSWER_LOST]), "repetitions": 1})
    finally:
        fake_ssm.close()

    assert str(dag_run.state) in ("failed", "DagRunState.FAILED")  # quarantines fail the run, visibly
    red = {(ti.rendered_map_index or "").split(" #")[0]: ti.task_id.split(".")[-1]
           for ti in dag_run.get_task_instances() if str(ti.state).endswith("failed") and ti.map_index >= 0
           and not str(ti.state).endswith("upstream_failed")}
    assert red == {**RED_TASK, PROVISION_FAILS: "provision"}, red
    stored = [k for k in s3_keys(moto_endpoint, "ib/results/v1/") if k.endswith(".json")]
    assert sorted(k.split("instance_type=")[1].split("/")[0] for k in stored) == sorted([HEALTHY, ANSWER_LOST])
    (recovered,) = [s3_json(moto_endpoint, k) for k in stored if f"instance_type={ANSWER_LOST}/" in k]
    assert recovered["provenance"]["instance_id"] == lost[0]  # the lost answer's instance, got back
    reasons = {key.split("/")[-2]: s3_json(moto_endpoint, key)["reasons"]
               for key in s3_keys(moto_endpoint, "ib/quarantine/") if key.endswith("reason.json")}
    assert sorted(reasons) == sorted(FAULTS)
    for instance_type, (fault, expected) in FAULTS.items():
        assert any(expected in reason for reason in reasons[instance_type]), (fault, reasons[instance_type])
    instances = project_instances(moto_endpoint, dag_run.run_id)
    launches = [i["InstanceType"] for i in instances]
    # three provision tries, one launch; the lost answer's retry, no second launch
    assert sorted(launches) == sorted([HEALTHY, *FAULTS, PROVISION_FAILS, ANSWER_LOST])
    assert {i["State"]["Name"] for i in instances} == {"terminated"}
    summary = s3_json(moto_endpoint, "ib/reports/latest/summary.json")
    assert len(summary["documents"]) == 2 and len(summary["quarantined"]) == len(FAULTS)
    (skipped,) = summary["skipped"]
    assert skipped["instance_type"] == PROVISION_FAILS and skipped["stage"] == "provision"
    assert skipped["reason"].startswith("failed on its last try: KeyError") and "Placement" in skipped["reason"]


def test_a_dry_run_of_the_whole_catalog_plans_every_type_and_launches_nothing(moto_endpoint, monkeypatch):
    gaps, _ = aws_world(monkeypatch, moto_endpoint, ssm_executes=False)

    dag_run = cli.load_dag().test(run_conf={**conf(["all"]), "dry_run": True, "image_registry": "127.0.0.1:5000/r"})

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    assert ("ec2", "RunInstances") not in gaps.calls and ("ssm", "SendCommand") not in gaps.calls
    plans = s3_json(moto_endpoint, f"ib/plans/{safe_segment(dag_run.run_id)}.json")
    summary = s3_json(moto_endpoint, f"ib/plans/{safe_segment(dag_run.run_id)}.summary.json")
    assert len(plans) == summary["types"] > 1000  # moto's current-generation, non-accelerated types
    priced = {p["instance_type"]: p for p in plans if p["cost_on_demand"] is not None}
    assert set(priced) == set(RECORDED_US_EAST_1) & {p["instance_type"] for p in plans}
    assert summary["unpriced"] == len(plans) - len(priced)  # the rest have no price in the fake's snapshot
    assert all(p["hpl_n"] > 0 and p["predicted_s"] > 0 for p in plans)
    assert project_instances(moto_endpoint, dag_run.run_id) == []


def test_a_budget_of_nothing_skips_every_type_before_anything_launches(moto_endpoint, monkeypatch):
    gaps, _ = aws_world(monkeypatch, moto_endpoint, ssm_executes=False)

    dag_run = cli.load_dag().test(run_conf={**conf(["m7i.large", "c7g.large"]), "budget_usd": 0})

    assert ("ec2", "RunInstances") not in gaps.calls
    skipped = s3_json(moto_endpoint, "ib/reports/latest/summary.json")["skipped"]
    assert sorted(s["instance_type"] for s in skipped) == ["c7g.large", "m7i.large"]
    assert all(s["stage"] == "plan" and "over its $0 budget_usd" in s["reason"] for s in skipped)
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")


def test_a_run_predicted_past_its_time_out_stops_at_plan_before_anything_launches(moto_endpoint, monkeypatch):
    """Issue 28 item 7: the time-out and the plan agree; a run that could not end in time is refused before it
    launches a host that it would then leave unmeasured when the scheduler fails it."""
    gaps, _ = aws_world(monkeypatch, moto_endpoint, ssm_executes=False)
    monkeypatch.setenv("INSTANCE_BENCHMARKS_RUN_TIMEOUT_H", "0.05")  # 3 minutes: less than one host's plan
    monkeypatch.setenv("INSTANCE_BENCHMARKS_HOSTS_AT_ONCE", "1")

    dag_run = cli.load_dag().test(run_conf=conf(["m7i.large", "c7g.large"]))

    assert str(dag_run.state) in ("failed", "DagRunState.FAILED")
    assert ("ec2", "RunInstances") not in gaps.calls
    stopped = s3_json(moto_endpoint, f"ib/reports/runs/{safe_segment(dag_run.run_id)}/summary.json")["stopped"]
    assert stopped["stage"] == "plan" and "(2 hosts, 1 at once), past its time-out of 0.05 h" in stopped["reason"]
    assert "set budget_usd, name fewer types, or raise the time-out" in stopped["reason"]


TWO_HOSTS = "c7i.large"


@pytest.fixture(scope="module")
def throttled_two_host_run(moto_endpoint, bare_runner_built):
    """One type on two hosts, with every AWS call throttled for a while: one run for two tests (each would
    otherwise pay a whole run of its own)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _, fake_ssm = aws_world(monkeypatch, moto_endpoint, ssm_executes=True)
        # Each call's first two attempts answer RequestLimitExceeded until 30 have, whatever the call.
        throttle = Throttle(monkeypatch, operation=None, times=30, per_call=2)
        try:
            dag_run = cli.load_dag().test(run_conf={**conf([TWO_HOSTS]), "instances_per_type": 2})
        finally:
            fake_ssm.close()
    return dag_run, throttle


def test_aws_throttling_every_call_for_a_while_slows_the_run_but_it_completes(throttled_two_host_run,
                                                                             moto_endpoint):
    dag_run, throttle = throttled_two_host_run

    assert len(throttle.throttled) == 30 and len(set(throttle.throttled)) > 3  # many different calls hit
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    stored = [k for k in s3_keys(moto_endpoint, "ib/results/v1/") if safe_segment(dag_run.run_id) in k]
    assert len(stored) == 2 and all(f"instance_type={TWO_HOSTS}" in k for k in stored)
    assert {i["State"]["Name"] for i in project_instances(moto_endpoint, dag_run.run_id)} == {"terminated"}


def test_two_hosts_per_type_start_in_two_zones_and_are_stored_and_accounted_each(throttled_two_host_run,
                                                                                  moto_endpoint):
    """Issue 15 item 3: instances_per_type=2 launches the type twice, the second host in the next zone; each
    host's document is stored under its own key and accounted for. (The interval across the two hosts is
    analysis's: tests/plugins/instance_benchmarks/test_analysis.py, on two real documents.)"""
    dag_run, _ = throttled_two_host_run

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    instances = project_instances(moto_endpoint, dag_run.run_id)
    assert len(instances) == 2 and {i["State"]["Name"] for i in instances} == {"terminated"}
    zones = {i["Placement"]["AvailabilityZone"] for i in instances}
    assert len(zones) == 2
    keys = [k for k in s3_keys(moto_endpoint, "ib/results/v1/") if safe_segment(dag_run.run_id) in k]
    docs = [s3_json(moto_endpoint, k) for k in keys]
    assert sorted((d["provenance"]["replica"], d["provenance"]["replicas"]) for d in docs) == [(1, 2), (2, 2)]
    assert {d["provenance"]["availability_zone"] for d in docs} == zones
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == sorted(
        [f"{safe_segment(dag_run.run_id)}.json", f"{safe_segment(dag_run.run_id)}_host2.json"])
    summary = s3_json(moto_endpoint, "ib/reports/latest/summary.json")
    assert summary["unaccounted"] == [] and summary["quarantined"] == [] and summary["skipped"] == []
    assert len(summary["documents"]) == len(summary["test_profile_documents"]) == 2


RECLAIMED = "m7g.medium"  # AWS reclaims its spot instance as STREAM starts (the fake's spot-reclaimed fault)


def runs_named(run_id: str) -> list:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [(r.run_id, r.conf) for r in session.scalars(select(DagRun).where(DagRun.run_id == run_id))]


def test_a_reclaimed_spot_instance_is_recorded_as_interrupted_and_its_type_relaunched_on_demand(
        moto_endpoint, monkeypatch, bare_runner_built):
    """Issue 17 item 3: the wait ends at once (not after budget + 600 s), nothing more is sent to the gone
    instance, the type is quarantined as interrupted, and market=spot-then-on-demand runs it again on demand."""
    gaps, fake_ssm = aws_world(monkeypatch, moto_endpoint, ssm_executes=True)
    fake_ssm.faults = {RECLAIMED: "spot-reclaimed"}
    dag = cli.load_dag()
    try:
        first = dag.test(run_conf={**conf([RECLAIMED]), "repetitions": 1, "market": "spot-then-on-demand"})
        ((relaunch_id, relaunch_conf),) = runs_named(f"{first.run_id}__on_demand")
        # dag.test runs a conf of its own; the triggered run stays queued (no scheduler here)
        second = dag.test(run_conf=relaunch_conf)
    finally:
        fake_ssm.close()

    assert str(first.state) in ("failed", "DagRunState.FAILED")
    (gone,) = project_instances(moto_endpoint, first.run_id)
    assert gone["InstanceId"] in fake_ssm.reclaimed and {"Key": "market", "Value": "spot"} in gone["Tags"]
    sent = [c for c in fake_ssm.sent if gone["InstanceId"] in c["InstanceIds"]]
    assert len(sent) == 2  # the container and STREAM; HPL never sent to a reclaimed instance
    (key,) = [k for k in s3_keys(moto_endpoint, f"ib/quarantine/{safe_segment(first.run_id)}/")
              if k.endswith("reason.json")]
    reason = s3_json(moto_endpoint, key)
    assert reason["interrupted"] is True and reason["instance_type"] == RECLAIMED
    assert any("interrupted: AWS reclaimed the spot instance (Server.SpotInstanceTermination" in r
               for r in reason["reasons"]), reason["reasons"]
    assert relaunch_conf["market"] == "on-demand" and relaunch_conf["instance_types"] == [RECLAIMED]
    assert relaunch_conf["instances_per_type"] == 1  # as many hosts as were reclaimed, not every host of the type
    kept = {k: v for k, v in first.conf.items() if k not in ("market", "instance_types")}
    assert {k: relaunch_conf[k] for k in kept} == kept  # the same results_uri, budget, connection, ...

    assert str(second.state) in ("success", "DagRunState.SUCCESS")
    (on_demand,) = project_instances(moto_endpoint, second.run_id)
    assert {"Key": "market", "Value": "on-demand"} in on_demand["Tags"]
    assert {i["State"]["Name"] for i in [gone, on_demand]} == {"terminated"}
    stored = [s3_json(moto_endpoint, k) for k in s3_keys(moto_endpoint, "ib/results/v1/") if k.endswith(".json")]
    (doc,) = [d for d in stored if d["provenance"]["run_id"] == second.run_id]
    assert doc["provenance"]["market"] == "on-demand" and doc["provenance"]["instance_type"] == RECLAIMED
