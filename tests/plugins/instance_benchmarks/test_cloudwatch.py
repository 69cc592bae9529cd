"""CloudWatch metrics from a real stored document, put into moto and read back."""

from __future__ import annotations

import datetime
import json

import boto3

from instance_benchmarks import analysis, cloudwatch
from tests.conftest import FIXTURES

DOC = json.loads((FIXTURES / "documents" / "valid" / "local-amd-epyc-quick.json").read_text())


def test_every_sample_is_a_value_with_the_documented_dimensions():
    data = cloudwatch.metric_data(DOC)

    triad = [d for d in data if d["MetricName"] == "stream/triad"]
    hpl = [d for d in data if d["MetricName"] == "hpl/gflops"]
    assert triad and len(hpl) == 1
    assert [(dim["Name"], dim["Value"]) for dim in hpl[0]["Dimensions"]][3:] == [("Placement", "1x1 ranks"),
                                                                                ("Profile", "quick")]
    # Every sample is sent, though a STREAM row has no HPL N and an HPL row no STREAM variant (null keys).
    assert sum(len(d["Values"]) for d in data) == len(analysis.rows_frame([DOC]))
    assert hpl[0]["Values"] == [run["gflops"] for run in DOC["hpl"]["runs"]] and hpl[0]["Unit"] == "None"
    all_cores = next(m for m in DOC["stream"]["measurements"] if m["placement"] == triad[0]["Dimensions"][3]["Value"])
    assert triad[0]["Values"] == [rep["kernels"]["triad"]["best_rate_mb_s"] / 1000 for rep in all_cores["repetitions"]]
    assert triad[0]["Unit"] == "Gigabytes/Second"


def test_metrics_land_in_the_namespace(moto_env):
    sent = cloudwatch.put_document_metrics(DOC, aws_conn_id=None, region_name="us-east-1")

    client = boto3.client("cloudwatch", region_name="us-east-1")
    metrics = client.list_metrics(Namespace="InstanceBenchmarks")["Metrics"]
    distinct = {(m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in metrics}
    assert sent == len(cloudwatch.metric_data(DOC)) == len(distinct)  # moto lists a metric once per value
    hpl = next(m for m in metrics if m["MetricName"] == "hpl/gflops")
    stamp = datetime.datetime.fromisoformat(DOC["finished_at"])
    stats = client.get_metric_statistics(Namespace="InstanceBenchmarks", MetricName="hpl/gflops",
                                         Dimensions=hpl["Dimensions"], StartTime=stamp - datetime.timedelta(hours=1),
                                         EndTime=stamp + datetime.timedelta(hours=1), Period=3600,
                                         Statistics=["SampleCount", "Maximum"])["Datapoints"]
    assert stats[0]["SampleCount"] == len(DOC["hpl"]["runs"])
    assert stats[0]["Maximum"] == max(run["gflops"] for run in DOC["hpl"]["runs"])


def test_a_test_profile_document_puts_no_metric(moto_env, caplog):
    from tests.fakes.documents import test_profile_document

    with caplog.at_level("INFO"):
        sent = cloudwatch.put_document_metrics(test_profile_document(), aws_conn_id=None, region_name="us-east-1")

    assert sent == 0 and cloudwatch.metric_data(test_profile_document()) == []
    assert boto3.client("cloudwatch", region_name="us-east-1").list_metrics(Namespace="InstanceBenchmarks")[
        "Metrics"] == []
    assert "holds no figure (test profile)" in caplog.text


def test_the_dashboard_from_the_repo_s_definition_charts_the_metrics_the_documents_put(moto_env, capsys):
    """Issue 28 item 14: `python -m instance_benchmarks.cli dashboard` creates it; each chart searches a metric, with
    the dimensions and profile, that put_document_metrics really puts, and asks for the samples' spread."""
    import re

    from instance_benchmarks import cli

    assert cli.main(["dashboard", "--region", "us-east-1", "--profile", "quick",
                     "--report", "s3://bench-results/prod/reports/latest/index.html"]) == 0

    assert "#dashboards:name=instance-benchmarks" in capsys.readouterr().out
    client = boto3.client("cloudwatch", region_name="us-east-1")
    body = json.loads(client.get_dashboard(DashboardName="instance-benchmarks")["DashboardBody"])
    (text,) = [w for w in body["widgets"] if w["type"] == "text"]
    assert "s3://bench-results/prod/reports/latest/index.html" in text["properties"]["markdown"]
    put = {(d["MetricName"], frozenset((x["Name"], x["Value"]) for x in d["Dimensions"]))
           for d in cloudwatch.metric_data(DOC)}  # the quick-profile document's metrics
    searches = [m["expression"] for w in body["widgets"] if w["type"] == "metric" for row in w["properties"]["metrics"]
                for m in row]
    assert len(searches) == 7
    statistics = set()
    for search in searches:
        schema, terms, statistic = re.fullmatch(r"SEARCH\('\{(.+?)\} (.+)', '(.+)', 86400\)", search).groups()
        namespace, *dimensions = schema.split(",")
        wanted = dict(re.findall(r'(\w+)="([^"]+)"', terms))
        assert namespace == cloudwatch.NAMESPACE and wanted["Profile"] == "quick"
        matches = [dims for name, dims in put if name == wanted["MetricName"]
                   and {n for n, _ in dims} == set(dimensions)
                   and all((n, v) in dims for n, v in wanted.items() if n != "MetricName")]
        assert matches, search  # the chart finds what a stored document puts
        statistics.add(statistic)
    assert statistics == {"Average", "p2.5", "p97.5"}
    assert {w["properties"]["region"] for w in body["widgets"] if w["type"] == "metric"} == {"us-east-1"}
