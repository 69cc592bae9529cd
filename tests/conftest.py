"""Test set-up: Airflow points at this repo's DAGs and an Airflow home inside the repo.

`make test` exports the same variables; the defaults here make a bare `pytest` work too.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"

os.environ.setdefault("AIRFLOW_HOME", str(REPO / ".airflow"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__PARALLELISM", "4")
os.environ.setdefault("BENCHRUN_BUILD_DIR", str(Path(os.environ.get("INSTANCE_BENCHMARKS_CACHE") or REPO / ".build")
                                                / "local"))
# moto_server's request recorder (tests/fakes/s3_access.py) writes here, not into the working tree; read when
# moto is first imported, so set before any test module imports it.
(REPO / ".build").mkdir(exist_ok=True)
os.environ.setdefault("MOTO_RECORDER_FILEPATH", str(REPO / ".build" / "moto_recording"))
# The trigger forms' allowlists (params.py), as a deployment sets them: the tests write under the temporary
# directory and moto's bucket, and pull from this machine's registry (127.0.0.1, the default).
os.environ.setdefault("INSTANCE_BENCHMARKS_RESULTS_PREFIXES",
                      f"{Path(tempfile.gettempdir()).resolve().as_uri()},s3://bench-results")
# This is a test deployment: it allows the runner's test profile (small STREAM arrays, HPL capped at seconds) for the
# tests that check plumbing, not figures. No other deployment sets it (tests/dags/test_instance_benchmarks.py proves
# the refusals without it).
os.environ.setdefault("INSTANCE_BENCHMARKS_ALLOW_TEST_PROFILE", "true")


# The per-instance time budget of the end-to-end runs (quick profile, 2 repetitions). STREAM's arrays follow this
# machine's last-level cache: with the 480 MiB L3 some of these VMs report, calibration and two repetitions on both
# placements took 73 s (benchrun stream --ntimes 10 --repetitions 2, 2026-12-01), and a 60 s budget killed them.
E2E_TIME_BUDGET_S = 120
# The conf of a run that checks plumbing (stages, storage, quarantine, provenance, teardown), not figures: the test
# profile's documents are stored but never enter the dataset, the report's figures or CloudWatch. The budget only
# bounds each command (HPL's share is capped at 2 s): a cold xhpl build on a bare host takes about a minute.
PLUMBING_CONF = {"profile": "test", "repetitions": 2, "time_budget_s": E2E_TIME_BUDGET_S}

# Fake credentials for moto: nothing in the tests reaches AWS.
MOTO_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


# The fixtures that put a test in a slow tier, whatever its module says (pyproject.toml's markers).
TIER_OF_FIXTURE = {"local_run": "e2e", "ui_api_server": "e2e", "docker_engine": "engine", "bare_runner_built": "e2e"}


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture, marker in TIER_OF_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture
def moto_env(monkeypatch):
    """In-process moto with fake credentials, for one test."""
    from moto import mock_aws

    for var, value in MOTO_ENV.items():
        monkeypatch.setenv(var, value)
    with mock_aws():
        yield


@pytest.fixture
def no_aws_anywhere(monkeypatch, tmp_path_factory):
    """A machine with no AWS set-up at all: no variables, no config files, no instance metadata."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION",
                "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path_factory.mktemp("aws") / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path_factory.mktemp("aws") / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask 169.254.169.254 from a test


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated metadata database (migrated once; `make` has usually done it already)."""
    home = Path(os.environ["AIRFLOW_HOME"])
    if not (home / "airflow.db").exists():
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    return home


@pytest.fixture
def fixture_text():
    def read(name: str) -> str:
        return (FIXTURES / name).read_text()

    return read


@contextlib.contextmanager
def moto_server():
    """moto_server on 127.0.0.1 and a free port; yields its endpoint (what a connection's endpoint_url names).

    Empty when it starts: moto's state lives in this process, so what an earlier module's server made (its
    bucket, its instance profile) would still be there."""
    import requests
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    requests.post(f"http://{host}:{port}/moto-api/reset", timeout=10).raise_for_status()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def load_dag(dag_id: str):
    """A DAG of this project, parsed from its file as the dag-processor would (no import errors allowed)."""
    from airflow.dag_processing.dagbag import DagBag

    from instance_benchmarks import cli

    path = cli.DAG_FILE if dag_id == cli.DAG_ID else REPO / "dags" / f"{dag_id}.py"
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


@pytest.fixture(scope="session")
def local_run(airflow_db, tmp_path_factory):
    """One real `target=local` run of instance_benchmarks, shared by the tests that need real results: the
    DAG's, results_analysis's, the plugin's and the browser's.

    Rule-sized on purpose (quick profile, not the test profile): it is the suite's proof that STREAM's arrays
    follow this host's last-level cache, that every run rule passes bare on a real host, and that a real run's
    figures flow into the dataset, the report, the API and the page (60 to 100 s per STREAM on a VM reporting a
    480 MiB L3). Bare: the image path's rule-sized run is test_local_run_uses_the_runner_image_...'s."""
    from instance_benchmarks import cli

    results = tmp_path_factory.mktemp("results")
    conf = {"target": "local", "profile": "quick", "repetitions": 2, "time_budget_s": E2E_TIME_BUDGET_S,
            "results_uri": results.as_uri(), "price_per_hour": 0.0832}
    # No engine answers for this run, whatever this machine has: the bare path (the image path has its own test).
    previous = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = f"unix://{results}/no-engine.sock"
    try:
        dag_run = cli.load_dag().test(run_conf=conf)
    finally:
        if previous is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = previous
    return dag_run, results


@pytest.fixture(scope="session")
def bare_runner_built():
    """STREAM compiled and xhpl built once for the runs that benchmark bare on this machine (under
    BENCHRUN_BUILD_DIR): a cold xhpl build takes about a minute, which a test-profile command's timeout would cut."""
    from instance_benchmarks import BENCHRUN

    proc = subprocess.run([sys.executable, str(BENCHRUN), "build"], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def quick_retries(dag, seconds: float = 1.0):
    """The DAG with its retry delays cut to `seconds` (30 s, doubling, in a deployment): a test that provokes
    retries waits for each, and what it checks is that they happen, not how long they wait."""
    import datetime

    for task in dag.tasks:
        task.retry_delay = datetime.timedelta(seconds=seconds)
        task.max_retry_delay = datetime.timedelta(seconds=seconds)
    return dag


# Screenshots of the browser tests, kept after the run to be looked at (.build/ is ignored by git).
SCREENSHOTS = REPO / ".build" / "test-output" / "ui"


@pytest.fixture(scope="session")
def ui_api_server(local_run, tmp_path_factory):
    """A real `airflow api-server` (every user admin) serving the local run's results under /benchmarks."""
    from tests.ui.browser import api_server

    _, results = local_run
    log = tmp_path_factory.mktemp("api-server") / "api-server.log"
    with api_server({"INSTANCE_BENCHMARKS_RESULTS_URI": results.as_uri()}, log) as base:
        yield base


@pytest.fixture(scope="session")
def docker_engine():
    """This machine's Docker engine and registry (instance_benchmarks.engine), started unless already up.

    Their data roots stay under <cache>/engine between runs (.build/engine, or $INSTANCE_BENCHMARKS_CACHE/engine
    for every clone: .ci/run), so a second `make test` reuses the base images and the image layers; what this
    fixture started it stops, a SIGTERM-killed run too.
    """
    import signal

    from instance_benchmarks import engine

    def interrupted(signum, _frame):  # pytest tears its fixtures down on KeyboardInterrupt, not on SIGTERM
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupted)
    local_engine, registry = engine.Engine(), engine.Registry()
    try:
        local_engine.start()
        registry.start()
        yield local_engine, registry
    finally:
        if registry.started_here:
            registry.stop()
        if local_engine.started_here:
            local_engine.stop()
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def image_builder(docker_engine):
    """The project's image driver on this machine's engine, pushing to its registry, from its Debian bases."""
    from instance_benchmarks import engine, images

    local_engine, registry = docker_engine
    base_for = engine.local_bases(local_engine, registry, {"linux/amd64"})
    return images.ImageBuilder(local_engine.client(timeout=3600),
                               repository=f"{registry.address}/{images.LOCAL_REPOSITORY}", base_for=base_for)


@pytest.fixture(scope="session")
def runner_images(image_builder):
    """The images a family runs on x86-64 (generic, intel), built and pushed once per session, side by side (layers
    cached in <cache>/engine between runs). amd, which no family runs (issue 29), is make test-cold's."""
    from instance_benchmarks import images

    return image_builder.build_all([images.VARIANTS[name] for name in sorted(
        {images.VARIANT_FOR_FAMILY[family] for family in ("intel", "amd")})])
