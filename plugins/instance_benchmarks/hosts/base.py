"""One interface for where a plan runs: EC2 (provision, SSM, terminate) or this machine.

The DAG, the runner, the schema, the storage and the analysis are the same for
every host; only these five steps differ.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from instance_benchmarks.catalog import InstanceSpec


class CapacityUnavailable(Exception):
    """The host cannot take this plan now (quota, capacity, busy machine): skip it, with this reason."""


class ConfigurationError(Exception):
    """The deployment cannot reach the target as configured (no region, no or refused credentials).

    Not a transient fault: retrying cannot help, so the run stops at `plan` with the message,
    which names what to set.
    """


@dataclass
class HostHandle:
    """What provision returns and every later stage receives (it travels through XCom)."""

    target: str
    host_id: str
    instance_type: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostHandle:
        return cls(**data)


@dataclass
class RunOutcome:
    """A runner invocation: where its document was staged, and how it exited.

    `note`: what the host itself observed (SSM status, no document uploaded), kept apart
    from benchrun's stderr so neither hides the other in a quarantine reason.
    `interrupted`: AWS reclaimed the (spot) host mid-run: nothing later can run on it, and
    market=spot-then-on-demand relaunches the type on demand.
    """

    staged_uri: str | None
    exit_code: int
    stderr_tail: str
    note: str = ""
    interrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Host(ABC):
    target: str

    def check_configuration(self) -> dict[str, Any]:
        """Raise ConfigurationError, naming what to set, when the host cannot be reached; return what was found."""
        return {}

    @abstractmethod
    def specs(self, instance_types: list[str]) -> list[InstanceSpec]:
        """The hosts a run covers: the requested EC2 types (families expanded), or this machine."""

    @abstractmethod
    def check_capacity(self, plan: dict[str, Any]) -> dict[str, Any]:
        """Return what was checked; raise CapacityUnavailable to skip the plan."""

    @abstractmethod
    def provision(self, plan: dict[str, Any], *, tags: dict[str, str]) -> HostHandle: ...

    @abstractmethod
    def prepare(self, handle: HostHandle, *, context_uri: str | None = None) -> dict[str, Any]:
        """Get the benchmarks onto the host (container image or bare build); return what was used.

        `context_uri`: where to put the bundled build context when the host builds from it.
        """

    @abstractmethod
    def run(self, handle: HostHandle, args: list[str], *, staging_uri: str, timeout_s: float,
            env: dict[str, str], prepared: dict[str, Any] | None = None) -> RunOutcome:
        """Run `benchrun ARGS` on the host (in what `prepare` returned); its document lands at staging_uri."""

    @abstractmethod
    def terminate(self, handle: HostHandle, *, wait: bool = True) -> None:
        """Release the host; `wait=False`: return once asked (the caller waits, e.g. deferred)."""
