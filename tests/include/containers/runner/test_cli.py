"""The benchrun contract, run for real at tiny sizes: one JSON document per command."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

from benchmark_runner import cli, stream, topology

BENCHRUN = Path(cli.__file__).resolve().parents[1] / "benchrun"


def benchrun(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCHRUN), *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_topology_prints_json():
    proc = benchrun("topology")

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["logical_cpus"] >= 1


def test_zero_repetitions_is_refused():
    proc = benchrun("stream", "--repetitions", "0")

    assert proc.returncode == 2
    assert "--repetitions" in proc.stderr and "must be >= 1" in proc.stderr


def test_stream_small_arrays_run_and_flag_the_rule(tmp_path):
    out = tmp_path / "stream.json"

    proc = benchrun("stream", "--threads", "1", "--array-size", "2000000", "--ntimes", "10",
                    "--repetitions", "2", "--out", str(out))

    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    (measurement,) = doc["stream"]["measurements"]
    assert measurement["threads"] == 1 and len(measurement["repetitions"]) == 2
    assert all(r["kernels"]["triad"]["best_rate_mb_s"] > 0 and r["validated"] for r in measurement["repetitions"])
    size_rule = next(r for r in doc["run_rules"] if r["rule"] == "stream.array_size_at_least_4x_llc")
    assert size_rule["passed"] is False  # 2,000,000 elements is below 4x any modern LLC: said, not hidden
    assert "STREAM" in proc.stderr  # progress on stderr


def test_stream_scaling_runs_the_curve_from_one_core_to_all(tmp_path):
    out = tmp_path / "stream.json"
    cores = topology.detect()["physical_cores"]

    proc = benchrun("stream", "--array-size", "2000000", "--ntimes", "10", "--repetitions", "1", "--scaling",
                    "--out", str(out))

    assert proc.returncode == 0, proc.stderr
    scaling = json.loads(out.read_text())["stream"]["scaling"]
    threads = [p["threads"] for p in scaling["points"]]
    assert threads == sorted({1, *stream.scaling_threads(cores), cores})
    assert scaling["points"][-1]["of_all_cores"] == 1.0 and scaling["threads_to_share"] in threads


def test_hpl_small_problem_passes_its_residual(tmp_path):
    out = tmp_path / "hpl.json"

    proc = benchrun("hpl", "--n", "1536", "--nb", "128", "--repetitions", "1", "--out", str(out))

    assert proc.returncode == 0, proc.stderr
    hpl = json.loads(out.read_text())["hpl"]
    (run,) = hpl["runs"]
    assert (run["n"], run["nb"]) == (1536, 128)
    assert run["p"] * run["q"] == hpl["mpi_ranks"]
    assert run["passed"] and run["residual"] < 16 and run["gflops"] > 0
    # The clock, counted by the calibrated loop on the idle host before HPL, and during it per phase; a phase too
    # short for a reading says so rather than showing one.
    calibrated = hpl["core_clock"]["calibrated"]
    assert "clockloop.c" in calibrated["method"]
    for mode in ("scalar", "vector"):
        reading = calibrated["before"][mode]
        assert reading["samples"] == 3 and 300 < reading["min_mhz"] <= reading["median_mhz"] <= reading["max_mhz"]
    # Each phase (the layout probes, the solves) gets a reading a second into it, when it lasts that long; the
    # whole stage's are the phases' together.
    phases = calibrated["phases"]
    assert set(phases) == {"layout probes", "solves"}
    assert calibrated["during"]["vector"]["samples"] >= sum(p["samples"] for p in phases.values())
    for phase in phases.values():
        assert phase["samples"] == 0 and phase["note"] or 300 < phase["min_mhz"] <= phase["max_mhz"]


def test_hpl_through_debian_hpcc_when_asked(tmp_path, monkeypatch):
    """The last resort of the resolution order, run for real: hpcc's HPL, parsed from hpccoutf.txt."""
    out = tmp_path / "hpl.json"
    monkeypatch.setenv("BENCHRUN_HPL", "hpcc")

    proc = benchrun("hpl", "--n", "1024", "--nb", "128", "--p", "1", "--q", "1", "--repetitions", "1",
                    "--out", str(out))

    assert proc.returncode == 0, proc.stderr
    hpl = json.loads(out.read_text())["hpl"]
    assert hpl["binary"]["kind"] == "hpcc" and hpl["binary"]["reason"] == "BENCHRUN_HPL=hpcc"
    (run,) = hpl["runs"]
    assert run["n"] == 1024 and run["passed"] and run["gflops"] > 0


def test_out_to_a_device_or_fifo_writes_to_it_and_never_replaces_it(tmp_path):
    """`--out /dev/null` once renamed a regular file over /dev/null (the atomic write of a document)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()

    cli.emit({"a": 1}, str(fifo))
    reader.join(timeout=10)

    assert json.loads(received[0]) == {"a": 1}
    assert stat.S_ISFIFO(fifo.stat().st_mode) and not (tmp_path / "fifo.partial").exists()


def test_hpl_scaling_runs_on_one_core_for_real_beside_the_all_core_solve(tmp_path):
    out = tmp_path / "hpl.json"

    proc = benchrun("hpl", "--n", "2048", "--nb", "128", "--repetitions", "1", "--scaling-budget", "4",
                    "--out", str(out))

    assert proc.returncode == 0, proc.stderr
    hpl = json.loads(out.read_text())["hpl"]
    one_core, all_cores = hpl["scaling"]["points"]  # this VM has one NUMA node: no node scope
    assert (one_core["scope"], one_core["cores"], one_core["parallel_efficiency"]) == ("one-core", 1, 1.0)
    assert one_core["passed"] and one_core["gflops"] > 0 and one_core["n"] > 0
    assert all_cores["scope"] == "all-cores" and all_cores["gflops"] == hpl["summary"]["median_gflops"]
    assert 0 < all_cores["parallel_efficiency"]


def test_the_test_profile_sizes_stream_small_and_says_the_document_is_not_rule_sized(tmp_path):
    out = tmp_path / "stream.json"

    proc = benchrun("stream", "--profile", "test", "--ntimes", "10", "--repetitions", "1", "--threads", "1",
                    "--out", str(out))

    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["runner"]["profile"] == "test" and doc["runner"]["rule_sized"] is False
    assert doc["stream"]["array_elements"] == cli.PROFILES["test"]["stream_array_bytes"] // 8
    size_rule = next(r for r in doc["run_rules"] if r["rule"] == "stream.array_size_at_least_4x_llc")
    assert size_rule["passed"] is False and size_rule["detail"].startswith("test profile (plumbing only")


def test_a_rule_sized_profile_is_recorded_as_rule_sized():
    doc = cli.new_document(["benchrun", "hpl", "--profile", "quick"], "quick")

    assert doc["runner"]["profile"] == "quick" and doc["runner"]["rule_sized"] is True
    assert "rule_sized" not in cli.new_document(["benchrun", "hpl"], None)["runner"]
