"""STREAM: the parser on captured real output, validation failures, and the run rules."""

from __future__ import annotations

import pytest

from benchmark_runner import stream
from tests.include.containers.runner.machines import recorded_topology, recorded_types


def test_parses_captured_output(fixture_text):
    result = stream.parse_output(fixture_text("stream-output-2threads.txt"))

    assert result["array_elements"] == 16777216
    assert result["ntimes"] == 10
    assert result["threads"] == 2
    assert result["validated"] is True
    assert result["kernels"]["copy"]["best_rate_mb_s"] == 28265.6
    assert result["kernels"]["triad"]["best_rate_mb_s"] == 31784.6
    assert result["kernels"]["triad"]["min_time_s"] == 0.012668
    # Raw times keep every iteration, first included, per kernel in STREAM's order.
    assert all(len(result["raw_times_s"][k]) == 10 for k in stream.KERNELS)
    # Best rate is bytes moved over the minimum time of iterations 2..NTIMES.
    triad_bytes = 3 * 8 * 16777216
    best = min(result["raw_times_s"]["triad"][1:])
    assert result["kernels"]["triad"]["best_rate_mb_s"] == pytest.approx(triad_bytes / best / 1e6, rel=1e-3)


def test_failed_validation_is_reported_not_hidden(fixture_text):
    text = fixture_text("stream-output-2threads.txt").replace("validated: true", "validated: false")

    assert stream.parse_output(text)["validated"] is False


def test_truncated_output_is_an_error(fixture_text):
    text = fixture_text("stream-output-2threads.txt")
    truncated = text[: text.index("Triad")]

    with pytest.raises(stream.StreamError, match="triad"):
        stream.parse_output(truncated)


def test_array_size_follows_the_4x_llc_rule():
    elements, rule = stream.rule_array_size(llc_bytes=32 * 2**20, memory_available_bytes=24 * 2**30)

    assert elements == 4 * 32 * 2**20 // 8
    assert rule["passed"] is True


def test_array_size_capped_by_memory_says_so():
    elements, rule = stream.rule_array_size(llc_bytes=512 * 2**20, memory_available_bytes=2 * 2**30)

    assert elements * 3 * 8 <= 0.6 * 2 * 2**30
    assert rule["passed"] is False
    assert "capped" in rule["detail"]


def test_placements_all_cores_then_one_core():
    topology = {"physical_cores": 8, "numa_nodes": [{"node": 0, "cpus": list(range(8)), "memory_bytes": 1}]}

    names = [(p["placement"], p["threads"]) for p in stream.placements(topology, threads=None)]

    assert names == [("all-cores", 8), ("one-core", 1)]
    assert stream.placements(topology, threads=3)[0]["threads"] == 3


