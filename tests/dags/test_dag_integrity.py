"""Every DAG imports cleanly and carries what operators of this project rely on."""

from __future__ import annotations

import json

import pytest
from airflow.dag_processing.dagbag import DagBag

from tests.conftest import REPO, load_dag

STAGES = ["quota_check", "provision", "wait_for_host", "container", "run_stream", "run_hpl", "extract", "validate",
          "store", "terminate"]


@pytest.fixture(scope="module")
def dagbag():
    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "instance_benchmarks" in dagbag.dag_ids


def test_every_dag_has_tags_owner_retries_and_docs(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        for task in dag.tasks:
            assert task.owner == "instance-benchmarks", f"{dag_id}.{task.task_id} owner {task.owner}"
        assert any(task.retries > 0 for task in dag.tasks), f"{dag_id} never retries"


def test_one_mapped_group_per_family_with_every_stage(dagbag):
    dag = dagbag.get_dag("instance_benchmarks")

    for family in ("intel", "amd", "graviton"):
        for stage in STAGES:
            assert f"{family}.{stage}" in dag.task_dict, f"missing {family}.{stage}"
        assert type(dag.task_group_dict[family]).__name__ == "MappedTaskGroup"
    assert "analyze" in dag.task_dict and dag.task_dict["analyze"].trigger_rule == "all_done"


def test_a_failure_anywhere_fails_the_run(dagbag):
    dag = dagbag.get_dag("instance_benchmarks")
    watcher = dag.task_dict["watcher"]

    assert watcher.trigger_rule == "all_done" and not watcher.downstream_task_ids  # its list of failures is whole
    for task_id in ("plan", "analyze", "plans_amd", "amd.store"):
        assert task_id in watcher.upstream_task_ids


def test_terminate_is_a_teardown_of_provision(dagbag):
    dag = dagbag.get_dag("instance_benchmarks")

    for family in ("intel", "amd", "graviton"):
        terminate = dag.task_dict[f"{family}.terminate"]
        provision = dag.task_dict[f"{family}.provision"]
        assert terminate.is_teardown and provision.is_setup
        assert provision.task_id in terminate.upstream_task_ids
        # issue 28 item 12: terminated once the benchmarks end, not after extract, validate and store
        assert terminate.upstream_task_ids == {f"{family}.run_hpl", provision.task_id}
        assert type(terminate).__name__ == "TerminateHostOperator"


def test_stages_run_in_order(dagbag):
    dag = dagbag.get_dag("instance_benchmarks")

    for before, after in zip(STAGES[:-2], STAGES[1:-1], strict=True):
        assert f"amd.{before}" in dag.task_dict[f"amd.{after}"].upstream_task_ids


def test_trigger_form_params(dagbag):
    params = dagbag.get_dag("instance_benchmarks").params

    assert set(params.keys()) == {"target", "instance_types", "repetitions", "profile", "time_budget_s",
                                  "dry_run", "results_uri", "aws_conn_id", "region", "subnet_ids",
                                  "security_group_ids", "instance_profile", "image_registry", "market", "public_ip",
                                  "agent_timeout_s", "poll_interval_s", "aws_max_attempts", "price_per_hour",
                                  "budget_usd", "instances_per_type", "skip_measured_since", "host_time_budget_s"}
    assert params["host_time_budget_s"] is None  # a manual run is not capped unless asked
    assert params.get_param("target").schema["enum"] == ["local", "aws"]
    assert params["aws_conn_id"] == "aws_default" and params["market"] == "on-demand" and not params["public_ip"]
    assert params["instances_per_type"] == 1 and params.get_param("instances_per_type").schema["maximum"] == 4


def test_no_dag_file_shares_a_name_with_a_module_of_the_plugins(dagbag):
    """Airflow puts dags/ and plugins/ on sys.path: a DAG file named like a plugin module (the main DAG was
    dags/instance_benchmarks.py) left import order to decide what `import instance_benchmarks` finds."""
    import importlib

    plugins = {p.stem for p in (REPO / "plugins").iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    dag_files = {p.stem for p in (REPO / "dags").glob("*.py")}

    assert dag_files & plugins == set()
    module = importlib.import_module("instance_benchmarks")
    assert module.__file__.endswith("plugins/instance_benchmarks/__init__.py")
    assert dagbag.get_dag("instance_benchmarks").fileloc.endswith("dags/instance_benchmarks_dag.py")


def test_tasks_that_hold_an_instance_share_the_hosts_pool(dagbag):
    """The pool bounds instances benchmarking at once; later stages outrank new launches."""
    dag = dagbag.get_dag("instance_benchmarks")

    for family in ("intel", "amd", "graviton"):
        for stage in ("provision", "wait_for_host", "container", "run_stream", "run_hpl"):
            task = dag.task_dict[f"{family}.{stage}"]
            weight_rule = str(getattr(task.weight_rule, "value", task.weight_rule))
            assert task.pool == "instance_benchmarks_hosts" and weight_rule == "upstream", stage
        assert dag.task_dict[f"{family}.provision"].max_active_tis_per_dagrun == 8


def _required_in_the_ui(schema: dict) -> bool:
    """The Airflow UI's trigger form (3.3, FlexibleForm's isRequired): a param whose schema has a type that does not
    admit null is required, and an empty value (null or "") in a required field disables the Trigger button."""
    kind = schema.get("type")
    return bool(kind) and (not isinstance(kind, list) or "null" not in kind)


def test_every_trigger_form_submits_with_its_defaults(dagbag):
    """What the browser test proves against a real api-server, as a rule checked on every param in a second."""
    import jsonschema

    for dag_id, dag in dagbag.dags.items():
        for name in dag.params:
            schema, value = dag.params.get_param(name).schema, dag.params[name]
            jsonschema.validate(value, schema)  # the REST API's and dag.test's check
            if _required_in_the_ui(schema):
                assert value not in (None, ""), f"{dag_id}.{name}: an empty default in a required field " \
                                                "disables the form's Trigger button; make its type nullable"


@pytest.mark.parametrize("conf", [{"instance_types": ["m7i.large\n"]}, {"region": "us-east-1\n"},
                                  {"aws_conn_id": "aws_default\n"}, {"results_uri": "file:///tmp/x\n"},
                                  {"subnet_ids": ["subnet-0123456789abcdef0\n"]}, {"image_registry": "r.io/x\n"},
                                  {"instance_types": ["m7i.large;reboot"]}, {"repetitions": 0},
                                  {"instances_per_type": 0}, {"instances_per_type": 5}, {"instances_per_type": 1.5},
                                  # outside the deployment's allowlists (tests/conftest.py sets them)
                                  {"aws_conn_id": "prod_admin"}, {"results_uri": "file:///etc/airflow"},
                                  {"results_uri": "s3://someone-elses-bucket/x"}, {"results_uri": "s3://bench-results-2"},
                                  {"results_uri": "s3://bench-results/a/../../other"},
                                  {"results_uri": "s3://bench-results/%2e%2E/other"},
                                  {"results_uri": "s3://bench-results//x"},
                                  {"image_registry": "evil.example/instance-benchmarks"},
                                  {"image_registry": "127.0.0.1.evil.example/x"}])
def test_a_trailing_newline_or_a_bad_value_is_refused_naming_the_param(dagbag, conf):
    """Python's `$` matches before a final newline: `^...$` let `m7i.large\\n` through jsonschema."""
    import jsonschema

    params = dagbag.get_dag("instance_benchmarks").params
    ((name, value),) = conf.items()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(value, params.get_param(name).schema)


@pytest.mark.parametrize("conf", [{"aws_conn_id": "aws_default"}, {"results_uri": "s3://bench-results"},
                                  {"results_uri": "s3://bench-results/ib/v1/"},
                                  {"results_uri": "s3://bench-results/a..b/.c"},
                                  {"image_registry": "127.0.0.1:5000/instance-benchmarks-runner"},
                                  {"image_registry": ""}])
def test_what_the_deployment_allows_is_accepted(dagbag, conf):
    import jsonschema

    params = dagbag.get_dag("instance_benchmarks").params
    ((name, value),) = conf.items()
    jsonschema.validate(value, params.get_param(name).schema)


def test_the_deployment_configures_its_allowlists_and_every_dag_applies_them(monkeypatch):
    """Airflow leaves conf checking to DAG authors: which connections, results locations and registries a trigger
    may name is the deployment's setting, read when the DAGs are parsed."""
    import jsonschema

    monkeypatch.setenv("INSTANCE_BENCHMARKS_AWS_CONN_ID", "benchmarks_aws")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_ALLOWED_AWS_CONN_IDS", "benchmarks_aws_eu")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_RESULTS_URI", "s3://team-bench/prod")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_RESULTS_PREFIXES", "s3://team-bench/scratch/")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_IMAGE_REGISTRIES", "123456789012.dkr.ecr.us-east-1.amazonaws.com")

    bag = DagBag(dag_folder=str(REPO / "dags"))

    for dag_id in ("instance_benchmarks", "janitor", "catalog_refresh", "results_analysis"):
        schema = bag.get_dag(dag_id).params.get_param("aws_conn_id").schema
        assert schema["enum"] == ["benchmarks_aws", "benchmarks_aws_eu"], dag_id
    for dag_id in ("instance_benchmarks", "catalog_refresh", "results_analysis"):
        schema = bag.get_dag(dag_id).params.get_param("results_uri").schema
        for allowed in ("s3://team-bench/prod", "s3://team-bench/prod/eu", "s3://team-bench/scratch/me"):
            jsonschema.validate(allowed, schema)
        for refused in ("s3://team-bench", "s3://team-bench/prod/../../x", "s3://team-bench/production",
                        "file:///tmp/x"):
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(refused, schema)
    registry = bag.get_dag("instance_benchmarks").params.get_param("image_registry").schema
    jsonschema.validate("123456789012.dkr.ecr.us-east-1.amazonaws.com/instance-benchmarks", registry)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("127.0.0.1:5000/instance-benchmarks-runner", registry)  # no longer the default


def test_a_manual_run_s_defaults_are_the_deployment_s_manual_ones_not_the_weekly_list(monkeypatch):
    """Issue 28 item 1: on an AWS deployment whose weekly list is `all`, pressing Trigger used to plan the whole
    catalog with no budget. The form now defaults to the manual types (none unless named), the manual budget
    (shown in its field's description) and the deployment's image repository."""
    from instance_benchmarks.params import weekly_settings

    monkeypatch.setenv("INSTANCE_BENCHMARKS_TARGET", "aws")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_INSTANCE_TYPES", "all")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD", "500")
    params = load_dag("instance_benchmarks").params
    assert params["instance_types"] == [] and params["budget_usd"] is None and params["image_registry"] is None
    assert "unset" in params.get_param("budget_usd").description

    repository = "123456789012.dkr.ecr.us-east-1.amazonaws.com/instance-benchmarks"
    monkeypatch.setenv("INSTANCE_BENCHMARKS_MANUAL_INSTANCE_TYPES", "c7g.medium, m7i.large")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_MANUAL_BUDGET_USD", "7.5")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_IMAGE_REPOSITORY", repository + "/")
    params = load_dag("instance_benchmarks").params
    assert params["instance_types"] == ["c7g.medium", "m7i.large"] and params["budget_usd"] == 7.5
    assert "$7.5" in params.get_param("budget_usd").description
    assert params["image_registry"] == repository  # its registry is allowed although IMAGE_REGISTRIES is unset
    assert params.validate()["image_registry"] == repository  # the form submits its defaults
    # the weekly refresh names its own budget, so a week never inherits the manual one
    assert weekly_settings("aws")["budget_usd"] == 500
    monkeypatch.delenv("INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD")
    assert weekly_settings("aws")["budget_usd"] is None


