"""instance_benchmarks through dag.test(): real benchmarks on this machine, end to end.

The two rule-sized runs of the suite are here: bare (conftest's `local_run`) and in the runner image.
STREAM with rule-sized arrays and a small HPL, two repetitions each so that every figure has a
confidence interval.
"""

from __future__ import annotations

import json
import re

import pytest
from airflow.sdk import ObjectStoragePath

from instance_benchmarks import cli
from instance_benchmarks.results import ResultStore, schema_errors
from tests.conftest import E2E_TIME_BUDGET_S

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def dag():
    return cli.load_dag()


@pytest.mark.e2e
def test_local_run_succeeds_and_stores_a_valid_document(local_run):
    dag_run, results = local_run

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    (path,) = list((results / "results" / "v1").rglob("*.json"))
    doc = json.loads(path.read_text())
    assert schema_errors(doc) == []
    assert doc["provenance"]["run_id"] == dag_run.run_id and doc["provenance"]["target"] == "local"
    cost = doc["provenance"]["cost"]  # seconds of this host's use x the price_per_hour param
    assert cost["price_per_hour"] == 0.0832 and cost["instance_seconds"] >= 60
    assert cost["usd"] == pytest.approx(cost["instance_seconds"] / 3600 * 0.0832, abs=1e-6)
    stages = {row["stage"]: row for row in doc["provenance"]["stages"]}  # issue 16 item 3
    assert list(stages) == ["stream", "hpl", "container"]  # locally nothing is launched; preparing has no plan
    assert all(stages[s]["predicted_s"] > 0 and stages[s]["actual_s"] > 0 for s in ("stream", "hpl"))
    assert doc["timings"]["hpl_s"] <= stages["hpl"]["actual_s"]  # the host's time includes the runner's own
    for measurement in doc["stream"]["measurements"]:
        assert len(measurement["repetitions"]) == 2
        for rep in measurement["repetitions"]:
            assert rep["validated"]
            assert all(k["best_rate_mb_s"] > 0 for k in rep["kernels"].values())
    assert len(doc["hpl"]["runs"]) == 2
    assert all(run["passed"] and run["residual"] < run["threshold"] for run in doc["hpl"]["runs"])
    assert all(rule["passed"] for rule in doc["run_rules"])
    # Issue 28 item 3: each mapped task of the host is named `<type> #1` in the grid, not `<family> [0]`
    names = rendered_map_indexes(dag_run.run_id)
    host = f"{doc['provenance']['instance_type']} #1"
    assert {task_id.split(".", 1)[1] for task_id, name in names.items() if name == host} == {
        "quota_check", "provision", "wait_for_host", "container", "run_stream", "run_hpl", "extract", "validate",
        "store", "terminate"}, names
    assert not (results / "quarantine").exists()
    container = doc["provenance"]["container"]  # no engine answered: bare, and the document says why
    assert container["mode"] == "bare" and container["docker_engine"].startswith("none at unix://")
    assert doc["host"]["container_image"] is None


