"""The UI path, in a real browser against a real `airflow api-server`: the trigger forms are the front door.

dag.test() and the REST API validate params with jsonschema; the UI's form has rules of its own
(a typed, non-null param is required and an empty one disables Trigger), so only a browser proves
that a user can start a run. Runs are created, not executed (no scheduler here): what they do is
tested through dag.test() elsewhere. Screenshots land in .build/test-output/ui/.
"""

from __future__ import annotations

import pytest

from tests.conftest import SCREENSHOTS
from tests.ui.browser import (
    DAG_IDS,
    api,
    choose,
    chromium_page,
    open_form,
    run_count,
    run_of,
    submit,
    trigger_with_defaults,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.usefixtures("airflow_db")]


@pytest.fixture(scope="module")
def page():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_page() as page:
        yield page


@pytest.fixture(scope="module")
def created(ui_api_server):
    """Runs the tests created, deleted at the end (nothing executes them, they would stay queued)."""
    runs: list[tuple[str, str]] = []
    yield runs
    for dag_id, run_id in runs:
        api(ui_api_server, f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", method="DELETE")


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_every_form_submits_with_its_defaults(ui_api_server, page, created, dag_id):
    before = run_count(ui_api_server, dag_id)

    done = trigger_with_defaults(page, ui_api_server, dag_id, SCREENSHOTS / f"{dag_id}-form.png")

    assert done.enabled, f"Trigger is disabled; fields marked invalid: {done.invalid_fields}"
    assert done.run_id, done.message
    created.append((dag_id, done.run_id))
    assert run_count(ui_api_server, dag_id) == before + 1
    run = run_of(ui_api_server, dag_id, done.run_id)
    assert run["run_type"] == "manual"
    if dag_id == "instance_benchmarks":
        assert run["conf"]["target"] == "local" and run["conf"]["instance_types"] in (None, [])
        page.wait_for_selector("text=plan")
        page.screenshot(path=str(SCREENSHOTS / "instance_benchmarks-run-grid.png"))
        grid = page.inner_text("body")
        assert all(group in grid for group in ("plan", "intel", "amd", "graviton", "analyze"))


def test_target_aws_with_two_types_one_per_line_is_submitted_as_a_user_types_them(ui_api_server, page, created):
    """Issue 28 item 2: the field says how to enter two types, and two lines are two types in the conf."""
    dialog = open_form(page, ui_api_server, "instance_benchmarks")
    choose(page, "target", "aws")
    assert "One per line" in dialog.inner_text()
    page.locator("#element_instance_types").fill("m7i.large\nc7g")

    done = submit(page, dialog, "instance_benchmarks")

    assert done.run_id, done.message
    created.append(("instance_benchmarks", done.run_id))
    conf = run_of(ui_api_server, "instance_benchmarks", done.run_id)["conf"]
    assert conf["target"] == "aws" and conf["instance_types"] == ["m7i.large", "c7g"]
    assert conf["image_registry"] is None and conf["aws_conn_id"] == "aws_default"


def test_a_bad_value_is_refused_and_the_message_names_the_param(ui_api_server, page):
    before = run_count(ui_api_server, "instance_benchmarks")
    dialog = open_form(page, ui_api_server, "instance_benchmarks")
    page.locator("#element_instance_types").fill("m7i.large\nm7i.large;reboot")

    done = submit(page, dialog, "instance_benchmarks")
    dialog.get_by_text("Invalid input for param").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "instance_benchmarks-refused.png"))

    assert done.run_id is None
    assert "Invalid input for param instance_types" in done.message and "m7i.large;reboot" in done.message
    # Issue 28 item 2: an example to copy, not the regex
    assert "'one per line: an instance type such as m7i.large, a family such as c7g, or all' was expected" \
        in done.message, done.message
    assert run_count(ui_api_server, "instance_benchmarks") == before


def test_a_results_uri_outside_the_deployment_s_prefixes_is_refused_naming_it(ui_api_server, page):
    before = run_count(ui_api_server, "instance_benchmarks")
    dialog = open_form(page, ui_api_server, "instance_benchmarks")
    page.locator("#element_results_uri").fill("s3://bench-results/../someone-elses")

    done = submit(page, dialog, "instance_benchmarks")

    assert done.run_id is None
    assert "Invalid input for param results_uri" in done.message
    assert run_count(ui_api_server, "instance_benchmarks") == before


