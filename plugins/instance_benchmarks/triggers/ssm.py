"""Triggers that wait on SSM for one explicit instance: its agent online, one command's end.

The provider's SsmRunCommandTrigger lists a command's invocations and waits on all of
them; these wait on the one instance a mapped task owns, and end with an event that
says why (instance gone, agent never online, timeout) instead of a bare waiter error.
The provider hooks' boto3 clients are made once, through asgiref's `sync_to_async` (the
hook's connection lookup must reach the triggerer's supervisor from that thread); each poll
then runs in a plain thread (`asyncio.to_thread`), so the triggerer's event loop never blocks.
Not asgiref for the polls: when a task is cancelled while awaiting it, asgiref re-raises a bare
CancelledError, dropping the message by which the triggerer tells a user's kill (it then calls
`on_kill`, which cancels the command) from its own shutdown; a cancel landing mid-poll would
leave the benchmark running on the instance until the teardown. The clients' making is shielded
for the same reason: it takes seconds on a loaded triggerer, and a kill landing then is a kill.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

GONE_STATES = frozenset({"shutting-down", "terminated", "stopping", "stopped"})
# StateReason code of an instance AWS reclaimed (spot interruption: terminate, stop or hibernate).
SPOT_INTERRUPTION = "Server.SpotInstanceTermination"


class _SsmPollTrigger(BaseTrigger):
    def __init__(self, *, instance_id: str, aws_conn_id: str | None, region_name: str | None,
                 poll_interval: float = 15.0, timeout: float = 900.0, botocore_config: dict | None = None) -> None:
        super().__init__()
        self.botocore_config = botocore_config
        self.instance_id = instance_id
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.poll_interval = poll_interval
        self.timeout = timeout
        self._made_clients: dict[str, Any] | None = None

    def _fields(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "aws_conn_id": self.aws_conn_id, "region_name": self.region_name,
                "poll_interval": self.poll_interval, "timeout": self.timeout, "botocore_config": self.botocore_config}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", self._fields()

    def _hook_kwargs(self) -> dict[str, Any]:
        from botocore.config import Config

        return {"aws_conn_id": self.aws_conn_id, "region_name": self.region_name,
                "config": Config(**self.botocore_config) if self.botocore_config else None}

    def _clients(self) -> dict[str, Any]:
        """The SSM and EC2 clients, made once (call it through sync_to_async first: connection lookup)."""
        if self._made_clients is None:
            from airflow.providers.amazon.aws.hooks.ec2 import EC2Hook
            from airflow.providers.amazon.aws.hooks.ssm import SsmHook

            self._made_clients = {"ssm": SsmHook(**self._hook_kwargs()).conn,
                                  "ec2": EC2Hook(api_type="client_type", **self._hook_kwargs()).conn}
        return self._made_clients

    async def _ensure_clients(self) -> None:
        """Make the clients through asgiref, shielded: a cancel lands on the shield and keeps its message."""
        if self._made_clients is None:
            await asyncio.shield(sync_to_async(self._clients, thread_sensitive=False)())

    def _ssm(self) -> Any:
        return self._clients()["ssm"]

    def _instance_state(self) -> tuple[str, str]:
        state, reason = self._instance_state_and_reason()
        return state, reason.get("Message", "")

    def _instance_state_and_reason(self) -> tuple[str, dict[str, str]]:
        ec2 = self._clients()["ec2"]
        reservations = ec2.describe_instances(InstanceIds=[self.instance_id])["Reservations"]
        instance = reservations[0]["Instances"][0]
        return instance["State"]["Name"], instance.get("StateReason") or {}

    async def _poll(self, poll) -> AsyncIterator[TriggerEvent]:
        """Call `poll()` (in a thread) until it returns an event payload or the timeout passes."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                await self._ensure_clients()
                payload = await asyncio.to_thread(poll)
            except Exception as exc:  # noqa: BLE001 - ends as a failure event that says what failed
                yield TriggerEvent({"status": "error", **self._identity(),
                                    "message": f"polling {self.instance_id} failed: {type(exc).__name__}: {exc}"})
                return
            if payload is not None:
                yield TriggerEvent({**self._identity(), **payload})
                return
            if time.monotonic() > deadline:
                yield TriggerEvent({"status": "timeout", **self._identity(),
                                    "message": self.timeout_message()})
                return
            await asyncio.sleep(self.poll_interval)

    def _identity(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id}

    def timeout_message(self) -> str:
        raise NotImplementedError


class SsmAgentOnlineTrigger(_SsmPollTrigger):
    """Fires once the instance's SSM agent answers pings, or when the instance is gone or time is up."""

    def timeout_message(self) -> str:
        return (f"the SSM agent on {self.instance_id} was not online after {self.timeout:.0f} s: check that the "
                f"instance profile grants the SSM agent's actions (include/iam/instance-role-policy.json) and that "
                f"the subnet reaches the SSM "
                f"endpoints (a NAT gateway, VPC endpoints, or public_ip=true in a public subnet)")

    def check(self) -> dict[str, Any] | None:
        from instance_benchmarks import ssm

        state, reason = self._instance_state()
        if state in GONE_STATES:
            return {"status": "error", "message": f"{self.instance_id} is {state} before its agent came online"
                                                  + (f": {reason}" if reason else "")}
        ping = ssm.agent_status(self._ssm(), self.instance_id)
        self.log.info("%s is %s, SSM agent %s", self.instance_id, state, ping or "not registered yet")
        return {"status": "success", "state": state, "ping": ping} if ping == "Online" else None

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async for event in self._poll(self.check):
            yield event


class SsmCommandTrigger(_SsmPollTrigger):
    """Fires when one command's invocation on this instance reaches a terminal status (or time is up)."""

    def __init__(self, *, command_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.command_id = command_id

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "command_id": self.command_id}

    def _identity(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "command_id": self.command_id}

    def timeout_message(self) -> str:
        return f"SSM command {self.command_id} on {self.instance_id} did not end within {self.timeout:.0f} s"

    async def on_kill(self) -> None:
        """The task was marked failed, cleared or marked success by a user: stop the command on the instance.

        (The instance itself is the terminate teardown's to end, which runs whatever happened upstream.)
        """
        from instance_benchmarks import ssm

        self.log.warning("Task killed: cancelling SSM command %s on %s", self.command_id, self.instance_id)
        await self._ensure_clients()
        await asyncio.to_thread(ssm.cancel, self._ssm(), command_id=self.command_id, instance_id=self.instance_id)

    def check(self) -> dict[str, Any] | None:
        from instance_benchmarks import ssm

        result = ssm.outcome(self._ssm(), command_id=self.command_id, instance_id=self.instance_id)
        self.log.info("SSM command %s on %s: %s", self.command_id, self.instance_id, result["status"])
        if result["done"]:
            return {"status": "done", "command_id": self.command_id, "outcome": result}
        # An instance AWS reclaimed (or that is otherwise gone) never reports its command's end: SSM would
        # say InProgress until the execution timeout. Stop now, naming why.
        state, reason = self._instance_state_and_reason()
        if state not in GONE_STATES:
            return None
        interrupted = reason.get("Code") == SPOT_INTERRUPTION
        what = "interrupted: AWS reclaimed the spot instance" if interrupted else f"{state} while its command ran"
        return {"status": "interrupted" if interrupted else "error", "command_id": self.command_id,
                "message": f"{self.instance_id} {what} ({reason.get('Code', '?')}: {reason.get('Message', '')}); "
                           f"SSM command {self.command_id} abandoned"}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async for event in self._poll(self.check):
            yield event
