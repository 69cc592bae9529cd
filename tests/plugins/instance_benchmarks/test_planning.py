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

    # launch 31 (the recorded median) + agent 60 + pull 90 + STREAM 3 reps x 1 placement x 10 + HPL probe 20 + 40
    # + terminate 60
    assert p.stages_s == {"launch": 31, "agent online": 60, "container": 90, "stream": 30, "hpl": 60,
                          "terminate": 60}
    assert p.predicted_s == 331
    assert p.cost_on_demand == pytest.approx(331 / 3600 * 0.1008, abs=1e-4)
    assert p.cost_spot == pytest.approx(331 / 3600 * 0.04, abs=1e-4)
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

    assert built.stages_s["container"] == 480 and "12.5 min > 10 min" in built.misses_targets()[0]
    assert p.hpl_nb == 192 and p.hpl_grid == (2, 2) and p.cost_on_demand is None
    assert p.misses_targets() == ["no on-demand price: its cost cannot be bounded"]
    summary = planning.summarize_plans([p])
    assert summary["unpriced"] == 1 and summary["within_targets"] == 0 and "c7g.xlarge" in summary["not_within"]
