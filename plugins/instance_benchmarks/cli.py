"""`make run`: run the `instance_benchmarks` DAG once, end to end, and print what it measured.

    python -m instance_benchmarks.cli run [--conf '{"profile": "standard"}']

The DAG runs through `dag.test()`, the same code path as a scheduled run, in
this process. The table is read back from the summary the `analyze` task stored,
so what is printed is exactly what landed under `results_uri`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from instance_benchmarks import BENCHMARK_DAG_ID, PROJECT_ROOT

DAG_ID = BENCHMARK_DAG_ID
DAG_FILE = PROJECT_ROOT / "dags" / "instance_benchmarks_dag.py"  # not instance_benchmarks.py: the package's name


def load_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    if bag.import_errors:
        raise SystemExit(f"the DAG file does not import: {bag.import_errors}")
    return bag.get_dag(DAG_ID)


def _ci(summary: dict[str, Any]) -> str:
    if summary["ci95_high"] is None:
        return f"{summary['mean']:.2f} (one sample: no interval)"
    return f"{summary['mean']:.2f} ± {summary['ci95_high'] - summary['mean']:.2f}"


def _clock_lines(core_clock: dict[str, Any]) -> list[str]:
    """The clock during HPL: counted by the calibrated loop, and as /proc/cpuinfo reports it."""
    lines = []
    calibrated = core_clock.get("calibrated") or {}
    during = ((calibrated.get("during") or {}).get("vector") or {}).get("median_mhz")
    if during:
        before = calibrated.get("before") or {}
        lines.append(f"  Core clock during HPL, counted: {during:.0f} MHz under vector load (idle before it: "
                     f"{(before.get('scalar') or {}).get('median_mhz') or 0:.0f} scalar, "
                     f"{(before.get('vector') or {}).get('median_mhz') or 0:.0f} vector)")
    elif calibrated.get("note"):
        lines.append(f"  Core clock not counted: {calibrated['note']}")
    clock = core_clock.get("during") or {}
    if clock.get("median_mhz"):
        lines.append(f"  Core clock during HPL, /proc/cpuinfo: median {clock['median_mhz']:.0f} MHz "
                     f"({clock['min_mhz']:.0f}-{clock['max_mhz']:.0f}, {clock['samples']} samples)"
                     + (f"; {clock['note']}" if clock.get("note") else ""))
    return lines


def _scaling_lines(doc: dict[str, Any]) -> list[str]:
    """Where the host stops scaling: STREAM triad by threads, HPL per core by scope (standard profile)."""
    lines = []
    stream = (doc.get("stream") or {}).get("scaling")
    if stream:
        points = ", ".join(f"{p['median_mb_s'] / 1000:.1f} on {p['threads']}" for p in stream["points"])
        lines.append(f"  Scaling, STREAM triad GB/s by threads: {points}; {stream['share']:.0%} of all cores from "
                     f"{stream['threads_to_share']} thread(s)")
    hpl = ((doc.get("hpl") or {}).get("scaling") or {}).get("points") or []
    if hpl:
        points = ", ".join(f"{p['gflops']:.1f} on {p['cores']} ({p['parallel_efficiency']:.2f})"
                           if p.get("parallel_efficiency") is not None else f"{p['scope']}: failed"
                           for p in hpl)
        lines.append(f"  Scaling, HPL GFLOPS by cores (parallel efficiency): {points}")
    return lines


def _blas_line(binary: dict[str, Any]) -> str:
    blas = binary.get("blas") or {}
    if not blas.get("kernel"):
        return binary.get("blas_config") or "?"
    verdict = {True: "uses the CPU's widest vectors", False: "FALLBACK: narrower than the CPU's vectors",
               None: "vector width unknown"}[blas.get("matches_cpu")]
    return f"{blas.get('name')} {blas.get('version') or ''}, kernel {blas['kernel']} ({verdict})"


def _ran_in(container: dict[str, Any] | None) -> str:
    if not container or container.get("mode") == "bare":
        why = (container or {}).get("docker_engine")
        return "bare on this host" + (f" (no Docker engine: {why})" if why else "")
    return f"in the runner image {container.get('image')} ({container.get('source')})"


def format_summary(summary: dict[str, Any], *, store: Any = None) -> str:
    """`store`: the ResultStore the documents are read from (its connection opens s3:// URIs)."""
    lines = [f"Run {summary['run_id']}"]
    kernel_order = {kernel: i for i, kernel in enumerate(("copy", "scale", "add", "triad"))}
    stream = sorted((s for s in summary["summaries"] if s["benchmark"] == "stream"),
                    key=lambda s: (s["instance_type"], -s["threads"], kernel_order.get(s["metric"], 9)))
    if stream:
        lines += ["", "STREAM (GB/s, mean ± 95% CI half-width, n repetitions, best of NTIMES each)",
                  f"  {'host':<10} {'placement':<10} {'thr':>3}  {'kernel':<6} {'GB/s':>24} {'n':>3}"]
        for s in stream:
            lines.append(f"  {s['instance_type']:<10} {s['placement']:<10} {s['threads']:>3}  {s['metric']:<6} "
                         f"{_ci(s):>24} {s['n']:>3}")
    plan_lines: list[str] = []
    for uri in summary["documents"]:
        if store is not None:
            path = store.path(uri)
        else:
            from airflow.sdk import ObjectStoragePath

            path = ObjectStoragePath(uri)
        doc = json.loads(path.read_text())
        plan_lines += _plan_lines(doc)
        hpl = doc.get("hpl")
        if not hpl:
            continue
        gflops = next(s for s in summary["summaries"]
                      if s["benchmark"] == "hpl" and s["instance_type"] == doc["provenance"]["instance_type"])
        residuals = ", ".join(f"{r['residual']:.4g}" for r in hpl["runs"])
        passed = all(r["passed"] for r in hpl["runs"])
        lines += ["", "HPL (GFLOPS, mean ± 95% CI half-width)",
                  f"  {doc['provenance']['instance_type']}: {_ci(gflops)} GFLOPS, n={gflops['n']}, "
                  f"N={hpl['n']}, NB={hpl['nb']}, P×Q={hpl['p']}×{hpl['q']}, "
                  f"{hpl['threads_per_rank']} BLAS thread(s) per rank, "
                  f"residuals {residuals} (threshold {hpl['runs'][0]['threshold']:g}): "
                  f"{'PASSED' if passed else 'FAILED'}",
                  f"  CPU: {doc['system']['cpu_model']}, BLAS: {_blas_line(hpl['binary'])}",
                  f"  Ran {_ran_in(doc['provenance'].get('container'))}"]
        lines += _clock_lines(hpl.get("core_clock") or {})
        lines += _scaling_lines(doc)
    lines += _value_lines(summary["summaries"])
    if plan_lines:
        lines += ["", "Plan against actual (seconds; predicted/actual)"] + plan_lines
    if summary.get("stopped"):
        lines += ["", f"Stopped at {summary['stopped']['stage']}: {summary['stopped']['reason']}"]
    lines += ["", "Stored documents:"] + ([f"  {uri}" for uri in summary["documents"]] or ["  (none)"])
    for q in summary["quarantined"]:
        lines.append(f"Quarantined: {q['instance_type']} at {q['uri']}")
        lines += [f"  - {reason}" for reason in q["reasons"]]
    for skipped in summary.get("skipped", []):
        lines.append(f"Skipped: {skipped['instance_type']} at {skipped['stage']}: {skipped['reason']}")
    lines += ["Report:", f"  {summary['report_uri']}"]
    return "\n".join(lines)


def _plan_lines(doc: dict[str, Any]) -> list[str]:
    """Each stage's predicted and actual seconds, and the host's predicted and actual cost."""
    provenance = doc["provenance"]
    stages = ", ".join(
        f"{row['stage']} {row['predicted_s'] if row['predicted_s'] is not None else '-'}/"
        f"{row['actual_s'] if row['actual_s'] is not None else '-'}"
        + (f" = {row['predicted_over_actual']:.2f}" if row.get("predicted_over_actual") else "")
        for row in provenance.get("stages") or [])
    lines = [f"  {provenance['instance_type']}: {stages or 'no stage times recorded'}"]
    cost = provenance.get("cost") or {}
    if cost.get("usd") is not None:
        lines.append(f"  {provenance['instance_type']}: ${cost['usd']:.4f} for {cost['instance_seconds'] / 60:.1f} "
                     f"instance-minutes; planned ${cost['predicted_usd']:.4f} for "
                     f"{provenance['plan']['predicted_s'] / 60:.1f}")
    return lines


def _value_lines(summaries: list[dict[str, Any]]) -> list[str]:
    """Efficiency against peak and price-performance of the headline figures, or why there are none."""
    headline = [s for s in summaries if s["benchmark"] == "hpl"
                or (s["metric"] == "triad" and s["placement"] == "all-cores")]
    lines = []
    for s in sorted(headline, key=lambda s: (s["instance_type"], s["benchmark"])):
        name = "HPL" if s["benchmark"] == "hpl" else "STREAM triad"
        if s["efficiency"] is not None:
            efficiency = f"{100 * s['efficiency']:.1f}% of the {s['peak']:,.1f} {s['unit']} peak ({s['processor']})"
        else:
            efficiency = f"no efficiency: {s['efficiency_note']}"
        if s["price_per_hour_on_demand"] is not None:
            price = (f"{s['value_per_dollar_on_demand']:,.1f} {s['unit']} per $/h "
                     f"at ${s['price_per_hour_on_demand']:g}/h")
        else:
            price = "no price (give price_per_hour for a local run)"
        lines.append(f"  {s['instance_type']} {name}: {efficiency}; {price}")
    return ["", "Efficiency and price-performance"] + lines if lines else []


def open_in_browser(uri: str) -> None:
    """Open a local report where someone can see it; a headless machine just has the path printed."""
    if uri.startswith("file://") and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                      or sys.platform == "darwin"):
        import webbrowser

        webbrowser.open(uri)


