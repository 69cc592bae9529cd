"""HPL: the parser on captured real output, residual failures, sizing and the grid."""

from __future__ import annotations

import os
import subprocess

import pytest

from benchmark_runner import hpl
from tests.include.containers.runner.machines import recorded_topology


def test_parses_captured_output(fixture_text):
    runs = hpl.parse_output(fixture_text("hpl-output-n8000.txt"))

    assert len(runs) == 1
    run = runs[0]
    assert (run["n"], run["nb"], run["p"], run["q"]) == (8000, 256, 1, 2)
    assert run["variant"] == "WR11C2R4"
    assert run["gflops"] > 0 and run["seconds"] > 0
    assert run["residual"] < hpl.RESIDUAL_THRESHOLD
    assert run["passed"] is True
    # HPL's own definition: Gflops = (2/3 N^3 + 3/2 N^2) / time.
    assert run["gflops"] == pytest.approx((2 / 3 * 8000**3 + 1.5 * 8000**2) / run["seconds"] / 1e9, rel=0.01)


def test_failed_residual_is_reported(fixture_text):
    # Captured for real: HPL run with a threshold of 1e-9, which no solve can meet.
    (run,) = hpl.parse_output(fixture_text("hpl-output-residual-failed.txt"))

    assert run["passed"] is False
    # HPL prints its threshold with one decimal, so 1e-9 reads 0.0: the verdict is HPL's own.
    assert run["residual"] == 0.0035129 and run["threshold"] == 0.0
    assert run["n"] == 2048 and run["gflops"] > 0


def test_no_result_line_is_an_error():
    with pytest.raises(hpl.HplError, match="no result line"):
        hpl.parse_output("HPL ERROR from process # 0, on line 610 of function HPL_pdinfo\n")


@pytest.mark.parametrize(("ranks", "grid"), [(1, (1, 1)), (2, (1, 2)), (6, (2, 3)), (16, (4, 4)), (96, (8, 12)),
                                              (7, (1, 7))])
def test_process_grid_is_near_square_with_p_le_q(ranks, grid):
    assert hpl.process_grid(ranks) == grid


def test_problem_size_respects_memory_and_time_and_grid():
    n, reasons = hpl.size_problem(memory_bytes=24 * 2**30, nb=256, q=2, gflops_estimate=50.0, time_budget_s=20)

    assert n % (256 * 2) == 0
    assert 8 * n * n <= 0.8 * 24 * 2**30
    assert hpl.hpl_flops(n) / 50e9 <= 20 * 1.01
    assert any(r.startswith("time:") for r in reasons)


def test_n_lands_on_a_rung_so_a_slightly_faster_probe_or_more_free_memory_gives_the_same_n():
    # 24 GiB, NB 256 x Q 2: 0.8 x 24 GiB allows N <= 50,738, 99 steps of 512; the rung below is 98 (2^(53/8)).
    sizes = {hpl.size_problem(memory_bytes=memory, nb=256, q=2, gflops_estimate=None, time_budget_s=None)[0]
             for memory in (24 * 2**30, 24.3 * 2**30)}
    # 60 s at 90 or 96 GFLOPS allows N <= 20,083 or 20,521: 39 or 40 steps, both on the rung 38.
    timed = {hpl.size_problem(memory_bytes=2**40, nb=256, q=2, gflops_estimate=rate, time_budget_s=60)[0]
             for rate in (90.0, 96.0)}

    assert sizes == {98 * 512} and timed == {38 * 512}
    assert [hpl.rung(m) for m in (1, 14, 15, 16, 97, 98, 1000)] == [1, 14, 14, 16, 90, 98, 939]
    assert hpl.rung_at_least(62) == 64 and hpl.rung_at_least(64) == 64
    assert hpl.RUNG_MEAN_TIME_FILL == pytest.approx(0.8806, abs=1e-4)


def test_problem_size_memory_bound_without_budget():
    n, _ = hpl.size_problem(memory_bytes=2**30, nb=192, q=4, gflops_estimate=None, time_budget_s=None)

    assert 8 * n * n <= 0.8 * 2**30 and n % (192 * 4) == 0


