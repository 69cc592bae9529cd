"""The janitor: terminate project instances that outlived their time-to-live or their DAG run.

Last line but one of defence (the last is each instance's own shutdown timer): the
teardown terminates every instance a run made, but a killed scheduler, a cleared task
or a crashed worker can leave one behind. Only instances tagged `project=instance-benchmarks`
are ever looked at; an instance is terminated when its `expires-at` has passed, or
when the DAG run in its `dag-id`/`run-id` tags has ended in this deployment. A run this
deployment does not know (another deployment sharing the account) is left to the expiry.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from instance_benchmarks.hosts.ec2 import terminate_instances
from instance_benchmarks.params import MAX_TIME_BUDGET_S
from instance_benchmarks.pipeline import PROJECT_TAG, time_to_live

log = logging.getLogger(__name__)

LIVE_STATES = ["pending", "running", "stopping", "stopped"]
ENDED_RUN_STATES = frozenset({"success", "failed"})
# An instance without a readable expires-at tag gets the longest time-to-live a run can ask for,
# counted from its launch.
FALLBACK_TTL = time_to_live(MAX_TIME_BUDGET_S)


def project_instances(ec2_client: Any) -> list[dict[str, Any]]:
    """Live instances carrying the project's tag (nothing else is ever returned)."""
    filters = [{"Name": "tag:project", "Values": [PROJECT_TAG]},
               {"Name": "instance-state-name", "Values": LIVE_STATES}]
    found = []
    for page in ec2_client.get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            found.extend(i for i in reservation["Instances"] if _tags(i).get("project") == PROJECT_TAG)
    return found


def _tags(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def _expiry(instance: dict[str, Any]) -> tuple[datetime.datetime, str]:
    text = _tags(instance).get("expires-at", "")
    try:
        expires = datetime.datetime.fromisoformat(text)
        if expires.tzinfo is None:
            raise ValueError("no time zone")
        return expires, f"expires-at {text}"
    except ValueError:
        launched = instance["LaunchTime"]
        return launched + FALLBACK_TTL, (f"no valid expires-at ({text!r}): launch {launched.isoformat()} + "
                                         f"{FALLBACK_TTL.total_seconds() / 3600:g} h")


def why_terminate(instance: dict[str, Any], *, now: datetime.datetime,
                  run_state: Callable[[str, str], str | None]) -> str | None:
    """The reason to terminate this project instance now, or None to leave it."""
    expires, basis = _expiry(instance)
    if now >= expires:
        return f"expired ({basis})"
    tags = _tags(instance)
    if tags.get("dag-id") and tags.get("run-id"):
        state = run_state(tags["dag-id"], tags["run-id"])
        if state in ENDED_RUN_STATES:
            return f"its DAG run {tags['dag-id']}/{tags['run-id']} has ended ({state})"
    return None


def sweep(ec2_client: Any, *, now: datetime.datetime, run_state: Callable[[str, str], str | None],
          dry_run: bool = False) -> dict[str, Any]:
    """Decide for every project instance, log each decision, terminate (unless dry_run); returns the record."""
    decisions = []
    for instance in project_instances(ec2_client):
        reason = why_terminate(instance, now=now, run_state=run_state)
        tags = _tags(instance)
        decision = {"instance_id": instance["InstanceId"], "instance_type": instance["InstanceType"],
                    "state": instance["State"]["Name"], "run_id": tags.get("run-id"), "terminate": reason is not None,
                    "reason": reason or "within its time-to-live, run not ended"}
        decisions.append(decision)
        log.info("%s %s (%s, run %s): %s", "TERMINATE" if reason else "keep", decision["instance_id"],
                 decision["instance_type"], decision["run_id"], decision["reason"])
    doomed = [d["instance_id"] for d in decisions if d["terminate"]]
    if doomed and dry_run:
        log.warning("dry_run: would terminate %d instance(s): %s", len(doomed), doomed)
    elif doomed:
        for start in range(0, len(doomed), 1000):  # TerminateInstances takes at most 1,000 ids
            terminate_instances(ec2_client, doomed[start:start + 1000], wait=False)
    log.info("Janitor: %d project instance(s), %d %s", len(decisions), len(doomed),
             "to terminate (dry run)" if dry_run else "terminated")
    return {"checked_at": now.isoformat(timespec="seconds"), "dry_run": dry_run, "decisions": decisions,
            "terminated": [] if dry_run else doomed}
