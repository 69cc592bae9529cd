"""The teardown: terminate at once, wait deferred (issue 28 item 12)."""

from __future__ import annotations

import datetime

import pytest
from airflow.sdk.exceptions import TaskDeferred

from instance_benchmarks.operators.ec2 import TerminateHostOperator


def test_an_ec2_host_is_asked_to_terminate_and_the_wait_is_deferred(moto_env):
    import boto3

    ec2 = boto3.client("ec2", region_name="us-east-1")
    instance_id = ec2.run_instances(ImageId="ami-12c6146b", InstanceType="m7i.large", MinCount=1,
                                    MaxCount=1)["Instances"][0]["InstanceId"]
    state = {"plan": {"instance_type": "m7i.large"},
             "handle": {"target": "aws", "host_id": instance_id, "instance_type": "m7i.large", "details": {}}}
    params = {"target": "aws", "aws_conn_id": None, "region": "us-east-1", "poll_interval_s": 3}

    with pytest.raises(TaskDeferred) as deferred:
        TerminateHostOperator(task_id="terminate", state=state).execute({"params": params})

    trigger = deferred.value.trigger
    assert type(trigger).__name__ == "EC2StateSensorTrigger"  # the provider's
    assert (trigger.instance_id, trigger.target_state, trigger.poll_interval) == (instance_id, "terminated", 3)
    assert deferred.value.timeout == datetime.timedelta(minutes=10)
    (reservation,) = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    assert reservation["Instances"][0]["State"]["Name"] in ("shutting-down", "terminated")  # asked before deferring


def test_nothing_provisioned_or_this_machine_ends_at_once():
    local = {"plan": {"instance_type": "local"},
             "handle": {"target": "local", "host_id": "vm", "instance_type": "local", "details": {}}}

    assert TerminateHostOperator(task_id="t", state=local).execute({"params": {"target": "local"}}) is None
    assert TerminateHostOperator(task_id="t", state=None).execute({"params": {"target": "aws"}}) is None