def test_hpl_dat_carries_the_problem(tmp_path):
    path = hpl.write_hpl_dat(tmp_path, n=10240, nb=256, p=2, q=4)
    lines = path.read_text().splitlines()

    assert lines[5].split()[0] == "10240" and lines[7].split()[0] == "256"
    assert lines[10].split()[0] == "2" and lines[11].split()[0] == "4"
    assert lines[3].split()[0] == "6"  # results to stdout


@pytest.mark.parametrize(("version", "flavor"), [
    ("mpirun (Open MPI) 4.1.4\n\nReport bugs to http://www.open-mpi.org/community/help/\n", "openmpi"),
    ("Intel(R) MPI Library for Linux* OS, Version 2021.13 Build 20240701 (id: 8f9b2a1)\n", "intel"),
    ("HYDRA build details:\n    Version:                                 4.1.2\n", "mpich"),
])
def test_mpi_flavor(version, flavor):
    assert hpl.mpi_flavor(version) == flavor


def test_unknown_mpi_is_an_error():
    with pytest.raises(hpl.HplError, match="unrecognised MPI launcher"):
        hpl.mpi_flavor("srun: slurm 23.02")


@pytest.mark.parametrize(("flavor", "expected"), [
    ("openmpi", ["-np", "4", "--bind-to", "none"]),
    ("intel", ["-n", "4"]),
    ("mpich", ["-n", "4", "-bind-to", "none"]),
])
def test_every_mpi_launches_unbound_and_each_rank_binds_itself(flavor, expected, monkeypatch, tmp_path):
    """The launchers' own pinning is off (Intel MPI's through I_MPI_PIN=disable): the binder is what binds."""
    monkeypatch.setattr(hpl.shutil, "which", lambda _: "/usr/bin/mpirun")
    monkeypatch.setattr(hpl.os, "geteuid", lambda: 1000)

    command = hpl.bound_command(tmp_path, [[0, 1], [2, 3], [4, 5], [6, 7]], flavor)

    assert command == ["/usr/bin/mpirun", *expected, str(tmp_path / "benchrun-bind")]
    assert (tmp_path / "rank-cpus").read_text() == "0,1\n2,3\n4,5\n6,7\n"
    environment = hpl.bound_environment(2)
    assert environment["I_MPI_PIN"] == "disable" and "I_MPI_PIN_DOMAIN" not in environment
    assert environment["OMP_NUM_THREADS"] == environment["OPENBLAS_NUM_THREADS"] == "2"


def fake_hpl(monkeypatch, *, a: float, b: float, speed=lambda n: 1.0) -> list[int]:
    """run_once on a host whose solve takes (a N^3 + b N^2) / speed(N) seconds; returns the Ns it was asked for."""
    asked = []

    def run_once(xhpl, *, n, nb, p, q, timeout_s, cpus, kind="xhpl"):
        asked.append(n)
        seconds = (a * n**3 + b * n**2) / speed(n)
        return {"n": n, "nb": nb, "p": p, "q": q, "seconds": seconds, "gflops": hpl.hpl_flops(n) / seconds / 1e9,
                "residual": 0.001, "threshold": 16.0, "passed": True, "threads_per_rank": len(cpus[0]),
                "binding": [",".join(map(str, rank)) for rank in cpus]}, ""

    monkeypatch.setattr(hpl, "run_once", run_once)
    return asked


TWO_CORES = {"physical_cores": 2, "sockets": 1, "memory_available_bytes": 20 * 2**30,
             "numa_nodes": [{"node": 0, "cpus": [0, 1], "memory_bytes": 20 * 2**30}]}


def test_two_probes_fit_the_asymptote_and_a_budget_that_reaches_it_says_so(monkeypatch):
    """Issue 15 item 1: a = 2/3 / 100 GFLOPS; b makes small solves slow (panels, start-up)."""
    a, b = 2 / 3 / 100e9, 2e-9
    asked = fake_hpl(monkeypatch, a=a, b=b)

    section, _ = hpl.measure({"path": "xhpl"}, TWO_CORES, nb=256, time_budget_s=300, repetitions=1)

    probe_sizes = sorted({p["n"] for p in section["probes"]})
    # the layouts' probe, its half (the layout choice's fit) and the second probe at twice the size
    assert len(probe_sizes) == 3 and probe_sizes[0] <= probe_sizes[1] / 2 and probe_sizes[2] >= 1.5 * probe_sizes[1]
    near = section["asymptote"]
    assert near["asymptote_gflops"] == pytest.approx(100, rel=1e-6)
    # N >= 19 b / a = 19 x 2e-9 / 6.67e-12 = 5700, rounded up to NB x Q
    assert near["n_near_asymptote"] == pytest.approx(19 * b / a, abs=256 * 2)
    assert near["near_asymptote"] is True and section["n"] > near["n_near_asymptote"]
    assert asked[-1] == section["n"]


