"""The stages that wait on a host: SSM agent online, runner image ready, a benchmark run.

On EC2 each sends its SSM command (if any) and defers to a trigger, so no worker slot
is held while the instance boots, pulls or benchmarks; on this machine (target=local)
the same stage runs inline. Both paths end in the same pipeline functions, so the
state passed on is identical in shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.ssm import SsmHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

if TYPE_CHECKING:
    from airflow.sdk import Context

STAGES = ("container", "stream", "hpl")


def _settings(context: Context):
    """The run's AWS settings: the same connection and region the Ec2Host stages use."""
    from instance_benchmarks.hosts.ec2 import AwsSettings

    return AwsSettings.from_params(context["params"])


def _passed_on(state: dict[str, Any], stage: str, context: Context) -> dict[str, Any]:
    """The state for the next stage, or, when this stage ended the host's run, its quarantine recorded and this task
    failed: the grid shows red where it went wrong, not at store (issue 28 item 10). AirflowFailException: a retry
    cannot bring back an agent that never came online, or a benchmark that ran and failed."""
    from airflow.sdk.exceptions import AirflowFailException

    from instance_benchmarks import pipeline

    failure = pipeline.stage_failure(state, stage)
    if failure is None:
        return state
    recorded = pipeline.quarantine_stage(state, failure, params=context["params"], run_id=context["run_id"])
    raise AirflowFailException(f"{state['plan']['instance_type']} quarantined at {recorded['uri']}: {failure}")


class WaitForHostOperator(AwsBaseOperator[SsmHook]):
    """Wait until the host takes commands: its SSM agent online on EC2 (deferred); at once on this machine.

    :param state: the provision task's output (templated: an XComArg in the DAG)
    """

    aws_hook_class = SsmHook
    template_fields: Sequence[str] = aws_template_fields("state")

    def __init__(self, *, state: dict[str, Any] | Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = state

    def execute(self, context: Context) -> dict[str, Any]:
        from instance_benchmarks.triggers.ssm import SsmAgentOnlineTrigger

        handle = self.state["handle"]
        if handle["target"] != "aws":
            self.log.info("target=%s: the host is this machine and ready", handle["target"])
            return _passed_on(self.state, "wait_for_host", context)
        settings = _settings(context)
        self.log.info("Waiting (deferred) for the SSM agent on %s (%s), up to %d s", handle["host_id"],
                      handle["instance_type"], settings.agent_timeout_s)
        self.defer(
            trigger=SsmAgentOnlineTrigger(instance_id=handle["host_id"], aws_conn_id=settings.aws_conn_id,
                                          region_name=settings.region, poll_interval=settings.poll_interval_s,
                                          timeout=settings.agent_timeout_s, botocore_config=settings.botocore_config),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """An agent that never came online is the host's failure: quarantined with its reason, and this task fails."""
        from instance_benchmarks import pipeline

        if event.get("status") != "success":
            return _passed_on(pipeline.host_failed(self.state, "wait_for_host", event.get("message")
                                                   or f"waiting for the SSM agent failed: {event}"),
                              "wait_for_host", context)
        self.log.info("SSM agent on %s is online", event["instance_id"])
        return pipeline.host_online(self.state, {"state": event["state"], "ping": event["ping"]})


class HostCommandOperator(AwsBaseOperator[SsmHook]):
    """One stage on the host: `container` (runner image or bare build), `stream` or `hpl`.

    On EC2 the stage is one SSM command (AWS-RunShellScript) on the provisioned
    instance, waited on by SsmCommandTrigger. A stage that ends the host's run (no image,
    a benchmark that crashed, timed out or uploaded nothing, a reclaimed spot host) is
    quarantined with its reason and fails this task; a benchmark that wrote a document,
    even a failed one, passes it on to extract and validate, which judge it.

    :param state: the previous stage's output (templated: an XComArg in the DAG)
    :param stage: container, stream or hpl
    """

    aws_hook_class = SsmHook
    template_fields: Sequence[str] = aws_template_fields("state")

    def __init__(self, *, state: dict[str, Any] | Any, stage: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        self.state = state
        self.stage = stage

    def execute(self, context: Context) -> dict[str, Any]:
        from instance_benchmarks import pipeline
        from instance_benchmarks.triggers.ssm import SsmCommandTrigger

        params, run_id = context["params"], context["run_id"]
        if self.state["handle"]["target"] != "aws":
            if self.stage == "container":
                return _passed_on(pipeline.prepare(self.state, params=params, run_id=run_id), self.stage, context)
            return _passed_on(pipeline.run_benchmark(self.state, self.stage, params=params, run_id=run_id),
                              self.stage, context)
        if self.stage == "container":
            started = pipeline.prepare_start(self.state, params=params, run_id=run_id)
        else:
            started = pipeline.run_start(self.state, self.stage, params=params, run_id=run_id)
        settings = _settings(context)
        self._in_flight = (settings, started)  # what on_kill cancels if the task is killed before it defers
        self.defer(
            trigger=SsmCommandTrigger(command_id=started["command_id"], instance_id=started["instance_id"],
                                      aws_conn_id=settings.aws_conn_id, region_name=settings.region,
                                      poll_interval=settings.poll_interval_s, timeout=started["timeout_s"],
                                      botocore_config=settings.botocore_config),
            method_name="execute_complete",
        )

    def on_kill(self) -> None:
        """Killed between sending the command and deferring: cancel it (once deferred, the trigger's on_kill does)."""
        from instance_benchmarks import ssm

        in_flight = getattr(self, "_in_flight", None)
        if in_flight is None:
            return
        settings, started = in_flight
        self.log.warning("Task killed: cancelling SSM command %s on %s", started["command_id"],
                         started["instance_id"])
        client = SsmHook(aws_conn_id=settings.aws_conn_id, region_name=settings.region).conn
        ssm.cancel(client, command_id=started["command_id"], instance_id=started["instance_id"])

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Everything needed comes from the state and the event (dag.test drops defer kwargs)."""
        from instance_benchmarks import pipeline

        params, run_id = context["params"], context["run_id"]
        if event.get("status") == "done":
            result = event["outcome"]
        else:  # the trigger timed out or could not poll: an outcome that says so
            result = {"status": event.get("status", "error"), "done": True, "exit_code": None,
                      "stdout_tail": "", "stderr_tail": event.get("message", "")}
        self.log.info("SSM command %s ended %s (exit %s)", event.get("command_id"), result["status"],
                      result.get("exit_code"))
        if result.get("stderr_tail"):
            self.log.info("stderr (tail):\n%s", result["stderr_tail"])
        if self.stage == "container":
            return _passed_on(pipeline.prepare_finish(self.state, result, params=params), self.stage, context)
        return _passed_on(pipeline.run_finish(self.state, self.stage, result, params=params, run_id=run_id),
                          self.stage, context)