def test_one_core_arrays_are_4x_the_cache_one_core_can_fill(monkeypatch, fixture_text):
    """An EPYC's L3 is one 32 MiB instance per CCD: one core fills one, all cores fill them all."""
    l3 = [{"level": 3, "type": "unified", "size_bytes": 32 * 2**20, "shared_cpus": list(range(8 * i, 8 * i + 8))}
          for i in range(4)]
    topology = {"physical_cores": 32, "memory_available_bytes": 64 * 2**30, "last_level_cache_bytes": 128 * 2**20,
                "caches": l3, "numa_nodes": [{"node": 0, "cpus": list(range(32)), "memory_bytes": 64 * 2**30}]}
    ran = []

    def run_once(binary, array_elements, ntimes, placement):
        ran.append((placement["placement"], array_elements))
        return stream.parse_output(fixture_text("stream-output-2threads.txt"))

    monkeypatch.setattr(stream, "run_once", run_once)
    monkeypatch.setattr(stream, "numactl_status", lambda _: {"path": None, "usable": False, "detail": "absent"})

    section, rules = stream.measure({"regular": {"path": "stream"}}, topology, repetitions=1)

    assert ran == [("all-cores", 4 * 128 * 2**20 // 8), ("one-core", 4 * 32 * 2**20 // 8)]
    assert section["array_elements"] == 4 * 128 * 2**20 // 8
    (rule,) = [r for r in rules if r["rule"] == "stream.one_core_array_at_least_4x_its_llc"]
    assert rule["passed"] and "4 x 33554432 bytes" in rule["detail"]


def test_a_single_cache_instance_or_an_explicit_size_keeps_one_size(monkeypatch, fixture_text):
    topology = {"physical_cores": 2, "memory_available_bytes": 8 * 2**30, "last_level_cache_bytes": 32 * 2**20,
                "caches": [{"level": 3, "type": "unified", "size_bytes": 32 * 2**20, "shared_cpus": [0, 1]}],
                "numa_nodes": [{"node": 0, "cpus": [0, 1], "memory_bytes": 8 * 2**30}]}
    ran = []
    monkeypatch.setattr(stream, "run_once", lambda b, n, t, p: ran.append(n) or stream.parse_output(
        fixture_text("stream-output-2threads.txt")))
    monkeypatch.setattr(stream, "numactl_status", lambda _: {"path": None, "usable": False, "detail": "absent"})

    stream.measure({"regular": {"path": "stream"}}, topology, repetitions=1)
    stream.measure({"regular": {"path": "stream"}}, {**topology, "last_level_cache_bytes": 64 * 2**20,
                                                     "caches": topology["caches"] * 2}, repetitions=1,
                   array_elements=10**6)

    assert ran == [4 * 32 * 2**20 // 8] * 2 + [10**6] * 2


def test_the_scaling_curve_adds_powers_of_two_between_one_core_and_all_and_finds_where_bandwidth_stops():
    topology = {"physical_cores": 12, "numa_nodes": [{"node": 0, "cpus": list(range(12)), "memory_bytes": 1}]}

    names = [(p["placement"], p["threads"], p["binding"]["OMP_PROC_BIND"])
             for p in stream.placements(topology, threads=None, scaling=True)]

    assert names == [("all-cores", 12, "spread"), ("one-core", 1, "close"), ("threads-2", 2, "spread"),
                     ("threads-4", 4, "spread"), ("threads-8", 8, "spread")]
    assert stream.scaling_threads(2) == [] and stream.scaling_threads(96) == [2, 4, 8, 16, 32, 64]

    # A memory-bound host: 4 threads give 92% of what 12 do, so 4 is where it stops scaling (90%).
    def measured(placement, threads, triad):
        return {"placement": placement, "threads": threads, "summary": {"triad": {"median_mb_s": triad}}}

    curve = stream.scaling_curve([measured("all-cores", 12, 100_000.0), measured("one-core", 1, 30_000.0),
                                  measured("threads-2", 2, 58_000.0), measured("threads-4", 4, 92_000.0),
                                  measured("threads-8", 8, 99_000.0), measured("node0-local", 6, 95_000.0)])

    assert [(p["threads"], p["of_all_cores"]) for p in curve["points"]] == [
        (1, 0.3), (2, 0.58), (4, 0.92), (8, 0.99), (12, 1.0)]  # the NUMA placement is not on the curve
    assert curve["threads_to_share"] == 4 and curve["share"] == 0.9


@pytest.mark.parametrize("instance_type", recorded_types())
def test_on_every_recorded_host_each_core_s_share_of_an_array_is_4x_its_l2_and_the_array_4x_l2_and_l3(
        instance_type):
    """m8g.48xlarge: 72 MiB of L3 but 384 MiB of L2 (2 MiB per core). Sized at 4 x the L3 alone, each of its 192
    cores held 1.5 MiB of an array beside a 2 MiB L2: the array sat in cache. Sized at 4 x L2 and L3, never."""
    host = recorded_topology(instance_type, memory_bytes=4 * 2**40)
    l2_per_core = (host["cache_bytes"] - host["last_level_cache_bytes"]) / host["physical_cores"]

    elements, rule = stream.rule_array_size(host["cache_bytes"], host["memory_available_bytes"])

    assert rule["passed"] and elements * 8 >= 4 * host["cache_bytes"]
    assert elements * 8 / host["physical_cores"] >= 4 * l2_per_core
    if instance_type == "m8g.48xlarge":
        by_l3_alone, _ = stream.rule_array_size(host["last_level_cache_bytes"], host["memory_available_bytes"])
        assert by_l3_alone * 8 / host["physical_cores"] == 1.5 * 2**20 < l2_per_core == 2 * 2**20
