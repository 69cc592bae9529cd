"""Statistics against hand-computed cases, the summary table, rankings, drift and the dataset."""

from __future__ import annotations

import copy
import math
import statistics
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

from instance_benchmarks import analysis
from instance_benchmarks.results import ResultStore
from tests.fakes.documents import real_document, variant

SPR = "Intel(R) Xeon(R) Platinum 8488C"


def test_t_interval_matches_the_textbook():
    # n=3, mean 2, s=1: half-width = t(0.975, 2) * 1 / sqrt(3) = 4.302653 / 1.732051
    result = analysis.t_interval([1.0, 2.0, 3.0])

    assert result["n"] == 3 and result["mean"] == 2.0 and result["std"] == 1.0
    half = 4.302652729911275 / math.sqrt(3)
    assert result["ci95_low"] == pytest.approx(2.0 - half)
    assert result["ci95_high"] == pytest.approx(2.0 + half)
    assert result["cv"] == pytest.approx(0.5)


def test_one_sample_has_no_interval_rather_than_a_made_up_one():
    result = analysis.t_interval([42.0])

    assert result["n"] == 1 and result["mean"] == 42.0
    assert result["std"] is None and result["ci95_low"] is None and result["ci95_high"] is None


def test_identical_samples_collapse_the_interval():
    result = analysis.t_interval([5.0, 5.0, 5.0])

    assert result["ci95_low"] == result["ci95_high"] == 5.0 and result["outliers"] == 0


@pytest.mark.parametrize(("values", "expected"), [
    ([1, 2, 3, 4, 100], [False, False, False, False, True]),  # MAD 1: z(100) = 0.6745 * 97 = 65.4
    ([1, 2, 3, 4, 8], [False] * 5),  # z(8) = 0.6745 * 5 = 3.37, under 3.5
    ([5, 5, 5, 5, 9], [False, False, False, False, True]),  # MAD 0: 4 / (1.253314 * 0.8) = 3.99
    ([5, 5, 5], [False] * 3),
])
def test_modified_z_outliers_by_hand(values, expected):
    assert analysis.outlier_mask(values).tolist() == expected


