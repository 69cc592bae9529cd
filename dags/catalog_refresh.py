"""catalog_refresh: every EC2 instance type, classified, published; a run for each family never measured."""

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
    new_families_per_day,
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
`instance_benchmarks_catalog` Asset).

**New families are measured until they are measured.** The catalog is diffed against what has
been measured (a stored document in the region), not against yesterday's catalog: each day the
families with benchmarkable types never measured there, newest generation first and at most
`families_per_day` of them (`$INSTANCE_BENCHMARKS_NEW_FAMILIES_PER_DAY`, 1: a new deployment works
through the catalog's backlog a family a day), each trigger one `instance_benchmarks` run of those
types, `new_family__<family>__<day>`, with the weekly settings (profile, time budget, hosts per type,
the weekly budget) so their figures compare with the weekly data from the first day. A failed run
leaves the types unmeasured: the next day tries again; a re-run of the same day finds its run and
skips.
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
        "families_per_day": Param(new_families_per_day(), type="integer", minimum=0, maximum=50,
                                  title="Families measured per day",
                                  description="Of the families with types never measured, newest first "
                                  "($INSTANCE_BENCHMARKS_NEW_FAMILIES_PER_DAY). Each run costs up to the weekly "
                                  "budget."),
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
                                            results_uri=params["results_uri"], date=context["ds"],
                                            families_per_day=params["families_per_day"])
        except NoCredentialsError as exc:  # AWS not set up at all (a laptop's `make up`): not a failure each day
            raise AirflowSkipException(f"no AWS credentials for {params['aws_conn_id']} (the connection, the "
                                       "workers' environment or an instance role): nothing to refresh") from exc
        context["outlet_events"][CATALOG].extra = {"region": region, "uri": result["uri"],
                                                   "new_families": result["new_families"]}
        return result

    @task
    def new_family_runs(refreshed: list[dict]) -> list[dict]:
        """One instance_benchmarks run per family to measure, of its unmeasured types in its region, with the
        weekly settings; named by the family and the day, so a re-run of the day finds it instead of a second."""
        from instance_benchmarks.params import weekly_settings

        context = get_current_context()
        params = context["params"]
        if not params["trigger_new_families"]:
            return []
        return [{"trigger_run_id": f"new_family__{family}__{context['ds']}",
                 "conf": {"target": "aws", "instance_types": types, "region": result["region"],
                          "aws_conn_id": params["aws_conn_id"], "results_uri": params["results_uri"],
                          **weekly_settings("aws")}}
                for result in refreshed for family, types in result["new_families"].items()]

    runs = new_family_runs(refresh.expand(region=regions()))
    TriggerDagRunOperator.partial(task_id="benchmark_new_family", trigger_dag_id="instance_benchmarks",
                                  logical_date=None, skip_when_already_exists=True).expand_kwargs(runs)


dag = catalog_refresh()

if __name__ == "__main__":
    dag.test()