def run(conf: dict[str, Any]) -> int:
    from instance_benchmarks.params import benchmark_params
    from instance_benchmarks.results import ResultStore

    dag = load_dag()
    try:
        dag_run = dag.test(run_conf=conf)
    except Exception as exc:
        if type(exc).__name__ == "ParamValidationError":
            print(f"\nThe DAG conf was refused: {exc}", file=sys.stderr)
            return 2
        raise
    defaults = benchmark_params()
    store = ResultStore(conf.get("results_uri") or defaults["results_uri"].value,
                        conn_id=conf.get("aws_conn_id") or defaults["aws_conn_id"].value)
    summary_path = store.run_reports(dag_run.run_id) / "summary.json"
    print()
    print(f"DAG run {dag_run.run_id}: {dag_run.state}")
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        summary["report_uri"] = (summary_path.parent / "index.html").as_uri()
        print(format_summary(summary, store=store))
        open_in_browser(summary["report_uri"])
    return 0 if str(dag_run.state) in ("success", "DagRunState.SUCCESS") else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="instance_benchmarks.cli", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run instance_benchmarks once and print the summary")
    run_parser.add_argument("--conf", default="{}", help="DAG conf as JSON, e.g. '{\"profile\": \"standard\"}'")
    board = sub.add_parser("dashboard", help="create or replace the CloudWatch dashboard of the project's metrics")
    board.add_argument("--region", required=True, help="where the documents' metrics are put, e.g. us-east-1")
    board.add_argument("--aws-conn-id", default=None, help="an Airflow connection (default: boto3's credentials)")
    board.add_argument("--profile", default="standard", choices=["standard", "quick"])
    board.add_argument("--name", default="instance-benchmarks")
    board.add_argument("--report", default="reports/latest/index.html", help="where the report is, for its link")
    args = parser.parse_args(argv)
    if args.command == "dashboard":
        from instance_benchmarks.cloudwatch import put_dashboard

        print(put_dashboard(aws_conn_id=args.aws_conn_id, region_name=args.region, profile=args.profile,
                            name=args.name, report=args.report))
        return 0
    try:
        conf = json.loads(args.conf or "{}")
    except json.JSONDecodeError as exc:
        parser.error(f"--conf is not valid JSON ({exc}): {args.conf!r}")
    if not isinstance(conf, dict):
        parser.error(f"--conf must be a JSON object, got {type(conf).__name__}")
    return run(conf)


if __name__ == "__main__":
    sys.exit(main())
