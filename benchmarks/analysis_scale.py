"""How the analysis scales: a million raw samples through the summary, rankings, drift and Parquet.

Generates 1,000,000 clearly synthetic raw rows (region `synthetic-1`, CPU model `synthetic`,
values from a seeded normal distribution: no benchmark produced them, and they never leave the
temporary directory) shaped like real ones: 1,000 instance types x 8 weekly runs x (STREAM 4
kernels x 2 placements x 15 repetitions + HPL 5 repetitions). Then times what results_analysis
does with the raw table: the summary (statistics, outliers, efficiency, prices), rankings,
drift, the NUMA matrices, and writing both Parquet tables. Reading the JSON documents is not
included (it scales with the documents, not the samples).

    .venv/bin/python benchmarks/analysis_scale.py [--rows 1000000] [--repeats 3]

Then times the /benchmarks API's recommend and compare over that dataset, as served (target: under
200 ms), and GraphQL's query for a type with its figures and its three cheapest alternatives beside REST's
recommend like=<type> (target: within 1.5x), each on its own line. Target: under 10 s and 2 GB peak memory. The
last line is exactly `analysis_rows: <int> seconds: <float> peak_rss_mb: <float> graphql_median_ms <float>`
(median seconds of the repeats; peak RSS of the whole process, generation included). Not a test: it prints, never
asserts.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

KERNELS = ("copy", "scale", "add", "triad")
PLACEMENTS = (("all-cores", 8), ("one-core", 1))
STREAM_REPS, HPL_REPS, RUNS = 15, 5, 8
ROWS_PER_RUN = len(KERNELS) * len(PLACEMENTS) * STREAM_REPS + HPL_REPS


def synthetic_rows(total: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(20261129)
    types = max(1, total // (RUNS * ROWS_PER_RUN))
    shape = ([("stream", k, p, t, "GB/s") for k in KERNELS for p, t in PLACEMENTS for _ in range(STREAM_REPS)]
             + [("hpl", "gflops", "1x8 ranks", 8, "GFLOPS")] * HPL_REPS)
    per_run = pd.DataFrame(shape, columns=["benchmark", "metric", "placement", "threads", "unit"])
    per_run["repetition"] = per_run.groupby(["benchmark", "metric", "placement"]).cumcount()
    frames = []
    for run in range(RUNS):
        block = per_run.loc[per_run.index.repeat(types)].reset_index(drop=True)
        index = np.tile(np.arange(types), len(per_run))
        block["instance_type"] = [f"syn{i % 97}x.{i}xlarge" for i in index]
        block["instance_family"] = [f"syn{i % 97}x" for i in index]
        block["family"] = np.array(["intel", "amd", "graviton"])[index % 3]
        block["run_id"] = f"synthetic-run-{run}"
        block["document_id"] = [f"synthetic-{run}-{i}" for i in index]
        block["started_at"] = f"2026-{1 + run % 12:02d}-01T00:00:00Z"
        block["date"] = block["started_at"].str[:10]
        frames.append(block)
    rows = pd.concat(frames, ignore_index=True)
    rows["region"] = "synthetic-1"
    rows["cpu_model"] = "synthetic"
    rows["microcode"] = "0x0"
    rows["physical_cores"] = 8
    rows["sockets"] = 1
    rows["sustained_ghz"] = 3.0
    rows["cpu_node"] = pd.array([None] * len(rows), dtype="Int64")
    rows["memory_node"] = pd.array([None] * len(rows), dtype="Int64")
    base = np.where(rows["benchmark"] == "hpl", 400.0, 60.0)
    rows["value"] = rng.normal(base, base * 0.03)
    return rows.iloc[:total].copy() if len(rows) > total else rows


def synthetic_prices(rows) -> dict:
    """Synthetic, clearly made-up prices (so recommend has something to sort): $0.01 per type index."""
    types = sorted(rows.instance_type.unique())
    table = {name: {"on_demand": 0.01 * (1 + i), "spot": 0.004 * (1 + i) if i % 3 else None}
             for i, name in enumerate(types)}
    return {f"synthetic-run-{run}": {"prices": table} for run in range(RUNS)}


# Issue 31 item 4: one GraphQL query for a type, its figures and its three cheapest alternatives (what REST answers
# with /api/summary filtered to the type plus /api/recommend?like=<type>).
GRAPHQL_TYPE_QUERY = """query($name: String!) { instanceType(name: $name) {
  figures { benchmark metric placement mean ci95Low ci95High n }
  alternatives(first: 3) { instanceType meets pricePerHourOnDemand
    figures { triad { mean ci95Low ci95High } hpl { mean ci95Low ci95High } } } } }"""


def time_answers(results: Path, requests: int) -> dict[str, list[float]]:
    """The /benchmarks API's recommend and compare, and GraphQL's type query, over the written dataset, through
    FastAPI as served (Parquet read included; Airflow's auth check stubbed and the rate limit off: neither is what
    is measured)."""
    import os

    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.testclient import TestClient

    from instance_benchmarks import plugin
    from instance_benchmarks.results import ResultStore

    os.environ["INSTANCE_BENCHMARKS_API_RATE_LIMIT"] = "off"
    store = ResultStore(results.as_uri())
    (auth,) = plugin.app.router.dependencies
    plugin.app.dependency_overrides = {plugin.get_store: lambda: store, auth.dependency: lambda: None,
                                       get_user: lambda: SimpleAuthManagerUser(username="scale", role="viewer")}
    client = TestClient(plugin.app)
    like = {"query": GRAPHQL_TYPE_QUERY, "variables": {"name": "syn5x.5xlarge"}}
    asks = {"recommend": [("GET", "/api/recommend", {"min_triad": 60, "min_hpl": 400}),
                          ("GET", "/api/recommend", {"like": "syn5x.5xlarge"}),
                          ("GET", "/api/recommend", {"min_triad": 61, "strict": "true", "format": "csv"})],
            "compare": [("GET", "/api/compare", {"types": "syn1x.1xlarge,syn2x.2xlarge,syn3x.3xlarge"})],
            # paired: one after the other, request by request, so the machine's drift hits both alike
            ("recommend_like", "graphql"): [("GET", "/api/recommend", {"like": "syn5x.5xlarge", "limit": 3}),
                                            ("POST", "/graphql", like)]}
    timings: dict[str, list[float]] = {}
    for names, calls in asks.items():
        for index in range(requests):
            chosen = [calls[index % len(calls)]] if isinstance(names, str) else calls
            for name, (method, path, params) in zip([names] if isinstance(names, str) else names, chosen,
                                                    strict=True):
                start = time.perf_counter()
                response = client.get(path, params=params) if method == "GET" else client.post(path, json=params)
                timings.setdefault(name, []).append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200 and "errors" not in response.text, response.text  # an error's
                # timing means nothing
    plugin.app.dependency_overrides = {}
    return timings


def analyse(rows, results: Path) -> None:
    """What a rebuild does with the rows, into a dataset version under `results` and its pointer (which the
    API reads through)."""
    import json

    from airflow.sdk import ObjectStoragePath

    from instance_benchmarks import analysis

    prices = synthetic_prices(rows)
    summary = analysis.summarize(rows, prices)
    analysis.rankings(summary)
    analysis.drift(rows, prices)
    analysis.numa_matrices(rows)
    root = ObjectStoragePath(results.as_uri()) / "dataset" / "v1"
    analysis.write_table(rows, root / "versions" / "scale" / "raw")
    analysis.write_table(summary, root / "versions" / "scale" / "summary")
    (root / analysis.DATASET_POINTER).write_text(json.dumps({"version": "scale", "raw_rows": len(rows),
                                                             "summary_rows": len(summary)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=30, help="timed API requests of each kind")
    args = parser.parse_args()
    rows = synthetic_rows(args.rows)
    print(f"generated {len(rows):,} synthetic rows ({rows.instance_type.nunique():,} types x {RUNS} runs)")
    seconds = []
    with tempfile.TemporaryDirectory(prefix="analysis-scale-") as tmp:
        for repeat in range(args.repeats):
            start = time.perf_counter()
            analyse(rows, Path(tmp) / f"results-{repeat}")
            seconds.append(time.perf_counter() - start)
            print(f"repeat {repeat + 1}: {seconds[-1]:.2f} s")
        timings = time_answers(Path(tmp) / "results-0", args.requests)
    types = rows.instance_type.nunique()
    for name, values in timings.items():
        print(f"{name}_ms_median: {statistics.median(values):.1f} p90: {statistics.quantiles(values, n=10)[-1]:.1f} "
              f"max: {max(values):.1f} "
              f"({len(values)} requests over {types} types x {RUNS} runs; target under 200 ms)")
    graphql_ms = statistics.median(timings["graphql"])
    paired = statistics.median(g / r for g, r in zip(timings["graphql"], timings["recommend_like"], strict=True))
    print(f"graphql / recommend_like, median of paired requests: {paired:.2f}x; graphql / recommend (medians): "
          f"{graphql_ms / statistics.median(timings['recommend']):.2f}x (target: within 1.5x)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"analysis_rows: {len(rows)} seconds: {statistics.median(seconds):.2f} peak_rss_mb: {peak_mb:.1f} "
          f"graphql_median_ms {graphql_ms:.1f}")


if __name__ == "__main__":
    main()
