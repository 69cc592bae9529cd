"""The SSM triggers against in-process moto, with the fake SSM for what moto lacks."""

from __future__ import annotations

import asyncio

import boto3
import pytest

from instance_benchmarks import ssm
from instance_benchmarks.triggers.ssm import SsmAgentOnlineTrigger, SsmCommandTrigger
from tests.fakes.aws import AwsGaps, FakeSsm


@pytest.fixture
def instance_id(moto_env):
    client = boto3.client("ec2", region_name="us-east-1")
    return client.run_instances(ImageId="ami-12c6146b", InstanceType="m7i.large", MinCount=1,
                                MaxCount=1)["Instances"][0]["InstanceId"]


@pytest.fixture
def fake_ssm(monkeypatch):
    fake = FakeSsm(agent_polls_before_online=2)
    fake.install(AwsGaps().install(monkeypatch))
    yield fake
    fake.close()


def first_event(trigger):
    async def run():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(run())


def agent_trigger(instance_id, **kwargs):
    return SsmAgentOnlineTrigger(instance_id=instance_id, aws_conn_id=None, region_name="us-east-1",
                                 **{"poll_interval": 0.05, "timeout": 30, **kwargs})


def test_agent_trigger_fires_once_the_agent_registers(instance_id, fake_ssm):
    event = first_event(agent_trigger(instance_id))

    assert event == {"status": "success", "instance_id": instance_id, "state": "running", "ping": "Online"}


def test_agent_trigger_times_out_saying_what_to_check(instance_id, fake_ssm):
    fake_ssm.offline_instance_ids.add(instance_id)

    event = first_event(agent_trigger(instance_id, timeout=0.2))

    assert event["status"] == "timeout" and "instance-role-policy.json" in event["message"]


def test_agent_trigger_stops_when_the_instance_is_gone(instance_id, fake_ssm):
    boto3.client("ec2", region_name="us-east-1").terminate_instances(InstanceIds=[instance_id])

    event = first_event(agent_trigger(instance_id))

    assert event["status"] == "error" and f"{instance_id} is terminated" in event["message"]


def test_agent_trigger_reports_an_api_it_cannot_call(instance_id):
    event = first_event(agent_trigger(instance_id))  # plain moto: no DescribeInstanceInformation

    assert event["status"] == "error" and "NotImplementedError" in event["message"]


def test_command_trigger_waits_for_the_end_and_carries_exit_code_and_output(instance_id, fake_ssm):
    client = boto3.client("ssm", region_name="us-east-1")
    command_id = ssm.send(client, instance_id=instance_id, commands=["echo started", "sleep 0.3", "echo oops >&2",
                                                                     "exit 3"], timeout_s=60, comment="test")

    event = first_event(SsmCommandTrigger(command_id=command_id, instance_id=instance_id, aws_conn_id=None,
                                          region_name="us-east-1", poll_interval=0.05, timeout=30))

    assert event["status"] == "done" and event["command_id"] == command_id
    outcome = event["outcome"]
    assert outcome["status"] == "Failed" and outcome["exit_code"] == 3
    assert outcome["stdout_tail"] == "started\n" and outcome["stderr_tail"] == "oops\n"


def test_triggers_serialize_to_what_recreates_them(instance_id):
    trigger = SsmCommandTrigger(command_id="c-1", instance_id=instance_id, aws_conn_id="bench",
                                region_name="eu-west-1", poll_interval=5, timeout=99,
                                botocore_config={"retries": {"mode": "standard", "max_attempts": 4}})

    classpath, kwargs = trigger.serialize()

    assert classpath == "instance_benchmarks.triggers.ssm.SsmCommandTrigger"
    assert SsmCommandTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert kwargs == {"command_id": "c-1", "instance_id": instance_id, "aws_conn_id": "bench",
                      "region_name": "eu-west-1", "poll_interval": 5, "timeout": 99,
                      "botocore_config": {"retries": {"mode": "standard", "max_attempts": 4}}}


def test_a_killed_task_cancels_its_command_on_the_instance(instance_id, fake_ssm):
    """on_kill (the triggerer calls it when a user marks the deferred task failed, clears or succeeds it)."""
    client = boto3.client("ssm", region_name="us-east-1")
    command_id = ssm.send(client, instance_id=instance_id, commands=["sleep 60"], timeout_s=120, comment="test")
    trigger = SsmCommandTrigger(command_id=command_id, instance_id=instance_id, aws_conn_id=None,
                                region_name="us-east-1", poll_interval=0.05, timeout=30)

    asyncio.run(trigger.on_kill())

    (invocation,) = fake_ssm.invocations.values()
    assert invocation.process.poll() is not None  # the benchmark no longer runs on the instance
    result = ssm.outcome(client, command_id=command_id, instance_id=instance_id)
    assert result["status"] == "Cancelled" and result["done"]


