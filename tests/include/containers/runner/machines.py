"""Synthesized /sys trees of machines unlike this one, in the kernel's own file formats.

Not captured from real hosts (none is reachable from here): each is built from the
machine's public shape (sockets, cores, SMT, NUMA nodes per socket, L3 slices), so
that topology parsing and sizing decisions are tested on layouts this 2-core VM lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Machine:
    name: str
    sockets: int
    cores_per_socket: int
    threads_per_core: int
    nodes_per_socket: int
    l3_kib: int  # size of one L3 instance
    cores_per_l3: int  # cores sharing one L3 instance
    memory_per_node_kib: int

    @property
    def cores(self) -> int:
        return self.sockets * self.cores_per_socket

    @property
    def cpus(self) -> int:
        return self.cores * self.threads_per_core

    @property
    def nodes(self) -> int:
        return self.sockets * self.nodes_per_socket


# A 2-socket Sapphire Rapids like m7i.metal-48xl: 48 cores/socket, SMT2, one node per socket, 105 MB L3.
INTEL_2S = Machine("intel-2s-2nodes", 2, 48, 2, 1, 107520, 48, 384 * 2**20)
# A 2-socket Genoa like m7a.metal-48xl in NPS4: 96 cores/socket, 4 nodes/socket, 32 MB L3 per 8-core CCD.
AMD_NPS4 = Machine("amd-2s-nps4", 2, 96, 1, 4, 32768, 8, 96 * 2**20)
# A Graviton3 like c7g.16xlarge: 64 Neoverse V1 cores, no SMT, one node, 32 MB shared L3.
GRAVITON_64 = Machine("graviton3-64", 1, 64, 1, 1, 32768, 64, 128 * 2**20)

MACHINES = (INTEL_2S, AMD_NPS4, GRAVITON_64)


def cpu_list(cpus: list[int]) -> str:
    """The kernel's cpulist format: ranges collapsed ('0-47,96-143')."""
    parts, start = [], None
    for i, cpu in enumerate(cpus):
        if start is None:
            start = cpu
        if i + 1 == len(cpus) or cpus[i + 1] != cpu + 1:
            parts.append(f"{start}-{cpu}" if cpu != start else f"{cpu}")
            start = None
    return ",".join(parts)


def build_sys(root: Path, m: Machine) -> tuple[Path, Path]:
    """Write /sys/devices/system/{cpu,node} for `m` under root; return both directories.

    Linux numbers the first hardware thread of every core first, then the SMT siblings
    (cpu N and cpu N + cores share a core), as on EC2 instances.
    """
    cpu_dir, node_dir = root / "cpu", root / "node"
    cpu_dir.mkdir(parents=True)
    node_dir.mkdir(parents=True)
    (cpu_dir / "online").write_text(f"0-{m.cpus - 1}\n")
    cores_per_node = m.cores_per_socket // m.nodes_per_socket
    node_cpus: dict[int, list[int]] = {n: [] for n in range(m.nodes)}
    for cpu in range(m.cpus):
        core = cpu % m.cores
        socket, core_in_socket = divmod(core, m.cores_per_socket)
        node = socket * m.nodes_per_socket + core_in_socket // cores_per_node
        node_cpus[node].append(cpu)
        topo = cpu_dir / f"cpu{cpu}" / "topology"
        topo.mkdir(parents=True)
        (topo / "physical_package_id").write_text(f"{socket}\n")
        (topo / "core_id").write_text(f"{core_in_socket}\n")
        first_core = core - core % m.cores_per_l3
        l3_cores = range(first_core, first_core + m.cores_per_l3)
        l3_cpus = [c + t * m.cores for t in range(m.threads_per_core) for c in l3_cores]
        siblings = [core + t * m.cores for t in range(m.threads_per_core)]
        for index, (level, kind, size, shared) in enumerate([
            (1, "Data", "48K", siblings), (1, "Instruction", "32K", siblings),
            (2, "Unified", "2048K", siblings), (3, "Unified", f"{m.l3_kib}K", sorted(l3_cpus)),
        ]):
            d = cpu_dir / f"cpu{cpu}" / "cache" / f"index{index}"
            d.mkdir(parents=True)
            for name, value in (("level", level), ("type", kind), ("size", size),
                                ("shared_cpu_list", cpu_list(shared))):
                (d / name).write_text(f"{value}\n")
    for node, cpus in node_cpus.items():
        d = node_dir / f"node{node}"
        d.mkdir()
        (d / "cpulist").write_text(cpu_list(cpus) + "\n")
        (d / "meminfo").write_text(f"Node {node} MemTotal:       {m.memory_per_node_kib} kB\n"
                                   f"Node {node} MemFree:        {m.memory_per_node_kib - 1024} kB\n")
        same_socket = {o for o in range(m.nodes) if o // m.nodes_per_socket == node // m.nodes_per_socket}
        (d / "distance").write_text(" ".join("10" if o == node else "12" if o in same_socket else "32"
                                             for o in range(m.nodes)) + "\n")
    return cpu_dir, node_dir


def numactl_hardware(m: Machine) -> str:
    """`numactl --hardware` as numactl 2.0 prints it for `m`."""
    cores_per_node = m.cores_per_socket // m.nodes_per_socket
    lines = [f"available: {m.nodes} nodes (0-{m.nodes - 1})"]
    for node in range(m.nodes):
        socket, index = divmod(node, m.nodes_per_socket)
        first = socket * m.cores_per_socket + index * cores_per_node
        cpus = [c + t * m.cores for t in range(m.threads_per_core) for c in range(first, first + cores_per_node)]
        lines.append(f"node {node} cpus: " + " ".join(map(str, cpus)))
        lines.append(f"node {node} size: {m.memory_per_node_kib // 1024} MB")
        lines.append(f"node {node} free: {m.memory_per_node_kib // 1024 - 1} MB")
    lines.append("node distances:")
    lines.append("node " + " ".join(f"{n:>3}" for n in range(m.nodes)))
    for node in range(m.nodes):
        row = ["10" if o == node else "12" if o // m.nodes_per_socket == node // m.nodes_per_socket else "32"
               for o in range(m.nodes)]
        lines.append(f"{node:>3}: " + " ".join(f"{d:>3}" for d in row))
    return "\n".join(lines) + "\n"


def recorded_topology(instance_type: str, memory_bytes: int = 768 * 2**30) -> dict:
    """A real EC2 host's lscpu (tests/fixtures/ec2-topologies, SpareCores' recordings) as the runner's topology."""
    from instance_benchmarks import recorded_hosts
    from tests.conftest import FIXTURES

    fields = recorded_hosts.lscpu_fields(FIXTURES / "ec2-topologies" / instance_type / "lscpu.json")
    return recorded_hosts.topology(fields, memory_bytes=memory_bytes)


def recorded_types() -> list[str]:
    from tests.conftest import FIXTURES

    return sorted(p.name for p in (FIXTURES / "ec2-topologies").iterdir() if p.is_dir())
