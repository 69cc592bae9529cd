"""How long a benchmark instance may live, and the tags that say so: what provision writes and the janitor reads.

The time-to-live is a duration counted from the instance's own LaunchTime (tag `ttl-seconds`), not a
clock time computed when the task runs. Every RunInstances parameter must be the same on a retry:
AWS answers a reused ClientToken with different parameters with IdempotentParameterMismatch, so a
clock-time tag made the instance of a worker lost after RunInstances impossible to get back.

The duration covers the longest a healthy host can legitimately take, each stage at its own
timeout (the SSM agent, the container stage, STREAM and HPL, each command with SSM's delivery
window), plus a margin for provision, extraction, storing and the teardown.
"""

from __future__ import annotations

import datetime
from typing import Any

PROJECT_TAG = "instance-benchmarks"
# An assumption, not a measurement (no AWS here): launch, extract, validate, store, terminate, and waiting for
# a slot of the hosts pool; the 30 minutes the earlier formula allowed for boot, image and teardown.
MARGIN_S = 1800
MAX_AGENT_TIMEOUT_S = 3600  # the agent_timeout_s param's maximum
# The stages' own timeouts, which the time-to-live adds up; hosts/ec2.py sends its commands with them.
COMMAND_DELIVERY_S = 600  # SendCommand's TimeoutSeconds: how long AWS tries to deliver
PREPARE_TIMEOUT_S = 3600  # pull, or build on the instance (the Intel image's oneAPI base is large)


def stage_maxima(*, time_budget_s: int, agent_timeout_s: int) -> dict[str, int]:
    """The longest each stage may hold the instance, by its own timeout."""
    return {"agent": agent_timeout_s, "container": PREPARE_TIMEOUT_S + COMMAND_DELIVERY_S,
            "stream": time_budget_s + COMMAND_DELIVERY_S, "hpl": time_budget_s + COMMAND_DELIVERY_S}


def time_to_live(*, time_budget_s: int, agent_timeout_s: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=sum(stage_maxima(time_budget_s=time_budget_s,
                                                       agent_timeout_s=agent_timeout_s).values()) + MARGIN_S)


def tags_for(*, dag_id: str, run_id: str, map_index: int | None, ttl: datetime.timedelta) -> dict[str, str]:
    """Every resource carries these; nothing in them depends on when the task runs."""
    return {"project": PROJECT_TAG, "dag-id": dag_id, "run-id": run_id, "map-index": str(map_index),
            "ttl-seconds": str(int(ttl.total_seconds()))}


def instance_tags(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def expiry(instance: dict[str, Any], *, fallback: datetime.timedelta) -> tuple[datetime.datetime, str]:
    """When an instance must be gone, and on what basis: LaunchTime + ttl-seconds; an `expires-at` tag (instances
    launched before ttl-seconds); else LaunchTime + `fallback`."""
    tags, launched = instance_tags(instance), instance["LaunchTime"]
    seconds = tags.get("ttl-seconds", "")
    if seconds.isdigit():
        return launched + datetime.timedelta(seconds=int(seconds)), \
            f"launch {launched.isoformat()} + ttl-seconds {seconds}"
    text = tags.get("expires-at", "")
    try:
        expires = datetime.datetime.fromisoformat(text)
        if expires.tzinfo is not None:
            return expires, f"expires-at {text}"
    except ValueError:
        pass
    return launched + fallback, (f"no valid ttl-seconds ({seconds!r}) or expires-at ({text!r}): launch "
                                 f"{launched.isoformat()} + {fallback.total_seconds() / 3600:g} h")