def test_a_refused_instance_type_is_told_an_example_not_the_regex(dagbag):
    """Issue 28 item 2: the form shows the first line of jsonschema's message, which for a `pattern` was the
    regex itself. Validated as the api-server validates a trigger: the serialized params, merged with the conf."""
    from airflow.exceptions import ParamValidationError
    from airflow.serialization.definitions.param import SerializedParam, SerializedParamsDict

    sdk_params = dagbag.get_dag("instance_benchmarks").params
    assert sdk_params.get_param("instance_types").description.startswith("One per line")
    params = SerializedParamsDict({name: SerializedParam(sdk_params[name], sdk_params.get_param(name).description,
                                                         **sdk_params.get_param(name).schema) for name in sdk_params})
    params.deep_merge({"instance_types": ["m7i.large", "c7g", "all", "c7a.metal-48xl"]}).validate()
    for refused in (["m7i.large", "m7i.large;reboot"], ["M7i.large"], ["m7i.large\n"], [""]):
        with pytest.raises(ParamValidationError) as refusal:
            params.deep_merge({"instance_types": refused}).validate()
        first_line = str(refusal.value).splitlines()[0]
        assert first_line == ("Invalid input for param instance_types: 'one per line: an instance type such as "
                              "m7i.large, a family such as c7g, or all' was expected"), first_line
        assert repr(refused[-1]) in str(refusal.value)  # and the value refused, further down