@pytest.mark.e2e
@pytest.mark.engine
def test_local_run_uses_the_runner_image_when_an_engine_answers(docker_engine, runner_images, tmp_path,
                                                                monkeypatch):
    """Rule-sized on purpose (quick, not the test profile): the suite's proof that the runner image of this host's
    family passes every run rule with rule-sized arrays in a real engine (make test-cold does it for every image).

    `runner_images` builds the x86 variants side by side first; the DAG's own build of this host's variant (its
    build path runs all the same) then finds its layers in the engine's cache."""
    from instance_benchmarks.containers import variant_for_host
    from instance_benchmarks.hosts.local import LocalHost

    local_engine, registry = docker_engine
    monkeypatch.setenv("DOCKER_HOST", local_engine.docker_host)
    conf = {"target": "local", "profile": "quick", "repetitions": 2, "time_budget_s": E2E_TIME_BUDGET_S,
            "results_uri": tmp_path.as_uri()}

    dag_run = cli.load_dag().test(run_conf=conf)

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    (path,) = list((tmp_path / "results" / "v1").rglob("*.json"))
    doc = json.loads(path.read_text())
    assert schema_errors(doc) == []
    container = doc["provenance"]["container"]
    variant = variant_for_host(LocalHost().topology())
    assert container["mode"] == "container" and container["source"] == "built"
    assert container["image"] == f"{registry.address}/instance-benchmarks-runner@{container['digest']}"
    assert doc["host"]["container_image"] == container["image"]
    assert doc["host"]["container_digest"] == container["digest"]
    assert doc["hpl"]["binary"]["path"] == "/opt/benchrun-bin/xhpl"  # the image's xhpl, not one built here
    assert doc["hpl"]["binary"]["blas"]["name"] == {"generic": "OpenBLAS", "amd": "BLIS", "intel": "oneMKL"}[variant]
    assert all(rule["passed"] for rule in doc["run_rules"])


@pytest.mark.e2e
def test_local_run_writes_report_summary_and_dataset(local_run):
    dag_run, results = local_run

    summary = json.loads((results / "reports" / "latest" / "summary.json").read_text())
    assert summary == json.loads((ResultStore(results.as_uri()).run_reports(dag_run.run_id) / "summary.json")
                                 .read_text())  # the run keeps its own (issue 28 item 11)
    assert summary["run_id"] == dag_run.run_id and len(summary["documents"]) == 1
    triad = [s for s in summary["summaries"] if s["metric"] == "triad"]
    assert triad and all(s["n"] == 2 and s["ci95_low"] <= s["mean"] <= s["ci95_high"] for s in triad)
    assert "<svg" in (results / "reports" / "latest" / "index.html").read_text()
    assert summary["dataset"]["raw_rows"] > 0 and summary["dataset"]["summary_rows"] == len(summary["summaries"])
    hpl = next(s for s in summary["summaries"] if s["benchmark"] == "hpl")
    assert hpl["price_per_hour_on_demand"] == 0.0832  # the price_per_hour param
    assert hpl["value_per_dollar_on_demand"] == pytest.approx(hpl["mean"] / 0.0832)
    table = cli.format_summary({**summary, "report_uri": "r"})
    assert "triad" in table and "PASSED" in table and "N=" in table and "per $/h" in table
    assert "  Ran bare on this host (no Docker engine: none at unix://" in table  # local_run has no engine
    assert re.search(r"BLAS: OpenBLAS [0-9.]+, kernel \w+ \((uses the CPU's widest vectors|FALLBACK)", table)


@pytest.mark.e2e
def test_the_run_emits_the_results_asset_once_with_its_location(local_run):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag_run, results = local_run
    with create_session() as session:
        extras = session.scalars(
            select(AssetEvent.extra).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "instance_benchmarks_results", AssetEvent.source_run_id == dag_run.run_id)
        ).all()

    assert len(extras) == 1
    assert extras[0]["results_uri"] == results.as_uri() and extras[0]["documents"] == 1


def test_invalid_conf_is_refused_naming_the_param(dag):
    with pytest.raises(Exception, match="repetitions") as excinfo:
        dag.test(run_conf={"repetitions": 0})

    assert type(excinfo.value).__name__ == "ParamValidationError"


def test_invalid_instance_type_is_refused(dag):
    with pytest.raises(Exception, match="instance_types") as excinfo:
        dag.test(run_conf={"instance_types": ["m7i.large;reboot"]})

    assert type(excinfo.value).__name__ == "ParamValidationError"