def test_a_budget_that_cannot_reach_the_asymptote_says_by_how_much_and_why(monkeypatch):
    """A big host's grid: N^2 work dominates small solves, so the quick budget stops far below."""
    a, b = 2 / 3 / 3000e9, 1e-8
    fake_hpl(monkeypatch, a=a, b=b)

    section, rules = hpl.measure({"path": "xhpl"}, TWO_CORES, nb=256, time_budget_s=12, repetitions=3)

    near = section["asymptote"]
    assert near["near_asymptote"] is False and near["predicted_share"] < 0.95
    assert near["n_near_asymptote"] > section["n"]
    assert "short" in near["note"] and "time:" in near["note"]
    assert all(rule["passed"] for rule in rules)  # a measurement short of the asymptote is not invalid


def test_a_fit_below_what_the_solves_measured_is_not_judged(monkeypatch):
    """A shared host ran the second probe fast (this VM's speed moved 21% within half an hour): the fit through it
    lands below the solves' own rate, which says nothing of the asymptote. At the same speed throughout, judged."""
    a, b = 2 / 3 / 100e9, 2e-9
    fake_hpl(monkeypatch, a=a, b=b, speed=lambda n: 2.0 if 8_000 < n < 12_000 else 1.0)

    section, rules = hpl.measure({"path": "xhpl"}, TWO_CORES, nb=256, time_budget_s=300, repetitions=2)

    near = section["asymptote"]
    assert any(8_000 < p["n"] < 12_000 for p in section["probes"]) and section["n"] > 12_000
    assert near["measured_share"] > 1 + hpl.FIT_BELOW_MEASURED
    assert near["near_asymptote"] is None and "not judged" in near["note"] and "above the fitted" in near["note"]
    assert all(rule["passed"] for rule in rules)
    fake_hpl(monkeypatch, a=a, b=b)
    steady, _ = hpl.measure({"path": "xhpl"}, TWO_CORES, nb=256, time_budget_s=300, repetitions=2)
    assert steady["asymptote"]["near_asymptote"] is not None


def test_the_test_profiles_probes_run_at_its_smaller_n_and_still_choose_a_layout(monkeypatch):
    """The test profile's hpl_probe_n: every layout is still probed, each at N <= 2048 instead of PROBE_N."""
    from benchmark_runner import cli

    asked = fake_hpl(monkeypatch, a=2 / 3 / 100e9, b=2e-9)
    cap = cli.PROFILES["test"]["hpl_probe_n"]

    section, _ = hpl.measure({"path": "xhpl"}, TWO_CORES, nb=256, time_budget_s=2, repetitions=2, probe_cap=cap)

    candidates = section["layout_selection"]["candidates"]
    assert len(candidates) == len(hpl.layouts(TWO_CORES)) > 1
    assert all(c["n"] <= cap for c in candidates) and all(n <= cap for n in asked[:len(candidates)])
    assert section["probe"]["n"] <= cap < hpl.PROBE_N


def test_probes_give_every_process_row_and_column_several_blocks():
    assert hpl.probe_n(256, 12, p=8) == 4 * 256 * 12  # 8x12 grid: 12288, not 5000
    assert hpl.probe_n(256, 2) == 4608  # a small grid keeps PROBE_N (rounded to NB x Q)
    assert hpl.probe_n(256, 12, cap=6000, p=8) == 3072  # a given N caps it
    assert hpl.binding_limit(["memory: ... allows N <= 46010", "time: ... allows N <= 12009", "N = 11776"]) \
        .startswith("time:")