def test_every_dag_tells_the_deployment_s_topic_when_a_run_fails_and_none_without_one(monkeypatch, dagbag):
    """Issue 28 item 9: the on-call path, configured by the deployment (the message itself: the AWS tests)."""
    from instance_benchmarks.notifications import RunFailedNotifier

    assert all(not dag.on_failure_callback for dag in dagbag.dags.values())
    topic = "arn:aws:sns:eu-west-1:123456789012:instance-benchmarks-on-call"
    monkeypatch.setenv("INSTANCE_BENCHMARKS_ALERT_TOPIC_ARN", topic)

    bag = DagBag(dag_folder=str(REPO / "dags"))

    assert len(bag.dags) == 6
    for dag_id, dag in bag.dags.items():
        (notifier,) = dag.on_failure_callback
        assert isinstance(notifier, RunFailedNotifier), dag_id
        assert notifier.target_arn == topic and notifier.region_name == "eu-west-1", dag_id


def test_a_stuck_run_times_out_and_a_late_one_is_told_to_on_call(monkeypatch, dagbag):
    """Issue 28 item 7: max_active_runs=1 let one stuck run hold every later run; it is now failed past the
    deployment's time-out (its teardowns still run), and a Deadline Alert tells the topic when a run is late."""
    import datetime

    from airflow.serialization.serialized_objects import DagSerialization

    dag = dagbag.get_dag("instance_benchmarks")
    assert dag.dagrun_timeout == datetime.timedelta(hours=36) and not dag.deadline  # no topic: no alert

    topic = "arn:aws:sns:us-east-1:123456789012:instance-benchmarks-x"
    monkeypatch.setenv("INSTANCE_BENCHMARKS_ALERT_TOPIC_ARN", topic)
    monkeypatch.setenv("INSTANCE_BENCHMARKS_RUN_TIMEOUT_H", "20")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_RUN_LATE_H", "6")
    dag = load_dag("instance_benchmarks")

    assert dag.dagrun_timeout == datetime.timedelta(hours=20)
    (alert,) = dag.deadline
    assert alert.interval == datetime.timedelta(hours=6) and type(alert.reference).__name__ == "DagRunQueuedAtDeadline"
    assert alert.callback.path == "airflow.providers.amazon.aws.notifications.sns.SnsNotifier"
    assert alert.callback.kwargs["target_arn"].endswith(":instance-benchmarks-x")
    assert "has not ended 6 h after it was queued" in alert.callback.kwargs["message"]
    serialized = DagSerialization.to_dict(dag)  # what the dag-processor stores for the scheduler
    assert "SnsNotifier" in json.dumps(serialized, default=str)


