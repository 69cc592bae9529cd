"""make run's entry point: conf parsing errors are the user's, said plainly."""

from __future__ import annotations

import pytest

from instance_benchmarks import cli


@pytest.mark.parametrize(("conf", "message"), [("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object")])
def test_bad_conf_is_refused_before_anything_runs(conf, message, capsys):
    with pytest.raises(SystemExit) as excinfo:
        cli.main(["run", "--conf", conf])

    assert excinfo.value.code == 2
    assert message in capsys.readouterr().err


def _runs_of(dag_id: str) -> int:
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(select(func.count()).select_from(DagRun).where(DagRun.dag_id == dag_id))


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize(("conf", "param"), [
    ({"target": "aws", "instance_types": ["m7i.large\n"]}, "instance_types"),  # the README's check
    ({"target": "aws", "instance_types": ["m7i.large"], "aws_conn_id": "prod_admin"}, "aws_conn_id"),
    ({"results_uri": "file:///etc/airflow"}, "results_uri"),
    ({"target": "aws", "instance_types": ["m7i.large"], "image_registry": "evil.example/runner"}, "image_registry"),
])
def test_make_run_refuses_a_conf_the_form_would_naming_the_param_and_runs_nothing(conf, param, capsys):
    import json

    before = _runs_of(cli.DAG_ID)

    assert cli.main(["run", "--conf", json.dumps(conf)]) == 2

    assert f"The DAG conf was refused: Invalid input for param {param}:" in capsys.readouterr().err
    assert _runs_of(cli.DAG_ID) == before


def test_make_run_prints_the_counted_clock_beside_the_kernel_s_and_says_when_there_is_none():
    reading = {"median_mhz": 3722.0, "min_mhz": 3716.8, "max_mhz": 3727.2, "samples": 2}
    counted = {"before": {"median_mhz": 2600.0, "min_mhz": 2600.0, "max_mhz": 2600.0, "samples": 2},
               "during": {"median_mhz": 2600.0, "min_mhz": 2600.0, "max_mhz": 2600.0, "samples": 42,
                          "note": "every sample equal: likely the nominal clock the kernel reports"},
               "calibrated": {"method": "loop", "before": {"scalar": {**reading, "median_mhz": 4136.3},
                                                           "vector": {**reading, "median_mhz": 3774.0}},
                              "during": {"vector": reading}}}

    lines = cli._clock_lines(counted)

    assert lines[0] == ("  Core clock during HPL, counted: 3722 MHz under vector load (idle before it: 4136 scalar, "
                        "3774 vector)")
    assert lines[1].startswith("  Core clock during HPL, /proc/cpuinfo: median 2600 MHz") and "nominal" in lines[1]
    unbuilt = cli._clock_lines({"calibrated": {"method": None, "note": "not measured: no working C compiler"}})
    assert unbuilt == ["  Core clock not counted: not measured: no working C compiler"]


def test_make_run_prints_where_the_host_stops_scaling():
    doc = {"stream": {"scaling": {"share": 0.9, "threads_to_share": 2, "points": [
        {"threads": 1, "median_mb_s": 20540.8}, {"threads": 2, "median_mb_s": 39789.3}]}},
           "hpl": {"scaling": {"points": [
               {"scope": "one-core", "cores": 1, "gflops": 66.47, "parallel_efficiency": 1.0},
               {"scope": "node0", "cores": 4, "error": "HPL N=9000 did not finish within 120 s"},
               {"scope": "all-cores", "cores": 2, "gflops": 126.7, "parallel_efficiency": 0.9531}]}}}

    assert cli._scaling_lines(doc) == [
        "  Scaling, STREAM triad GB/s by threads: 20.5 on 1, 39.8 on 2; 90% of all cores from 2 thread(s)",
        "  Scaling, HPL GFLOPS by cores (parallel efficiency): 66.5 on 1 (1.00), node0: failed, 126.7 on 2 (0.95)"]
    assert cli._scaling_lines({"stream": {}, "hpl": {}}) == []  # quick: no scaling section
