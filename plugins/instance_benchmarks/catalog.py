"""What a host is: InstanceSpec, and the architecture family it belongs to.

The skeleton knows one host, this machine (from `benchrun topology`); the EC2
catalog (DescribeInstanceTypes) joins it with the AWS target.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

LOCAL_INSTANCE_TYPE = "local"


@dataclass(frozen=True)
class InstanceSpec:
    instance_type: str
    family: str  # architecture family: intel, amd, graviton, other
    architecture: str
    cpu_model: str
    vcpus: int
    physical_cores: int
    memory_bytes: int
    last_level_cache_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def local_spec(topology: dict[str, Any]) -> InstanceSpec:
    """This machine as an InstanceSpec, from the runner's topology document."""
    return InstanceSpec(
        instance_type=LOCAL_INSTANCE_TYPE,
        family=topology["architecture_family"],
        architecture=topology["architecture"],
        cpu_model=topology["cpu_model"],
        vcpus=topology["logical_cpus"],
        physical_cores=topology["physical_cores"],
        memory_bytes=topology["memory_total_bytes"],
        last_level_cache_bytes=topology["last_level_cache_bytes"],
    )
