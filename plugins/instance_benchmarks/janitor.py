"""The janitor: terminate project instances that outlived their time-to-live or their DAG run.

Last line but one of defence (the last is each instance's own shutdown timer): the
teardown terminates every instance a run made, but a killed scheduler, a cleared task
or a crashed worker can leave one behind. Only instances tagged `project=instance-benchmarks`
are ever looked at; an instance is terminated when its time-to-live has passed, or
when the DAG run in its `dag-id`/`run-id` tags has ended in this deployment. A run this
deployment does not know (another deployment sharing the account) is left to the expiry.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from instance_benchmarks.hosts.ec2 import terminate_instances
from instance_benchmarks.lifetime import MAX_AGENT_TIMEOUT_S, PROJECT_TAG, expiry, instance_tags, time_to_live
from instance_benchmarks.params import MAX_TIME_BUDGET_S

log = logging.getLogger(__name__)

LIVE_STATES = ["pending", "running", "stopping", "stopped"]
ENDED_RUN_STATES = frozenset({"success", "failed"})
# An instance without a readable ttl-seconds (or older expires-at) tag gets the longest time-to-live a run
# can ask for, counted from its launch.
FALLBACK_TTL = time_to_live(time_budget_s=MAX_TIME_BUDGET_S, agent_timeout_s=MAX_AGENT_TIMEOUT_S)


def project_instances(ec2_client: Any) -> list[dict[str, Any]]:
    """Live instances carrying the project's tag (nothing else is ever returned)."""
    filters = [{"Name": "tag:project", "Values": [PROJECT_TAG]},
               {"Name": "instance-state-name", "Values": LIVE_STATES}]
    found = []
    for page in ec2_client.get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            found.extend(i for i in reservation["Instances"] if instance_tags(i).get("project") == PROJECT_TAG)
    return found




def why_terminate(instance: dict[str, Any], *, now: datetime.datetime,
                  run_state: Callable[[str, str], str | None]) -> str | None:
    """The reason to terminate this project instance now, or None to leave it."""
    expires, basis = expiry(instance, fallback=FALLBACK_TTL)
    if now >= expires:
        return f"expired ({basis})"
    tags = instance_tags(instance)
    if tags.get("dag-id") and tags.get("run-id"):
        state = run_state(tags["dag-id"], tags["run-id"])
        if state in ENDED_RUN_STATES:
            return f"its DAG run {tags['dag-id']}/{tags['run-id']} has ended ({state})"
    return None


def regions_to_sweep(extra: list[str] | None, connection_region: str | None) -> list[str]:
    """Every region this deployment launches in, in order, once: the param's, those a run's form allows (the
    catalog's, where new families launch, and AWS_DEFAULT_REGION) and the connection's own (a run without a
    region param lands there)."""
    from instance_benchmarks.params import launch_regions

    found = [*(extra or []), *launch_regions(), connection_region]
    return list(dict.fromkeys(region for region in found if region))


class NothingToSweep(Exception):
    """AWS is not set up here at all (no credentials): nothing can have launched, so nothing is swept."""


def sweep_regions(client_for: Callable[[str], Any], regions: list[str], *, now: datetime.datetime,
                  run_state: Callable[[str, str], str | None], dry_run: bool = False) -> dict[str, Any]:
    """Sweep every region; one that cannot be swept (denied, unreachable) does not stop the others, then fails
    the sweep loudly, naming each. No credentials at all raises NothingToSweep. `client_for(region)`: EC2."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if not regions:
        raise NothingToSweep("no region: neither the regions param, nor $INSTANCE_BENCHMARKS_CATALOG_REGIONS, nor "
                             "the connection's region_name or AWS_DEFAULT_REGION")
    swept, failed = {}, {}
    for region in regions:
        try:
            swept[region] = sweep(client_for(region), now=now, run_state=run_state, dry_run=dry_run)
        except NoCredentialsError as exc:
            raise NothingToSweep(f"no AWS credentials: {exc}") from exc
        except (ClientError, BotoCoreError) as exc:
            log.error("Could not sweep %s: %s", region, exc)
            failed[region] = f"{type(exc).__name__}: {exc}"
    if failed:
        raise RuntimeError(f"the janitor could not sweep {sorted(failed)} (swept {sorted(swept)}): "
                           + "; ".join(f"{r}: {why}" for r, why in sorted(failed.items()))
                           + ". Instances there may be running past their time-to-live: check the connection's "
                             "permissions (ec2:DescribeInstances, ec2:TerminateInstances) and its reach")
    return {"checked_at": now.isoformat(timespec="seconds"), "dry_run": dry_run, "regions": sorted(swept),
            "decisions": [{**d, "region": region} for region, record in swept.items() for d in record["decisions"]],
            "terminated": [i for record in swept.values() for i in record["terminated"]]}


def sweep(ec2_client: Any, *, now: datetime.datetime, run_state: Callable[[str, str], str | None],
          dry_run: bool = False) -> dict[str, Any]:
    """Decide for every project instance, log each decision, terminate (unless dry_run); returns the record."""
    decisions = []
    for instance in project_instances(ec2_client):
        reason = why_terminate(instance, now=now, run_state=run_state)
        tags = instance_tags(instance)
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
