"""The host-waiting operators: inline on this machine, deferred to the SSM triggers on EC2."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from instance_benchmarks.operators.ssm import HostCommandOperator, WaitForHostOperator
from instance_benchmarks.triggers.ssm import SsmAgentOnlineTrigger

LOCAL = {"plan": {"instance_type": "local"}, "handle": {"target": "local", "host_id": "vm",
                                                        "instance_type": "local", "details": {}}}
AWS = {"plan": {"instance_type": "m7i.large"}, "handle": {"target": "aws", "host_id": "i-0abc",
                                                          "instance_type": "m7i.large", "details": {}}}
CONTEXT = {"params": {"aws_conn_id": "bench", "region": "eu-west-1", "poll_interval_s": 2, "agent_timeout_s": 300},
           "run_id": "manual__1"}


def test_a_local_host_is_ready_at_once():
    assert WaitForHostOperator(task_id="w", state=LOCAL).execute(CONTEXT) == LOCAL


def test_an_ec2_host_defers_to_the_agent_trigger_with_the_run_settings():
    with pytest.raises(TaskDeferred) as deferred:
        WaitForHostOperator(task_id="w", state=AWS, aws_conn_id="bench").execute(CONTEXT)

    trigger = deferred.value.trigger
    assert isinstance(trigger, SsmAgentOnlineTrigger) and deferred.value.method_name == "execute_complete"
    assert (trigger.instance_id, trigger.poll_interval, trigger.timeout) == ("i-0abc", 2, 300)
    assert (trigger.aws_conn_id, trigger.region_name) == ("bench", "eu-west-1")


def test_an_agent_that_never_came_online_is_quarantined_and_fails_wait_for_host(tmp_path):
    """Issue 28 item 10: red at wait_for_host, not later at store; the quarantine is recorded first."""
    from instance_benchmarks.results import ResultStore

    context = {**CONTEXT, "params": {**CONTEXT["params"], "results_uri": tmp_path.as_uri()}}
    operator = WaitForHostOperator(task_id="w", state=AWS)

    with pytest.raises(AirflowFailException, match="m7i.large quarantined at .*: wait_for_host: the SSM agent on "
                                                   "i-0abc was not online after 900 s"):
        operator.execute_complete(context, {"status": "timeout", "instance_id": "i-0abc",
                                            "message": "the SSM agent on i-0abc was not online after 900 s"})

    (kept,) = ResultStore(tmp_path.as_uri()).quarantined("manual__1")
    assert kept["reasons"] == ["wait_for_host: the SSM agent on i-0abc was not online after 900 s"]
    assert operator.execute_complete(context, {"status": "success", "instance_id": "i-0abc", "state": "running",
                                               "ping": "Online"})["agent"] == {"state": "running", "ping": "Online"}


def test_a_failed_container_stage_is_quarantined_with_stderr_and_fails_there(tmp_path):
    from instance_benchmarks.results import ResultStore

    operator = HostCommandOperator(task_id="c", stage="container", state=AWS)
    event = {"status": "done", "command_id": "c-1", "outcome": {
        "status": "Failed", "done": True, "exit_code": 3, "stdout_tail": "", "stderr_tail": "docker pull failed"}}
    context = {**CONTEXT, "params": {**CONTEXT["params"], "aws_conn_id": None, "results_uri": tmp_path.as_uri()}}

    with pytest.raises(AirflowFailException, match="docker pull failed"):
        operator.execute_complete(context, event)

    ((reason,),) = [q["reasons"] for q in ResultStore(tmp_path.as_uri()).quarantined("manual__1")]
    assert reason.startswith("container: getting the runner image on i-0abc ended Failed (exit 3)")
    assert reason.endswith("docker pull failed")


def test_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="stage must be one of"):
        HostCommandOperator(task_id="x", stage="linpack", state=AWS)


def test_killed_after_sending_but_before_deferring_the_operator_cancels_the_command(moto_env, monkeypatch):
    import boto3

    from instance_benchmarks import ssm
    from instance_benchmarks.hosts.ec2 import AwsSettings
    from tests.fakes.aws import AwsGaps, FakeSsm

    fake = FakeSsm().install(AwsGaps().install(monkeypatch))
    instance_id = boto3.client("ec2", region_name="us-east-1").run_instances(
        ImageId="ami-12c6146b", InstanceType="m7i.large", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    client = boto3.client("ssm", region_name="us-east-1")
    command_id = ssm.send(client, instance_id=instance_id, commands=["sleep 60"], timeout_s=120, comment="t")
    operator = HostCommandOperator(task_id="s", stage="stream", state=AWS)
    operator._in_flight = (AwsSettings.from_params({"region": "us-east-1"}),
                           {"command_id": command_id, "instance_id": instance_id})
    try:
        operator.on_kill()

        assert ssm.outcome(client, command_id=command_id, instance_id=instance_id)["status"] == "Cancelled"
        HostCommandOperator(task_id="n", stage="stream", state=AWS).on_kill()  # nothing sent: nothing to cancel
    finally:
        fake.close()
