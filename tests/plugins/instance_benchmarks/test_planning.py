"""Planning: profiles come from the runner's profiles.json; the HPL share of the budget."""

from __future__ import annotations

from pathlib import Path

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
                            str(quick["hpl_repetitions"]), "--n-hint", str(p.hpl_n)]


def test_standard_profile_gives_hpl_its_share_and_repetitions_override():
    p = planning.plan(SPEC, target="local", profile="standard", repetitions=7, time_budget_s=1000)

    assert p.hpl_time_budget_s == 1000 * planning.profiles()["standard"]["hpl_budget_share"]
    assert p.stream_repetitions == p.hpl_repetitions == 7
    assert p.stream_args()[:3] == ["stream", "--ntimes", "20"]


def test_the_test_profile_names_itself_to_the_runner_and_plans_small_arrays_and_seconds_of_hpl():
    p = planning.plan(SPEC, target="local", profile="test", repetitions=None, time_budget_s=120)
    test = planning.profiles()["test"]

    assert test["test_only"] is True
    assert p.stream_args()[-2:] == p.hpl_args()[-2:] == ["--profile", "test"]
    assert p.hpl_time_budget_s == test["hpl_budget_cap_s"] <= 5  # seconds, after the probes and layout choice
    assert p.stream_array_bytes == test["stream_array_bytes"] < SPEC.last_level_cache_bytes
    assert p.stages_s["stream"] < 1 and "--profile" not in planning.plan(
        SPEC, target="local", profile="quick", repetitions=None, time_budget_s=120).stream_args()


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

    # launch 31 (the recorded median) + agent 60 + pull 90 + STREAM + HPL probes 8 + 40 x 0.8806 (N on its rung
    # fills that share of the budget on average: (1 - 2^(-3/8)) / (3 ln 2 / 8)) + terminate 60.
    # STREAM: arrays 4 x (105 MiB, Intel's assumed L3, + 2 MiB, the assumed L2 of its one core) = 0.45 GB; one core
    # at 20 GB/s; 134 passes at NTIMES 10: calibration 2 x (3.0 s + 3.0 / 0.70 s), then 3 repetitions x 3.0 s.
    assert p.stages_s == {"launch": 31, "agent online": 60, "container": 90, "stream": 23.6, "hpl": 43.2,
                          "terminate": 60}
    assert p.stream_array_bytes == 4 * 107 * 2**20 and p.llc_basis == "assumed"
    assert p.predicted_s == pytest.approx(307.8)
    assert p.cost_on_demand == pytest.approx(307.8 / 3600 * 0.1008, abs=1e-4)
    assert p.cost_spot == pytest.approx(307.8 / 3600 * 0.04, abs=1e-4)
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

    assert built.stages_s["container"] == 480 and "11.3 min > 10 min" in built.misses_targets()[0]
    assert p.hpl_nb == 192 and p.hpl_grid == (2, 2) and p.cost_on_demand is None
    assert p.misses_targets() == ["no on-demand price: its cost cannot be bounded"]
    summary = planning.summarize_plans([p])
    assert summary["unpriced"] == 1 and summary["within_targets"] == 0 and "c7g.xlarge" in summary["not_within"]


