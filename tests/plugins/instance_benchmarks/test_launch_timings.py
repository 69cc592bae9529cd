"""The launch stage's figures come from the vendored public recording, by class, or are labelled assumptions."""

from __future__ import annotations

import pytest

from instance_benchmarks import launch_timings, planning
from instance_benchmarks.catalog import InstanceSpec


def spec(name: str, *, architecture: str, bare_metal: bool) -> InstanceSpec:
    return InstanceSpec(instance_type=name, family="graviton" if architecture == "arm64" else "intel",
                        architecture=architecture, cpu_model="", vcpus=2, physical_cores=1, memory_bytes=8 << 30,
                        last_level_cache_bytes=32 << 20, bare_metal=bare_metal)


def test_the_recording_is_the_one_its_readme_describes():
    runs = launch_timings.recorded_launches()

    assert len(runs["virtualised"]) == 61 and len(runs["graviton metal"]) == 9  # 73 runs, 3 incomplete
    assert min(runs["graviton metal"]) == 26 and max(runs["graviton metal"]) == 44  # "user data after 26-44 s"


@pytest.mark.parametrize(("name", "architecture", "bare_metal", "seconds", "basis"), [
    ("m7i.large", "x86_64", False, 31.0, "median of 61 recorded virtualised launches"),
    ("c8g.metal-24xl", "arm64", True, 38.0, "median of 9 recorded graviton metal launches"),
    ("m7i.metal-24xl", "x86_64", True, 480, "assumed (no public measurement of Intel or AMD metal)"),
])
def test_each_class_gets_its_recorded_median_or_a_labelled_assumption(name, architecture, bare_metal, seconds,
                                                                      basis):
    figure = launch_timings.launch_figure(spec(name, architecture=architecture, bare_metal=bare_metal))

    assert figure.seconds == seconds and figure.basis.startswith(basis)


def test_the_plan_s_launch_stage_is_that_figure():
    metal = spec("m7i.metal-24xl", architecture="x86_64", bare_metal=True)

    planned = planning.plan(metal, target="aws", profile="quick", repetitions=None, time_budget_s=600)
    as_graviton = planning.plan(metal, target="aws", profile="quick", repetitions=None, time_budget_s=600,
                                x86_metal_launch_s=38.0)

    assert planned.stages_s["launch"] == 480 and as_graviton.stages_s["launch"] == 38.0
