"""The janitor DAG through dag.test() against in-process moto: it sweeps by tag and by run state."""

from __future__ import annotations

import datetime

import boto3
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def dag():
    """Parsed for a deployment whose connection is `no_such_connection`: no such Airflow connection exists, so
    the hooks fall back to the environment's credentials (moto's, or none), and the form allows exactly it."""
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("INSTANCE_BENCHMARKS_AWS_CONN_ID", "no_such_connection")
        bag = DagBag(dag_folder=str(REPO / "dags" / "janitor.py"))
    assert bag.import_errors == {}
    return bag.get_dag("janitor")


def test_the_janitor_terminates_what_its_tags_say_has_ended_and_nothing_else(dag, moto_env):
    ec2 = boto3.client("ec2", region_name="us-east-1")
    future = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2)).isoformat(timespec="seconds")
    finished = dag.test(run_conf={"aws_conn_id": "no_such_connection", "dry_run": True})  # a run that has ended

    def launch(tags):
        spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
        return ec2.run_instances(ImageId="ami-12c6146b", InstanceType="m7i.large", MinCount=1, MaxCount=1,
                                 TagSpecifications=spec)["Instances"][0]["InstanceId"]

    orphan = launch({"project": "instance-benchmarks", "dag-id": "janitor", "run-id": finished.run_id,
                     "expires-at": future})
    untagged = launch({"Name": "somebody's build box"})

    # dry_run given explicitly: a second dag.test() on the same DAG object keeps the first run's conf values.
    dag_run = dag.test(run_conf={"aws_conn_id": "no_such_connection", "dry_run": False})

    states = {i["InstanceId"]: i["State"]["Name"]
              for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    assert states[orphan] in ("shutting-down", "terminated") and states[untagged] == "running"


def test_without_aws_credentials_the_janitor_skips_saying_why(dag, monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    dag_run = dag.test(run_conf={"aws_conn_id": "no_such_connection", "dry_run": False})

    (ti,) = dag_run.get_task_instances()
    assert str(ti.state) in ("skipped", "TaskInstanceState.SKIPPED")


@pytest.mark.usefixtures("no_aws_anywhere")
def test_without_any_aws_set_up_the_janitor_skips_instead_of_failing_every_hour(dag):
    """A laptop's `make up`: no region anywhere. The hourly sweep must not show a failed run each hour."""
    dag_run = dag.test(run_conf={"aws_conn_id": "no_such_connection", "dry_run": False})

    (ti,) = dag_run.get_task_instances()
    assert str(ti.state) in ("skipped", "TaskInstanceState.SKIPPED")


def test_the_janitor_sweeps_every_region_the_deployment_launches_in(dag, moto_env, monkeypatch):
    """Issue 17 item 2: it swept one region. Now the param's, the catalog's and the connection's own."""
    from tests.fakes.aws import AwsGaps, airflow_role_actions, iam_actions

    monkeypatch.setenv("INSTANCE_BENCHMARKS_CATALOG_REGIONS", "us-east-1,ap-south-1")
    expired = {"project": "instance-benchmarks", "dag-id": "instance_benchmarks", "run-id": "elsewhere__1",
               "ttl-seconds": "0"}
    launched = {}
    for region in ("us-east-1", "ap-south-1", "eu-west-1", "sa-east-1"):
        ec2 = boto3.client("ec2", region_name=region)
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        launched[region] = ec2.run_instances(
            ImageId=image, InstanceType="m7i.large", MinCount=1, MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance",
                                "Tags": [{"Key": k, "Value": v} for k, v in expired.items()]}],
        )["Instances"][0]["InstanceId"]

    gaps = AwsGaps().install(monkeypatch)  # records the janitor's calls for the policy check
    dag_run = dag.test(run_conf={"aws_conn_id": "no_such_connection", "dry_run": False, "regions": ["eu-west-1"]})

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    states = {region: boto3.client("ec2", region_name=region).describe_instances(InstanceIds=[instance])
              ["Reservations"][0]["Instances"][0]["State"]["Name"] for region, instance in launched.items()}
    assert {r for r, s in states.items() if s in ("shutting-down", "terminated")} == {"us-east-1", "ap-south-1",
                                                                                      "eu-west-1"}
    assert states["sa-east-1"] == "running"  # this deployment never launches there
    made = iam_actions(gaps.calls)
    assert {"ec2:DescribeInstances", "ec2:TerminateInstances"} <= made and made - airflow_role_actions() == set()
