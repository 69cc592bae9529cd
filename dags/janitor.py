"""janitor: hourly, terminate project-tagged EC2 instances past their expiry or whose run ended."""

from __future__ import annotations

import datetime
import logging

from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from instance_benchmarks.notifications import failure_notifiers
from instance_benchmarks.params import (
    HOUSEKEEPING_DEFAULT_ARGS,
    REGION_PATTERN,
    aws_conn_id_param,
)

log = logging.getLogger(__name__)

DOC_MD = """
### Janitor

Hourly sweep of the instances `instance_benchmarks` launched (tag `project=instance-benchmarks`;
nothing without that tag is ever touched). It terminates an instance when its time-to-live (tag
`ttl-seconds`, from its launch) has passed, or when the DAG run named by its `dag-id`/`run-id` tags
has ended in this deployment, and logs every decision. `dry_run` logs what it would terminate.

It sweeps every region this deployment launches in: the `regions` param, the catalog's
(`$INSTANCE_BENCHMARKS_CATALOG_REGIONS`, where new families launch) and the connection's own
(`region_name`, else `AWS_DEFAULT_REGION`), through `$INSTANCE_BENCHMARKS_AWS_CONN_ID`. A region
it cannot sweep (access denied, unreachable) fails the run, loudly, after the others are swept;
only where AWS is not set up at all (no credentials: a laptop running `target=local` only) does
it skip, saying so. It is created unpaused, even where new DAGs start paused.
"""


@dag(
    dag_id="janitor",
    schedule="@hourly",
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,  # a safety net must not wait for someone to switch it on
    default_args=HOUSEKEEPING_DEFAULT_ARGS,
    params={
        "dry_run": Param(False, type="boolean", title="Dry run",
                         description="Log what would be terminated; terminate nothing."),
        "aws_conn_id": aws_conn_id_param("Sweeps through it ($INSTANCE_BENCHMARKS_AWS_CONN_ID)."),
        "regions": Param(None, type=["null", "array"], uniqueItems=True,
                         items={"type": "string", "pattern": REGION_PATTERN}, title="More regions",
                         description="Swept besides the catalog's ($INSTANCE_BENCHMARKS_CATALOG_REGIONS) and the "
                         "connection's own."),
    },
    doc_md=DOC_MD,
    on_failure_callback=failure_notifiers(),  # one SNS message per failed run, when configured
    tags=["benchmarks", "ec2", "janitor"],
)
def janitor():
    @task
    def sweep() -> dict:
        from airflow.providers.amazon.aws.hooks.ec2 import EC2Hook
        from botocore.config import Config

        from instance_benchmarks import janitor as janitor_module

        context = get_current_context()
        params, ti = context["params"], context["ti"]
        config = Config(retries={"mode": "standard", "total_max_attempts": 10})

        def run_state(dag_id: str, run_id: str) -> str | None:
            try:
                found = ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
            except Exception:  # noqa: BLE001 - a run this deployment does not know: leave it to the expiry
                log.info("No DAG run %s/%s here: its instances are left to their expiry", dag_id, run_id)
                return None
            return str(getattr(found, "value", found))

        def client_for(region: str):
            return EC2Hook(aws_conn_id=params["aws_conn_id"], region_name=region, api_type="client_type",
                           config=config).conn

        own = EC2Hook(aws_conn_id=params["aws_conn_id"], api_type="client_type").region_name
        regions = janitor_module.regions_to_sweep(params["regions"], own)
        log.info("Sweeping %s through %s", regions, params["aws_conn_id"])
        try:
            return janitor_module.sweep_regions(client_for, regions, now=datetime.datetime.now(datetime.UTC),
                                                run_state=run_state, dry_run=params["dry_run"])
        except janitor_module.NothingToSweep as exc:
            raise AirflowSkipException(f"AWS is not set up for {params['aws_conn_id']} ({exc}): nothing to "
                                       "sweep") from exc

    sweep()


dag = janitor()

if __name__ == "__main__":
    dag.test()