def test_scaling_runs_one_core_and_the_first_numa_node_bound_to_it_and_divides_per_core(monkeypatch):
    """A 2-node, 8-core host: one core, node 0's 4 cores under numactl, then the all-core solves' median."""
    topology = {"physical_cores": 8, "memory_available_bytes": 64 * 2**30,
                "numa_nodes": [{"node": 0, "cpus": [0, 1, 2, 3], "physical_cores": 4, "memory_bytes": 16 * 2**30},
                               {"node": 1, "cpus": [4, 5, 6, 7], "physical_cores": 4, "memory_bytes": 48 * 2**30}]}
    section = {"nb": 256, "n": 40960, "p": 2, "q": 4, "runs": [{"seconds": 30.0}, {"seconds": 32.0}],
               "summary": {"median_gflops": 320.0, "all_passed": True}}
    solved = []

    def run_once(xhpl, *, n, nb, p, q, timeout_s, cpus, kind, prefix):
        solved.append({"n": n, "ranks": p * q, "threads": len(cpus[0]), "prefix": prefix, "cpus": cpus})
        return {"gflops": {1: 50.0, 4: 180.0}[p * q], "seconds": 9.0, "residual": 0.003, "passed": True,
                "binding": []}, ""

    monkeypatch.setattr(hpl, "run_once", run_once)
    monkeypatch.setattr(hpl.shutil, "which", lambda name: f"/usr/bin/{name}")

    scaling = hpl.scaling({"path": "xhpl"}, topology, section, budget_s=60)

    assert [(s["ranks"], s["threads"]) for s in solved] == [(1, 1), (4, 1)]
    assert solved[0]["prefix"] is None
    assert solved[1]["prefix"] == ["/usr/bin/numactl", "--cpunodebind=0", "--membind=0"]
    assert solved[0]["cpus"] == [[0]] and solved[1]["cpus"] == [[0], [1], [2], [3]]  # node 0's cores, one each
    assert solved[1]["n"] ** 2 * 8 <= hpl.MEMORY_FRACTION * 16 * 2**30  # node 0's memory, not the host's
    points = {p["scope"]: p for p in scaling["points"]}
    assert list(points) == ["one-core", "node0", "all-cores"]
    assert points["one-core"]["parallel_efficiency"] == 1.0
    assert points["node0"]["parallel_efficiency"] == pytest.approx(180 / 4 / 50)
    assert points["all-cores"]["parallel_efficiency"] == pytest.approx(320 / 8 / 50)
    assert points["all-cores"]["seconds"] == 31.0
    one_core = hpl.scaling({"path": "xhpl"}, {**topology, "physical_cores": 1}, section, budget_s=60)
    assert one_core["points"] == [] and len(solved) == 2  # nothing to scale on one core


SMT_HOSTS = ("m7i.48xlarge", "c7i.metal-48xl")


@pytest.mark.parametrize("instance_type", SMT_HOSTS)
@pytest.mark.parametrize("flavor", ["openmpi", "intel", "mpich"])
def test_on_two_threads_per_core_every_layout_gives_each_rank_and_thread_a_physical_core_of_its_own(
        instance_type, flavor, monkeypatch, tmp_path):
    """96 cores, 192 logical CPUs (node0: 0-47 and their hyperthreads 96-143). Under Intel MPI's former
    I_MPI_PIN_DOMAIN=omp, domains are laid out compactly over logical CPUs, so a 2-thread rank could hold both
    hyperthreads of one core; now each rank binds itself to one logical CPU of each of its own cores."""
    monkeypatch.setattr(hpl.shutil, "which", lambda _: "/usr/bin/mpirun")
    topology = recorded_topology(instance_type)
    assert (topology["physical_cores"], topology["threads_per_core"]) == (96, 2)
    assert topology["cores"][0] == [0, 96] and topology["cores"][48] == [48, 144]

    layouts = hpl.layouts(topology)
    assert {(96, 1), (1, 96), (2, 48)} <= set(layouts)
    for ranks, threads in layouts:
        cpus = hpl.rank_cpus(topology, ranks, threads)
        assert hpl.binding_problems(cpus, topology["cores"], ranks, threads) == []
        assert sorted(cpu for rank in cpus for cpu in rank) == list(range(96))  # never a second hyperthread
        command = hpl.bound_command(tmp_path, cpus, flavor)
        assert command[-1] == str(tmp_path / "benchrun-bind")
        assert not {"core", "--map-by", "slot:PE=48"} & set(command)  # no launcher binding to second-guess it
        assert (tmp_path / "rank-cpus").read_text().splitlines() == [",".join(map(str, rank)) for rank in cpus]
    if (2, 48) in layouts:  # one rank per NUMA node: node 0's cores for rank 0, node 1's for rank 1
        two = hpl.rank_cpus(topology, 2, 48)
        assert two[0] == list(range(48)) and two[1] == list(range(48, 96))
    environment = hpl.bound_environment(48)
    assert environment["I_MPI_PIN"] == "disable" and "I_MPI_PIN_DOMAIN" not in environment


