"""The stages of `instance_benchmarks`, as plain functions of plain data.

The DAG file wraps each in a task; keeping them here keeps the DAG file a
builder only (no heavy imports at parse time) and lets tests call them directly.
Every value passed between stages is JSON (it travels through XCom).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import json
import logging
import time
from typing import Any

from instance_benchmarks import FAMILIES, allows_test_profile, lifetime
from instance_benchmarks.catalog import InstanceSpec
from instance_benchmarks.hosts import CapacityUnavailable, HostHandle, RunOutcome, get_host
from instance_benchmarks.planning import BenchmarkPlan, by_family, plan, predicted_wall_s, summarize_plans
from instance_benchmarks.results import (
    ResultStore,
    host_key,
    host_label,
    merge_documents,
    safe_segment,
    validation_reasons,
)

log = logging.getLogger(__name__)

BENCHMARKS = ("stream", "hpl")
# Measured: a quick-profile document from this machine (STREAM 2 placements x 3 repetitions, HPL 2 runs)
# is 28,069 bytes (tests/fixtures/documents/valid/local-amd-epyc-quick.json); the limit is 600 times that,
# room for many NUMA placements and 50 repetitions, and still small enough to read into a worker.
MAX_DOCUMENT_BYTES = 16 * 2**20


def result_store(params: dict[str, Any]) -> ResultStore:
    return ResultStore(params["results_uri"], conn_id=params.get("aws_conn_id"))


def make_plans(params: dict[str, Any], *, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """One plan per host, grouped by architecture family; nothing to run on a dry run.

    Each plan is sized and costed with the run's price snapshot; with a `budget_usd`, the types
    whose predicted cost no longer fits (summed in order) are skipped with reason `budget`
    before anything launches.
    """
    target = params["target"]
    host = get_host(target, params)
    host.check_configuration()
    specs = host.specs(params.get("instance_types") or [])
    if params.get("skip_measured_since"):
        specs = unmeasured_since(specs, params, run_id=run_id, region=getattr(host, "region", None) or "local")
        if not specs:
            return {family: [] for family in FAMILIES}
    prices = record_prices(params, run_id=run_id, host=host, instance_types=[s.instance_type for s in specs])
    plans = [
        plan(spec, target=target, profile=params["profile"], repetitions=params.get("repetitions"),
             time_budget_s=params["time_budget_s"], prices=prices["prices"].get(spec.instance_type),
             image_registry=params.get("image_registry") or "", host_time_budget_s=params.get("host_time_budget_s"))
        for spec in specs
    ]
    outside = [p.instance_type for p in plans if p.family not in FAMILIES]
    if outside:
        raise ValueError(f"no architecture family task group for {outside} (families: {FAMILIES})")
    plans = replicated(plans, params.get("instances_per_type") or 1, target=target)
    market = "spot" if params.get("market") == "spot" else "on-demand"
    for p in plans:
        cost = p.cost_spot if market == "spot" else p.cost_on_demand
        log.info("Plan %s (%s): profile %s, STREAM %d x %d placements x NTIMES %d, HPL N~%d NB %d grid %dx%d "
                 "(%d solves within %.0f s; predicted at %.0f%% of its asymptote%s), needs %.0f MiB; predicted "
                 "%.1f min, %s", host_key(p.instance_type, p.replica), p.family, p.profile, p.stream_repetitions,
                 p.stream_placements, p.stream_ntimes, p.hpl_n, p.hpl_nb, *p.hpl_grid, p.hpl_repetitions,
                 p.hpl_time_budget_s, 100 * p.hpl_predicted_share, _asymptote_hint(p), p.min_memory_bytes / 2**20,
                 p.predicted_s / 60, "no price" if cost is None else f"${cost:.3f} {market}")
    plans = apply_budget(plans, params, run_id=run_id, market=market)
    if params.get("dry_run"):
        store_ = result_store(params)
        path = store_.root / "plans" / f"{safe_segment(run_id)}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([p.to_dict() for p in plans], indent=2) + "\n")
        summary = summarize_plans(plans, market=market)
        (store_.root / "plans" / f"{safe_segment(run_id)}.summary.json").write_text(json.dumps(summary, indent=2))
        log.info("dry_run: %d type(s) on %d host(s), %.2f predicted instance-hours, $%.2f %s (%d unpriced); %d of "
                 "%d within 10 minutes and $5 each; HPL predicted within 5%% of its asymptote on %d; plans at %s; "
                 "nothing is launched", summary["types"], summary["hosts"], summary["instance_hours"], summary["usd"],
                 market, summary["unpriced"],
                 summary["within_targets"], summary["types"], summary["hpl_near_asymptote"], path.as_uri())
        for name, reasons in list(summary["not_within"].items())[:50]:
            log.info("  not within the targets: %s: %s", name, "; ".join(reasons))
        return {family: [] for family in FAMILIES}
    expected = summarize_plans(plans, market=market)
    log.info("Expected for this run: %d type(s) on %d host(s), %.2f instance-hours, $%.2f %s (%d unpriced); the "
             "report's 'Plan against actual' gives what it cost", expected["types"], expected["hosts"],
             expected["instance_hours"], expected["usd"], market, expected["unpriced"])
    within_time_out(plans)
    return by_family(plans, FAMILIES)


def within_time_out(plans: list[BenchmarkPlan]) -> None:
    """A run the plan predicts past the DAG's time-out would be failed midway, its later hosts never measured:
    refused at plan, before anything launches, saying what to change (issue 28 item 7)."""
    from instance_benchmarks.params import hosts_at_once, run_timeout

    at_once, limit = hosts_at_once(), run_timeout().total_seconds()
    wall = predicted_wall_s(plans, at_once)
    log.info("Predicted to end within %.1f h (%d host(s), %d at once: $INSTANCE_BENCHMARKS_HOSTS_AT_ONCE); the run "
             "times out after %g h", wall / 3600, len(plans), at_once, limit / 3600)
    if wall > limit:
        raise ValueError(f"this run is predicted to take up to {wall / 3600:.1f} h ({len(plans)} hosts, {at_once} "
                         f"at once), past its time-out of {limit / 3600:g} h ($INSTANCE_BENCHMARKS_RUN_TIMEOUT_H): "
                         "set budget_usd, name fewer types, or raise the time-out")


def replicated(plans: list[BenchmarkPlan], instances_per_type: int, *, target: str) -> list[BenchmarkPlan]:
    """Each type's plan once per host (`instances_per_type`), the hosts of a type side by side; each is mapped,
    launched (in the next zone: ec2.spread_zones), stored and accounted for on its own."""
    if instances_per_type <= 1:
        return plans
    if target != "aws":
        raise ValueError(f"instances_per_type={instances_per_type} needs target=aws: this machine is one host, "
                         "and running it twice at once would measure two halves of it. Use 1 for target=local.")
    return [dataclasses.replace(p, replica=k, replicas=instances_per_type) for p in plans
            for k in range(1, instances_per_type + 1)]


def _asymptote_hint(p: BenchmarkPlan) -> str:
    """What would bring HPL within 5% of its asymptote, where the plan predicts it falls short."""
    if p.hpl_near_asymptote is not False:
        return ""
    if p.hpl_budget_for_asymptote_s is None:
        return f"; N >= {p.hpl_n_near_asymptote} would be within 5%, beyond this profile's HPL cap or memory"
    return (f"; N >= {p.hpl_n_near_asymptote} would be within 5%: time_budget_s {p.hpl_budget_for_asymptote_s} "
            "would size it")


def record_stop(params: dict[str, Any], *, run_id: str, stage: str, reason: str) -> None:
    """Best effort: the run's summary names why it stopped. The reason is in the task log whatever happens
    here (an s3:// results_uri is unreachable with the very credentials that are missing)."""
    try:
        uri = result_store(params).record_stop(run_id=run_id, stage=stage, reason=reason)
    except Exception:  # noqa: BLE001 - never hide the error being recorded
        log.warning("Could not record why the run stopped under %s", params.get("results_uri"), exc_info=True)
        return
    log.error("The run stopped at %s: %s (recorded at %s)", stage, reason, uri)


def unmeasured_since(specs: list[InstanceSpec], params: dict[str, Any], *, run_id: str, region: str
                     ) -> list[InstanceSpec]:
    """The types with no stored document in `region` dated on or after `skip_measured_since` (a backfilled week
    measures what has not been measured since it began); the others are recorded as skipped at plan."""
    since = datetime.date.fromisoformat(params["skip_measured_since"])
    store_ = result_store(params)
    measured = store_.measured_since(region, since)
    kept = [spec for spec in specs if spec.instance_type not in measured]
    for spec in specs:
        if spec.instance_type in measured:
            reason = f"measured on {measured[spec.instance_type]}, since {since} (skip_measured_since)"
            if not params.get("dry_run"):
                store_.record_skip(run_id=run_id, instance_type=spec.instance_type, stage="plan", reason=reason)
            log.info("Skipping %s: %s", spec.instance_type, reason)
    log.info("%d of %d type(s) not measured in %s since %s%s", len(kept), len(specs), region, since,
             "" if kept else ": nothing to measure, the run ends here")
    return kept


def apply_budget(plans: list[BenchmarkPlan], params: dict[str, Any], *, run_id: str, market: str
                 ) -> list[BenchmarkPlan]:
    """The plans that fit `budget_usd`, in order; the others are recorded as skipped (`budget`)."""
    budget = params.get("budget_usd")
    if budget is None:
        return plans
    kept, spent = [], 0.0
    for p in plans:
        cost = p.cost_spot if market == "spot" else p.cost_on_demand
        if cost is None:
            reason = f"budget: no {market} price for {p.instance_type}, so its cost cannot be bounded"
        elif spent + cost > budget:
            reason = (f"budget: predicted ${cost:.3f} would bring the run to ${spent + cost:.2f}, over its "
                      f"${budget:g} budget_usd")
        else:
            spent += cost
            kept.append(p)
            continue
        if not params.get("dry_run"):
            result_store(params).record_skip(run_id=run_id, instance_type=p.instance_type, stage="plan",
                                             reason=reason, replica=p.replica)
        log.warning("Skipping %s: %s", host_key(p.instance_type, p.replica), reason)
    log.info("Budget: %d of %d host(s) fit, predicted $%.2f of $%g", len(kept), len(plans), spent, budget)
    return kept


def record_prices(params: dict[str, Any], *, run_id: str, host: Any, instance_types: list[str]) -> dict[str, Any]:
    """The run's hourly prices, kept beside its results: the analysis prices each document with them."""
    from instance_benchmarks import prices

    if params["target"] == "aws":
        snapshot = prices.aws_snapshot(aws_conn_id=host.settings.aws_conn_id, region=host.region,
                                       instance_types=instance_types, config=host.settings.botocore())
    else:
        snapshot = prices.given_snapshot(instance_types[0], params.get("price_per_hour"))
    snapshot["fetched_at"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    uri = result_store(params).record_prices(run_id, snapshot)
    for name, price in sorted(snapshot["prices"].items()):
        log.info("Price of %s: on-demand %s, spot %s USD/h", name, price["on_demand"], price["spot"])
    log.info("Prices recorded at %s", uri)
    return snapshot


def _skip(params: dict[str, Any], *, run_id: str, plan_dict: dict[str, Any], stage: str,
          reason: CapacityUnavailable | str) -> None:
    uri = result_store(params).record_skip(run_id=run_id, instance_type=plan_dict["instance_type"], stage=stage,
                                           reason=str(reason), replica=plan_dict.get("replica", 1))
    log.warning("Skipping %s at %s: %s (recorded at %s)", _host(plan_dict), stage, reason, uri)


def _host(plan_dict: dict[str, Any]) -> str:
    return host_key(plan_dict["instance_type"], plan_dict.get("replica", 1))


def quota_check(plan_dict: dict[str, Any], *, params: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Raises CapacityUnavailable, recorded for the run's summary (the task turns it into a skip)."""
    try:
        checked = get_host(plan_dict["target"], params).check_capacity(plan_dict)
    except CapacityUnavailable as exc:
        _skip(params, run_id=run_id, plan_dict=plan_dict, stage="quota_check", reason=exc)
        raise
    log.info("Capacity for %s: %s", plan_dict["instance_type"], checked)
    return {"plan": plan_dict, "capacity": checked}


def tags_for(params: dict[str, Any], *, dag_id: str, run_id: str, map_index: int | None) -> dict[str, str]:
    """The host's tags: the run, the map index and a time-to-live that covers every stage's own timeout."""
    from instance_benchmarks.hosts.ec2 import AwsSettings

    ttl = lifetime.time_to_live(time_budget_s=params["time_budget_s"],
                                agent_timeout_s=AwsSettings.from_params(params).agent_timeout_s)
    return lifetime.tags_for(dag_id=dag_id, run_id=run_id, map_index=map_index, ttl=ttl)


def provision(state: dict[str, Any], *, params: dict[str, Any], dag_id: str, run_id: str, map_index: int | None,
              last_try: bool = True) -> dict[str, Any]:
    """`last_try`: a failure other than capacity is recorded for the run's summary only when no retry
    follows (a retry that then succeeds must not leave a stale record)."""
    plan_dict = state["plan"]
    tags = tags_for(params, dag_id=dag_id, run_id=run_id, map_index=map_index)
    try:
        handle = get_host(plan_dict["target"], params).provision(plan_dict, tags=tags)
    except CapacityUnavailable as exc:
        _skip(params, run_id=run_id, plan_dict=plan_dict, stage="provision", reason=exc)
        raise
    except Exception as exc:
        if last_try:
            _skip(params, run_id=run_id, plan_dict=plan_dict, stage="provision",
                  reason=f"failed on its last try: {type(exc).__name__}: {exc}")
        raise
    return {**state, "handle": handle.to_dict()}


def _context_uri(params: dict[str, Any], run_id: str) -> str | None:
    """Where the bundled build context (about 30 kB) goes: an EC2 instance builds the runner image
    from it when there is no registry or the pull fails."""
    if params["target"] != "aws":
        return None
    return result_store(params).staging(run_id, "build-context", "containers.tar.gz").as_uri()


def host_failed(state: dict[str, Any], stage: str, message: str, *, interrupted: bool = False) -> dict[str, Any]:
    """A host that cannot run the benchmarks: the stage's operator quarantines it with the reason and fails
    (stage_failure, quarantine_stage); the teardown still terminates.
    `interrupted`: AWS reclaimed the host (spot), which market=spot-then-on-demand relaunches on demand."""
    failure = f"{stage}: {message}"
    log.error("%s cannot be benchmarked: %s", state["plan"]["instance_type"], failure)
    return {**state, "failure": failure, "outcomes": state.get("outcomes", {}),
            **({"interrupted": failure} if interrupted else {})}


def stopped_by(state: dict[str, Any]) -> str | None:
    """Why no further stage can run on this host: it failed, or AWS reclaimed it."""
    return state.get("failure") or state.get("interrupted")


def prepare(state: dict[str, Any], *, params: dict[str, Any], run_id: str) -> dict[str, Any]:
    handle = HostHandle.from_dict(state["handle"])
    started = time.monotonic()
    try:
        prepared = get_host(handle.target, params).prepare(handle, context_uri=_context_uri(params, run_id))
    except RuntimeError as exc:
        return host_failed(state, "container", str(exc))
    return with_actual({**state, "prepared": prepared, "outcomes": {}}, "container", time.monotonic() - started)


def prepare_start(state: dict[str, Any], *, params: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The AWS host's container script, sent; the operator defers until it ends."""
    handle = HostHandle.from_dict(state["handle"])
    return get_host(handle.target, params).start_prepare(handle, context_uri=_context_uri(params, run_id))


def prepare_finish(state: dict[str, Any], result: dict[str, Any], *, params: dict[str, Any]) -> dict[str, Any]:
    handle = HostHandle.from_dict(state["handle"])
    if result["status"] == "interrupted":
        return host_failed(state, "container", result.get("stderr_tail") or "interrupted", interrupted=True)
    try:
        prepared = get_host(handle.target, params).finish_prepare(handle, result)
    except RuntimeError as exc:
        return host_failed(state, "container", str(exc))
    return with_actual({**state, "prepared": prepared, "outcomes": {}}, "container", result.get("seconds"))


def _benchmark_request(state: dict[str, Any], benchmark: str, *, params: dict[str, Any], run_id: str
                       ) -> dict[str, Any]:
    plan_obj = BenchmarkPlan.from_dict(state["plan"])
    staging = result_store(params).staging(run_id, host_key(plan_obj.instance_type, plan_obj.replica),
                                           f"{benchmark}.json", host_id=state["handle"]["host_id"])
    return {
        "args": plan_obj.stream_args() if benchmark == "stream" else plan_obj.hpl_args(),
        "staging_uri": staging.as_uri(),
        "timeout_s": plan_obj.time_budget_s,
        "env": {"BENCHRUN_INSTANCE_TYPE": plan_obj.instance_type},
    }


def with_actual(state: dict[str, Any], stage: str, seconds: float | None) -> dict[str, Any]:
    """The state with the seconds this stage took on the host (unchanged when they are unknown)."""
    if seconds is None:
        return state
    planned = {row["stage"]: row["predicted_s"] for row in stage_times(state["plan"], {})}.get(stage)
    log.info("%s took %.1f s; planned %s", stage, seconds, "no figure" if planned is None else f"{planned:.0f} s")
    return {**state, "actual_s": {**state.get("actual_s", {}), stage: round(seconds, 1)}}


def stage_times(plan_dict: dict[str, Any], actual_s: dict[str, float]) -> list[dict[str, Any]]:
    """Predicted against actual seconds, stage by stage, as each document records them.

    On EC2 the launch and the agent's registration are one measurement (LaunchTime to the agent
    online); terminate follows the document, so its actual is not in it (null).
    """
    planned = dict(plan_dict.get("stages_s") or {})
    if "launch" in planned:
        planned = {"launch and agent online": planned.pop("launch") + planned.pop("agent online", 0), **planned}
    rows = []
    for stage in [*planned, *(s for s in actual_s if s not in planned)]:
        predicted, actual = planned.get(stage), actual_s.get(stage)
        rows.append({"stage": stage, "predicted_s": predicted, "actual_s": actual,
                     "predicted_over_actual": round(predicted / actual, 2) if predicted and actual else None})
    return rows


def host_online(state: dict[str, Any], agent: dict[str, Any]) -> dict[str, Any]:
    """The EC2 host takes commands: its launch is measured from LaunchTime to now."""
    launched = (state["handle"].get("details") or {}).get("launched_at")
    seconds = None
    if launched:
        seconds = (datetime.datetime.now(datetime.UTC) - datetime.datetime.fromisoformat(launched)).total_seconds()
    return with_actual({**state, "agent": agent}, "launch and agent online", seconds)


def _record_outcome(state: dict[str, Any], benchmark: str, outcome: RunOutcome,
                    seconds: float | None = None) -> dict[str, Any]:
    if outcome.exit_code != 0:
        log.warning("benchrun %s exited %d%s; its document (if any) will be quarantined. Last lines:\n%s",
                    benchmark, outcome.exit_code, f" ({outcome.note})" if outcome.note else "", outcome.stderr_tail)
    recorded = with_actual({**state, "outcomes": {**state.get("outcomes", {}), benchmark: outcome.to_dict()}},
                           benchmark, seconds)
    if outcome.interrupted:  # what ran before is kept (quarantined with the reason); nothing more runs there
        recorded["interrupted"] = f"{benchmark}: {outcome.note}"
    return recorded


def run_benchmark(state: dict[str, Any], benchmark: str, *, params: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Run one benchmark; its document is staged even when it failed (the document says why)."""
    handle = HostHandle.from_dict(state["handle"])
    request = _benchmark_request(state, benchmark, params=params, run_id=run_id)
    started = time.monotonic()
    outcome = get_host(handle.target, params).run(handle, request["args"], staging_uri=request["staging_uri"],
                                                  timeout_s=request["timeout_s"], env=request["env"],
                                                  prepared=state.get("prepared"))
    return _record_outcome(state, benchmark, outcome, time.monotonic() - started)


def run_start(state: dict[str, Any], benchmark: str, *, params: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The AWS host's benchrun script, sent; the operator defers until it ends."""
    handle = HostHandle.from_dict(state["handle"])
    request = _benchmark_request(state, benchmark, params=params, run_id=run_id)
    return get_host(handle.target, params).start_run(handle, request["args"], staging_uri=request["staging_uri"],
                                                     timeout_s=request["timeout_s"], env=request["env"],
                                                     prepared=state["prepared"])


def run_finish(state: dict[str, Any], benchmark: str, result: dict[str, Any], *, params: dict[str, Any],
               run_id: str) -> dict[str, Any]:
    handle = HostHandle.from_dict(state["handle"])
    request = _benchmark_request(state, benchmark, params=params, run_id=run_id)
    outcome = get_host(handle.target, params).finish_run(handle, result, staging_uri=request["staging_uri"])
    return _record_outcome(state, benchmark, outcome, result.get("seconds"))


def no_document(benchmark: str, outcome: dict[str, Any]) -> str:
    """Why a benchmark left no document (crashed, timed out, uploaded nothing), with its last lines."""
    stderr = [line for line in (outcome.get("stderr_tail") or "").splitlines() if line.strip()][-3:]
    return (f"{benchmark}: {outcome.get('note') or 'benchrun wrote no document'} "
            f"(exit {outcome.get('exit_code')}); stderr: {' | '.join(stderr) or '(empty)'}")


def stage_failure(state: dict[str, Any], stage: str) -> str | None:
    """Why `stage` ends this host's run, or None (issue 28 item 10: the stage that failed is the task that fails).

    The host failed or AWS reclaimed it (wait_for_host, container, any stage), or a benchmark left no
    document: it crashed, timed out or uploaded nothing. A document, even one of a failed benchmark (its
    residual check, say), goes on to extract and validate, which judge it.
    """
    if stopped_by(state):
        return stopped_by(state)
    if stage in BENCHMARKS:
        outcome = state["outcomes"].get(stage) or {}
        if not outcome.get("staged_uri"):
            return no_document(stage, outcome)
    return None


def quarantine_stage(state: dict[str, Any], failure: str, *, params: dict[str, Any], run_id: str
                     ) -> dict[str, Any]:
    """The host's quarantine, recorded at the stage that failed, before that task fails: nothing is lost when
    the later stages do not run (a document staged before, STREAM's when HPL fails, is named in the reasons)."""
    plan_dict = state["plan"]
    staged = [f"{benchmark}: its document is kept at {outcome['staged_uri']}"
              for benchmark, outcome in (state.get("outcomes") or {}).items() if outcome.get("staged_uri")]
    return result_store(params).store(None, [failure, *staged], run_id=run_id,
                                      instance_type=plan_dict["instance_type"], replica=plan_dict.get("replica", 1),
                                      interrupted=bool(state.get("interrupted")))


def failed_hosts(planned: dict[str, list[dict[str, Any]]], task_states: dict[str, str | None]) -> list[str]:
    """`m7i.large #1: wait_for_host` for each planned host whose group has a failed task (the first failed)."""
    found = []
    for family, plans in planned.items():
        for map_index, plan_dict in enumerate(plans):
            failed = [task for task in GROUP_TASKS if task_states.get(f"{family}.{task}_{map_index}") == "failed"]
            if failed:
                found.append(f"{host_label(plan_dict)}: {family}.{failed[0]}")
    return found


def extract(state: dict[str, Any], *, params: dict[str, Any], dag_id: str, run_id: str,
            map_index: int | None, run_date: str | None = None) -> dict[str, Any]:
    """Merge the staged documents into one result.json with the run's provenance (`run_date`: the DAG
    run's date, YYYY-MM-DD, which keys the stored document)."""
    store_ = result_store(params)
    plan_dict = state["plan"]
    parts, missing = [], []
    for benchmark in BENCHMARKS:
        outcome = state["outcomes"].get(benchmark) or {}
        if not outcome.get("staged_uri"):
            missing.append(no_document(benchmark, outcome))
            continue
        try:
            staged = store_.path(outcome["staged_uri"])
            size = staged.fs.size(staged.path)
            if size > MAX_DOCUMENT_BYTES:  # a runaway runner must not take the worker's memory with it
                missing.append(f"{benchmark}: staged document is {size:,} bytes, over the "
                               f"{MAX_DOCUMENT_BYTES:,}-byte limit: not read")
                continue
            part = json.loads(staged.read_text())
        except (OSError, ValueError) as exc:
            missing.append(f"{benchmark}: staged document unreadable: {exc}")
            continue
        host = part.get("host") if isinstance(part, dict) else None
        ran_on = host.get("instance_id") if isinstance(host, dict) else None
        if plan_dict["target"] == "aws" and ran_on != state["handle"]["host_id"]:
            missing.append(f"{benchmark}: the staged document was written on {ran_on or 'an unnamed host'}, not on "
                           f"this attempt's instance {state['handle']['host_id']}: an earlier attempt's, not adopted")
            continue
        parts.append(part)
    document_uri = None
    if parts:
        try:
            merged = merge_documents(parts)
        except (ValueError, KeyError, TypeError) as exc:
            missing.append(f"cannot merge the staged documents: {exc}")
        else:
            merged["provenance"] = {
                "dag_id": dag_id, "run_id": run_id, "map_index": map_index,
                **({"run_date": run_date} if run_date else {}),
                "instance_type": plan_dict["instance_type"], "family": plan_dict["family"],
                "replica": plan_dict.get("replica", 1), "replicas": plan_dict.get("replicas", 1),
                "target": plan_dict["target"], "plan": plan_dict,
                "stages": stage_times(plan_dict, state.get("actual_s") or {}),
            }
            merged["provenance"]["cost"] = actual_cost(plan_dict, state["handle"])
            if plan_dict["target"] == "local":
                # In the runner image or bare on this host, and why (no engine answered).
                prepared = state.get("prepared") or {}
                merged["provenance"].update({"region": "local", "container": {
                    key: prepared[key] for key in ("mode", "image", "digest", "source", "docker_engine")
                    if key in prepared} or None})
            else:
                details = state["handle"]["details"]
                merged["provenance"].update({
                    "region": details["region"], "availability_zone": details["availability_zone"],
                    "instance_id": state["handle"]["host_id"], "ami_id": details["ami_id"],
                    "market": details["market"], "container": state.get("prepared"),
                })
            path = store_.staging(run_id, _host(plan_dict), "result.json",
                                  host_id=state["handle"]["host_id"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(merged, indent=2) + "\n")
            document_uri = path.as_uri()
    return {"plan": plan_dict, "document_uri": document_uri, "missing": missing}


def actual_cost(plan_dict: dict[str, Any], handle: dict[str, Any]) -> dict[str, Any]:
    """What the host has cost so far: seconds since launch x the run's hourly price (None when unpriced).

    Counted when the document is extracted; terminating adds under a minute, and AWS bills
    Linux instances per second with a 60-second minimum.
    """
    market = (handle.get("details") or {}).get("market") or "on-demand"
    price = plan_dict.get("price_spot") if market == "spot" else plan_dict.get("price_on_demand")
    launched = (handle.get("details") or {}).get("launched_at")
    seconds = None
    if launched:
        seconds = max(60.0, (datetime.datetime.now(datetime.UTC)
                             - datetime.datetime.fromisoformat(launched)).total_seconds())
    usd = None if price is None or seconds is None else round(seconds / 3600 * price, 6)
    return {"market": market, "price_per_hour": price, "instance_seconds": seconds, "usd": usd,
            "predicted_usd": plan_dict.get("cost_spot") if market == "spot" else plan_dict.get("cost_on_demand")}


def validate(extracted: dict[str, Any], *, params: dict[str, Any]) -> dict[str, Any]:
    reasons = list(extracted["missing"])
    if extracted["document_uri"]:
        doc = json.loads(result_store(params).path(extracted["document_uri"]).read_text())
        reasons.extend(validation_reasons(doc, test_profile_allowed=allows_test_profile()))
    elif not reasons:
        reasons.append("no document")
    for reason in reasons:
        log.warning("Invalid: %s", reason)
    if not reasons:
        log.info("Document %s is valid against the v1 schema and every run rule", extracted["document_uri"])
    return {**extracted, "reasons": reasons}


def store(validated: dict[str, Any], *, params: dict[str, Any], run_id: str) -> dict[str, Any]:
    store_ = result_store(params)
    doc = None
    if validated["document_uri"]:
        doc = json.loads(store_.path(validated["document_uri"]).read_text())
    stored = store_.store(doc, validated["reasons"], run_id=run_id, instance_type=validated["plan"]["instance_type"],
                          replica=validated["plan"].get("replica", 1))
    log.info("%s: %s", stored["status"], stored["uri"])
    if stored["status"] == "stored" and validated["plan"]["target"] == "aws":
        from botocore.exceptions import BotoCoreError, ClientError

        from instance_benchmarks import cloudwatch
        from instance_benchmarks.hosts.ec2 import AwsSettings

        try:
            stored["metrics"] = cloudwatch.put_document_metrics(
                doc, aws_conn_id=params.get("aws_conn_id"), region_name=doc["provenance"]["region"],
                config=AwsSettings.from_params(params).botocore())
        except (BotoCoreError, ClientError) as exc:  # the document is stored; the metrics are a copy of it
            log.warning("CloudWatch metrics not put for %s (the document is stored): %s",
                        validated["plan"]["instance_type"], exc)
            stored["metrics_error"] = str(exc)
    return stored


def terminate(state: dict[str, Any] | None, *, params: dict[str, Any], wait: bool = True) -> dict[str, Any] | None:
    """Terminate the host provision made (`wait=False`: asked, not waited for); its handle, or None when nothing
    was provisioned."""
    if not state or "handle" not in state:
        log.info("Nothing was provisioned; nothing to terminate")
        return None
    handle = HostHandle.from_dict(state["handle"])
    get_host(handle.target, params).terminate(handle, wait=wait)
    return state["handle"]


# A benchmark group's tasks in order: the first that did not succeed is why a type has no record.
GROUP_TASKS = ("quota_check", "provision", "wait_for_host", "container", "run_stream", "run_hpl", "extract",
               "validate", "store")


def unaccounted(planned: dict[str, list[dict[str, Any]]], accounted: set[str],
                task_states: dict[str, str | None]) -> list[dict[str, Any]]:
    """The planned hosts with no document, quarantine or skip record, and which task stopped each.

    A task killed or marked failed from outside, or a worker that died, leaves no record of its own:
    this is what keeps such a type out of the dataset *and* in the run's summary. `task_states`:
    the run's states keyed `<family>.<task>_<map index>`, as Airflow's get_task_states gives them.
    """
    found = []
    for family, plans in planned.items():
        for map_index, plan_dict in enumerate(plans):
            if _host(plan_dict) in accounted:
                continue
            states = {task: task_states.get(f"{family}.{task}_{map_index}") for task in GROUP_TASKS}
            stopped = next(((task, state) for task, state in states.items() if state != "success"), None)
            reason = (f"{stopped[0]} ended {stopped[1] or 'without running'}: see that task's log"
                      if stopped else "every task succeeded, yet nothing was recorded")
            found.append({"instance_type": plan_dict["instance_type"], "replica": plan_dict.get("replica", 1),
                          "family": family, "map_index": map_index,
                          "stage": stopped[0] if stopped else "store", "reason": reason})
    return found


def analyze(*, params: dict[str, Any], run_id: str | None, planned: dict[str, list[dict[str, Any]]] | None = None,
            task_states: dict[str, str | None] | None = None) -> dict[str, Any]:
    """Rebuild the dataset, then the report: everything stored so far, and this run's own outcome.

    `run_id` None (the Asset-scheduled results_analysis) rebuilds without a run of its own.
    `planned` and `task_states` (the run's plans by family and its task states) name the types
    that ended with no record at all (`unaccounted`).
    """
    import pandas as pd

    from instance_benchmarks import analysis, freshness, report

    store_ = result_store(params)
    built = analysis.rebuild(store_)
    stored = [(uri, doc) for uri, doc in built["stored"] if run_id and doc["provenance"]["run_id"] == run_id]
    quarantined = store_.quarantined(run_id) if run_id else []
    skipped = store_.skipped(run_id) if run_id else []
    stopped = store_.stopped(run_id) if run_id else None
    # A host is accounted for by its type and which of the type's hosts it is (instances_per_type)
    accounted = {host_key(doc["provenance"]["instance_type"], doc["provenance"].get("replica", 1))
                 for _, doc in stored} | {host_key(item["instance_type"], item.get("replica", 1))
                                          for item in [*quarantined, *skipped]}
    failed = unaccounted(planned or {}, accounted, task_states or {})
    # The types AWS reclaimed from spot, run again on demand when the market param falls back to it: as many hosts
    # of each as were reclaimed (at most), not every host of the type again.
    reclaimed = collections.Counter(q["instance_type"] for q in quarantined if q.get("interrupted")) \
        if params.get("market") == "spot-then-on-demand" else collections.Counter()
    relaunch = sorted(reclaimed)
    run_rows = analysis.rows_frame([doc for _, doc in stored])
    run_summaries = [] if run_rows.empty else analysis.records(analysis.summarize(run_rows, built["prices"]))
    now = datetime.datetime.now(datetime.UTC)
    withheld = set(built["test_profile_documents"])
    summary = {"run_id": run_id, "generated_at": now.isoformat(timespec="seconds"),
               "documents": [uri for uri, _ in stored], "quarantined": quarantined, "skipped": skipped,
               # stored by a test deployment's plumbing checks (the test profile): never a figure
               "test_profile_documents": [uri for uri, _ in stored if uri in withheld],
               "unaccounted": failed, "stopped": stopped, "relaunch_on_demand": relaunch,
               "relaunch_hosts_per_type": max(reclaimed.values(), default=0),
               "summaries": run_summaries, "dataset": built["dataset"],
               "rankings": built["rankings"], "drift": built["drift"]}
    fresh = freshness.rows(pd.DataFrame(built["summaries"]), freshness.plan_of(store_), today=now.date())
    page = report.render(title="EC2 instance benchmarks", generated_at=summary["generated_at"], run_id=run_id,
                         summaries=built["summaries"], docs=built["documents"], rankings=built["rankings"],
                         drift=built["drift"], numa=built["numa"], run_documents=summary["documents"],
                         quarantined=quarantined, skipped=skipped, unaccounted=failed, stopped=stopped,
                         trends=built["trends"], test_profile_documents=len(withheld), freshness=fresh,
                         contributed=built["contributed_summaries"], contributors=built["contributors"])
    # Each run keeps its own summary and report (reports/runs/<run>/); reports/latest/summary.json is the latest
    # run's. A rebuild without a run (results_analysis) refreshes the pages, never a run's summary (issue 28 item 11).
    reports = store_.root / "reports"
    report_dir = store_.run_reports(run_id) if run_id else reports / now.date().isoformat()
    pages = [report_dir, reports / "latest", *([reports / now.date().isoformat()] if run_id else [])]
    for directory in pages:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "index.html").write_text(page)
    summary["report_uri"] = (report_dir / "index.html").as_uri()
    if run_id:
        for directory in (report_dir, reports / "latest"):
            (directory / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    log.info("Report: %s (this run: %d stored, %d quarantined, %d skipped; dataset: %d raw rows, %d summary rows)",
             summary["report_uri"], len(stored), len(quarantined), len(skipped), built["dataset"]["raw_rows"],
             built["dataset"]["summary_rows"])
    if summary["test_profile_documents"]:
        log.warning("%d document(s) of this run are of the test profile (plumbing checks, not rule-sized): stored, "
                    "never a figure", len(summary["test_profile_documents"]))
    for item in skipped:
        log.info("Skipped %s at %s: %s", item["instance_type"], item["stage"], item["reason"])
    for item in failed:
        log.error("No record for %s: %s", item["instance_type"], item["reason"])
    if relaunch:
        log.warning("AWS reclaimed the spot instances of %s: relaunching on demand (market=spot-then-on-demand)",
                    ", ".join(relaunch))
    for s in run_summaries:
        log.info("%-10s %-6s %-6s %-16s n=%d mean=%.2f %s 95%% CI [%s, %s] efficiency %s", s["instance_type"],
                 s["benchmark"], s["metric"], s["placement"], s["n"], s["mean"], s["unit"], s["ci95_low"],
                 s["ci95_high"], s["efficiency"] if s["efficiency"] is not None else s["efficiency_note"])
    for item in built["drift"]:
        for flag in item["flags"]:
            log.warning("Drift %s %s: %s changed from %s to %s", item["region"], item["instance_type"],
                        flag["kind"], flag["before"], flag["after"])
    return summary
