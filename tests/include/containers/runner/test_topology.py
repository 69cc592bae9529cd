"""Topology from a fake /sys tree: caches per instance, last-level cache across sockets."""

from __future__ import annotations

import pytest

from benchmark_runner import topology


def test_parse_cpu_list():
    assert topology.parse_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]


@pytest.mark.parametrize(("text", "size"), [("32K", 32768), ("32768K", 32 * 2**20), ("2M", 2 * 2**20)])
def test_parse_cache_size(text, size):
    assert topology.parse_cache_size(text) == size


def _fake_sys(root, sockets: int, cores_per_socket: int, l3_bytes_k: int):
    cpu_dir = root / "cpu"
    cpus = sockets * cores_per_socket
    (cpu_dir).mkdir(parents=True)
    (cpu_dir / "online").write_text(f"0-{cpus - 1}\n")
    for cpu in range(cpus):
        socket, core = divmod(cpu, cores_per_socket)
        topo = cpu_dir / f"cpu{cpu}" / "topology"
        topo.mkdir(parents=True)
        (topo / "physical_package_id").write_text(f"{socket}\n")
        (topo / "core_id").write_text(f"{core}\n")
        for index, (level, kind, size, shared) in enumerate([
            (1, "Data", "48K", str(cpu)),
            (2, "Unified", "2048K", str(cpu)),
            (3, "Unified", f"{l3_bytes_k}K", f"{socket * cores_per_socket}-{(socket + 1) * cores_per_socket - 1}"),
        ]):
            d = cpu_dir / f"cpu{cpu}" / "cache" / f"index{index}"
            d.mkdir(parents=True)
            for name, value in (("level", level), ("type", kind), ("size", size), ("shared_cpu_list", shared)):
                (d / name).write_text(f"{value}\n")
    return cpu_dir


def test_llc_is_summed_over_sockets_not_cpus(tmp_path):
    cpu_dir = _fake_sys(tmp_path, sockets=2, cores_per_socket=4, l3_bytes_k=32768)
    cpus = topology.online_cpus(cpu_dir)

    caches = topology.caches(cpus, cpu_dir)

    assert cpus == list(range(8))
    assert len([c for c in caches if c["level"] == 3]) == 2
    assert topology.last_level_cache_bytes(caches) == 2 * 32 * 2**20
    assert len(set(topology.cpu_cores(cpus, cpu_dir).values())) == 8


def test_parse_cpuinfo_and_meminfo():
    info = topology.parse_cpuinfo("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\n\nprocessor\t: 1\n")
    mem = topology.parse_meminfo("MemTotal:       24684096 kB\nMemAvailable:   24273092 kB\n")

    assert info == {"processor": "0", "vendor_id": "GenuineIntel", "model name": "Xeon"}
    assert mem == {"MemTotal": 24684096 * 1024, "MemAvailable": 24273092 * 1024}


@pytest.mark.parametrize(("machine", "vendor", "family"), [
    ("x86_64", "GenuineIntel", "intel"), ("x86_64", "AuthenticAMD", "amd"), ("aarch64", "", "graviton"),
    ("riscv64", "", "other"),
])
def test_architecture_family(machine, vendor, family):
    assert topology.architecture_family(machine, vendor) == family


def test_detect_this_host():
    detected = topology.detect()

    assert detected["logical_cpus"] >= detected["physical_cores"] >= 1
    assert detected["memory_total_bytes"] > 0
    assert detected["numa_nodes"] and detected["cpu_model"]


def test_emulation_is_told_from_the_cpu_the_kernel_describes():
    x86 = {"vendor_id": "AuthenticAMD", "model name": "AMD EPYC", "flags": "fpu sse2 avx2"}
    arm = {"cpu implementer": "0x41", "cpu part": "0xd40", "features": "fp asimd sve"}

    assert topology.emulation("aarch64", x86) == "aarch64 code on an x86-64 CPU (AMD EPYC): qemu-user emulation"
    assert topology.emulation("x86_64", arm) == "x86_64 code on an Arm CPU: emulation"
    assert topology.emulation("x86_64", x86) is None and topology.emulation("aarch64", arm) is None
