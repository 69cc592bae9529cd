"""The time-to-live covers the longest legitimate host, and nothing in the tags depends on when they are made."""

from __future__ import annotations

import datetime

import pytest

from instance_benchmarks import lifetime
from instance_benchmarks.catalog import InstanceSpec
from instance_benchmarks.hosts.ec2 import user_data
from instance_benchmarks.lifetime import COMMAND_DELIVERY_S, PREPARE_TIMEOUT_S
from instance_benchmarks.planning import plan

BIG = InstanceSpec(instance_type="m7i.48xlarge", family="intel", architecture="x86_64", cpu_model="Intel", vcpus=192,
                   physical_cores=96, memory_bytes=768 * 2**30, last_level_cache_bytes=0, instance_family="m7i")
# The plan's names for the stages the time-to-live bounds by their timeouts.
PLAN_STAGES = {"agent online": "agent", "container": "container", "stream": "stream", "hpl": "hpl"}


@pytest.mark.parametrize("time_budget_s", [60, 600, 1800, 7200, 86400])
@pytest.mark.parametrize("agent_timeout_s", [60, 900, 3600])
def test_the_time_to_live_covers_every_stage_at_its_own_timeout(time_budget_s, agent_timeout_s):
    """Issue 17 item 4: 2 x budget + 30 min (5,400 s by default) was shorter than agent + image + STREAM + HPL."""
    ttl = lifetime.time_to_live(time_budget_s=time_budget_s, agent_timeout_s=agent_timeout_s)

    worst = agent_timeout_s + PREPARE_TIMEOUT_S + 2 * time_budget_s + 3 * COMMAND_DELIVERY_S
    assert ttl.total_seconds() >= worst + 1800  # plus the margin for launch, extract, store and terminate
    assert ttl > datetime.timedelta(seconds=2 * time_budget_s + 1800)  # the old figure


@pytest.mark.parametrize("profile", ["quick", "standard"])
@pytest.mark.parametrize("time_budget_s", [600, 1800, 7200])
def test_the_plan_s_own_stages_fit_within_their_maxima_and_the_time_to_live(profile, time_budget_s):
    planned = plan(BIG, target="aws", profile=profile, repetitions=None, time_budget_s=time_budget_s)
    maxima = lifetime.stage_maxima(time_budget_s=time_budget_s, agent_timeout_s=900)
    ttl = lifetime.time_to_live(time_budget_s=time_budget_s, agent_timeout_s=900)

    for stage, bound in PLAN_STAGES.items():
        assert planned.stages_s[stage] <= maxima[bound], stage
    assert planned.predicted_s <= ttl.total_seconds()


def test_the_tags_and_the_in_guest_timer_say_the_same_time_to_live():
    ttl = lifetime.time_to_live(time_budget_s=1800, agent_timeout_s=900)
    tags = lifetime.tags_for(dag_id="instance_benchmarks", run_id="manual__1", map_index=3, ttl=ttl)

    assert tags == {"project": "instance-benchmarks", "dag-id": "instance_benchmarks", "run-id": "manual__1",
                    "map-index": "3", "ttl-seconds": str(int(ttl.total_seconds()))}
    assert f"shutdown -h +{int(tags['ttl-seconds']) // 60} " in user_data(int(tags["ttl-seconds"]) // 60)