@pytest.mark.parametrize("instance_type", SMT_HOSTS)
def test_a_binding_that_puts_two_ranks_or_two_threads_on_one_core_is_named(instance_type):
    cores = recorded_topology(instance_type)["cores"]

    assert hpl.binding_problems([[0], [96]], cores, 2, 1) == ["ranks 0 and 1 share physical core [0, 96]"]
    assert hpl.binding_problems([[0, 96]], cores, 1, 2) == [
        "rank 0 is bound to CPUs [0, 96] on 1 physical core(s), for 2 BLAS thread(s)"]
    assert hpl.binding_problems([[0], []], cores, 2, 1) == ["rank 1 reported no binding"]
    assert hpl.binding_problems([[0]], cores, 2, 1) == ["1 binding(s) recorded for 2 rank(s)"]


def test_a_solve_whose_recorded_binding_shares_a_core_fails_its_rule(monkeypatch):
    def run_once(xhpl, *, n, nb, p, q, timeout_s, cpus, kind="xhpl"):
        return {"n": n, "nb": nb, "p": p, "q": q, "seconds": 1.0, "gflops": 10.0, "residual": 0.001,
                "threshold": 16.0, "passed": True, "binding": ["0"] * (p * q)}, ""

    monkeypatch.setattr(hpl, "run_once", run_once)

    _, rules = hpl.measure({"path": "xhpl"}, TWO_CORES, nb=256, p=2, q=1, n=2048, repetitions=1)

    rule = next(r for r in rules if r["rule"] == "hpl.one_thread_per_core")
    assert rule["passed"] is False and "ranks 0 and 1 share physical core [0]" in rule["detail"]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to bind a rank to the second")
