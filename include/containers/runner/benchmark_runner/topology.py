"""Host topology from /sys and /proc: sockets, cores, NUMA nodes, caches, CPU model.

Read from the kernel's own files rather than parsing lscpu, whose output format
changes between util-linux releases.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
from pathlib import Path
from typing import Any

SYS_CPU = Path("/sys/devices/system/cpu")
SYS_NODE = Path("/sys/devices/system/node")

_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def parse_cpu_list(text: str) -> list[int]:
    """'0-3,8,10-11' -> [0, 1, 2, 3, 8, 10, 11] (the kernel's cpulist format)."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-", 1)
            cpus.extend(range(int(low), int(high) + 1))
        else:
            cpus.append(int(part))
    return cpus


def parse_cache_size(text: str) -> int:
    """'32768K' -> 33554432 bytes (the format of /sys/.../cache/index*/size)."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)\s*", text)
    if not match:
        raise ValueError(f"unrecognised cache size {text!r}")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


def parse_cpuinfo(text: str) -> dict[str, str]:
    """The first processor block of /proc/cpuinfo as a dict (keys lower-cased)."""
    info: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if info:
                break
            continue
        key, _, value = line.partition(":")
        info.setdefault(key.strip().lower(), value.strip())
    return info


def parse_numactl_hardware(text: str) -> list[dict[str, Any]]:
    """`numactl --hardware` -> nodes with cpus, memory and distances (a cross-check of /sys)."""
    nodes: dict[int, dict[str, Any]] = {}
    for node, cpus in re.findall(r"^node (\d+) cpus:(.*)$", text, re.MULTILINE):
        nodes[int(node)] = {"node": int(node), "cpus": [int(c) for c in cpus.split()]}
    for node, size in re.findall(r"^node (\d+) size: (\d+) MB$", text, re.MULTILINE):
        nodes.setdefault(int(node), {"node": int(node), "cpus": []})["memory_bytes"] = int(size) * 2**20
    table = text.split("node distances:", 1)[1].strip().splitlines()[1:] if "node distances:" in text else []
    for row in table:
        head, _, rest = row.partition(":")
        if head.strip().isdigit() and int(head) in nodes:
            nodes[int(head)]["distances"] = [int(d) for d in rest.split()]
    return [nodes[n] for n in sorted(nodes)]


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo (or a node's meminfo) as bytes per field."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        match = re.search(r"(\w+):\s+(\d+)(?:\s+kB)?\s*$", line)
        if match:
            fields[match.group(1)] = int(match.group(2)) * 1024
    return fields


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def online_cpus(sys_cpu: Path = SYS_CPU) -> list[int]:
    text = _read(sys_cpu / "online")
    if text:
        return parse_cpu_list(text)
    return list(range(os.cpu_count() or 1))


def cpu_cores(cpus: list[int], sys_cpu: Path = SYS_CPU) -> dict[int, tuple[int, int]]:
    """logical cpu -> (package id, core id)."""
    cores = {}
    for cpu in cpus:
        topo = sys_cpu / f"cpu{cpu}" / "topology"
        package = _read(topo / "physical_package_id")
        core = _read(topo / "core_id")
        cores[cpu] = (int(package) if package else 0, int(core) if core else cpu)
    return cores


def core_cpus(core_map: dict[int, tuple[int, int]]) -> list[list[int]]:
    """Each physical core's logical CPUs (its hyperthreads), cores in the order of their first CPU: what HPL's
    ranks are bound by (hpl.rank_cpus), so no two ranks or BLAS threads share one core's hyperthreads."""
    by_core: dict[tuple[int, int], list[int]] = {}
    for cpu, core in sorted(core_map.items()):
        by_core.setdefault(core, []).append(cpu)
    return sorted(by_core.values())


def caches(cpus: list[int], sys_cpu: Path = SYS_CPU) -> list[dict[str, Any]]:
    """Every distinct cache instance (level, type, size, the CPUs sharing it)."""
    seen: dict[tuple[int, str, str], dict[str, Any]] = {}
    for cpu in cpus:
        for index in sorted((sys_cpu / f"cpu{cpu}" / "cache").glob("index*")):
            level, kind = _read(index / "level"), _read(index / "type")
            size, shared = _read(index / "size"), _read(index / "shared_cpu_list")
            if not (level and kind and size and shared):
                continue
            key = (int(level), kind.strip(), shared.strip())
            seen.setdefault(
                key,
                {
                    "level": int(level),
                    "type": kind.strip().lower(),
                    "size_bytes": parse_cache_size(size),
                    "shared_cpus": parse_cpu_list(shared),
                },
            )
    return sorted(seen.values(), key=lambda c: (c["level"], c["type"], c["shared_cpus"]))


def last_level_cache_bytes(cache_list: list[dict[str, Any]]) -> int:
    """Sum of all instances of the highest cache level (data or unified)."""
    data = [c for c in cache_list if c["type"] in ("data", "unified")]
    if not data:
        return 0
    top = max(c["level"] for c in data)
    return sum(c["size_bytes"] for c in data if c["level"] == top)


def cache_bytes(cache_list: list[dict[str, Any]]) -> int:
    """Every data or unified cache of level 2 and up, summed over its instances: all the cores can keep this much of
    an array (L2 and L3 together, which hold different lines where the L3 is not inclusive, as on Sapphire Rapids
    and Graviton4). 0 where the kernel lists none."""
    return sum(c["size_bytes"] for c in cache_list if c["type"] in ("data", "unified") and c["level"] >= 2)


def core_cache_bytes(cache_list: list[dict[str, Any]]) -> int:
    """What one core can keep: its own L2 (the largest instance) and the largest last-level instance it shares."""
    data = [c for c in cache_list if c["type"] in ("data", "unified") and c["level"] >= 2]
    if not data:
        return 0
    top = max(c["level"] for c in data)
    below = [c["size_bytes"] for c in data if c["level"] < top]
    return max(c["size_bytes"] for c in data if c["level"] == top) + (max(below) if below else 0)


def largest_cache_instance_bytes(cache_list: list[dict[str, Any]]) -> int:
    """The largest single instance of the highest cache level: the most last-level cache one core can fill
    (one CCD's L3 on AMD, one socket's on Intel, where last_level_cache_bytes sums them all)."""
    data = [c for c in cache_list if c["type"] in ("data", "unified")]
    if not data:
        return 0
    top = max(c["level"] for c in data)
    return max(c["size_bytes"] for c in data if c["level"] == top)


def numa_nodes(sys_node: Path = SYS_NODE, core_map: dict[int, tuple[int, int]] | None = None
               ) -> list[dict[str, Any]]:
    """NUMA nodes with their CPUs, physical cores, memory and SLIT distances (from /sys)."""
    nodes = []
    for node_dir in sorted(sys_node.glob("node[0-9]*"), key=lambda p: int(p.name[4:])):
        cpus = parse_cpu_list(_read(node_dir / "cpulist") or "")
        meminfo = parse_meminfo(_read(node_dir / "meminfo") or "")
        distances = [int(d) for d in (_read(node_dir / "distance") or "").split()]
        nodes.append(
            {
                "node": int(node_dir.name[4:]),
                "cpus": cpus,
                "physical_cores": len({core_map[c] for c in cpus if c in core_map}) if core_map else len(cpus),
                "memory_bytes": meminfo.get("MemTotal", 0),
                "distances": distances,
            }
        )
    # Memory-only nodes (CXL, HBM) have no CPUs: they stay listed, with 0 cores.
    return nodes


def architecture_family(machine: str, vendor: str) -> str:
    """The project's architecture families: intel, amd, graviton (any arm64 host), other."""
    if machine in ("x86_64", "amd64"):
        if vendor == "GenuineIntel":
            return "intel"
        if vendor == "AuthenticAMD":
            return "amd"
    if machine in ("aarch64", "arm64"):
        return "graviton"
    return "other"


def cpu_topology(sys_cpu: Path = SYS_CPU, sys_node: Path = SYS_NODE, *,
                 memory_total_bytes: int = 0) -> dict[str, Any]:
    """Sockets, cores, NUMA nodes and caches from a /sys tree (the host's, or a test's)."""
    cpus = online_cpus(sys_cpu)
    core_map = cpu_cores(cpus, sys_cpu)
    cache_list = caches(cpus, sys_cpu)
    physical_cores = len(set(core_map.values()))
    nodes = numa_nodes(sys_node, core_map) or [
        {"node": 0, "cpus": cpus, "physical_cores": physical_cores, "memory_bytes": memory_total_bytes,
         "distances": [10]}
    ]
    return {
        "sockets": len({package for package, _ in core_map.values()}),
        "physical_cores": physical_cores,
        "logical_cpus": len(cpus),
        "threads_per_core": max(1, len(cpus) // max(1, physical_cores)),
        "online_cpus": cpus,
        "cores": core_cpus(core_map),
        "numa_nodes": nodes,
        "caches": cache_list,
        "last_level_cache_bytes": last_level_cache_bytes(cache_list),
        "llc_instance_bytes": largest_cache_instance_bytes(cache_list),
        "cache_bytes": cache_bytes(cache_list),
        "core_cache_bytes": core_cache_bytes(cache_list),
    }


def emulation(machine: str, cpuinfo: dict[str, str]) -> str | None:
    """Why this process is emulated (qemu-user shows the real CPU's /proc/cpuinfo), or None.

    Figures measured under emulation describe the emulator, not a CPU: the runner fails the
    host.native rule for them, so they are quarantined, never stored as results.
    """
    x86_cpu = bool(cpuinfo.get("vendor_id")) or "sse2" in (cpuinfo.get("flags") or "").split()
    arm_cpu = bool(cpuinfo.get("cpu implementer"))
    if machine in ("aarch64", "arm64") and x86_cpu and not arm_cpu:
        return f"{machine} code on an x86-64 CPU ({cpuinfo.get('model name') or 'unknown model'}): qemu-user emulation"
    if machine in ("x86_64", "amd64") and arm_cpu and not x86_cpu:
        return f"{machine} code on an Arm CPU: emulation"
    return None


def detect() -> dict[str, Any]:
    """The host as the result document's `system` section records it."""
    cpuinfo = parse_cpuinfo(_read(Path("/proc/cpuinfo")) or "")
    meminfo = parse_meminfo(_read(Path("/proc/meminfo")) or "")
    machine = platform.machine()
    vendor = cpuinfo.get("vendor_id", "")
    model = cpuinfo.get("model name") or cpuinfo.get("cpu model") or ""
    if not model and machine == "aarch64":
        model = f"ARM implementer {cpuinfo.get('cpu implementer', '?')} part {cpuinfo.get('cpu part', '?')}"
    flags = (cpuinfo.get("flags") or cpuinfo.get("features") or "").split()
    return {
        "architecture": machine,
        "architecture_family": architecture_family(machine, vendor),
        "cpu_vendor": vendor or cpuinfo.get("cpu implementer", ""),
        "cpu_model": model,
        "cpu_family": cpuinfo.get("cpu family"),
        "cpu_model_number": cpuinfo.get("model"),
        "microcode": cpuinfo.get("microcode"),
        "cpu_flags": flags,
        "kernel": platform.release(),
        "os": _os_release(),
        **cpu_topology(memory_total_bytes=meminfo.get("MemTotal", 0)),
        "memory_total_bytes": meminfo.get("MemTotal", 0),
        "memory_available_bytes": meminfo.get("MemAvailable", meminfo.get("MemFree", 0)),
        "numactl": shutil.which("numactl"),
        "emulated": emulation(machine, cpuinfo),
    }


def _os_release() -> str:
    text = _read(Path("/etc/os-release")) or ""
    match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', text, re.MULTILINE)
    return match.group(1) if match else platform.platform()
