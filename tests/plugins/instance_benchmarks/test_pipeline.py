"""Pipeline stages on plain data, on a file:// results store (the DAG wraps these in tasks)."""

from __future__ import annotations

import json

import pytest

from instance_benchmarks import pipeline
from instance_benchmarks.results import ResultStore, schema_errors
from tests.conftest import FIXTURES

VALID = json.loads((FIXTURES / "documents" / "valid" / "local-amd-epyc-quick.json").read_text())


def staged_state(tmp_path, documents: dict[str, str]) -> tuple[dict, dict]:
    params = {"results_uri": tmp_path.as_uri(), "target": "local"}
    store = ResultStore(params["results_uri"])
    outcomes = {}
    for benchmark, text in documents.items():
        path = store.staging("manual__1", "local", f"{benchmark}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        outcomes[benchmark] = {"staged_uri": path.as_uri(), "exit_code": 0, "stderr_tail": "", "note": ""}
    plan = {"instance_type": "local", "family": "amd", "target": "local"}
    return params, {"plan": plan, "handle": {"host_id": "vm"}, "outcomes": outcomes}


def aws_state(tmp_path, instance_id: str, ran_on: str) -> tuple[dict, dict]:
    """An AWS host whose staged STREAM and HPL documents say they ran on `ran_on`."""
    params = {"results_uri": tmp_path.as_uri(), "target": "aws"}
    store = ResultStore(params["results_uri"])
    outcomes = {}
    for benchmark in ("stream", "hpl"):
        doc = json.loads(json.dumps(VALID))
        doc["host"].update(target="aws", instance_id=ran_on)
        path = store.staging("manual__1", "m7i.large", f"{benchmark}.json", host_id=instance_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
        outcomes[benchmark] = {"staged_uri": path.as_uri(), "exit_code": 0, "stderr_tail": "", "note": ""}
    plan = {"instance_type": "m7i.large", "family": "intel", "target": "aws"}
    handle = {"host_id": instance_id, "details": {"region": "us-east-1", "availability_zone": "us-east-1a",
                                                   "ami_id": "ami-1", "market": "on-demand"}}
    return params, {"plan": plan, "handle": handle, "outcomes": outcomes, "prepared": None}


def test_a_document_staged_by_another_instance_is_never_adopted(tmp_path):
    """Issue 17 item 11: finish_run accepted any object at the staging key, and a re-run used the same key."""
    params, state = aws_state(tmp_path, instance_id="i-0new", ran_on="i-0old")

    extracted = pipeline.extract(state, params=params, dag_id="d", run_id="manual__1", map_index=0)

    assert extracted["document_uri"] is None and len(extracted["missing"]) == 2
    assert all("written on i-0old, not on this attempt's instance i-0new" in m for m in extracted["missing"])
    assert "/m7i.large/i-0new/stream.json" in state["outcomes"]["stream"]["staged_uri"]  # keyed by the instance


def test_the_instance_s_own_documents_are_merged(tmp_path):
    params, state = aws_state(tmp_path, instance_id="i-0new", ran_on="i-0new")

    extracted = pipeline.extract(state, params=params, dag_id="d", run_id="manual__1", map_index=0,
                                 run_date="2026-11-30")

    assert extracted["missing"] == [] and "/i-0new/result.json" in extracted["document_uri"]
    merged = json.loads(ResultStore(params["results_uri"]).path(extracted["document_uri"]).read_text())
    assert merged["provenance"]["instance_id"] == "i-0new" and merged["provenance"]["run_date"] == "2026-11-30"


def test_a_huge_staged_document_is_not_read_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "MAX_DOCUMENT_BYTES", 1000)
    params, state = staged_state(tmp_path, {"stream": json.dumps(VALID), "hpl": json.dumps(VALID)})

    extracted = pipeline.extract(state, params=params, dag_id="d", run_id="manual__1", map_index=0)

    assert extracted["document_uri"] is None
    assert len(extracted["missing"]) == 2 and "over the 1,000-byte limit: not read" in extracted["missing"][0]


def test_a_truncated_staged_document_is_named_unreadable(tmp_path):
    params, state = staged_state(tmp_path, {"stream": json.dumps(VALID), "hpl": '{"schema_version": 1, "doc'})

    extracted = pipeline.extract(state, params=params, dag_id="d", run_id="manual__1", map_index=0)

    assert any(m.startswith("hpl: staged document unreadable") for m in extracted["missing"])


def test_a_host_failure_is_the_only_reason_given(tmp_path):
    params, state = staged_state(tmp_path, {})
    failed = pipeline.host_failed(state, "wait_for_host", "the SSM agent never came online")

    # STREAM has no document either, but the host's failure is why: the one reason its quarantine gives.
    assert pipeline.stage_failure(failed, "stream") == "wait_for_host: the SSM agent never came online"
    assert pipeline.stage_failure(state, "stream").startswith("stream: benchrun wrote no document")


def test_the_budget_keeps_types_in_order_while_they_fit_and_records_the_rest(tmp_path):
    from instance_benchmarks import pipeline
    from instance_benchmarks.catalog import InstanceSpec
    from instance_benchmarks.planning import plan
    from instance_benchmarks.results import ResultStore

    def spec(name):
        return InstanceSpec(instance_type=name, family="intel", architecture="x86_64", cpu_model="Intel", vcpus=2,
                            physical_cores=1, memory_bytes=8 * 2**30, last_level_cache_bytes=0)

    prices = {"a.large": 1.0, "b.large": 10.0, "c.large": 1.0, "d.large": None}
    plans = [plan(spec(name), target="aws", profile="quick", repetitions=None, time_budget_s=1800,
                  prices={"on_demand": price}, image_registry="r") for name, price in prices.items()]
    params = {"budget_usd": 0.5, "results_uri": tmp_path.as_uri()}

    kept = pipeline.apply_budget(plans, params, run_id="run-1", market="on-demand")

    # a: $0.096 fits; b: $0.96 would pass $0.5; c: fits after a; d: no price, cannot be bounded
    assert [p.instance_type for p in kept] == ["a.large", "c.large"]
    skipped = {s["instance_type"]: s for s in ResultStore(tmp_path.as_uri()).skipped("run-1")}
    assert sorted(skipped) == ["b.large", "d.large"]
    assert all(s["stage"] == "plan" and s["reason"].startswith("budget:") for s in skipped.values())
    assert "over its $0.5 budget_usd" in skipped["b.large"]["reason"]


def test_a_backfilled_week_plans_only_the_types_not_measured_since_it_began(tmp_path):
    """Issue 28 item 6: skip_measured_since (a backfilled week's start) drops the types with a stored document in
    the run's region dated on or after it, each recorded with its date; with none left, nothing is planned."""
    from instance_benchmarks import pipeline
    from instance_benchmarks.catalog import InstanceSpec
    from instance_benchmarks.results import ResultStore

    def spec(name):
        return InstanceSpec(instance_type=name, family="intel", architecture="x86_64", cpu_model="Intel", vcpus=2,
                            physical_cores=1, memory_bytes=8 * 2**30, last_level_cache_bytes=0)

    stored = {("us-east-1", "a.large", "2026-11-02"), ("us-east-1", "a.large", "2026-11-20"),
              ("us-east-1", "b.large", "2026-10-30"), ("eu-west-1", "c.large", "2026-11-25")}
    for region, name, date in stored:
        document = (tmp_path / "results" / "v1" / f"region={region}" / "family=intel" / f"instance_type={name}"
                    / f"date={date}" / "weekly__x.json")
        document.parent.mkdir(parents=True)
        document.write_text("{}")
    (tmp_path / "results" / "v1" / "region=us-east-1" / "family=intel" / "instance_type=d.large"
     / "date=2026-11-28").mkdir(parents=True)  # a partition with no document is not a measurement
    params = {"skip_measured_since": "2026-11-01", "results_uri": tmp_path.as_uri()}
    specs = [spec(name) for name in ("a.large", "b.large", "c.large", "d.large")]

    kept = pipeline.unmeasured_since(specs, params, run_id="backfill-1", region="us-east-1")

    assert [s.instance_type for s in kept] == ["b.large", "c.large", "d.large"]  # c: measured in another region
    (skipped,) = ResultStore(tmp_path.as_uri()).skipped("backfill-1")
    assert skipped["instance_type"] == "a.large" and skipped["stage"] == "plan"
    assert skipped["reason"] == "measured on 2026-11-20, since 2026-11-01 (skip_measured_since)"
    assert pipeline.unmeasured_since(specs[:1], params, run_id="backfill-2", region="us-east-1") == []


def test_the_stage_that_ends_a_host_s_run_is_the_one_that_fails_and_its_quarantine_is_recorded_first(tmp_path):
    """Issue 28 item 10: a host that failed, a reclaimed one, or a benchmark that left no document ends at its stage,
    recorded in quarantine/ with what it staged before; a benchmark's document, even of a failed run, goes on to be
    judged by validate. The watcher names each failed host with its first red task."""
    from instance_benchmarks import pipeline
    from instance_benchmarks.results import ResultStore

    plan_dict = {"instance_type": "m7i.large", "replica": 2, "family": "intel"}
    stream_staged = {"staged_uri": "s3://b/staging/stream.json", "exit_code": 0}
    crashed = {"staged_uri": None, "exit_code": 1, "note": "", "stderr_tail": "Traceback\nMemoryError"}
    failed_with_document = {"staged_uri": "s3://b/staging/hpl.json", "exit_code": 1}

    assert pipeline.stage_failure({"plan": plan_dict, "outcomes": {"stream": stream_staged}}, "stream") is None
    assert pipeline.stage_failure({"plan": plan_dict, "outcomes": {"hpl": failed_with_document}}, "hpl") is None
    assert pipeline.stage_failure({"plan": plan_dict, "outcomes": {}}, "container") is None
    assert pipeline.stage_failure({"plan": plan_dict, "failure": "wait_for_host: the SSM agent on i-1 ...",
                                   "outcomes": {}}, "wait_for_host") == "wait_for_host: the SSM agent on i-1 ..."
    state = {"plan": plan_dict, "outcomes": {"stream": stream_staged, "hpl": crashed}}
    failure = pipeline.stage_failure(state, "hpl")
    assert failure == "hpl: benchrun wrote no document (exit 1); stderr: Traceback | MemoryError"

    recorded = pipeline.quarantine_stage(state, failure, params={"results_uri": tmp_path.as_uri()}, run_id="r1")

    (kept,) = ResultStore(tmp_path.as_uri()).quarantined("r1")
    assert kept["uri"] == recorded["uri"] and kept["instance_type"] == "m7i.large" and kept["replica"] == 2
    assert kept["reasons"] == [failure, "stream: its document is kept at s3://b/staging/stream.json"]
    planned = {"intel": [{"instance_type": "m7i.large", "replica": 1}, plan_dict],
               "graviton": [{"instance_type": "c7g.large", "replica": 1}]}
    states = {"intel.wait_for_host_0": "success", "intel.run_hpl_1": "failed", "intel.store_1": "upstream_failed",
              "graviton.wait_for_host_0": "failed", "graviton.store_0": "upstream_failed"}
    assert pipeline.failed_hosts(planned, states) == ["m7i.large #2: intel.run_hpl",
                                                      "c7g.large #1: graviton.wait_for_host"]


def test_instances_per_type_gives_each_type_that_many_hosts_on_aws_and_is_refused_on_this_machine():
    from instance_benchmarks.planning import plan, summarize_plans
    from tests.plugins.instance_benchmarks.test_planning import M7I

    plans = [plan(M7I, target="aws", profile="quick", repetitions=None, time_budget_s=600, prices={"on_demand": 0.1})]

    hosts = pipeline.replicated(plans, 2, target="aws")

    assert [(p.instance_type, p.replica, p.replicas) for p in hosts] == [("m7i.large", 1, 2), ("m7i.large", 2, 2)]
    summary = summarize_plans(hosts)
    assert (summary["types"], summary["hosts"]) == (1, 2)
    assert summary["instance_hours"] == round(2 * plans[0].predicted_s / 3600, 2)  # both hosts are paid for
    assert pipeline.replicated(plans, 1, target="local") == plans
    with pytest.raises(ValueError, match="instances_per_type=2 needs target=aws: this machine is one host"):
        pipeline.replicated(plans, 2, target="local")


def test_a_planned_type_without_any_record_is_named_with_the_task_that_stopped_it():
    planned = {"intel": [{"instance_type": "m7i.large"}, {"instance_type": "c7i.large"}],
               "graviton": [{"instance_type": "c7g.large"}], "amd": []}
    states = {f"intel.{task}_0": "success" for task in pipeline.GROUP_TASKS}
    states |= {"intel.quota_check_1": "success", "intel.provision_1": "success", "intel.wait_for_host_1": "success",
               "intel.container_1": "success", "intel.run_stream_1": "failed", "intel.run_hpl_1": "upstream_failed"}
    states |= {f"graviton.{task}_0": "success" for task in pipeline.GROUP_TASKS}  # yet nothing recorded

    found = pipeline.unaccounted(planned, accounted={"m7i.large"}, task_states=states)

    assert found == [
        {"instance_type": "c7i.large", "replica": 1, "family": "intel", "map_index": 1, "stage": "run_stream",
         "reason": "run_stream ended failed: see that task's log"},
        {"instance_type": "c7g.large", "replica": 1, "family": "graviton", "map_index": 0, "stage": "store",
         "reason": "every task succeeded, yet nothing was recorded"},
    ]
    # instances_per_type=2: the type's first host is accounted for, its second is not
    two_hosts = {"intel": [{"instance_type": "m7i.large", "replica": 1}, {"instance_type": "m7i.large", "replica": 2}]}
    (second,) = pipeline.unaccounted(two_hosts, accounted={"m7i.large"}, task_states={})
    assert (second["instance_type"], second["replica"], second["map_index"]) == ("m7i.large", 2, 1)
    assert pipeline.unaccounted(two_hosts, accounted={"m7i.large", "m7i.large_host2"}, task_states={}) == []
    assert pipeline.unaccounted(planned, accounted={"m7i.large", "c7i.large", "c7g.large"}, task_states={}) == []
    lost = pipeline.unaccounted({"amd": [{"instance_type": "m7a.large"}]}, accounted=set(), task_states={})
    assert lost[0]["reason"] == "quota_check ended without running: see that task's log"


def test_a_provision_that_fails_for_good_is_recorded_once_its_last_try_fails(tmp_path, monkeypatch):
    from instance_benchmarks.hosts import local

    params = {"results_uri": tmp_path.as_uri(), "target": "local", "time_budget_s": 600}
    state = {"plan": {"instance_type": "local", "family": "amd", "target": "local"}}

    def broken(self, plan_dict, *, tags):
        raise KeyError("Placement")

    monkeypatch.setattr(local.LocalHost, "provision", broken)
    store = ResultStore(params["results_uri"])
    with pytest.raises(KeyError):
        pipeline.provision(state, params=params, dag_id="d", run_id="r", map_index=0, last_try=False)
    assert store.skipped("r") == []  # a retry follows: nothing recorded yet
    with pytest.raises(KeyError):
        pipeline.provision(state, params=params, dag_id="d", run_id="r", map_index=0, last_try=True)
    (skipped,) = store.skipped("r")
    assert skipped["stage"] == "provision" and skipped["reason"] == "failed on its last try: KeyError: 'Placement'"


def test_each_document_records_every_stage_predicted_against_actual(tmp_path):
    """Issue 16 item 3: launch and agent are one measurement on EC2; terminate comes after the document."""
    params, state = aws_state(tmp_path, instance_id="i-0abc", ran_on="i-0abc")
    state["plan"]["stages_s"] = {"launch": 31, "agent online": 60, "container": 90, "stream": 20.0, "hpl": 45,
                                 "terminate": 60}
    state["handle"]["details"]["launched_at"] = "2026-12-01T11:00:00+00:00"
    state = pipeline.host_online(state, {"state": "running", "ping": "Online"})
    state = pipeline.with_actual(state, "container", 72.04)
    state = pipeline.with_actual(state, "stream", 25.0)
    state = pipeline.with_actual(state, "hpl", None)  # the command's times were not reported: no figure

    extracted = pipeline.extract(state, params=params, dag_id="d", run_id="manual__1", map_index=0)

    merged = json.loads(ResultStore(params["results_uri"]).path(extracted["document_uri"]).read_text())
    rows = {row["stage"]: row for row in merged["provenance"]["stages"]}
    assert list(rows) == ["launch and agent online", "container", "stream", "hpl", "terminate"]
    assert rows["launch and agent online"]["predicted_s"] == 91 and rows["launch and agent online"]["actual_s"] > 0
    assert rows["container"] == {"stage": "container", "predicted_s": 90, "actual_s": 72.0,
                                 "predicted_over_actual": 1.25}
    assert rows["stream"]["predicted_over_actual"] == 0.8
    assert rows["hpl"]["actual_s"] is None and rows["terminate"]["actual_s"] is None
    assert schema_errors(merged) == []


def test_a_stage_the_plan_has_no_figure_for_is_still_recorded():
    rows = pipeline.stage_times({"stages_s": {"stream": 10, "hpl": 40}}, {"container": 3.0, "stream": 12.5})

    assert rows == [{"stage": "stream", "predicted_s": 10, "actual_s": 12.5, "predicted_over_actual": 0.8},
                    {"stage": "hpl", "predicted_s": 40, "actual_s": None, "predicted_over_actual": None},
                    {"stage": "container", "predicted_s": None, "actual_s": 3.0, "predicted_over_actual": None}]