def test_the_test_profile_is_refused_where_the_deployment_does_not_allow_it(monkeypatch, capsys):
    """The test profile (plumbing checks, never a figure) is a choice only where the deployment sets
    INSTANCE_BENCHMARKS_ALLOW_TEST_PROFILE: as the other allowlists, the form's schema, the REST API, dag.test and
    make run (cli.run) all refuse it elsewhere, naming the param."""
    monkeypatch.delenv("INSTANCE_BENCHMARKS_ALLOW_TEST_PROFILE")
    dag = cli.load_dag()  # parsed as a deployment without it parses it

    assert dag.params.get_param("profile").schema["enum"] == ["quick", "standard"]
    with pytest.raises(Exception, match="profile") as excinfo:
        dag.test(run_conf={"profile": "test"})
    assert type(excinfo.value).__name__ == "ParamValidationError"
    assert cli.run({"profile": "test"}) == 2
    assert "profile" in capsys.readouterr().err


def test_a_test_deployment_offers_the_test_profile_and_says_what_it_is(dag):
    param = dag.params.get_param("profile")

    assert param.schema["enum"] == ["quick", "standard", "test"]
    assert "never a figure" in param.description


def test_cli_reports_a_refused_conf(capsys):
    assert cli.run({"profile": "fastest"}) == 2

    assert "profile" in capsys.readouterr().err


def test_dry_run_plans_without_running(dag, tmp_path):
    dag_run = dag.test(run_conf={"dry_run": True, "results_uri": tmp_path.as_uri()})

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    (plan_file,) = [p for p in (tmp_path / "plans").glob("*.json") if not p.name.endswith(".summary.json")]
    plans = json.loads(plan_file.read_text())
    summary = json.loads(plan_file.with_name(plan_file.stem + ".summary.json").read_text())
    assert summary["types"] == 1 and summary["unpriced"] == 1  # no price_per_hour given
    assert plans[0]["stages_s"].keys() == {"stream", "hpl"}  # nothing to launch or pull locally
    assert len(plans) == 1 and plans[0]["target"] == "local"
    assert not (tmp_path / "results").exists() and not (tmp_path / "staging").exists()


def test_aws_target_without_instance_types_fails_fast(dag, tmp_path):
    dag_run = dag.test(run_conf={"target": "aws", "results_uri": tmp_path.as_uri()})

    assert str(dag_run.state) in ("failed", "DagRunState.FAILED")
    assert not ObjectStoragePath(tmp_path.as_uri()).joinpath("results").exists()


@pytest.mark.usefixtures("no_aws_anywhere")
def test_aws_without_a_usable_set_up_stops_at_plan_without_retries_naming_what_to_set(dag, tmp_path, capsys):
    conf = {"target": "aws", "instance_types": ["m7i.large"], "results_uri": tmp_path.as_uri()}

    assert cli.run(conf) == 1

    summary = json.loads((tmp_path / "reports" / "latest" / "summary.json").read_text())
    assert summary["stopped"]["stage"] == "plan"
    assert "needs a region" in summary["stopped"]["reason"] and "AWS_DEFAULT_REGION" in summary["stopped"]["reason"]
    assert "Stopped at plan: target=aws needs a region" in capsys.readouterr().out
    assert "Stopped at plan" in (tmp_path / "reports" / "latest" / "index.html").read_text()
    assert not (tmp_path / "results").exists()


@pytest.mark.usefixtures("no_aws_anywhere")
def test_a_configuration_error_is_not_retried(dag, tmp_path):
    dag_run = dag.test(run_conf={"target": "aws", "instance_types": ["m7i.large"], "results_uri": tmp_path.as_uri()})

    plan = dag_run.get_task_instance("plan")
    assert str(plan.state) in ("failed", "TaskInstanceState.FAILED") and plan.try_number == 1


def rendered_map_indexes(run_id: str) -> dict[str, str | None]:
    """task id -> the name the grid shows for each mapped task instance of a run."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return {ti.task_id: ti.rendered_map_index for ti in session.scalars(
            select(TaskInstance).where(TaskInstance.run_id == run_id, TaskInstance.map_index >= 0))}
