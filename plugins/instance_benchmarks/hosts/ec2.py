"""EC2 as a benchmark host: RunInstances, SSM Run Command, TerminateInstances.

Not implemented in this version: the AWS path (issue #4) builds it on the
Amazon provider's EC2Hook and SsmHook. Until then `target=aws` fails fast, before
anything is launched, with this message.
"""

from __future__ import annotations

from typing import Any, NoReturn

from instance_benchmarks.catalog import InstanceSpec
from instance_benchmarks.hosts.base import Host, HostHandle, RunOutcome

NOT_IMPLEMENTED = (
    "target=aws is not implemented yet (it lands with the AWS-path issue #4). "
    "Use target=local to benchmark this machine."
)


class Ec2Host(Host):
    target = "aws"

    def _refuse(self) -> NoReturn:
        raise NotImplementedError(NOT_IMPLEMENTED)

    def specs(self, instance_types: list[str]) -> list[InstanceSpec]:
        self._refuse()

    def check_capacity(self, plan: dict[str, Any]) -> dict[str, Any]:
        self._refuse()

    def provision(self, plan: dict[str, Any], *, tags: dict[str, str]) -> HostHandle:
        self._refuse()

    def prepare(self, handle: HostHandle) -> dict[str, Any]:
        self._refuse()

    def run(self, handle: HostHandle, args: list[str], *, staging_uri: str, timeout_s: float,
            env: dict[str, str]) -> RunOutcome:
        self._refuse()

    def terminate(self, handle: HostHandle) -> None:
        self._refuse()