def test_optional_params_accept_null_as_the_form_sends_them(dagbag):
    """A cleared optional field is submitted as null by the form."""
    import jsonschema

    params = dagbag.get_dag("instance_benchmarks").params
    for name in ("instance_types", "repetitions", "budget_usd", "price_per_hour", "region", "image_registry",
                 "subnet_ids", "security_group_ids", "skip_measured_since"):
        jsonschema.validate(None, params.get_param(name).schema)


def test_the_janitor_is_unpaused_on_creation_and_every_dag_uses_the_deployment_s_connection(monkeypatch):
    """The compose file pauses new DAGs; a safety net must not wait for someone to switch it on."""
    monkeypatch.setenv("INSTANCE_BENCHMARKS_AWS_CONN_ID", "benchmarks_aws")

    bag = DagBag(dag_folder=str(REPO / "dags"))

    assert bag.get_dag("janitor").is_paused_upon_creation is False
    for dag_id in ("instance_benchmarks", "janitor", "catalog_refresh", "results_analysis"):
        assert bag.get_dag(dag_id).params["aws_conn_id"] == "benchmarks_aws", dag_id


def test_every_mapped_host_task_is_named_by_its_host_in_the_grid(dagbag):
    """Issue 28 item 3: `m7i.large #1` in the grid, not `intel [17]`; the names are rendered from the tasks'
    inputs (tests/dags/test_instance_benchmarks.py reads them back from a run)."""
    dag = dagbag.get_dag("instance_benchmarks")

    mapped = [t for t in dag.tasks if t.task_group and t.task_group.group_id in ("intel", "amd", "graviton")]
    assert len(mapped) == 3 * 10
    assert all("host_" in (t.map_index_template or "") for t in mapped), [
        t.task_id for t in mapped if not t.map_index_template]
    assert "host_label" in dag.user_defined_macros


def test_a_run_may_launch_only_where_the_janitor_sweeps(monkeypatch):
    """Issue 28 item 13: the form's region is one the hourly janitor sweeps (the catalog's, AWS_DEFAULT_REGION;
    empty is the connection's, swept too): a run elsewhere would leave what slips through where nothing looks."""
    import jsonschema

    from instance_benchmarks.janitor import regions_to_sweep

    monkeypatch.setenv("INSTANCE_BENCHMARKS_CATALOG_REGIONS", "us-east-1,ap-south-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    region = load_dag("instance_benchmarks").params.get_param("region")  # parsed with the variables above

    for allowed in ("us-east-1", "ap-south-1", "eu-west-1", None):
        jsonschema.validate(allowed, region.schema)
        assert allowed is None or allowed in regions_to_sweep(None, None)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("sa-east-1", region.schema)
    assert "us-east-1, ap-south-1, eu-west-1" in region.description
