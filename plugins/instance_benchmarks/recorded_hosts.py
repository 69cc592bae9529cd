"""Real EC2 hosts recorded elsewhere (`lscpu -J`), read as the runner would see them on that host.

The planner is proved on the big and new hosts this machine is not: tests/fixtures/ec2-topologies
holds eleven real descriptions (SpareCores, with its provenance), from m7i.large to u7i-6tb.112xlarge.
`topology` turns one into the runner's topology document (sockets, physical cores, NUMA nodes and
their CPUs, last-level cache), so the runner's own layout rules (`hpl.layouts`) apply to it unchanged;
`spec` overlays it on the catalog's InstanceSpec (memory, sustained clock) for the planner.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from instance_benchmarks.catalog import InstanceSpec

if TYPE_CHECKING:
    from instance_benchmarks.planning import Plan

# util-linux's names for Arm's part numbers (sys-utils/lscpu-arm.c): lscpu prints the name, the runner
# records the number (/proc/cpuinfo on arm64 has no model name).
ARM_PARTS = {"Cortex-A72": "0xd08", "Neoverse-N1": "0xd0c", "Neoverse-V1": "0xd40", "Neoverse-V2": "0xd4f",
             "Neoverse-V3": "0xd84"}


def lscpu_fields(path: Path) -> dict[str, str]:
    """`lscpu -J`'s fields by name (without the trailing colon)."""
    return {entry["field"].rstrip(":"): entry["data"] for entry in json.loads(path.read_text())["lscpu"]}


def _cpu_list(text: str) -> list[int]:
    cpus: list[int] = []
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        cpus.extend(range(int(low), int(high or low) + 1))
    return cpus


def _cache(text: str | None) -> tuple[int, int]:
    """'805306368 (24 instances)' -> (total bytes, instances); lscpu -J --bytes style, as recorded."""
    match = re.fullmatch(r"(\d+) \((\d+) instances?\)", (text or "").strip())
    if not match:
        raise ValueError(f"not a cache size in bytes with its instances: {text!r}")
    return int(match.group(1)), int(match.group(2))


def sibling_cores(cpus: int, threads: int, node_lists: list[tuple[int, list[int]]]) -> list[list[int]]:
    """Each physical core's logical CPUs. `lscpu -J` records no per-CPU core ids; Linux numbers an EC2 host's
    second hyperthreads after all the first ones (core i is CPUs i, i + cpus/threads, ...), which every recorded
    node list bears out (m7i.48xlarge: node0 0-47,96-143). Checked against the node lists here, not assumed."""
    per = cpus // threads
    cores = [[i + k * per for k in range(threads)] for i in range(per)]
    node_of = {cpu: node for node, node_cpus in node_lists for cpu in node_cpus}
    for core in cores:
        if len({node_of.get(cpu) for cpu in core}) != 1:
            raise ValueError(f"CPUs {core} would be one core's hyperthreads, but the node lists split them")
    return cores


def cpu_model(fields: dict[str, str]) -> str:
    """What the runner records on that host: x86's model name as is; Arm's implementer and part."""
    if fields["Architecture"] == "aarch64":
        return f"ARM implementer 0x41 part {ARM_PARTS[fields['Model name']]}"
    return fields["Model name"]


def topology(fields: dict[str, str], *, memory_bytes: int) -> dict[str, Any]:
    """The runner's topology document (benchmark_runner.topology.cpu_topology's shape) of a recorded host.

    Physical cores are counted per NUMA node from the node's CPUs over threads per core (lscpu lists
    both hyperthreads of a core in the node they share).
    """
    threads = int(fields["Thread(s) per core"])
    sockets = int(fields["Socket(s)"])
    cores = int(fields["Core(s) per socket"]) * sockets
    node_lists = sorted((int(re.search(r"\d+", name).group()), _cpu_list(value)) for name, value in fields.items()
                        if re.fullmatch(r"NUMA node\d+ CPU\(s\)", name))
    llc_total, llc_instances = _cache(fields.get("L3 cache") or fields.get("L2 cache"))
    l2_total, l2_instances = _cache(fields["L2 cache"]) if fields.get("L3 cache") else (0, 1)
    nodes = [{"node": node, "cpus": cpus, "physical_cores": len(cpus) // threads,
              "memory_bytes": memory_bytes // len(node_lists)} for node, cpus in node_lists]
    return {
        "sockets": sockets,
        "physical_cores": cores,
        "logical_cpus": int(fields["CPU(s)"]),
        "threads_per_core": threads,
        "numa_nodes": nodes,
        "cores": sibling_cores(int(fields["CPU(s)"]), threads, node_lists),
        "last_level_cache_bytes": llc_total,
        "llc_instance_bytes": llc_total // llc_instances,
        # L2 and L3 summed, and one core's L2 and L3 instance: what STREAM's arrays are sized from (issue 29)
        "cache_bytes": llc_total + l2_total,
        "core_cache_bytes": llc_total // llc_instances + l2_total // l2_instances,
        "memory_total_bytes": memory_bytes,
        # Not recorded: the runner reads MemAvailable on the host. The catalog's size stands in, as in the plan.
        "memory_available_bytes": memory_bytes,
    }


def spec(catalog_spec: InstanceSpec, fields: dict[str, str]) -> InstanceSpec:
    """The catalog's spec (memory, sustained clock, family) with what the host description says of its CPU."""
    host = topology(fields, memory_bytes=catalog_spec.memory_bytes)
    return dataclasses.replace(catalog_spec, cpu_model=cpu_model(fields), physical_cores=host["physical_cores"],
                               last_level_cache_bytes=host["last_level_cache_bytes"],
                               llc_instance_bytes=host["llc_instance_bytes"], cache_bytes=host["cache_bytes"],
                               core_cache_bytes=host["core_cache_bytes"])


def load(folder: Path, catalog_spec: InstanceSpec) -> tuple[InstanceSpec, dict[str, Any]]:
    """One recorded host (a folder with lscpu.json): its spec for the planner and its runner topology."""
    fields = lscpu_fields(folder / "lscpu.json")
    host_spec = spec(catalog_spec, fields)
    return host_spec, topology(fields, memory_bytes=host_spec.memory_bytes)


def weekly_plans(root: Path,
                 catalog: Mapping[str, InstanceSpec]) -> dict[str, tuple[InstanceSpec, dict[str, Any], Plan]]:
    """Every recorded host under `root` (one folder per type), planned as the weekly refresh plans it on AWS:
    {type: (spec, runner topology, plan)}. `catalog` gives each type's DescribeInstanceTypes spec."""
    from instance_benchmarks import params, planning

    weekly = params.weekly_settings()
    found = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        spec, host = load(folder, catalog[folder.name])
        found[folder.name] = (spec, host, planning.plan(spec, target="aws", profile=weekly["profile"],
                                                        repetitions=None, time_budget_s=weekly["time_budget_s"],
                                                        image_registry="registry",
                                                        host_time_budget_s=weekly["host_time_budget_s"]))
    return found