def test_every_pattern_means_the_same_in_the_browser_as_in_python(page):
    """The form's patterns are checked by the api-server (Python's `re`) and may be by the browser (ECMAScript,
    with or without the `u` flag): each must compile in both and give the same verdict on the same values."""
    import re

    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    bag = DagBag(dag_folder=str(REPO / "dags"))
    patterns, samples = set(), {"", "m7i.large", "us-east-1", "aws_default", "s3://bench-results/x/../y",
                                "s3://bench-results/%2E%2e", "127.0.0.1:5000/runner", "evil.example/runner",
                                "subnet-0123456789abcdef0", "sg-0123456789abcdef0"}
    for dag in bag.dags.values():
        for name in dag.params:
            schema = dag.params.get_param(name).schema
            schema = schema.get("items") or schema
            pattern = schema.get("pattern") or (schema.get("if") or {}).get("pattern")  # explained() puts it in if
            if pattern:
                patterns.add(pattern)
                default = dag.params[name]
                for value in default if isinstance(default, list) else [default]:
                    if isinstance(value, str):
                        samples |= {value, value + "\n", value + "/..", value + "/ok", value + "x"}
    verdicts = page.evaluate("""([patterns, samples]) => patterns.map(p => ['', 'u'].map(
        flags => samples.map(s => new RegExp(p, flags).test(s))))""", [sorted(patterns), sorted(samples)])

    assert len(patterns) >= 6
    for pattern, (plain, unicode) in zip(sorted(patterns), verdicts, strict=True):
        python = [re.search(pattern, s) is not None for s in sorted(samples)]
        assert plain == python == unicode, pattern
        assert any(python) and not all(python), pattern  # each pattern both admits and refuses a sample


def test_a_cleared_optional_field_still_submits(ui_api_server, page, created):
    """Typing a type and then clearing it (target=local needs none) must not lock the form."""
    dialog = open_form(page, ui_api_server, "instance_benchmarks")
    field = page.locator("#element_instance_types")
    field.fill("m7i.large")
    field.fill("")

    done = submit(page, dialog, "instance_benchmarks")

    assert done.enabled, f"fields marked invalid: {done.invalid_fields}"
    assert done.run_id, done.message
    created.append(("instance_benchmarks", done.run_id))


def test_the_benchmarks_entry_of_the_navigation_opens_the_report(ui_api_server, page):
    page.goto(f"{ui_api_server}/")
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Benchmarks").click()
    page.wait_for_url("**/plugin/benchmarks**")  # the UI's page for the plugin's view, the report in an iframe
    page.wait_for_selector("iframe")
    (report,) = [f for f in page.frames if f is not page.main_frame and f.url.rstrip("/").endswith("/benchmarks")]
    report.wait_for_selector("svg")
    page.screenshot(path=str(SCREENSHOTS / "benchmarks-in-the-ui.png"), full_page=True)

    assert "EC2 instance benchmarks" in report.inner_text("body")
    assert report.locator("svg").count() >= 3  # triad, HPL, price-performance


def test_the_grid_names_each_mapped_host_by_its_type(ui_api_server, page, local_run):
    """Issue 28 item 3: a mapped host's tasks are listed as `<type> #1`, not by their index in the family."""
    import urllib.parse

    dag_run, _ = local_run
    run = urllib.parse.quote(dag_run.run_id, safe="")
    instances = api(ui_api_server, f"/api/v2/dags/instance_benchmarks/dagRuns/{run}/taskInstances?limit=200")
    (stream,) = [ti for ti in instances["task_instances"] if ti["task_id"].endswith(".run_stream")
                 and ti["map_index"] >= 0]
    name = stream["rendered_map_index"]
    assert name and name.endswith(" #1"), stream

    page.goto(f"{ui_api_server}/dags/instance_benchmarks/runs/{run}/tasks/{stream['task_id']}/mapped")
    page.wait_for_selector(f"text={name}")
    page.screenshot(path=str(SCREENSHOTS / "instance_benchmarks-mapped-hosts.png"))


def test_the_run_s_analyze_task_links_to_the_run_s_own_report(ui_api_server, page, local_run):
    """Issue 28 item 11: each run keeps its report (reports/runs/<run_id>/), one click from the run: the analyze
    task's 'Run report' link, which the plugin serves; no other task carries one."""
    import urllib.parse

    dag_run, _ = local_run
    run = urllib.parse.quote(dag_run.run_id, safe="")
    instances = f"/api/v2/dags/instance_benchmarks/dagRuns/{run}/taskInstances"

    link = api(ui_api_server, f"{instances}/analyze/links")["extra_links"]["Run report"]
    assert link == f"{ui_api_server}/benchmarks/runs/{run}"
    assert api(ui_api_server, f"{instances}/plan/links")["extra_links"]["Run report"] is None  # not offered
    page.goto(link)
    page.wait_for_selector("svg")
    assert dag_run.run_id in page.inner_text("body")  # the report names its run
