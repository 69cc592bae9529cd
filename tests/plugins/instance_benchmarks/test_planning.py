"""Planning: profiles come from the runner's profiles.json; the HPL share of the budget."""

from __future__ import annotations

import pytest

from instance_benchmarks import planning
from instance_benchmarks.catalog import InstanceSpec

SPEC = InstanceSpec(instance_type="local", family="amd", architecture="x86_64", cpu_model="AMD EPYC", vcpus=2,
                    physical_cores=2, memory_bytes=24 * 2**30, last_level_cache_bytes=32 * 2**20)


def test_quick_profile_caps_hpl_and_uses_profile_repetitions():
    p = planning.plan(SPEC, target="local", profile="quick", repetitions=None, time_budget_s=1800)
    quick = planning.profiles()["quick"]

    assert p.stream_repetitions == quick["stream_repetitions"]
    assert p.hpl_repetitions == quick["hpl_repetitions"]
    assert p.hpl_time_budget_s == quick["hpl_budget_cap_s"]
    assert p.hpl_args() == ["hpl", "--time-budget", f"{quick['hpl_budget_cap_s']:g}", "--repetitions",
                            str(quick["hpl_repetitions"])]


def test_standard_profile_gives_hpl_its_share_and_repetitions_override():
    p = planning.plan(SPEC, target="local", profile="standard", repetitions=7, time_budget_s=1000)

    assert p.hpl_time_budget_s == 1000 * planning.profiles()["standard"]["hpl_budget_share"]
    assert p.stream_repetitions == p.hpl_repetitions == 7
    assert p.stream_args()[:3] == ["stream", "--ntimes", "20"]


def test_memory_need_is_three_rule_sized_arrays():
    p = planning.plan(SPEC, target="local", profile="quick", repetitions=None, time_budget_s=600)

    assert p.min_memory_bytes == 3 * 4 * 32 * 2**20


def test_plans_round_trip_and_group_by_family():
    p = planning.plan(SPEC, target="local", profile="quick", repetitions=None, time_budget_s=600)

    assert planning.BenchmarkPlan.from_dict(p.to_dict()) == p
    assert planning.by_family([p], ("intel", "amd", "graviton")) == {"intel": [], "amd": [p.to_dict()],
                                                                    "graviton": []}


M7I = InstanceSpec(instance_type="m7i.large", family="intel", architecture="x86_64", cpu_model="Intel", vcpus=2,
                   physical_cores=1, memory_bytes=8 * 2**30, last_level_cache_bytes=0, instance_family="m7i")


def test_stage_times_and_cost_are_predicted_from_the_profile_and_the_price():
    p = planning.plan(M7I, target="aws", profile="quick", repetitions=None, time_budget_s=1800,
                      prices={"on_demand": 0.1008, "spot": 0.04}, image_registry="registry.example/runner")

    # launch 31 (the recorded median) + agent 60 + pull 90 + STREAM + HPL probes 8 + 40 + terminate 60.
    # STREAM: arrays 4 x 105 MiB (Intel's assumed LLC) = 0.44 GB; one core at 20 GB/s; 134 passes at NTIMES 10:
    # calibration 2 x (2.95 s + 2.95 / 0.70 s) = 14.3 s, then 3 repetitions x 2.95 s = 8.85 s.
    assert p.stages_s == {"launch": 31, "agent online": 60, "container": 90, "stream": 23.2, "hpl": 48,
                          "terminate": 60}
    assert p.stream_array_bytes == 4 * 105 * 2**20 and p.llc_basis == "assumed"
    assert p.predicted_s == pytest.approx(312.2)
    assert p.cost_on_demand == pytest.approx(312.2 / 3600 * 0.1008, abs=1e-4)
    assert p.cost_spot == pytest.approx(312.2 / 3600 * 0.04, abs=1e-4)
    assert p.hpl_nb == 256 and p.hpl_grid == (1, 1) and p.hpl_n % 256 == 0
    assert p.misses_targets() == []
    assert planning.BenchmarkPlan.from_dict(p.to_dict()) == p


def test_huge_memory_is_capped_by_the_time_budget_not_the_memory():
    u6tb = InstanceSpec(instance_type="u-6tb1.metal", family="intel", architecture="x86_64", cpu_model="Intel",
                        vcpus=448, physical_cores=224, memory_bytes=6 * 2**40, last_level_cache_bytes=0,
                        bare_metal=True)

    p = planning.plan(u6tb, target="aws", profile="quick", repetitions=None, time_budget_s=1800,
                      prices={"on_demand": 54.6})

    n_memory = int((0.8 * 6 * 2**40 / 8) ** 0.5)
    assert 0 < p.hpl_n < n_memory / 10  # seconds of HPL, not hours
    assert p.hpl_grid == (14, 16) and p.hpl_nb == 256
    reasons = p.misses_targets()
    assert any("min >" in r and "launch 480 s" in r for r in reasons) and any("$54.6/h" in r for r in reasons)


