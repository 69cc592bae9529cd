"""Planning: profiles come from the runner's profiles.json; the HPL share of the budget."""

from __future__ import annotations

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