def test_a_benchmark_past_its_execution_timeout_ends_timed_out_and_stops(instance_id, fake_ssm):
    """SSM's executionTimeout (the plan's budget) stops a runaway command; the event says TimedOut."""
    client = boto3.client("ssm", region_name="us-east-1")
    command_id = ssm.send(client, instance_id=instance_id, commands=["echo started", "sleep 60"], timeout_s=1,
                          comment="test")

    event = first_event(SsmCommandTrigger(command_id=command_id, instance_id=instance_id, aws_conn_id=None,
                                          region_name="us-east-1", poll_interval=0.2, timeout=30))

    outcome = event["outcome"]
    assert event["status"] == "done" and outcome["status"] == "TimedOut" and outcome["done"]
    (invocation,) = fake_ssm.invocations.values()
    assert invocation.process.poll() is not None


USER_ACTION = "__airflow_user_action__"  # airflow.jobs.triggerer_job_runner._USER_ACTION_CANCEL_MSG


def cancelled_during(trigger, method: str, monkeypatch) -> tuple:
    """The args of the CancelledError a task running `trigger` ends with when the triggerer cancels it, with its
    user-action message, while `method` runs (slowed by half a second, in its thread)."""
    import time

    entered = []
    original = getattr(trigger, method)

    def slow(*args, **kwargs):
        entered.append(time.monotonic())
        time.sleep(0.5)  # the cancel lands while this runs
        return original(*args, **kwargs)

    monkeypatch.setattr(trigger, method, slow)

    async def cancel_it():
        async def consume():
            async for _ in trigger.run():
                pass

        task = asyncio.ensure_future(consume())
        while not entered:
            await asyncio.sleep(0.01)
        task.cancel(USER_ACTION)
        try:
            await task
        except asyncio.CancelledError as exc:
            return exc.args

    return asyncio.run(cancel_it())


def test_a_cancel_during_a_poll_keeps_the_triggerer_s_message(instance_id, fake_ssm, monkeypatch):
    """The triggerer cancels a trigger with a message that tells a user's kill (it then calls on_kill)
    from a shutdown (it must not: the trigger moves to another triggerer). A cancel landing while a
    poll is in its thread must keep that message (asgiref's sync_to_async raises a bare one)."""
    assert cancelled_during(agent_trigger(instance_id, poll_interval=0.01), "check", monkeypatch) == (USER_ACTION,)


def test_a_cancel_while_the_clients_are_made_keeps_the_triggerer_s_message(instance_id, fake_ssm, monkeypatch):
    """The first poll makes the boto3 clients (through asgiref: the connection lookup), which takes seconds on a
    loaded triggerer. A user's kill landing then must still reach on_kill: before this was shielded, asgiref's bare
    CancelledError lost the message, the benchmark ran on to its execution timeout, and the stack's kill test
    failed in CI (the kill landed 3 s after the trigger was picked up, before its first poll)."""
    trigger = agent_trigger(instance_id, poll_interval=0.01)

    assert cancelled_during(trigger, "_clients", monkeypatch) == (USER_ACTION,)


def test_a_reclaimed_spot_instance_ends_the_wait_at_once_naming_the_interruption(instance_id, fake_ssm, monkeypatch):
    """SSM would say InProgress until the execution timeout (budget + 600 s); the instance's state says why now."""
    client = boto3.client("ssm", region_name="us-east-1")
    command_id = ssm.send(client, instance_id=instance_id, commands=["sleep 60"], timeout_s=600, comment="test")
    boto3.client("ec2", region_name="us-east-1").terminate_instances(InstanceIds=[instance_id])

    def as_aws_reclaims_it(_client, _params, passthrough):  # moto records every termination as the user's
        answer = passthrough()
        for reservation in answer["Reservations"]:
            for instance in reservation["Instances"]:
                instance["StateReason"] = {"Code": "Server.SpotInstanceTermination",
                                           "Message": "Server.SpotInstanceTermination: Spot instance termination"}
        return answer

    AwsGaps().install(monkeypatch).on("ec2", "DescribeInstances", as_aws_reclaims_it)

    event = first_event(SsmCommandTrigger(command_id=command_id, instance_id=instance_id, aws_conn_id=None,
                                          region_name="us-east-1", poll_interval=0.05, timeout=600))

    assert event["status"] == "interrupted" and event["command_id"] == command_id
    assert event["message"].startswith(f"{instance_id} interrupted: AWS reclaimed the spot instance "
                                       "(Server.SpotInstanceTermination")  # not a timeout after 600 s


def test_an_instance_gone_for_another_reason_ends_the_wait_as_an_error(instance_id, fake_ssm):
    client = boto3.client("ssm", region_name="us-east-1")
    command_id = ssm.send(client, instance_id=instance_id, commands=["sleep 60"], timeout_s=600, comment="test")
    boto3.client("ec2", region_name="us-east-1").terminate_instances(InstanceIds=[instance_id])

    event = first_event(SsmCommandTrigger(command_id=command_id, instance_id=instance_id, aws_conn_id=None,
                                          region_name="us-east-1", poll_interval=0.05, timeout=600))

    assert event["status"] == "error" and f"{instance_id} terminated while its command ran" in event["message"]