def test_graviton_uses_its_block_size_and_an_unpriced_type_cannot_be_bounded():
    c7g = InstanceSpec(instance_type="c7g.xlarge", family="graviton", architecture="arm64", cpu_model="AWS", vcpus=4,
                       physical_cores=4, memory_bytes=8 * 2**30, last_level_cache_bytes=0)

    p = planning.plan(c7g, target="aws", profile="quick", repetitions=None, time_budget_s=1800, image_registry="r")
    built = planning.plan(c7g, target="aws", profile="quick", repetitions=None, time_budget_s=1800)

    assert built.stages_s["container"] == 480 and "11.4 min > 10 min" in built.misses_targets()[0]
    assert p.hpl_nb == 192 and p.hpl_grid == (2, 2) and p.cost_on_demand is None
    assert p.misses_targets() == ["no on-demand price: its cost cannot be bounded"]
    summary = planning.summarize_plans([p])
    assert summary["unpriced"] == 1 and summary["within_targets"] == 0 and "c7g.xlarge" in summary["not_within"]


@pytest.mark.parametrize(("spec", "llc", "one_core", "basis"), [
    (SPEC, 32 * 2**20, 32 * 2**20, "measured"),
    (InstanceSpec(**{**SPEC.to_dict(), "last_level_cache_bytes": 128 * 2**20, "llc_instance_bytes": 32 * 2**20,
                     "accelerators": ()}), 128 * 2**20, 32 * 2**20, "measured"),
    (M7I, 105 * 2**20, 105 * 2**20, "assumed"),
    # an AMD host sees one 32 MiB L3 per 8-core CCD: 96 cores, 12 CCDs; one core fills one
    (InstanceSpec(instance_type="m7a.24xlarge", family="amd", architecture="x86_64", cpu_model="AMD", vcpus=96,
                  physical_cores=96, memory_bytes=384 * 2**30, last_level_cache_bytes=0), 12 * 32 * 2**20,
     32 * 2**20, "assumed"),
    # a host above one socket's 48 cores has two sockets' caches
    (InstanceSpec(instance_type="m7i.48xlarge", family="intel", architecture="x86_64", cpu_model="Intel", vcpus=192,
                  physical_cores=96, memory_bytes=768 * 2**30, last_level_cache_bytes=0), 2 * 105 * 2**20,
     105 * 2**20, "assumed"),
])
def test_stream_arrays_come_from_the_measured_cache_or_the_familys_recorded_one(spec, llc, one_core, basis):
    assert planning.llc_bytes(spec) == (llc, one_core, basis)


def test_stream_time_follows_bytes_ntimes_placements_and_the_store_calibration():
    one = dict(array_bytes=2 * 10**9, cores=2, ntimes=10, repetitions=1, placements=1, calibrates=False)

    # all cores: 2 x 20 GB/s; 134 passes of 2 GB
    assert planning.stream_seconds(**one) == pytest.approx(134 * 2 / 40)
    # the one-core placement moves the same bytes at 20 GB/s
    assert planning.stream_seconds(**{**one, "placements": 2}) == pytest.approx(134 * 2 / 40 + 134 * 2 / 20)
    assert planning.stream_seconds(**{**one, "repetitions": 3}) == pytest.approx(3 * 134 * 2 / 40)
    assert planning.stream_seconds(**{**one, "ntimes": 20}) == pytest.approx(234 * 2 / 40)
    # x86: two calibration pairs first, regular stores at 0.7 of streaming stores
    assert planning.stream_seconds(**{**one, "calibrates": True}) == pytest.approx(
        134 * 2 / 40 + 2 * (134 * 2 / 40 + 134 * 2 / 28))
    # many cores: capped at 250 GB/s per 48 cores
    assert planning.stream_seconds(**{**one, "cores": 96}) == pytest.approx(134 * 2 / 500)
    # one core fills one cache instance: its arrays are sized from that
    assert planning.stream_seconds(**{**one, "placements": 2, "one_core_array_bytes": 10**9}) == pytest.approx(
        134 * 2 / 40 + 134 * 1 / 20)


def test_graviton_has_one_store_variant_so_no_calibration():
    c7g = InstanceSpec(instance_type="c7g.large", family="graviton", architecture="arm64", cpu_model="AWS", vcpus=2,
                       physical_cores=2, memory_bytes=4 * 2**30, last_level_cache_bytes=32 * 2**20)
    x86 = InstanceSpec(**{**c7g.to_dict(), "architecture": "x86_64", "family": "intel", "accelerators": ()})

    graviton = planning.plan(c7g, target="local", profile="quick", repetitions=None, time_budget_s=600)
    intel = planning.plan(x86, target="local", profile="quick", repetitions=None, time_budget_s=600)

    assert graviton.stages_s["stream"] < intel.stages_s["stream"]
