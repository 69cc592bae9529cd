"""catalog_refresh: every EC2 instance type, classified, published; a run for each new family."""

from __future__ import annotations

import datetime

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Asset, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from instance_benchmarks.notifications import failure_notifiers
from instance_benchmarks.params import (
    HOUSEKEEPING_DEFAULT_ARGS,
    REGION_PATTERN,
    aws_conn_id_param,
    catalog_regions,
    results_uri_param,
)

CATALOG = Asset(name="instance_benchmarks_catalog")

DOC_MD = """
### Catalog refresh

Daily, per configured region: DescribeInstanceTypes and DescribeInstanceTypeOfferings (both through
boto3's paginators), each type classified (family, generation, architecture family, processor,
current generation, bare metal, burstable, accelerators) and, if it is left out of `all`, why
(previous generation; GPU, FPGA, Inferentia or Trainium accelerators; a processor with no task
group). Published as Parquet under `<results_uri>/catalog/region=<r>/` (the
`instance_benchmarks_catalog` Asset). Diffed against the previous catalog: each new benchmarkable
family triggers one `instance_benchmarks` run for its types (the backfill of new families; it
shows in the UI as a triggered run). The first catalog of a region is the baseline: nothing is
triggered for it.
"""


@dag(
    dag_id="catalog_refresh",
    schedule="@daily",
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=HOUSEKEEPING_DEFAULT_ARGS,
    params={
        "regions": Param(catalog_regions(), type="array", minItems=1, uniqueItems=True,
                         items={"type": "string", "pattern": REGION_PATTERN},
                         title="Regions",
                         description="Where to read the catalog ($INSTANCE_BENCHMARKS_CATALOG_REGIONS)."),
        "aws_conn_id": aws_conn_id_param("Reads the catalog."),
        "results_uri": results_uri_param("The catalog is published under catalog/ here."),
        "trigger_new_families": Param(True, type="boolean", title="Trigger runs for new families"),
    },
    doc_md=DOC_MD,
    on_failure_callback=failure_notifiers(),  # one SNS message per failed run, when configured
    tags=["benchmarks", "ec2", "catalog"],
)
def catalog_refresh():
    @task
    def regions() -> list[str]:
        return list(get_current_context()["params"]["regions"])

    @task(outlets=[CATALOG])
    def refresh(region: str) -> dict:
        from botocore.exceptions import NoCredentialsError

        from instance_benchmarks import catalog_refresh as refresh_module

        context = get_current_context()
        params = context["params"]
        try:
            result = refresh_module.refresh(region=region, aws_conn_id=params["aws_conn_id"],
                                            results_uri=params["results_uri"], date=context["ds"])
        except NoCredentialsError as exc:  # AWS not set up at all (a laptop's `make up`): not a failure each day
            raise AirflowSkipException(f"no AWS credentials for {params['aws_conn_id']} (the connection, the "
                                       "workers' environment or an instance role): nothing to refresh") from exc
        context["outlet_events"][CATALOG].extra = {"region": region, "uri": result["uri"],
                                                   "new_families": result["new_families"]}
        return result

    @task
    def new_family_runs(refreshed: list[dict]) -> list[dict]:
        """One instance_benchmarks conf per new family, for its types in its region."""
        params = get_current_context()["params"]
        if not params["trigger_new_families"]:
            return []
        return [{"target": "aws", "instance_types": [family], "region": result["region"],
                 "aws_conn_id": params["aws_conn_id"], "results_uri": params["results_uri"]}
                for result in refreshed for family in result["new_families"]]

    runs = new_family_runs(refresh.expand(region=regions()))
    TriggerDagRunOperator.partial(task_id="benchmark_new_family", trigger_dag_id="instance_benchmarks").expand(
        conf=runs)


dag = catalog_refresh()

if __name__ == "__main__":
    dag.test()