@pytest.mark.parametrize(("spec", "llc", "one_core", "basis"), [
    (SPEC, 32 * 2**20, 32 * 2**20, "measured"),
    (InstanceSpec(**{**SPEC.to_dict(), "last_level_cache_bytes": 128 * 2**20, "llc_instance_bytes": 32 * 2**20,
                     "accelerators": ()}), 128 * 2**20, 32 * 2**20, "measured"),
    # measured L2 and up: what the runner sizes from, where the description has it
    (InstanceSpec(**{**SPEC.to_dict(), "cache_bytes": 33 * 2**20, "core_cache_bytes": 32 * 2**20 + 2**19,
                     "accelerators": ()}), 33 * 2**20, 32 * 2**20 + 2**19, "measured"),
    # assumed: the family's L3 and L2 per core (Intel's 2 MiB: the largest of its current EC2 CPUs)
    (M7I, 107 * 2**20, 107 * 2**20, "assumed"),
    # an AMD host sees one 32 MiB L3 per 8-core CCD: 96 cores, 12 CCDs; one core fills one, and its 1 MiB L2
    (InstanceSpec(instance_type="m7a.24xlarge", family="amd", architecture="x86_64", cpu_model="AMD", vcpus=96,
                  physical_cores=96, memory_bytes=384 * 2**30, last_level_cache_bytes=0),
     12 * 32 * 2**20 + 96 * 2**20, 33 * 2**20, "assumed"),
    # a host above one socket's 48 cores has two sockets' caches
    (InstanceSpec(instance_type="m7i.48xlarge", family="intel", architecture="x86_64", cpu_model="Intel", vcpus=192,
                  physical_cores=96, memory_bytes=768 * 2**30, last_level_cache_bytes=0),
     2 * 105 * 2**20 + 96 * 2 * 2**20, 107 * 2**20, "assumed"),
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
    # the scaling curve's 2 and 4 threads on a 96-core host: 40 and 80 GB/s on the whole arrays
    assert planning.stream_seconds(**{**one, "cores": 96, "scaling_threads": [2, 4]}) == pytest.approx(
        134 * 2 / 500 + 134 * 2 / 40 + 134 * 2 / 80)


def test_the_standard_profile_measures_scaling_and_plans_its_time_while_quick_does_not():
    m7i_48 = InstanceSpec(**{**M7I.to_dict(), "instance_type": "m7i.48xlarge", "vcpus": 192, "physical_cores": 96,
                             "memory_bytes": 768 * 2**30, "accelerators": ()})
    standard = planning.plan(m7i_48, target="aws", profile="standard", repetitions=None, time_budget_s=540)
    quick = planning.plan(m7i_48, target="aws", profile="quick", repetitions=None, time_budget_s=540)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setitem(planning.profiles()["standard"], "stream_scaling", False)
        monkeypatch.setitem(planning.profiles()["standard"], "hpl_scaling_share", 0)
        no_scaling = planning.plan(m7i_48, target="aws", profile="standard", repetitions=None, time_budget_s=540)

    assert standard.stream_scaling_threads == [2, 4, 8, 16, 32, 64] and standard.stream_args()[-1] == "--scaling"
    assert standard.hpl_scaling_budget_s == 0.15 * 540 and standard.hpl_args()[-2:] == ["--scaling-budget", "81"]
    assert standard.stream_placements == no_scaling.stream_placements + 6
    assert standard.stages_s["stream"] > no_scaling.stages_s["stream"]
    fill = planning._runner_hpl().RUNG_MEAN_TIME_FILL
    assert standard.stages_s["hpl"] == pytest.approx(no_scaling.stages_s["hpl"] + 81 * fill,
                                                     abs=0.1)
    assert not quick.stream_scaling and quick.hpl_scaling_budget_s == 0
    assert "--scaling" not in quick.stream_args() and "--scaling-budget" not in quick.hpl_args()
    one_core = planning.plan(M7I, target="aws", profile="standard", repetitions=None, time_budget_s=540)
    assert one_core.hpl_scaling_budget_s == 0  # m7i.large: one physical core, nothing to scale HPL across


def test_graviton_has_one_store_variant_so_no_calibration():
    c7g = InstanceSpec(instance_type="c7g.large", family="graviton", architecture="arm64", cpu_model="AWS", vcpus=2,
                       physical_cores=2, memory_bytes=4 * 2**30, last_level_cache_bytes=32 * 2**20)
    x86 = InstanceSpec(**{**c7g.to_dict(), "architecture": "x86_64", "family": "intel", "accelerators": ()})

    graviton = planning.plan(c7g, target="local", profile="quick", repetitions=None, time_budget_s=600)
    intel = planning.plan(x86, target="local", profile="quick", repetitions=None, time_budget_s=600)

    assert graviton.stages_s["stream"] < intel.stages_s["stream"]


# Issue 15's proof: the planner on eleven real EC2 hosts (tests/fixtures/ec2-topologies), their memory and
# clock from moto's catalog, with the weekly refresh's settings.
TOPOLOGIES = Path(__file__).parents[2] / "fixtures" / "ec2-topologies"


@pytest.fixture(scope="module")
def recorded_plans():
    import boto3
    from moto import mock_aws

    from instance_benchmarks import catalog, recorded_hosts
    from tests.conftest import MOTO_ENV

    names = sorted(p.name for p in TOPOLOGIES.iterdir() if p.is_dir())
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in MOTO_ENV.items():
            monkeypatch.setenv(name, value)
        with mock_aws():
            described = boto3.client("ec2", region_name="us-east-1").describe_instance_types(InstanceTypes=names)
    specs = {d["InstanceType"]: catalog.spec_from_description(d) for d in described["InstanceTypes"]}
    return recorded_hosts.weekly_plans(TOPOLOGIES, specs)


def test_every_recorded_host_s_plan_fits_its_memory_and_its_time_budget(recorded_plans):
    hpl = planning._runner_hpl()
    assert len(recorded_plans) == 11
    for name, (spec, host, p) in recorded_plans.items():
        assert 8 * p.hpl_n**2 <= hpl.MEMORY_FRACTION * spec.memory_bytes, name
        # One solve at the rate the N_half model predicts at N, within its share of the HPL budget.
        rate = p.hpl_gflops_per_core * spec.physical_cores * p.hpl_predicted_share * 1e9
        assert hpl.hpl_flops(p.hpl_n) / rate <= p.hpl_time_budget_s / p.hpl_repetitions, name
        assert p.stream_array_bytes >= 4 * (host["cache_bytes"]), name  # L2 and L3, summed
        # the planner predicts 0.53-0.59 of 540 s for the two benchmark stages
        assert p.stages_s["stream"] + p.stages_s["hpl"] <= p.time_budget_s, name


def test_big_hosts_are_never_a_tiny_fraction_of_memory_without_saying_why(recorded_plans):
    for name, (_, _, p) in recorded_plans.items():
        if p.hpl_memory_fraction < 0.05:  # u7i-6tb, x2iedn, r7iz, m9g: time, not memory, holds N down
            assert p.hpl_limit.startswith("time:"), name
            assert p.hpl_near_asymptote is False and p.hpl_n_near_asymptote > p.hpl_n, name
            assert p.hpl_budget_for_asymptote_s > p.time_budget_s, name  # and what budget would reach it
    small = recorded_plans["m7i.large"][2]
    assert small.hpl_near_asymptote is True and small.hpl_memory_fraction > 0.3
    assert planning.summarize_plans([p for _, _, p in recorded_plans.values()])["hpl_near_asymptote"] == 1


def test_the_weekly_host_budget_fits_every_virtualised_recorded_type_in_10_minutes_keeping_its_curve(
        recorded_plans):
    """Issue 30 item 0: launch, agent, pull, STREAM and terminate are the type's own; HPL's solves and scaling
    curve get what they leave of the week's 600 s host budget, in their proportion (the curve stays)."""
    for name, (spec, _, p) in recorded_plans.items():
        assert p.host_time_budget_s == 600, name
        if "metal" in name:  # minutes of boot: the floor keeps HPL meaningful and the plan says it misses
            assert p.predicted_s > planning.TARGET_SECONDS and any("launch" in r for r in p.misses_targets()), name
            continue
        assert p.predicted_s <= planning.TARGET_SECONDS, (name, p.stages_s)
        assert p.hpl_time_budget_s > 0 and (p.hpl_scaling_budget_s > 0) == (spec.physical_cores > 1), name
        unbounded = planning.plan(spec, target="aws", profile="standard", repetitions=None, time_budget_s=540,
                                  image_registry="registry")
        # only HPL's budgets move, and in proportion
        assert p.hpl_time_budget_s <= unbounded.hpl_time_budget_s, name
        assert p.hpl_scaling_budget_s * unbounded.hpl_time_budget_s == pytest.approx(
            unbounded.hpl_scaling_budget_s * p.hpl_time_budget_s, rel=0.02), name
        assert {k: v for k, v in p.stages_s.items() if k != "hpl"} == \
            {k: v for k, v in unbounded.stages_s.items() if k != "hpl"}, name


def test_a_host_budget_cuts_hpl_s_budgets_in_proportion_never_below_the_floor_and_never_raises_them():
    fill = planning._runner_hpl().RUNG_MEAN_TIME_FILL
    assert planning.within_host_budget(1000, 270, 81) == (270, 81)  # room enough: untouched
    hpl_budget, scaling = planning.within_host_budget(200, 270, 81)
    assert (hpl_budget + scaling) * fill == pytest.approx(200) and hpl_budget / scaling == pytest.approx(270 / 81)
    assert planning.within_host_budget(-50, 270, 81) == pytest.approx(
        (270 * planning.HOST_BUDGET_MIN_SHARE, 81 * planning.HOST_BUDGET_MIN_SHARE))
    local = planning.plan(SPEC, target="local", profile="standard", repetitions=None, time_budget_s=540,
                          host_time_budget_s=300)  # nothing is launched here: no host budget applies
    assert local.host_time_budget_s is None
    assert local.hpl_time_budget_s == planning.plan(SPEC, target="local", profile="standard", repetitions=None,
                                                    time_budget_s=540).hpl_time_budget_s


def test_the_hpl_rate_is_assumed_per_cpu_generation_and_says_so(recorded_plans):
    m7i, m9g = recorded_plans["m7i.48xlarge"][2], recorded_plans["m9g.48xlarge"][2]

    assert m7i.hpl_gflops_per_core == pytest.approx(32 * 3.2 * planning.HPL_SHARE_OF_PEAK, abs=0.01)
    assert "Golden Cove" in m7i.hpl_rate_basis and m7i.hpl_rate_basis.startswith("assumed")
    # Neoverse V3 is not in the peak table: the plain assumption, named as such
    assert m9g.hpl_gflops_per_core == planning.HPL_GFLOPS_PER_CORE and "unknown" in m9g.hpl_rate_basis


def test_the_asymptote_outlook_by_hand():
    # 1x1 grid, NB 256: N_half 830; within 5% from 19 x 830 = 15,770, rounded up to NB: 15,872.
    outlook = planning.hpl_outlook(n=24832, nb=256, grid=(1, 1))

    assert outlook["n_half"] == 830 and outlook["n_near_asymptote"] == 15872
    assert outlook["predicted_share"] == pytest.approx(24832 / (24832 + 830), abs=1e-4) and outlook["near_asymptote"]
    # 12x16 grid: N_half 16 x 830 = 13,280; N = 86,016 is at 86.6%
    wide = planning.hpl_outlook(n=86016, nb=256, grid=(12, 16))
    assert wide["predicted_share"] == pytest.approx(0.8663, abs=1e-4) and wide["near_asymptote"] is False
