"""moto's whole catalog through `dag.test()`: the dry run, and the same types really mapped.

1. `dry_run=true` over `all`: the run's wall time and the plan task's time per type.
2. `--mapped`: the same types mapped into the family groups (ten task instances each) in an
   account whose vCPU quotas are all 0, so that every `quota_check` runs and skips and nothing
   launches: the wall time of scheduling and running the whole catalog's task instances, and the
   overhead per task instance. This is the scale of a full-catalog run minus the benchmarks.

Against moto_server on 127.0.0.1 and the tests' AWS-gap fakes (Service Quotas, Price List);
nothing reaches AWS. A fresh AIRFLOW_HOME with a migrated SQLite database. Prints figures, never asserts:

    .venv/bin/python benchmarks/catalog_dag_test.py [--mapped] [--instance-types all]
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))
sys.path.insert(0, str(REPO))
HOME = Path(tempfile.mkdtemp(prefix="catalog-dag-test-"))
os.environ.update({"AIRFLOW_HOME": str(HOME), "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                   "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AWS_ACCESS_KEY_ID": "testing",
                   "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"})
BUCKET, REGION = "catalog-scale", "us-east-1"


def aws_world(endpoint: str, monkeypatch, *, quotas: dict[str, float]) -> None:
    """A fresh moto account with the bucket and instance profile; the gap fakes installed."""
    import boto3
    import requests
    from tests.fakes.aws import AwsGaps, FakeSsm
    from tests.fakes.pricing import FakePriceList
    from tests.fakes.service_quotas import FakeServiceQuotas

    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()

    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({
        "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": {"endpoint_url": endpoint, "region_name": REGION}}))
    boto3.client("s3", region_name=REGION, endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    boto3.client("iam", region_name=REGION, endpoint_url=endpoint).create_instance_profile(
        InstanceProfileName="instance-benchmarks")
    gaps = AwsGaps().install(monkeypatch)
    gaps.add_service_quotas(FakeServiceQuotas(quotas))
    gaps.add_price_list(FakePriceList())
    FakeSsm(endpoint_url=endpoint).install(gaps)  # never reached: nothing launches


def run(dag, conf: dict) -> tuple[float, object]:
    started = time.monotonic()
    dag_run = dag.test(run_conf=conf)
    return time.monotonic() - started, dag_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mapped", action="store_true", help="also map every type (quotas 0: all skip)")
    parser.add_argument("--instance-types", nargs="+", default=["all"],
                        help="what to plan and map, as the DAG's param (default: all; e.g. m7i c7g for a quick look)")
    args = parser.parse_args()

    import boto3
    import pytest
    from moto.server import ThreadedMotoServer

    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    logging.disable(logging.WARNING)
    from tests.fakes.service_quotas import DEFAULT_QUOTAS

    from instance_benchmarks.cli import load_dag
    from instance_benchmarks.results import safe_segment

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    conf = {"target": "aws", "instance_types": args.instance_types, "results_uri": f"s3://{BUCKET}/scale",
            "aws_max_attempts": 2, "profile": "quick"}
    with pytest.MonkeyPatch.context() as monkeypatch:
        aws_world(endpoint, monkeypatch, quotas={})
        seconds, dag_run = run(load_dag(), {**conf, "dry_run": True})
        plan_ti = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "plan")
        summary = json.loads(boto3.client("s3", region_name=REGION, endpoint_url=endpoint).get_object(
            Bucket=BUCKET, Key=f"scale/plans/{safe_segment(dag_run.run_id)}.summary.json")["Body"].read())
        print(f"dry run: {dag_run.state} in {seconds:.1f} s for {summary['types']} types; plan task "
              f"{plan_ti.duration:.1f} s ({plan_ti.duration / summary['types'] * 1000:.1f} ms per type); "
              f"{len(dag_run.get_task_instances())} task instances", flush=True)

    if not args.mapped:
        return
    with pytest.MonkeyPatch.context() as monkeypatch:
        aws_world(endpoint, monkeypatch, quotas={code: 0.0 for code, _, _ in DEFAULT_QUOTAS})
        # A fresh DAG: reusing the object, this second dag.test() planned as a dry run again (seen here).
        seconds, dag_run = run(load_dag(), conf)
        tis = dag_run.get_task_instances()
        states = collections.Counter(str(getattr(ti.state, "value", ti.state)) for ti in tis)
        ran = [ti for ti in tis if ti.hostname]  # a task runner ran it (the rest the scheduler skipped)
        checks = [ti for ti in ran if ti.task_id.endswith(".quota_check")]
        in_checks = sum(ti.duration for ti in checks)
        checks_wall = (max(ti.end_date for ti in checks) - min(ti.start_date for ti in checks)).total_seconds()
        cascade = (dag_run.end_date - max(ti.end_date for ti in checks)).total_seconds()
        skipped_by_scheduler = len(tis) - len(ran)
        print(f"mapped run: {dag_run.state} in {seconds:.0f} s; {len(tis)} task instances {dict(states)}")
        print(f"{len(checks)} quota checks, one at a time: {checks_wall:.0f} s wall, {in_checks:.0f} s inside them "
              f"({in_checks / len(checks) * 1000:.0f} ms each; {(checks_wall - in_checks) / len(checks) * 1000:.0f} ms "
              f"of task start-up and scheduling each)")
        print(f"then the scheduler skipped {skipped_by_scheduler} task instances in {cascade:.0f} s "
              f"({cascade / skipped_by_scheduler * 1000:.0f} ms each: trigger-rule checks in mapped groups)")
    server.stop()


if __name__ == "__main__":
    main()
