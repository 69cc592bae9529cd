"""Sizing and placement decisions on machines unlike this one (see machines.py)."""

from __future__ import annotations

import pytest

from benchmark_runner import hpl, stream, topology
from tests.include.containers.runner.machines import (
    AMD_NPS4,
    GRAVITON_64,
    INTEL_2S,
    MACHINES,
    build_sys,
    numactl_hardware,
)

GIB = 2**30
USABLE_NUMACTL = {"path": "/usr/bin/numactl", "usable": True, "detail": "binds"}


@pytest.fixture
def topo(tmp_path, request):
    machine = request.param
    cpu_dir, node_dir = build_sys(tmp_path, machine)
    detected = topology.cpu_topology(cpu_dir, node_dir)
    return machine, {**detected, "memory_available_bytes": machine.nodes * machine.memory_per_node_kib * 1024}


@pytest.mark.parametrize("topo", MACHINES, indirect=True, ids=lambda m: m.name)
def test_topology_counts(topo):
    machine, t = topo

    assert t["sockets"] == machine.sockets
    assert t["physical_cores"] == machine.cores
    assert t["logical_cpus"] == machine.cpus
    assert t["threads_per_core"] == machine.threads_per_core
    assert len(t["numa_nodes"]) == machine.nodes
    assert all(n["physical_cores"] == machine.cores // machine.nodes for n in t["numa_nodes"])
    l3_instances = machine.cores // machine.cores_per_l3
    assert t["last_level_cache_bytes"] == l3_instances * machine.l3_kib * 1024


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_numactl_hardware_agrees_with_sys(tmp_path, machine):
    cpu_dir, node_dir = build_sys(tmp_path, machine)
    from_sys = topology.numa_nodes(node_dir)
    from_numactl = topology.parse_numactl_hardware(numactl_hardware(machine))

    assert [n["cpus"] for n in from_numactl] == [n["cpus"] for n in from_sys]
    assert [n["distances"] for n in from_numactl] == [n["distances"] for n in from_sys]


@pytest.mark.parametrize("topo", [INTEL_2S], indirect=True, ids=lambda m: m.name)
def test_intel_two_nodes_get_local_then_remote_placements(topo):
    _, t = topo

    placements = stream.placements(t, threads=None, numactl=USABLE_NUMACTL)

    assert [(p["placement"], p["threads"]) for p in placements] == [
        ("all-cores", 96), ("one-core", 1), ("node0-local", 48), ("node1-local", 48),
        ("cpu0-mem1", 48), ("cpu1-mem0", 48),
    ]
    assert placements[4]["binding"]["numactl"] == ["/usr/bin/numactl", "--cpunodebind=0", "--membind=1"]


@pytest.mark.parametrize("topo", [AMD_NPS4], indirect=True, ids=lambda m: m.name)
def test_amd_nps4_gets_the_full_8x8_matrix(topo):
    _, t = topo

    placements = stream.placements(t, threads=None, numactl=USABLE_NUMACTL)
    numa = [p for p in placements if p["numa"]]

    assert len(numa) == 8 * 8
    assert [p["placement"] for p in numa[:8]] == [f"node{n}-local" for n in range(8)]
    assert all(p["threads"] == 24 for p in numa)


@pytest.mark.parametrize("topo", [AMD_NPS4], indirect=True, ids=lambda m: m.name)
def test_numactl_refused_means_no_numa_placements(topo):
    _, t = topo
    refused = {"path": "/usr/bin/numactl", "usable": False, "detail": "set_mempolicy: Operation not permitted"}

    assert [p["placement"] for p in stream.placements(t, threads=None, numactl=refused)] == ["all-cores", "one-core"]


def test_numactl_status_reports_a_refusal(tmp_path):
    fake = tmp_path / "numactl"
    fake.write_text("#!/bin/sh\necho 'set_mempolicy: Operation not permitted' >&2\nexit 1\n")
    fake.chmod(0o755)

    status = stream.numactl_status({"numactl": str(fake)})

    assert status["usable"] is False and "Operation not permitted" in status["detail"]


@pytest.mark.parametrize("topo", [GRAVITON_64], indirect=True, ids=lambda m: m.name)
def test_graviton_single_node_has_no_matrix(topo):
    _, t = topo

    assert [p["placement"] for p in stream.placements(t, threads=None, numactl=USABLE_NUMACTL)] == [
        "all-cores", "one-core"]


@pytest.mark.parametrize("topo", MACHINES, indirect=True, ids=lambda m: m.name)
def test_stream_arrays_are_4x_the_summed_llc(topo):
    _, t = topo

    elements, rule = stream.rule_array_size(t["last_level_cache_bytes"], t["memory_available_bytes"])

    assert elements * 8 == 4 * t["last_level_cache_bytes"] and rule["passed"]


@pytest.mark.parametrize(("topo", "expected"), [
    (INTEL_2S, [(96, 1), (1, 96), (2, 48)]),
    (AMD_NPS4, [(192, 1), (1, 192), (8, 24), (2, 96)]),
    (GRAVITON_64, [(64, 1), (1, 64)]),
], indirect=["topo"], ids=lambda v: getattr(v, "name", ""))
def test_hpl_layout_candidates(topo, expected):
    _, t = topo

    assert hpl.layouts(t) == expected


@pytest.mark.parametrize(("vcpus", "ranks", "grid"), [(2, 2, (1, 2)), (8, 8, (2, 4)), (64, 64, (8, 8)),
                                                     (192, 192, (12, 16))])
def test_hpl_dat_for_vcpu_counts(tmp_path, vcpus, ranks, grid):
    memory = vcpus * 4 * GIB  # the m-family ratio
    p, q = hpl.process_grid(ranks)
    n, _ = hpl.size_problem(memory_bytes=memory, nb=256, q=q, gflops_estimate=None, time_budget_s=None)

    lines = hpl.write_hpl_dat(tmp_path, n=n, nb=256, p=p, q=q).read_text().splitlines()

    assert (p, q) == grid and p <= q
    assert int(lines[5].split()[0]) == n and n % (256 * q) == 0
    assert 8 * n * n <= 0.8 * memory
    assert (int(lines[10].split()[0]), int(lines[11].split()[0])) == grid
