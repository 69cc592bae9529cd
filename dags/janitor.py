"""janitor: hourly, terminate project-tagged EC2 instances past their expiry or whose run ended."""

from __future__ import annotations

import datetime
import logging

from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from instance_benchmarks.params import CONN_ID_PATTERN, HOUSEKEEPING_DEFAULT_ARGS, REGION_PATTERN

log = logging.getLogger(__name__)

DOC_MD = """
### Janitor

Hourly sweep of the instances `instance_benchmarks` launched (tag `project=instance-benchmarks`;
nothing without that tag is ever touched). It terminates an instance when its time-to-live (tag
`ttl-seconds`, from its launch) has passed, or when the DAG run named by its `dag-id`/`run-id` tags
has ended in this deployment, and logs every decision. `dry_run` logs what it would terminate.
Without AWS credentials or a region (a laptop running `target=local` only) it skips, saying so.
"""


@dag(
    dag_id="janitor",
    schedule="@hourly",
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=HOUSEKEEPING_DEFAULT_ARGS,
    params={
        "dry_run": Param(False, type="boolean", title="Dry run",
                         description="Log what would be terminated; terminate nothing."),
        "aws_conn_id": Param("aws_default", type="string", pattern=CONN_ID_PATTERN,
                             title="AWS connection id"),
        "region": Param(None, type=["null", "string"], pattern=REGION_PATTERN,
                        title="Region", description="Empty: the connection's region_name."),
    },
    doc_md=DOC_MD,
    tags=["benchmarks", "ec2", "janitor"],
)
def janitor():
    @task
    def sweep() -> dict:
        from airflow.providers.amazon.aws.hooks.ec2 import EC2Hook
        from botocore.config import Config
        from botocore.exceptions import NoCredentialsError, NoRegionError

        from instance_benchmarks import janitor as janitor_module

        context = get_current_context()
        params, ti = context["params"], context["ti"]

        def run_state(dag_id: str, run_id: str) -> str | None:
            try:
                found = ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
            except Exception:  # noqa: BLE001 - a run this deployment does not know: leave it to the expiry
                log.info("No DAG run %s/%s here: its instances are left to their expiry", dag_id, run_id)
                return None
            return str(getattr(found, "value", found))

        try:
            client = EC2Hook(aws_conn_id=params["aws_conn_id"], region_name=params["region"] or None,
                             api_type="client_type",
                             config=Config(retries={"mode": "standard", "total_max_attempts": 10})).conn
        except NoRegionError as exc:  # AWS not set up at all (a laptop's `make up`): nothing can have launched
            raise AirflowSkipException(f"no AWS region for {params['aws_conn_id']} (nor the region param, nor "
                                       "AWS_DEFAULT_REGION): nothing to sweep") from exc
        try:
            return janitor_module.sweep(client, now=datetime.datetime.now(datetime.UTC), run_state=run_state,
                                        dry_run=params["dry_run"])
        except NoCredentialsError as exc:
            raise AirflowSkipException(f"no AWS credentials for {params['aws_conn_id']}: nothing to sweep") from exc

    sweep()


dag = janitor()

if __name__ == "__main__":
    dag.test()