def test_the_binder_binds_each_rank_to_its_line_and_reports_what_the_kernel_says(tmp_path):
    """The binder for real (taskset, /proc): rank 1 of two runs on CPU 1 alone, under Hydra's and Open MPI's
    rank variables alike, and the line it prints is what the document records."""
    binder = hpl.bound_command(tmp_path, [[0], [1]], "mpich")[-1]
    for variable in ("PMI_RANK", "OMPI_COMM_WORLD_RANK"):
        env = {k: v for k, v in os.environ.items() if k not in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")}
        proc = subprocess.run([binder, "sh", "-c", "grep Cpus_allowed_list /proc/self/status"],
                              env={**env, variable: "1"}, capture_output=True, text=True, check=True)
        assert proc.stdout.split() == ["Cpus_allowed_list:", "1"]
        assert hpl.parse_bindings(proc.stderr, 2) == [[], [1]]


def per_layout_hpl(monkeypatch, models: dict[int, tuple[float, float]]) -> None:
    """run_once on a host where each layout (keyed by its BLAS threads per rank) takes a N^3 + b N^2 seconds."""
    def run_once(xhpl, *, n, nb, p, q, timeout_s, cpus, kind="xhpl"):
        a, b = models[len(cpus[0])]
        seconds = a * n**3 + b * n**2
        return {"n": n, "nb": nb, "p": p, "q": q, "seconds": seconds, "gflops": hpl.hpl_flops(n) / seconds / 1e9,
                "residual": 0.001, "threshold": 16.0, "passed": True,
                "binding": [",".join(map(str, rank)) for rank in cpus]}, ""

    monkeypatch.setattr(hpl, "run_once", run_once)


def test_the_layout_is_chosen_by_its_fitted_rate_at_the_solve_s_n_not_at_the_tiny_probe(monkeypatch):
    """A (2 ranks x 1 thread): a = 1.0e-11, b = 5e-8, the faster N^3 term and a large N^2 overhead; B (1 x 2):
    a = 1.2e-11, b = 1e-9. At the probe's N = 5120 B takes 1.6 s and A 2.7: B looked faster. They cross at
    N = (5e-8 - 1e-9) / 0.2e-11 = 24,500; the solve runs near 40,000, where A is about 7% faster."""
    per_layout_hpl(monkeypatch, {1: (1.0e-11, 5e-8), 2: (1.2e-11, 1e-9)})

    chosen, selection = hpl.choose_layout("xhpl", TWO_CORES, 256, per_solve_budget=1000)

    by_threads = {c["threads_per_rank"]: c for c in selection["candidates"]}
    assert by_threads[2]["gflops"] > by_threads[1]["gflops"]  # at the probe, B
    assert selection["solve_n"] > 24_500
    assert by_threads[1]["predicted_gflops_at_solve_n"] > by_threads[2]["predicted_gflops_at_solve_n"]
    assert (chosen["ranks"], chosen["threads_per_rank"]) == (2, 1)  # at the solve, A
    # with no budget to reach the crossing (a 10 s solve), B stays the faster there, and is chosen
    chosen, _ = hpl.choose_layout("xhpl", TWO_CORES, 256, per_solve_budget=10)
    assert (chosen["ranks"], chosen["threads_per_rank"]) == (1, 2)


def test_two_hosts_a_few_percent_apart_share_the_plan_s_n_where_they_would_straddle_a_rung(monkeypatch):
    """The second host is 3% faster. For some budget their sized N fall on two rungs, which the dataset would
    keep as two one-host rows; given the plan's N (the lower rung here), both run at it."""
    def sized(a, budget, hint=None):
        per_layout_hpl(monkeypatch, {1: (a, 0.0), 2: (a, 0.0)})
        section, _ = hpl.measure({"path": "xhpl"}, TWO_CORES, nb=256, time_budget_s=budget, repetitions=1,
                                 n_hint=hint)
        return section["n"], section["sizing"]

    slow, fast = 2 / 3 / 50e9, 2 / 3 / 50e9 / 1.03
    budget = next(b for b in range(20, 2000, 5) if sized(slow, b)[0] != sized(fast, b)[0])
    lower, upper = sorted((sized(slow, budget)[0], sized(fast, budget)[0]))

    (n_slow, why_slow), (n_fast, why_fast) = sized(slow, budget, hint=lower), sized(fast, budget, hint=lower)

    assert n_slow == n_fast == lower < upper
    assert any("the plan's N" in reason for reason in why_slow + why_fast)
    # a plan's N two rungs or more below (or above) what this host sizes is not taken: the host sizes its own
    assert sized(fast, budget, hint=lower // 2)[0] == upper


def test_parallel_efficiency_is_also_stated_at_each_phase_s_own_clock():
    """8 cores: one core 50 GFLOPS at single-core turbo 3.8 GHz, all cores 320 GFLOPS at 3.2 GHz. Plain, 0.80 of
    linear; at each phase's clock (12.5 against 13.16 GFLOPS per GHz per core), 0.95: the rest was turbo."""
    points = [{"scope": "one-core", "cores": 1, "gflops": 50.0}, {"scope": "node0", "cores": 4, "gflops": 180.0},
              {"scope": "all-cores", "cores": 8, "gflops": 320.0}]
    phases = {"scaling one-core": {"median_mhz": 3800.0}, "scaling node0": {"median_mhz": None},
              "solves": {"median_mhz": 3200.0}}

    hpl.efficiency_at_phase_clocks(points, phases)

    by_scope = {p["scope"]: p for p in points}
    assert by_scope["one-core"]["parallel_efficiency_at_phase_clock"] == 1.0
    assert by_scope["all-cores"]["parallel_efficiency_at_phase_clock"] == pytest.approx(0.95, abs=1e-4)
    assert by_scope["all-cores"]["clock_ghz"] == 3.2
    assert "parallel_efficiency_at_phase_clock" not in by_scope["node0"]  # no reading in its phase: none