def _rows(groups: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for name, values in groups.items():
        for index, value in enumerate(values):
            rows.append({"region": "r", "family": "intel", "instance_family": name.split(".")[0], "instance_type": name,
                         "cpu_model": SPR, "benchmark": "hpl", "metric": "gflops", "placement": "1x2 ranks",
                         "threads": 2, "unit": "GFLOPS", "value": float(value), "run_id": "run-1",
                         "started_at": "2026-11-01T00:00:00Z", "physical_cores": 2, "sockets": 1,
                         "sustained_ghz": 3.2, "repetition": index})
    return pd.DataFrame(rows)


def test_vectorised_summary_agrees_with_the_per_group_statistics():
    groups = {"a.large": [1.0, 2.0, 3.0], "b.large": [42.0], "c.large": [5.0, 5.0, 5.0, 5.0, 9.0],
              "d.large": [1.0, 2.0, 3.0, 4.0, 100.0]}

    summary = analysis.records(analysis.summarize(_rows(groups)))

    assert [s["instance_type"] for s in summary] == sorted(groups)
    for s in summary:
        expected = analysis.t_interval(groups[s["instance_type"]])
        for key in ("n", "mean", "median", "std", "cv", "ci95_low", "ci95_high", "outliers"):
            assert s[key] == pytest.approx(expected[key]) if expected[key] is not None else s[key] is None, key


def test_two_hosts_give_an_interval_across_hosts_with_the_within_host_spread_beside_it():
    # Two weekly runs of one type are two instances: 1, 2, 3 on one and 11, 12, 13 on the other.
    rows = _rows({"a.large": [1.0, 2.0, 3.0, 11.0, 12.0, 13.0]}).assign(
        document_id=["run-1"] * 3 + ["run-2"] * 3)
    one_host = _rows({"a.large": [1.0, 2.0, 3.0]}).assign(document_id="run-1")

    two = analysis.records(analysis.summarize(rows))[0]
    one = analysis.records(analysis.summarize(one_host))[0]

    # Host means 2 and 12: mean 7, std of the means 7.071, half-width t(0.975, 1) x 7.071 / sqrt(2) = 63.53.
    assert two["hosts"] == 2 and two["n"] == 6 and two["mean"] == pytest.approx(7.0)
    assert two["ci95_high"] - two["mean"] == pytest.approx(12.706205 * 7.0710678 / math.sqrt(2), rel=1e-6)
    assert two["within_host_std"] == pytest.approx(1.0) and two["host_std"] == pytest.approx(7.0710678)
    assert two["interval"] == "across 2 hosts"
    # Six samples as if independent would have claimed +-5.75: host-to-host variance is the larger term.
    assert two["ci95_high"] - two["mean"] > 10 * (analysis.t_interval([1, 2, 3, 11, 12, 13])["ci95_high"] - 7.0)
    assert one["hosts"] == 1 and one["interval"].startswith("within one host")
    assert one["ci95_low"] == pytest.approx(analysis.t_interval([1.0, 2.0, 3.0])["ci95_low"])


def test_efficiency_and_price_performance_worked_by_hand():
    # m7i.large as measured on 2 cores: peak 2 x 3.2 GHz x 32 = 204.8 GFLOPS; 1 x 8 x 4800 x 8 B = 307.2 GB/s.
    doc = variant(instance_type="m7i.large", cpu_model=SPR, sustained_ghz=3.2)
    prices = {"run-1": {"prices": {"m7i.large": {"on_demand": 0.1008, "spot": 0.05}}}}

    summary = analysis.summarize(analysis.rows_frame([doc]), prices)

    hpl = summary[summary.benchmark == "hpl"].iloc[0]
    assert hpl.peak == pytest.approx(204.8) and hpl.efficiency == pytest.approx(hpl["mean"] / 204.8)
    triad = summary[(summary.metric == "triad") & (summary.placement == "all-cores")].iloc[0]
    assert triad.peak == pytest.approx(307.2) and triad.efficiency == pytest.approx(triad["mean"] / 307.2)
    assert triad.processor == "Intel Xeon Scalable 4th gen (Sapphire Rapids)"
    # Never a bare sub-socket efficiency: 2 of the 8488C socket's 48 cores (m7i.48xlarge's recorded lscpu).
    assert triad.socket_share == pytest.approx(2 / 48) and "2 of their 48 cores (4%)" in triad.efficiency_note
    assert pd.isna(hpl.socket_share)
    one_core = summary[(summary.metric == "triad") & (summary.placement == "one-core")].iloc[0]
    assert pd.isna(one_core.efficiency) and "all-cores" in one_core.efficiency_note
    assert hpl.value_per_dollar_on_demand == pytest.approx(hpl["mean"] / 0.1008)
    assert hpl.value_per_dollar_spot == pytest.approx(hpl["mean"] / 0.05)


def test_hpl_has_a_second_efficiency_at_the_clock_counted_during_it():
    # m7i.large whose cores were counted at 2.9 GHz under vector load: 2 x 2.9 x 32 = 185.6 GFLOPS beside the
    # 2 x 3.2 x 32 = 204.8 of AWS's sustained clock.
    summary = analysis.summarize(analysis.rows_frame([variant(cpu_model=SPR, sustained_ghz=3.2, counted_mhz=2900.0)]))

    hpl = summary[summary.benchmark == "hpl"].iloc[0]
    assert hpl.measured_clock_ghz == pytest.approx(2.9) and hpl.peak_at_measured_clock == pytest.approx(185.6)
    assert hpl.efficiency_at_measured_clock == pytest.approx(hpl["mean"] / 185.6)
    assert hpl.efficiency == pytest.approx(hpl["mean"] / 204.8)  # the first denominator is unchanged
    triad = summary[(summary.metric == "triad") & (summary.placement == "all-cores")].iloc[0]
    assert pd.isna(triad.efficiency_at_measured_clock) and pd.isna(triad.measured_clock_ghz)  # FLOPS only
    # A document without a counted clock (older runner, or the loop failed to build) has one denominator.
    plain = analysis.summarize(analysis.rows_frame([variant(cpu_model=SPR, sustained_ghz=3.2)]))
    assert plain[plain.benchmark == "hpl"]["efficiency_at_measured_clock"].isna().all()


def test_scaling_curves_come_from_the_thread_placements_and_the_hpl_scopes_and_never_stand_for_hpl():
    doc = variant(cpu_model=SPR, sustained_ghz=3.2)
    measurements = doc["stream"]["measurements"]
    all_cores = next(m for m in measurements if m["placement"] == "all-cores")
    one_core = next(m for m in measurements if m["placement"] == "one-core")
    all_cores["threads"] = 4  # modelled as a 4-core host: one core, 2 threads (copied from one core x 1.9), all
    two = copy.deepcopy(one_core)
    two.update(placement="threads-2", threads=2)
    for rep in two["repetitions"]:
        for kernel in rep["kernels"].values():
            kernel["best_rate_mb_s"] *= 1.9
    measurements.append(two)
    median = statistics.median(run["gflops"] for run in doc["hpl"]["runs"])
    doc["hpl"]["scaling"] = {"method": "m", "points": [
        {"scope": "one-core", "cores": 1, "n": 10496, "gflops": 40.0, "passed": True},
        {"scope": "node0", "cores": 2, "n": 12288, "gflops": 70.0, "passed": False},  # failed: not a figure
        {"scope": "all-cores", "cores": 4, "n": doc["hpl"]["n"], "gflops": median, "passed": True}]}

    summary = analysis.summarize(analysis.rows_frame([doc]))
    (curve,) = analysis.scaling_curves(summary)

    triad = {p["threads"]: p["gb_s"] for p in curve["stream_triad"]}
    assert list(triad) == [1, 2, 4] and triad[2] == pytest.approx(1.9 * triad[1])
    assert curve["stream_threads_to_share"] == (2 if triad[2] >= 0.9 * triad[4] else 4)
    assert [(p["cores"], p["parallel_efficiency"]) for p in curve["hpl"]] == [
        (1, 1.0), (4, pytest.approx(median / 4 / 40.0))]
    # HPL's figure stays the solves': the scaling rows are their own benchmark, out of rankings and headlines
    shown = analysis.current(summary)
    assert shown[shown.benchmark == "hpl"]["mean"].iloc[0] == pytest.approx(
        statistics.fmean(run["gflops"] for run in doc["hpl"]["runs"]))
    assert all(r["benchmark"] in ("stream", "hpl") for r in analysis.rankings(summary))


def test_unknown_processor_gets_no_efficiency_and_says_why():
    summary = analysis.records(analysis.summarize(analysis.rows_frame([real_document()])))

    hpl = next(s for s in summary if s["benchmark"] == "hpl")
    assert hpl["efficiency"] is None and "'AMD EPYC' is not in the peak table" in hpl["efficiency_note"]
    assert hpl["price_per_hour_on_demand"] is None and hpl["value_per_dollar_on_demand"] is None


def test_the_same_type_on_two_processors_is_two_populations():
    docs = [variant(run_id="run-1", cpu_model="Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz"),
            variant(run_id="run-2", cpu_model="Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz",
                    started_at="2026-12-05T00:00:00Z")]

    summary = analysis.summarize(analysis.rows_frame(docs))

    hpl = summary[summary.benchmark == "hpl"]
    assert sorted(hpl.processor) == ["Intel Xeon Scalable 1st gen (Skylake-SP)",
                                     "Intel Xeon Scalable 2nd gen (Cascade Lake)"]


def test_rankings_by_performance_and_per_dollar():
    docs = [variant(instance_type="m7i.large", cpu_model=SPR, scale=1.0),
            variant(instance_type="c7i.large", cpu_model=SPR, scale=0.8)]
    prices = {"run-1": {"prices": {"m7i.large": {"on_demand": 0.20}, "c7i.large": {"on_demand": 0.10}}}}

    ranked = analysis.rankings(analysis.summarize(analysis.rows_frame(docs), prices))

    hpl = {r["by"]: [e["instance_type"] for e in r["entries"]] for r in ranked if r["benchmark"] == "hpl"}
    assert hpl == {"performance": ["m7i.large", "c7i.large"], "per dollar": ["c7i.large", "m7i.large"]}


def test_quick_and_standard_runs_are_never_pooled_nor_ranked_together():
    docs = [variant(instance_type="m7i.large", run_id="run-1", profile="quick", started_at="2026-11-01T00:00:00Z"),
            variant(instance_type="m7i.large", run_id="run-2", profile="standard", scale=0.9,
                    started_at="2026-11-08T00:00:00Z"),
            variant(instance_type="c7i.large", run_id="run-3", profile="quick", scale=1.2,
                    started_at="2026-11-08T00:00:00Z")]

    summary = analysis.summarize(analysis.rows_frame(docs))
    ranked = analysis.rankings(summary)

    hpl = summary[(summary.benchmark == "hpl") & (summary.instance_type == "m7i.large")]
    one_run = len(docs[0]["hpl"]["runs"])
    assert sorted(hpl.profile) == ["quick", "standard"] and set(hpl.n) == {one_run}  # two rows, never one mean
    assert [c.split(" · ")[0] for c in hpl.sort_values("profile").configuration] == ["quick", "standard"]
    performance = {(r["profile"], r["benchmark"]): [e["instance_type"] for e in r["entries"]]
                   for r in ranked if r["by"] == "performance"}
    # m7i.large stands in the standard table (its most thorough profile), c7i.large in the quick one, alone.
    assert performance[("standard", "hpl")] == ["m7i.large"] and performance[("quick", "hpl")] == ["c7i.large"]
    assert {r["profile"]: r["smoke_test"] for r in ranked} == {"quick": True, "standard": False}
    assert [r["profile"] for r in ranked][0] == "standard"  # standard's tables come first


def test_hpl_at_another_size_is_another_row_and_drift_says_so_instead_of_comparing():
    first = variant(run_id="run-1", profile="standard", started_at="2026-11-01T00:00:00Z")
    bigger = variant(run_id="run-2", profile="standard", hpl_n=24832, scale=0.5, started_at="2026-11-08T00:00:00Z")

    summary = analysis.summarize(analysis.rows_frame([first, bigger]))
    moved = analysis.drift(analysis.rows_frame([first, bigger]))

    hpl = summary[summary.benchmark == "hpl"]
    assert sorted(hpl.hpl_n) == sorted([first["hpl"]["n"], 24832])
    kinds = {f["kind"]: f for f in moved[0]["flags"]}
    assert "hpl gflops" not in kinds  # a halved rate at another N is not called a change of the host
    assert "N=24832" in kinds["hpl gflops configuration"]["after"]
    assert "stream triad" in kinds  # STREAM ran the same way both times, so it is compared (and it halved)
    assert moved[0]["profile"] == "standard"


def test_one_configuration_gives_the_rows_it_gave_before_configurations_were_keys():
    docs = [variant(instance_type=t, run_id=r, started_at=f"2026-11-0{i + 1}T00:00:00Z")
            for i, (t, r) in enumerate([("m7i.large", "run-1"), ("m7i.large", "run-2"), ("c7i.large", "run-1")])]
    rows = analysis.rows_frame(docs)

    summary = analysis.summarize(rows)

    before = rows.groupby([k for k in analysis.GROUP_KEYS if k not in analysis.CONFIGURATION_KEYS])["value"]
    assert len(summary) == before.ngroups
    assert sorted(summary["n"]) == sorted(before.count())
    assert summary["mean"].sum() == pytest.approx(before.mean().sum())


def test_drift_flags_processor_microcode_price_and_performance_changes():
    week1 = variant(run_id="run-1", started_at="2026-11-01T00:00:00Z", microcode="0x2b000590")
    same = variant(run_id="run-2", started_at="2026-11-08T00:00:00Z", microcode="0x2b000590")
    changed = variant(run_id="run-3", started_at="2026-11-15T00:00:00Z", microcode="0x2b000603", scale=0.5,
                      cpu_model=SPR)
    prices = {"run-2": {"prices": {"m7i.large": {"on_demand": 0.1008}}},
              "run-3": {"prices": {"m7i.large": {"on_demand": 0.1100}}}}

    steady = analysis.drift(analysis.rows_frame([week1, same]), prices)
    moved = analysis.drift(analysis.rows_frame([week1, same, changed]), prices)

    assert steady[0]["flags"] == []
    kinds = {f["kind"] for f in moved[0]["flags"]}
    assert kinds == {"CPU model", "microcode", "on-demand price", "stream triad", "hpl gflops"}
    assert moved[0]["previous"]["run_id"] == "run-2" and moved[0]["latest"]["run_id"] == "run-3"
    triad = next(f for f in moved[0]["flags"] if f["kind"] == "stream triad")
    assert triad["change"] == pytest.approx(-0.5)


def test_dataset_is_rebuilt_idempotently_and_partitioned(tmp_path):
    store = ResultStore(tmp_path.as_uri())
    for doc in (variant(instance_type="m7i.large"), variant(instance_type="m7g.large", family="graviton"),
                real_document()):
        store.store(doc, [], run_id=doc["provenance"]["run_id"], instance_type=doc["provenance"]["instance_type"])

    first = analysis.rebuild(store)
    raw_1, summary_1 = tables(store)
    second = analysis.rebuild(store)
    raw_2, summary_2 = tables(store)

    counts = ("raw_rows", "summary_rows")
    assert [first["dataset"][k] for k in counts] == [second["dataset"][k] for k in counts]
    assert first["dataset"]["uri"] != second["dataset"]["uri"]  # a new version each time, switched to
    assert first["dataset"]["raw_rows"] == raw_2.num_rows > 0
    assert raw_1.equals(raw_2) and summary_1.equals(summary_2)
    current = Path(analysis.current_dataset(store).path)
    assert {p.name for p in (current / "raw").iterdir()} == {"region=local", "region=us-east-1"}
    assert (current / "summary/region=us-east-1/family=graviton").is_dir()
    assert summary_2.num_rows == first["dataset"]["summary_rows"] == 3 * 9  # 3 hosts x (8 STREAM + 1 HPL)


def tables(store):
    """The current dataset's raw and summary tables, as a reader finds them: through the pointer."""
    current = analysis.current_dataset(store).path
    return tuple(ds.dataset(f"{current}/{name}", format="parquet", partitioning="hive").to_table()
                 for name in ("raw", "summary"))


def test_two_rebuilds_at_once_never_show_a_reader_a_partial_table(tmp_path):
    import threading

    store = ResultStore(tmp_path.as_uri())
    for instance_type in ("m7i.large", "c7i.large", "m7a.large"):
        doc = variant(instance_type=instance_type)
        store.store(doc, [], run_id=doc["provenance"]["run_id"], instance_type=instance_type)
    expected = analysis.rebuild(store)["dataset"]
    stop, seen, errors = threading.Event(), [], []

    def reader():
        while not stop.is_set():
            try:
                raw, summary = tables(store)
                seen.append((raw.num_rows, summary.num_rows))
            except Exception as exc:  # noqa: BLE001 - a vanished file mid-read is exactly the failure sought
                errors.append(repr(exc))

    def rebuilder():
        for _ in range(5):
            analysis.rebuild(store)

    threads = [threading.Thread(target=reader), threading.Thread(target=rebuilder),
               threading.Thread(target=rebuilder)]
    for thread in threads:
        thread.start()
    for thread in threads[1:]:
        thread.join()
    stop.set()
    threads[0].join()

    assert errors == [] and len(seen) > 10
    assert set(seen) == {(expected["raw_rows"], expected["summary_rows"])}  # whole tables, every read
    versions = list((tmp_path / "dataset/v1/versions").iterdir())
    assert Path(analysis.current_dataset(store).path) in versions and len(versions) == 11  # young: all kept


def test_old_versions_and_the_unversioned_layout_are_pruned(tmp_path, monkeypatch):
    store = ResultStore(tmp_path.as_uri())
    doc = variant()
    store.store(doc, [], run_id=doc["provenance"]["run_id"], instance_type="m7i.large")
    (tmp_path / "dataset/v1/raw/region=x").mkdir(parents=True)  # what rebuilds wrote before versions
    analysis.rebuild(store)
    analysis.rebuild(store)
    previous = analysis.current_dataset(store).name
    monkeypatch.setattr(analysis, "KEEP_OLD_VERSIONS_S", -1)  # every version counts as old now

    analysis.rebuild(store)

    kept = {p.name for p in (tmp_path / "dataset/v1/versions").iterdir()}
    assert kept == {previous, analysis.current_dataset(store).name}  # the current and the one before
    assert not (tmp_path / "dataset/v1/raw").exists()


def test_clearing_rerunning_and_backfilling_never_duplicate_a_dataset_row(tmp_path):
    """A cleared store task stores the same run again; a backfilled week is a new run: rows follow the runs."""
    store = ResultStore(tmp_path.as_uri())

    def stored(run_id, started_at):
        doc = variant(run_id=run_id, started_at=started_at)
        store.store(doc, [], run_id=run_id, instance_type="m7i.large")
        return analysis.rebuild(store)["dataset"]["raw_rows"]

    first = stored("scheduled__2026-11-01", "2026-11-01T00:00:00Z")
    cleared = stored("scheduled__2026-11-01", "2026-11-01T00:00:00Z")  # the same run's store task again
    retried_later = stored("scheduled__2026-11-01", "2026-11-01T00:00:00Z")
    backfilled = stored("backfill__2026-10-25", "2026-10-25T00:00:00Z")  # a missed week, its own run

    assert first == cleared == retried_later and backfilled == 2 * first
    raw = tables(store)[0].to_pandas()
    keys = ["run_id", "benchmark", "metric", "placement", "repetition"]
    assert not raw.duplicated(keys).any() and sorted(raw.run_id.unique()) == ["backfill__2026-10-25",
                                                                              "scheduled__2026-11-01"]


def test_a_dataset_with_no_documents_yet_is_an_empty_current_version(tmp_path):
    store = ResultStore(tmp_path.as_uri())

    built = analysis.rebuild(store)["dataset"]

    assert built["raw_rows"] == built["summary_rows"] == 0
    assert not analysis.current_dataset(store).exists()  # named by the pointer, no table in it


def test_a_test_profile_document_is_stored_but_never_a_figure(tmp_path):
    """The test profile checks plumbing: its stored documents stay out of the dataset, the summaries, the rankings
    and the report's figures, and the report counts them instead."""
    from instance_benchmarks import report
    from tests.fakes.documents import test_profile_document

    store = ResultStore(tmp_path.as_uri())
    plumbing = test_profile_document(instance_type="c7i.large", run_id="run-plumbing", scale=100.0)
    for doc in (variant(instance_type="m7i.large"), plumbing):
        store.store(doc, [], run_id=doc["provenance"]["run_id"], instance_type=doc["provenance"]["instance_type"])

    built = analysis.rebuild(store)

    raw, summary = tables(store)
    assert set(raw.column("instance_type").to_pylist()) == {"m7i.large"}
    assert set(summary.column("instance_type").to_pylist()) == {"m7i.large"}
    assert {s["instance_type"] for s in built["summaries"]} == {"m7i.large"}
    assert all(item["instance_type"] == "m7i.large" for r in built["rankings"] for item in r["entries"])
    assert [d["provenance"]["instance_type"] for d in built["documents"]] == ["m7i.large"]
    (withheld,) = built["test_profile_documents"]
    assert "instance_type=c7i.large" in withheld
    page = report.render(title="t", generated_at="now", summaries=built["summaries"], docs=built["documents"],
                         rankings=built["rankings"], test_profile_documents=1)
    assert "c7i.large" not in page and "1 stored document(s) come from the test profile" in page


def test_drift_and_trends_judge_a_run_of_two_hosts_by_its_hosts_not_its_pooled_repetitions():
    """Run 1's hosts gave 1, 2, 3 and 11, 12, 13; run 2's 21, 22, 23 and 31, 32, 33. Pooled as six independent
    samples, 7 +- 5.8 against 27 +- 5.8 is a change; across hosts it is 7 +- 63.5 against 27 +- 63.5: noise."""
    def run(run_id, started_at, hosts):
        values = [v for host in hosts for v in host]
        return _rows({"a.large": values}).assign(
            run_id=run_id, started_at=started_at, microcode="0x2b000590", profile="standard",
            document_id=[f"{run_id}-host{i}" for i, host in enumerate(hosts) for _ in host])

    rows = pd.concat([run("run-1", "2026-11-01T00:00:00Z", [[1, 2, 3], [11, 12, 13]]),
                      run("run-2", "2026-11-08T00:00:00Z", [[21, 22, 23], [31, 32, 33]])], ignore_index=True)

    assert analysis.drift(rows)[0]["flags"] == []
    points = analysis.trends(rows)
    assert list(points.n) == [2, 2] and list(points.hosts) == [2, 2]
    assert points["mean"].tolist() == [7.0, 27.0]
    assert points.ci95_high.iloc[0] - 7.0 == pytest.approx(12.706205 * 7.0710678 / math.sqrt(2), rel=1e-6)
    # One host per run keeps its repetitions' interval: 2 +- 2.5 against 22 +- 2.5 is a change.
    single = pd.concat([run("run-1", "2026-11-01T00:00:00Z", [[1, 2, 3]]),
                        run("run-2", "2026-11-08T00:00:00Z", [[21, 22, 23]])], ignore_index=True)
    assert [f["kind"] for f in analysis.drift(single)[0]["flags"]] == ["hpl gflops"]
    assert list(analysis.trends(single).n) == [3, 3]


def test_a_run_whose_hosts_differ_names_both_and_is_not_taken_for_its_first_host():
    first = _rows({"a.large": [10.0, 10.0]}).assign(run_id="run-1", started_at="2026-11-01T00:00:00Z",
                                                    microcode="0x1", profile="standard", document_id="d1")
    second = pd.concat([
        _rows({"a.large": [10.0, 10.0]}).assign(microcode="0x1", document_id="d2", hpl_n=4096),
        _rows({"a.large": [10.0, 10.0]}).assign(microcode="0x2", document_id="d3", hpl_n=8192),
    ]).assign(run_id="run-2", started_at="2026-11-08T00:00:00Z", profile="standard")
    first = first.assign(hpl_n=4096)

    flags = {f["kind"]: f for f in analysis.drift(pd.concat([first, second], ignore_index=True))[0]["flags"]}

    assert flags["microcode"]["after"] == "0x1 | 0x2"
    assert " | " in flags["hpl gflops configuration"]["after"]


def test_a_fitted_asymptote_above_the_peak_at_the_counted_clock_is_flagged_and_never_judged_against():
    """m7i.large, 2 cores x 32 FLOPs per cycle: at a counted 2.6 GHz the peak is 166.4 GFLOPS. A fit of 183.5 (a
    probe-only fit once gave that here) is not an asymptote: the dataset does not call N near or short of it."""
    doc = variant(instance_type="m7i.large", cpu_model=SPR, sustained_ghz=3.2, counted_mhz=2600)
    doc["hpl"]["asymptote"] = {"asymptote_gflops": 183.5, "near_asymptote": False, "note": "short"}
    plausible = copy.deepcopy(doc)
    plausible["hpl"]["asymptote"]["asymptote_gflops"] = 150.0

    reason = analysis.asymptote_above_peak(doc)

    assert reason and "183.5" in reason and "166.4" in reason and "counted" in reason
    assert analysis.asymptote_above_peak(plausible) is None
    rows = analysis.rows_frame([doc])
    assert rows[rows.benchmark == "hpl"]["hpl_near_asymptote"].isna().all()
    assert (analysis.rows_frame([plausible]).query("benchmark == 'hpl'")["hpl_near_asymptote"] == False).all()  # noqa: E712


def test_hpl_s_efficiency_at_the_counted_clock_is_its_solves_clock_not_the_whole_stage_s():
    doc = variant(instance_type="m7i.large", cpu_model=SPR, sustained_ghz=3.2, counted_mhz=3000)
    doc["hpl"]["core_clock"]["calibrated"]["phases"] = {"layout probes": {"median_mhz": 3800.0},
                                                        "solves": {"median_mhz": 2500.0}}

    hpl = analysis.summarize(analysis.rows_frame([doc])).query("benchmark == 'hpl'").iloc[0]

    assert hpl.measured_clock_ghz == 2.5 and hpl.peak_at_measured_clock == pytest.approx(2 * 2.5 * 32)


def test_accepted_contributions_get_tables_of_their_own_and_never_change_the_project_s(tmp_path):
    from instance_benchmarks.api_reads import table
    from tests.fakes.imds import Signer, accept_contribution

    store = ResultStore(tmp_path.as_uri())
    for run, day, price in (("run-1", "2026-11-02", 0.1), ("run-2", "2026-11-09", 0.12)):
        doc = variant(instance_type="m7i.large", run_id=run, started_at=f"{day}T10:00:00Z")
        store.store(doc, [], run_id=run, instance_type="m7i.large")
        store.record_prices(run, {"region": "us-east-1", "prices": {"m7i.large": {"on_demand": price, "spot": None},
                                                                    "r7i.large": {"on_demand": price + 1}}})
    analysis.rebuild(store)
    before = analysis.read_current(store, "summary")
    ec2 = Signer.make()
    for instance_type, instance_id in (("m7i.large", "i-000000000000000a1"), ("r7i.large", "i-000000000000000a2")):
        accept_contribution(store, ec2, instance_type=instance_type, contributor="erin", instance_id=instance_id,
                            scale=1.5)
    accept_contribution(store, ec2, instance_type="r7i.large", contributor="bob", instance_id="i-000000000000000b1")

    built = analysis.rebuild(store)

    pd.testing.assert_frame_equal(analysis.read_current(store, "summary"), before)  # the project's, untouched
    assert built["dataset"]["contributed_summary_rows"] == len(built["contributed_summaries"]) > 0
    contributed = analysis.read_current(store, "contributed_summary")
    assert set(contributed.source) == {"contributed"} and set(before.source) == {"project"}
    r7i = contributed[(contributed.instance_type == "r7i.large") & (contributed.benchmark == "hpl")]
    assert r7i.contributors.tolist() == ["bob, erin"] and r7i.submissions.tolist() == [2]
    # priced as the project prices the type in its region now: run-2's snapshot, the latest that priced it
    assert set(contributed.price_per_hour_on_demand) == {0.12, 1.12}
    assert built["contributors"] == [
        {"contributor": "erin", "accepted": 2, "instance_types": ["m7i.large", "r7i.large"], "added": ["r7i.large"],
         "last_contributed": built["contributors"][0]["last_contributed"]},
        {"contributor": "bob", "accepted": 1, "instance_types": ["r7i.large"], "added": ["r7i.large"],
         "last_contributed": built["contributors"][1]["last_contributed"]}]
    both = table(store, "summary", {"instance_type": "m7i.large", "benchmark": "hpl"}, contributed=True)
    # one group per source (the project's two runs are one), never merged; each stands for its own source
    assert sorted(both.source) == sorted(analysis.current(both).source) == ["contributed", "project"]
    assert both.set_index("source").hosts.to_dict() == {"project": 2, "contributed": 1}
