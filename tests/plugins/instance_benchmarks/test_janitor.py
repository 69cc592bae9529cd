"""The janitor's decisions over moto's EC2: expiry, ended runs, and never an untagged instance."""

from __future__ import annotations

import datetime

import boto3
import pytest

from instance_benchmarks import janitor

NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def ec2(moto_env):
    return boto3.client("ec2", region_name="us-east-1")


def launch(ec2, tags: dict[str, str]) -> str:
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    return ec2.run_instances(ImageId="ami-12c6146b", InstanceType="m7i.large", MinCount=1, MaxCount=1,
                             TagSpecifications=spec)["Instances"][0]["InstanceId"]


def project(expires: datetime.datetime | str, run_id: str = "manual__1") -> dict[str, str]:
    text = expires if isinstance(expires, str) else expires.isoformat(timespec="seconds")
    return {"project": "instance-benchmarks", "dag-id": "instance_benchmarks", "run-id": run_id, "expires-at": text}


def state(ec2, instance_id: str) -> str:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]


def test_expired_and_ended_are_terminated_live_and_untagged_are_kept(ec2):
    expired = launch(ec2, project(NOW - datetime.timedelta(minutes=1)))
    run_ended = launch(ec2, project(NOW + datetime.timedelta(hours=1), run_id="manual__ended"))
    live = launch(ec2, project(NOW + datetime.timedelta(hours=1), run_id="manual__running"))
    unknown_run = launch(ec2, project(NOW + datetime.timedelta(hours=1), run_id="elsewhere__1"))
    untagged = launch(ec2, {})
    other_project = launch(ec2, {"project": "someone-else", "expires-at": "2000-01-01T00:00:00+00:00"})
    runs = {"manual__ended": "failed", "manual__running": "running"}

    record = janitor.sweep(ec2, now=NOW, run_state=lambda dag_id, run_id: runs.get(run_id))

    assert sorted(record["terminated"]) == sorted([expired, run_ended])
    for kept in (live, unknown_run, untagged, other_project):
        assert state(ec2, kept) == "running"
    for gone in (expired, run_ended):
        assert state(ec2, gone) in ("shutting-down", "terminated")
    reasons = {d["instance_id"]: d["reason"] for d in record["decisions"]}
    assert reasons[expired].startswith("expired (expires-at ") and "has ended (failed)" in reasons[run_ended]
    assert untagged not in reasons and other_project not in reasons  # never even looked at


def test_dry_run_terminates_nothing_but_says_what_it_would(ec2):
    expired = launch(ec2, project(NOW - datetime.timedelta(minutes=1)))

    record = janitor.sweep(ec2, now=NOW, run_state=lambda *_: None, dry_run=True)

    assert record["terminated"] == [] and record["decisions"][0]["terminate"]
    assert state(ec2, expired) == "running"


def test_an_unreadable_expiry_falls_back_to_the_longest_time_to_live(ec2):
    instance_id = launch(ec2, project("soon"))
    (instance,) = janitor.project_instances(ec2)

    longest = janitor.FALLBACK_TTL  # the longest any run may ask for: a 24 h budget, a 1 h agent timeout
    assert longest >= datetime.timedelta(hours=50)
    assert janitor.why_terminate(instance, now=instance["LaunchTime"] + longest - datetime.timedelta(minutes=1),
                                 run_state=lambda *_: None) is None
    reason = janitor.why_terminate(instance, now=instance["LaunchTime"] + longest, run_state=lambda *_: None)
    assert instance["InstanceId"] == instance_id and reason.startswith("expired (no valid ttl-seconds ('') or "
                                                                       "expires-at ('soon')")


def test_the_time_to_live_counts_from_the_instance_s_own_launch(ec2):
    launch(ec2, {"project": "instance-benchmarks", "dag-id": "instance_benchmarks", "run-id": "manual__1",
                 "ttl-seconds": "3600"})
    (instance,) = janitor.project_instances(ec2)
    launched = instance["LaunchTime"]

    assert janitor.why_terminate(instance, now=launched + datetime.timedelta(seconds=3599),
                                 run_state=lambda *_: None) is None
    assert janitor.why_terminate(instance, now=launched + datetime.timedelta(seconds=3600),
                                 run_state=lambda *_: None).startswith("expired (launch ")


def test_a_region_that_cannot_be_swept_fails_loudly_after_the_others_are_swept(ec2):
    from botocore.exceptions import ClientError, NoCredentialsError

    expired = launch(ec2, {"project": "instance-benchmarks", "dag-id": "instance_benchmarks", "run-id": "x",
                           "ttl-seconds": "0"})

    class Denied:
        def get_paginator(self, _):
            raise ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "You are not authorized"}},
                              "DescribeInstances")

    clients = {"us-east-1": ec2, "eu-west-1": Denied()}
    with pytest.raises(RuntimeError, match=r"could not sweep \['eu-west-1'\] \(swept \['us-east-1'\]\).*"
                                           "UnauthorizedOperation"):
        janitor.sweep_regions(clients.__getitem__, ["eu-west-1", "us-east-1"], run_state=lambda *_: None,
                              now=datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1))
    assert state(ec2, expired) in ("shutting-down", "terminated")  # the denied region did not stop this one

    launch(ec2, {"project": "instance-benchmarks", "dag-id": "instance_benchmarks", "run-id": "y",
                 "ttl-seconds": "3600"})
    record = janitor.sweep_regions({"us-east-1": ec2}.__getitem__, ["us-east-1"], run_state=lambda *_: None,
                                   now=datetime.datetime.now(datetime.UTC), dry_run=True)
    assert record["regions"] == ["us-east-1"] and {d["region"] for d in record["decisions"]} == {"us-east-1"}

    class NoCredentials:
        def get_paginator(self, _):
            raise NoCredentialsError()

    with pytest.raises(janitor.NothingToSweep, match="no AWS credentials"):  # not set up at all: the DAG skips
        janitor.sweep_regions(lambda _: NoCredentials(), ["us-east-1"], now=NOW, run_state=lambda *_: None)


def test_the_regions_to_sweep_are_every_region_the_deployment_launches_in_once(monkeypatch):
    monkeypatch.setenv("INSTANCE_BENCHMARKS_CATALOG_REGIONS", "us-east-1,eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")

    assert janitor.regions_to_sweep(["ap-south-1", "us-east-1"], "eu-west-1") == [
        "ap-south-1", "us-east-1", "eu-west-1", "us-west-2"]
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert janitor.regions_to_sweep(None, None) == ["us-east-1", "eu-west-1"]
