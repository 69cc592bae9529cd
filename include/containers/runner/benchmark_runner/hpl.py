"""HPL: HPL.dat generation, problem sizing, mpirun, and the output parser."""

from __future__ import annotations

import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark_runner._log import log

# Share of available memory the matrix may take (the usual HPL guidance is ~80%).
MEMORY_FRACTION = 0.8
RESIDUAL_THRESHOLD = 16.0
# Large enough that the BLAS, not MPI start-up, dominates; a second or two per layout.
PROBE_N = 5000
# A probe gives every process row and column at least this many NB blocks, so layouts are compared
# where the grid does real work (a 96-rank 8x12 grid at N=5000 had about 2 block columns per rank).
MIN_BLOCKS_PER_PROCESS = 4
# The rate counted as the asymptote's: within 5% of the fitted asymptotic rate.
ASYMPTOTE_SHARE = 0.95
# A fitted asymptote this far below the solves' own median is the sizes' noise, not HPL's curve (seen here: the
# standard profile's fit 79.45 GFLOPS against its solves' 83.14, benchmarks/asymptote_check.py): not judged.
FIT_BELOW_MEASURED = 0.02
# N lands on a rung: NB x Q times floor(2^(k/8)), rungs about 9% apart. N is sized from a timed probe and the
# free memory, and both move a little from run to run; on a rung the runs of one type mostly share one N, and
# the dataset pools HPL's samples only at one N (analysis.CONFIGURATION_KEYS). It costs up to 9% of N, up to
# 27% of a solve's time budget (12% on average, RUNG_MEAN_TIME_FILL).
RUNGS_PER_DOUBLING = 8
RUNG_MEAN_TIME_FILL = (1 - 2 ** (-3 / RUNGS_PER_DOUBLING)) / (3 * math.log(2) / RUNGS_PER_DOUBLING)
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
# Each rank binds itself before it becomes xhpl, the same way under Open MPI, Intel MPI and MPICH, with their own
# pinning off: rank r takes line r+1 of rank-cpus (rank_cpus: one logical CPU of each of its own physical cores),
# then says what the kernel reports it may run on, which the document records (binding_problems checks it). Not
# the launchers' pinning: Intel MPI's I_MPI_PIN_DOMAIN=omp lays domains out over logical CPUs, compactly by
# default, and makes I_MPI_PIN_PROCESSOR_LIST ignored (Intel MPI Library Developer Reference for Linux 2021.19,
# "Environment Variables for Process Pinning"), so on a host with two threads per core two ranks, or a rank's
# BLAS threads, could share one core; I_MPI_PIN=disable turns it off there. Open MPI (--bind-to none) and MPICH's
# Hydra (-bind-to none) launch unbound. PMI_RANK: Hydra (Intel MPI, MPICH); OMPI_COMM_WORLD_RANK: Open MPI.
BINDER = """#!/bin/sh
rank="${PMI_RANK:-${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-0}}}"
cpus=$(sed -n "$((rank + 1))p" "$(dirname "$0")/rank-cpus")
taskset -pc "$cpus" $$ > /dev/null || { echo "benchrun-binding rank=$rank failed: taskset -pc $cpus" >&2; exit 97; }
echo "benchrun-binding rank=$rank cpus=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/$$/status)" >&2
exec "$@"
"""
_BINDING_LINE = re.compile(r"^benchrun-binding rank=(\d+) cpus=(\S+)\s*$", re.MULTILINE)

HPL_DAT_TEMPLATE = """\
HPLinpack benchmark input file
instance-benchmarks runner (generated)
HPL.out      output file name (if any)
6            device out (6=stdout,7=stderr,file)
1            # of problems sizes (N)
{n}          Ns
1            # of NBs
{nb}         NBs
0            PMAP process mapping (0=Row-,1=Column-major)
1            # of process grids (P x Q)
{p}          Ps
{q}          Qs
{threshold}  threshold
1            # of panel fact
2            PFACTs (0=left, 1=Crout, 2=Right)
1            # of recursive stopping criterium
4            NBMINs (>= 1)
1            # of panels in recursion
2            NDIVs
1            # of recursive panel fact.
1            RFACTs (0=left, 1=Crout, 2=Right)
1            # of broadcast
1            BCASTs (0=1rg,1=1rM,2=2rg,3=2rM,4=Lng,5=LnM)
1            # of lookahead depth
1            DEPTHs (>=0)
2            SWAP (0=bin-exch,1=long,2=mix)
64           swapping threshold
0            L1 in (0=transposed,1=no-transposed) form
0            U  in (0=transposed,1=no-transposed) form
1            Equilibration (0=no,1=yes)
8            memory alignment in double (> 0)
"""

# hpcc reads HPL.dat's lines from hpccinf.txt, then these (PTRANS sizes) after a separator line.
HPCC_TAIL = """\
##### This line (no. 32) is ignored (it serves as a separator). ######
0                      		Number of additional problem sizes for PTRANS
1200 10000 30000        	values of N
0                       	number of additional blocking sizes for PTRANS
40 9 8 13 13 20 16 32 64       	values of NB
"""

_RESULT_LINE = re.compile(
    r"^(W[RC]\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+e[+-]\d+|[\d.]+)\s*$", re.MULTILINE
)
_RESIDUAL_LINE = re.compile(r"^\|\|Ax-b\|\|_oo/\(eps\*.*=\s*([\d.eE+-]+)\s+\.+\s+(PASSED|FAILED)\s*$", re.MULTILINE)


class HplError(RuntimeError):
    """HPL could not run or printed nothing usable."""


def default_nb(machine: str | None = None) -> tuple[int, str]:
    """Block size per architecture (this host's, or `machine`'s); the reason is recorded with it."""
    if (machine or platform.machine()) in ("aarch64", "arm64"):
        return 192, "NB 192: a common choice for OpenBLAS/ArmPL on Neoverse cores"
    return 256, "NB 256: a common choice for OpenBLAS/BLIS/MKL DGEMM on AVX2 and AVX-512 cores"


def process_grid(ranks: int) -> tuple[int, int]:
    """P x Q = ranks, near-square, P <= Q (HPL prefers flat grids)."""
    p = max(d for d in range(1, int(math.isqrt(ranks)) + 1) if ranks % d == 0)
    return p, ranks // p


def hpl_flops(n: int) -> float:
    """HPL's own operation count for an N x N solve (as HPL_pdtest divides by the time)."""
    return 2.0 / 3.0 * n**3 + 1.5 * n**2


def _rung_value(k: int) -> int:
    return math.floor(2 ** (k / RUNGS_PER_DOUBLING))


def rung(multiple: int) -> int:
    """The largest rung, floor(2^(k/8)), at most `multiple` (1 at least)."""
    if multiple <= 1:
        return 1
    k = math.floor(RUNGS_PER_DOUBLING * math.log2(multiple))
    while _rung_value(k + 1) <= multiple:  # float rounding either way
        k += 1
    while _rung_value(k) > multiple:
        k -= 1
    return _rung_value(k)


def rung_at_least(multiple: int) -> int:
    """The smallest rung at least `multiple`."""
    k = 0
    while _rung_value(k) < multiple:
        k += 1
    return _rung_value(k)


def size_problem(
    *, memory_bytes: int, nb: int, q: int, gflops_estimate: float | None, time_budget_s: float | None
) -> tuple[int, list[str]]:
    """Largest N on a rung (NB x Q x floor(2^(k/8))) within MEMORY_FRACTION of memory and the time budget."""
    step = nb * q
    n_memory = int(math.sqrt(MEMORY_FRACTION * memory_bytes / 8))
    reasons = [f"memory: {MEMORY_FRACTION:.0%} of {memory_bytes} bytes allows N <= {n_memory}"]
    n = n_memory
    if time_budget_s and gflops_estimate:
        n_time = int((1.5 * time_budget_s * gflops_estimate * 1e9) ** (1 / 3))
        reasons.append(
            f"time: {time_budget_s:.0f} s at the probe's {gflops_estimate:.1f} GFLOPS allows N <= {n_time}"
        )
        n = min(n, n_time)
    n = rung(n // step) * step
    reasons.append(f"N = {n}, the largest rung NB x Q x floor(2^(k/{RUNGS_PER_DOUBLING})) = {step} x {n // step} "
                   "within both (rungs about 9% apart, so runs of one host mostly share N)")
    return n, reasons


def write_hpl_dat(directory: Path, *, n: int, nb: int, p: int, q: int) -> Path:
    path = directory / "HPL.dat"
    path.write_text(HPL_DAT_TEMPLATE.format(n=n, nb=nb, p=p, q=q, threshold=RESIDUAL_THRESHOLD))
    return path


_THRESHOLD_LINE = re.compile(r"scaled residuals are less than\s+([\d.eE+-]+)")


def parse_output(text: str) -> list[dict[str, Any]]:
    """Every (result line, residual line) pair HPL printed, in order, with HPL's own threshold."""
    threshold_match = _THRESHOLD_LINE.search(text)
    threshold = float(threshold_match.group(1)) if threshold_match else RESIDUAL_THRESHOLD
    results = list(_RESULT_LINE.finditer(text))
    residuals = list(_RESIDUAL_LINE.finditer(text))
    if not results:
        raise HplError("HPL printed no result line (T/V N NB P Q Time Gflops)")
    runs = []
    for index, match in enumerate(results):
        variant, n, nb, p, q, seconds, gflops = match.groups()
        # The residual line of a result follows it and precedes the next result.
        end = results[index + 1].start() if index + 1 < len(results) else len(text)
        residual = next((r for r in residuals if match.end() < r.start() < end), None)
        runs.append(
            {
                "variant": variant,
                "n": int(n),
                "nb": int(nb),
                "p": int(p),
                "q": int(q),
                "seconds": float(seconds),
                "gflops": float(gflops),
                "residual": float(residual.group(1)) if residual else None,
                "threshold": threshold,
                "passed": bool(residual and residual.group(2) == "PASSED"),
            }
        )
    return runs


def layouts(topology: dict[str, Any]) -> list[tuple[int, int]]:
    """(MPI ranks, BLAS threads per rank) worth measuring on this host.

    One rank per core with single-threaded BLAS (HPL's classic layout), one rank with
    the BLAS threaded over every core, and one rank per NUMA node (or socket) with the
    BLAS threaded over that node's cores.
    """
    cores = topology["physical_cores"]
    candidates = [(cores, 1), (1, cores)]
    for domains in (len([n for n in topology["numa_nodes"] if n["cpus"]]), topology["sockets"]):
        if 1 < domains < cores and cores % domains == 0:
            candidates.append((domains, cores // domains))
    return list(dict.fromkeys(candidates))


def mpi_flavor(version_text: str) -> str:
    """openmpi, intel or mpich, from `mpirun --version`: their launchers take different options."""
    if "Open MPI" in version_text or "OpenRTE" in version_text:
        return "openmpi"
    if "Intel(R) MPI" in version_text:
        return "intel"
    if "HYDRA" in version_text or "MPICH" in version_text:
        return "mpich"
    raise HplError(f"unrecognised MPI launcher: {version_text.strip()[:200]!r}")


def mpirun_command(ranks: int, flavor: str | None = None) -> list[str]:
    """Launch `ranks` processes unbound: each binds itself (BINDER), so every MPI binds the same way."""
    mpirun = shutil.which("mpirun")
    if not mpirun:
        raise HplError("mpirun not found: install OpenMPI (Debian: openmpi-bin)")
    if flavor is None:
        flavor = mpi_flavor(subprocess.run([mpirun, "--version"], capture_output=True, text=True).stdout)
    if flavor == "intel":  # its pinning is off through I_MPI_PIN=disable (bound_environment)
        return [mpirun, "-n", str(ranks)]
    if flavor == "mpich":
        return [mpirun, "-n", str(ranks), "-bind-to", "none"]
    cmd = [mpirun, "-np", str(ranks), "--bind-to", "none"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.insert(1, "--allow-run-as-root")  # containers and SSM run as root
    return cmd


def core_list(topology: dict[str, Any]) -> list[list[int]]:
    """Each physical core's logical CPUs (topology.core_cpus); a description without them (one recorded before
    the runner read them) counts each CPU of its NUMA nodes as a core, which holds only with one thread per core."""
    if topology.get("cores"):
        return topology["cores"]
    return [[cpu] for node in topology["numa_nodes"] for cpu in node["cpus"]]


def rank_cpus(topology: dict[str, Any], ranks: int, threads_per_rank: int, *, node: int | None = None
              ) -> list[list[int]]:
    """The logical CPUs each rank is bound to: `threads_per_rank` physical cores of its own, one logical CPU of
    each, ranks filling the cores in order (node 0's first). No two ranks, and no two BLAS threads of one rank,
    share a core's hyperthreads, whichever MPI launches them. `node`: that NUMA node's cores only."""
    node_cpus = None
    if node is not None:
        node_cpus = {cpu for entry in topology["numa_nodes"] if entry["node"] == node for cpu in entry["cpus"]}
    usable = []
    for core in core_list(topology):
        cpus = [cpu for cpu in core if node_cpus is None or cpu in node_cpus]
        if cpus:
            usable.append(cpus[0])
    needed = ranks * threads_per_rank
    if len(usable) < needed:
        raise HplError(f"{ranks} rank(s) x {threads_per_rank} thread(s) need {needed} physical cores; "
                       f"{len(usable)} are listed{f' on node {node}' if node is not None else ''}")
    return [usable[r * threads_per_rank:(r + 1) * threads_per_rank] for r in range(ranks)]


def bound_environment(threads_per_rank: int) -> dict[str, str]:
    """The BLAS's thread count, each OpenMP thread on one of its rank's CPUs (each on a core of its own), and
    Intel MPI's pinning off (the ranks bind themselves)."""
    return {"I_MPI_PIN": "disable", "OMP_PROC_BIND": "close", "OMP_PLACES": "threads",
            **{var: str(threads_per_rank) for var in BLAS_THREAD_VARS}}


def bound_command(directory: Path, cpus: list[list[int]], flavor: str | None = None) -> list[str]:
    """mpirun and the binder (written to `directory` with each rank's CPUs), to be followed by the program."""
    binder = directory / "benchrun-bind"
    binder.write_text(BINDER)
    binder.chmod(0o755)
    (directory / "rank-cpus").write_text("".join(",".join(map(str, rank)) + "\n" for rank in cpus))
    return [*mpirun_command(len(cpus), flavor), str(binder)]


def parse_bindings(stderr: str, ranks: int) -> list[list[int]]:
    """Each rank's CPUs as the kernel reported them to the binder, in rank order ([] for a rank that said none)."""
    from benchmark_runner.topology import parse_cpu_list

    found = {int(rank): parse_cpu_list(cpus) for rank, cpus in _BINDING_LINE.findall(stderr)}
    return [found.get(rank, []) for rank in range(ranks)]


def binding_problems(bindings: list[list[int]], cores: list[list[int]], ranks: int, threads_per_rank: int
                     ) -> list[str]:
    """Why the recorded bindings do not give each BLAS thread a physical core of its own: not one per rank, a rank
    that reported none, a rank whose CPUs are not `threads_per_rank` distinct cores, two ranks on one core. Empty
    when they do."""
    core_of = {cpu: index for index, core in enumerate(cores) for cpu in core}
    problems: list[str] = [] if len(bindings) == ranks else [f"{len(bindings)} binding(s) recorded for {ranks} rank(s)"]
    owner: dict[int, int] = {}
    for rank, cpus in enumerate(bindings):
        if not cpus:
            problems.append(f"rank {rank} reported no binding")
            continue
        unknown = [cpu for cpu in cpus if cpu not in core_of]
        if unknown:
            problems.append(f"rank {rank} is bound to CPUs {unknown} the host description does not list")
            continue
        its_cores = {core_of[cpu] for cpu in cpus}
        if len(cpus) != threads_per_rank or len(its_cores) != threads_per_rank:
            problems.append(f"rank {rank} is bound to CPUs {cpus} on {len(its_cores)} physical core(s), "
                            f"for {threads_per_rank} BLAS thread(s)")
        for core in sorted(its_cores):
            if core in owner:
                problems.append(f"ranks {owner[core]} and {rank} share physical core {cores[core]}")
            owner.setdefault(core, rank)
    return problems


def recorded_binding(run: dict[str, Any]) -> list[list[int]]:
    """A run's recorded binding (one "0,96"-style list per rank) as lists of CPUs."""
    return [[int(cpu) for cpu in rank.split(",")] if rank else [] for rank in run.get("binding") or []]


def run_once(xhpl: str, *, n: int, nb: int, p: int, q: int, timeout_s: float, cpus: list[list[int]],
             kind: str = "xhpl", prefix: list[str] | None = None) -> tuple[dict[str, Any], str]:
    """One HPL solve with P x Q ranks, rank r bound to cpus[r] (rank_cpus), one BLAS thread per CPU of it.

    kind="hpcc" runs Debian's hpcc instead: it reads hpccinf.txt and writes its report,
    HPL's lines included, to hpccoutf.txt. `prefix` runs mpirun under it (numactl, to keep
    the ranks' memory on one NUMA node).
    """
    threads_per_rank = len(cpus[0])
    env = dict(os.environ, **bound_environment(threads_per_rank))
    with tempfile.TemporaryDirectory(prefix="benchrun-hpl-") as tmp:
        dat = write_hpl_dat(Path(tmp), n=n, nb=nb, p=p, q=q)
        if kind == "hpcc":
            (Path(tmp) / "hpccinf.txt").write_text(dat.read_text() + HPCC_TAIL)
        cmd = [*(prefix or []), *bound_command(Path(tmp), cpus), xhpl]
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, env=env, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise HplError(f"HPL N={n} did not finish within {timeout_s:.0f} s") from exc
        wall = time.monotonic() - started
        report = Path(tmp) / "hpccoutf.txt"
        output = report.read_text() if kind == "hpcc" and report.exists() else proc.stdout
    try:
        runs = parse_output(output)
    except HplError as exc:
        raise HplError(f"{exc}; exit {proc.returncode}; stderr: {proc.stderr.strip()[-800:]}") from exc
    run = runs[0]
    run["wall_seconds"] = round(wall, 3)
    run["exit_code"] = proc.returncode
    run["threads_per_rank"] = threads_per_rank
    run["binding"] = [",".join(map(str, rank)) for rank in parse_bindings(proc.stderr, p * q)]
    return run, output


def probe_n(nb: int, q: int, cap: int | None = None, p: int = 1) -> int:
    """The probe size: PROBE_N, or enough for MIN_BLOCKS_PER_PROCESS blocks per process row and column."""
    size = max(PROBE_N, MIN_BLOCKS_PER_PROCESS * nb * max(p, q))
    size = min(size, cap) if cap else size
    return max(nb * q, size // (nb * q) * (nb * q))


def second_probe_n(probe: dict[str, Any], *, nb: int, q: int, memory_bytes: int,
                   per_solve_budget: float | None) -> int | None:
    """Twice the first probe's N (or 1.5 times), where memory and a quarter of one solve's budget allow it."""
    n_memory = int(math.sqrt(MEMORY_FRACTION * memory_bytes / 8))
    for factor in (2.0, 1.5):
        n = int(probe["n"] * factor) // (nb * q) * (nb * q)
        seconds = hpl_flops(n) / (probe["gflops"] * 1e9)
        if probe["n"] < n <= n_memory and (per_solve_budget is None or seconds <= per_solve_budget / 4):
            return n
    return None


def binding_limit(sizing: list[str]) -> str:
    """Of size_problem's reasons, the one that capped N (the smallest bound)."""
    bounds = [(int(m.group(1)), reason) for reason in sizing if (m := re.search(r"allows N <= (\d+)", reason))]
    return min(bounds)[1] if bounds else "N was given"


def fit_time_model(points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """time(N) = a N^3 + b N^2, least squares on t / N^2 = a N + b over the probes and the solves: the N^3
    term is the factorisation at the asymptotic rate, the N^2 term what does not scale with it (panels,
    broadcasts). None with fewer than two sizes, or when the larger sizes were not slower per N^3 (noise)."""
    xs = [float(r["n"]) for r in points if r["seconds"] > 0]
    ys = [r["seconds"] / r["n"] ** 2 for r in points if r["seconds"] > 0]
    if len(set(xs)) < 2:
        return None
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    a = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    b = mean_y - a * mean_x
    if a <= 0:
        return None
    return {"a": a, "b": b, "asymptote_gflops": 2.0 / 3.0 / a / 1e9}


def predicted_gflops(model: dict[str, Any], n: int) -> float:
    return hpl_flops(n) / (model["a"] * n**3 + model["b"] * n**2) / 1e9


def asymptote(model: dict[str, Any] | None, n: int, nb: int, q: int, limit: str) -> dict[str, Any]:
    """How close N comes to the fitted asymptote, the smallest N within ASYMPTOTE_SHARE of it, and why
    N is not larger (`limit`: what capped it)."""
    method = (f"time(N) = a N^3 + b N^2 fitted to the two probes and the solves; the asymptote is 2/3 / a; "
              f"near means a fitted rate at N within {1 - ASYMPTOTE_SHARE:.0%} of it")
    if model is None:
        return {"method": method, "near_asymptote": None,
                "note": "the sizes could not separate the N^3 and N^2 terms (noise): not judged"}
    step = nb * q
    # a N^3 / (a N^3 + b N^2) >= share  <=>  N >= share / (1 - share) * b / a
    n_near = step if model["b"] <= 0 else math.ceil(ASYMPTOTE_SHARE / (1 - ASYMPTOTE_SHARE) * model["b"] / model["a"]
                                                    / step) * step
    share = predicted_gflops(model, n) / model["asymptote_gflops"]
    result = {"method": method, "asymptote_gflops": round(model["asymptote_gflops"], 2),
              "predicted_gflops": round(predicted_gflops(model, n), 2), "predicted_share": round(share, 4),
              "n_near_asymptote": n_near, "near_asymptote": share >= ASYMPTOTE_SHARE,
              "fit": {"a": model["a"], "b": model["b"]}}
    if share < ASYMPTOTE_SHARE:
        result["note"] = (f"N = {n} is predicted at {share:.0%} of the asymptote ({1 - share:.0%} short); "
                          f"N >= {n_near} would be within {1 - ASYMPTOTE_SHARE:.0%}, but {limit}")
    return result


def choose_layout(xhpl: str, topology: dict[str, Any], nb: int, cap: int | None = None, kind: str = "xhpl",
                  per_solve_budget: float | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Time each (ranks, threads) layout at the probe size and at half of it, fit each one's time model
    (fit_time_model), and use the one the model predicts fastest at the solve's N; all are recorded.

    At the probe size a layout with small overheads (a small N^2 term) wins even where another has the faster
    N^3 term, which is what a solve many times larger runs at: on m7i.48xlarge the probe runs at about 55% of
    the asymptote. Where a layout's two probes cannot separate the terms (noise), its probe rate stands.
    hpcc gets one rank per core only: each of its probes runs the whole HPC Challenge suite.
    """
    candidates_layouts = layouts(topology)[:1] if kind == "hpcc" else layouts(topology)
    options = [(ranks, threads, *process_grid(ranks)) for ranks, threads in candidates_layouts]
    common_q = math.lcm(*(q for _, _, _, q in options))  # one N for every layout: a fair comparison
    size = probe_n(nb, common_q, cap, p=max(max(p, q) for _, _, p, q in options))
    small = max(nb * common_q, size // 2 // (nb * common_q) * (nb * common_q))
    candidates = []
    for ranks, threads, p, q in options:
        cpus = rank_cpus(topology, ranks, threads)
        run, _ = run_once(xhpl, n=size, nb=nb, p=p, q=q, timeout_s=900, cpus=cpus, kind=kind)
        points = [run]
        if small < size and len(options) > 1:
            smaller, _ = run_once(xhpl, n=small, nb=nb, p=p, q=q, timeout_s=900, cpus=cpus, kind=kind)
            points.append(smaller)
        log("HPL layout %d rank(s) x %d thread(s), N=%d: %.1f GFLOPS, residual %s", ranks, threads, run["n"],
            run["gflops"], "PASSED" if run["passed"] else "FAILED")
        candidates.append({"ranks": ranks, "threads_per_rank": threads, "p": p, "q": q, "n": run["n"],
                           "seconds": run["seconds"], "gflops": run["gflops"],
                           "passed": all(point["passed"] for point in points),
                           "probes": [_probe_record(point) for point in points],
                           "model": fit_time_model(points)})
    passing = [c for c in candidates if c["passed"]] or candidates
    # The solve's N as the fastest probe would size it (each layout then lands on its own rung near it).
    n_solve, _ = size_problem(memory_bytes=topology["memory_available_bytes"], nb=nb, q=1,
                              gflops_estimate=max(c["gflops"] for c in passing), time_budget_s=per_solve_budget)
    for candidate in candidates:
        model = candidate.pop("model")
        candidate["predicted_gflops_at_solve_n"] = round(predicted_gflops(model, n_solve), 2) if model else None
    best = max(passing, key=lambda c: c["predicted_gflops_at_solve_n"] or c["gflops"])
    return best, {"method": "each layout timed at the probe size and at half of it; time(N) = a N^3 + b N^2 "
                            "fitted to the two; the one predicted fastest at the solve's N (N = "
                            f"{n_solve}, as the fastest probe sizes it) is used, its probe rate where the two "
                            "could not separate the terms", "solve_n": n_solve, "candidates": candidates}


def prefer_hint(n: int, n_hint: int | None, *, nb: int, q: int) -> tuple[int, list[str]]:
    """The plan's N where it is this host's sized N or the rung just below it, else N; and why.

    Hosts of one type whose probes differ by a few percent can size N on two sides of a rung boundary, and the
    dataset pools HPL's samples only at one N: taking the plan's N (a function of the type and the budget alone,
    so the same for every host and week) whenever it is at most one rung below keeps them together, at a cost of
    at most one rung (9% of N) and never over the time budget."""
    if not n_hint:
        return n, []
    step = nb * q
    hinted = n_hint // step * step
    one_below = rung(max(1, n // step - 1)) * step if n // step > 1 else step
    if hinted and one_below <= hinted <= n:
        if hinted == n:
            return n, [f"N = {n} is also the plan's N for this type (--n-hint {n_hint})"]
        return hinted, [f"N = {hinted}, the plan's N for this type (--n-hint {n_hint}), one rung below the {n} sized "
                        "here: every host of the type shares it"]
    return n, [f"the plan's N {n_hint} is not this host's N {n} or the rung below it: sized here"]


def _probe_record(run: dict[str, Any]) -> dict[str, Any]:
    return {k: run[k] for k in ("n", "p", "q", "seconds", "gflops", "passed")}


def measure(
    binary: dict[str, Any],
    topology: dict[str, Any],
    *,
    n: int | None = None,
    nb: int | None = None,
    p: int | None = None,
    q: int | None = None,
    time_budget_s: float | None = None,
    repetitions: int = 1,
    threads_per_rank: int | None = None,
    probe_cap: int | None = None,
    n_hint: int | None = None,
    phase: Callable[[str], None] = lambda _: None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Size (unless N is given), then run `repetitions` solves. Returns the section and its rules.

    `probe_cap`: the largest probe N (the test profile's hpl_probe_n: the probes run, seconds sooner).
    `n_hint`: the plan's N for this type (prefer_hint), the same for every host of it. `phase(name)` is called as
    each phase starts (the layout probes, the second probe, the solves): the clock is read per phase."""
    kind = binary.get("kind", "xhpl")
    nb_reason = "given on the command line"
    if nb is None:
        nb, nb_reason = default_nb()
    if p is None or q is None:
        phase("layout probes")
        chosen, layout_selection = choose_layout(binary["path"], topology, nb, cap=n or probe_cap, kind=kind,
                                                 per_solve_budget=time_budget_s / repetitions if time_budget_s
                                                 else None)
        p, q, threads = chosen["p"], chosen["q"], chosen["threads_per_rank"]
        probe = _probe_record(chosen)
        smaller = chosen["probes"][1:]  # the layout's probe at half the size: a point for the fit too
    else:
        smaller = []
        threads = threads_per_rank or 1
        layout_selection = {"method": "P and Q given on the command line", "candidates": []}
        probe = None
    cpus = rank_cpus(topology, p * q, threads)
    per_solve_budget = time_budget_s / repetitions if time_budget_s else None
    probes: list[dict[str, Any]] = []
    if n is None:
        if probe is None:
            probe_run, _ = run_once(binary["path"], n=probe_n(nb, q, probe_cap, p=p), nb=nb, p=p, q=q, timeout_s=900,
                                    cpus=cpus, kind=kind)
            probe = _probe_record(probe_run)
        probes = [probe, *smaller]
        # A second probe at twice the size, where memory and a quarter of one solve's budget allow it:
        # with two sizes the rate's growth with N is fitted rather than assumed.
        n_second = second_probe_n(probe, nb=nb, q=q, memory_bytes=topology["memory_available_bytes"],
                                  per_solve_budget=per_solve_budget)
        if n_second:  # for the fit only: N is sized from the layout's probe, as the plan's time model assumes
            phase("second probe")
            second, _ = run_once(binary["path"], n=n_second, nb=nb, p=p, q=q, timeout_s=900, cpus=cpus, kind=kind)
            log("HPL second probe N=%d: %.1f GFLOPS in %.1f s", second["n"], second["gflops"], second["seconds"])
            probes.append(_probe_record(second))
        n, sizing = size_problem(
            memory_bytes=topology["memory_available_bytes"], nb=nb, q=q,
            gflops_estimate=probe["gflops"], time_budget_s=per_solve_budget,
        )
        n, hinted = prefer_hint(n, n_hint, nb=nb, q=q)
        sizing.extend(hinted)
    else:
        sizing = [f"N = {n} given on the command line"]
    predicted = hpl_flops(n) / (probe["gflops"] * 1e9) if probe else None
    timeout_s = max(120.0, 5 * predicted) if predicted else max(600.0, 4 * (per_solve_budget or 0))
    runs = []
    phase("solves")
    for rep in range(repetitions):
        run, _ = run_once(binary["path"], n=n, nb=nb, p=p, q=q, timeout_s=timeout_s, cpus=cpus, kind=kind)
        log(
            "HPL rep %d/%d N=%d NB=%d %dx%d x %d thread(s): %.2f GFLOPS in %.1f s, residual %s (%s)",
            rep + 1, repetitions, n, nb, p, q, threads, run["gflops"], run["seconds"], run["residual"],
            "PASSED" if run["passed"] else "FAILED",
        )
        runs.append(run)
    all_passed = all(r["passed"] for r in runs)
    gflops = [r["gflops"] for r in runs]
    near = None
    if len(probes) == 1:
        near = {"near_asymptote": None, "note": "one probe only: a larger one fitted neither memory nor a quarter "
                                                "of one solve's time budget, so the asymptote is not judged"}
    elif probes:
        near = asymptote(fit_time_model([*probes, *runs]), n, nb, q, binding_limit(sizing))
        if near.get("asymptote_gflops"):
            near["measured_share"] = round(statistics.median(gflops) / near["asymptote_gflops"], 4)
            if near["measured_share"] > 1 + FIT_BELOW_MEASURED:
                near.update(near_asymptote=None, note=(
                    f"the solves' median {statistics.median(gflops):.1f} GFLOPS is "
                    f"{near['measured_share'] - 1:.0%} above the fitted asymptote {near['asymptote_gflops']} GFLOPS: "
                    "the sizes' noise swamps the N^2 term, so how near N is to the asymptote is not judged"))
    if near and near.get("note"):
        log("HPL: %s", near["note"])
    section = {
        "implementation": "HPL (netlib algorithm, HPL.dat, scaled residual check)",
        "binary": binary,
        "mpi_ranks": p * q,
        "threads_per_rank": threads,
        "rank_layout": f"{p * q} MPI rank(s) x {threads} BLAS thread(s), each thread on a physical core of its own",
        "binding": {"method": "each rank binds itself with taskset before it becomes xhpl (hpl.BINDER), one logical "
                              "CPU of each of its own physical cores; runs[].binding: each rank's CPUs as the kernel "
                              "reported them", "cpus": [",".join(map(str, rank)) for rank in cpus]},
        "layout_selection": layout_selection,
        "n": n,
        "nb": nb,
        "nb_reason": nb_reason,
        "p": p,
        "q": q,
        "sizing": sizing,
        "time_budget_s": time_budget_s,
        "predicted_seconds_per_solve": round(predicted, 2) if predicted else None,
        "probe": probe,
        "probes": probes,
        "asymptote": near,
        "repetitions": repetitions,
        "runs": runs,
        "summary": {
            "n": len(runs),
            "max_gflops": max(gflops),
            "median_gflops": statistics.median(gflops),
            "mean_gflops": statistics.fmean(gflops),
            "all_passed": all_passed,
        },
    }
    problems = [f"solve {index + 1}: {problem}" for index, run in enumerate(runs)
                for problem in binding_problems(recorded_binding(run), core_list(topology), p * q, threads)]
    rules = [
        {
            "rule": "hpl.one_thread_per_core",
            "passed": not problems,
            "detail": "; ".join(problems[:5]) if problems else
            f"every solve's {p * q} rank(s) x {threads} thread(s) ran on distinct physical cores, as recorded",
        },
        {
            "rule": "hpl.residual_passed",
            "passed": all_passed,
            "detail": f"every scaled residual below {RESIDUAL_THRESHOLD}"
            if all_passed
            else "at least one solve FAILED the scaled residual check",
        }
    ]
    return section, rules


def scaling(binary: dict[str, Any], topology: dict[str, Any], section: dict[str, Any], *,
            budget_s: float, phase: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """HPL on one core and, on a host of several NUMA nodes, on the first node, beside the all-core solves of
    `section`: each scope's GFLOPS per core over one core's, its parallel efficiency.

    One solve per scope, one rank per core and one BLAS thread each (the node's ranks and memory bound to it by
    numactl), N sized as the all-core solves are: within the scope's memory and an equal share of `budget_s`, at
    the all-core rate per core. Each scope runs at its own N, and a smaller grid comes nearer its asymptote at a
    given N, so where the all-core N is short of its asymptote (`asymptote`) the efficiency reads that much low.
    """
    kind = binary.get("kind", "xhpl")
    cores = topology["physical_cores"]
    if cores < 2:
        return {"method": "none", "budget_s": budget_s, "points": [], "note": "one core: the solves above are it"}
    nb, all_rate = section["nb"], section["summary"]["median_gflops"]
    scopes: list[tuple[str, int, list[str] | None, int, int | None]] = [
        ("one-core", 1, None, topology["memory_available_bytes"], None)]
    nodes = [node for node in topology["numa_nodes"] if node["cpus"] and node["memory_bytes"] > 0]
    numactl = shutil.which("numactl")
    if len(topology["numa_nodes"]) > 1 and nodes and numactl:
        node = nodes[0]
        node_cores = node.get("physical_cores") or len(node["cpus"])
        if 1 < node_cores < cores:
            scopes.append((f"node{node['node']}", node_cores,
                           [numactl, f"--cpunodebind={node['node']}", f"--membind={node['node']}"],
                           min(topology["memory_available_bytes"], node["memory_bytes"]), node["node"]))
    points = []
    for name, ranks, prefix, memory, node_id in scopes:
        p, q = process_grid(ranks)
        estimate = all_rate / cores * ranks
        n, _ = size_problem(memory_bytes=memory, nb=nb, q=q, gflops_estimate=estimate,
                            time_budget_s=budget_s / len(scopes))
        predicted = hpl_flops(n) / (estimate * 1e9)
        phase(f"scaling {name}")
        try:
            run, _ = run_once(binary["path"], n=n, nb=nb, p=p, q=q, timeout_s=max(120.0, 5 * predicted),
                              cpus=rank_cpus(topology, ranks, 1, node=node_id), kind=kind, prefix=prefix)
        except HplError as exc:
            log("HPL scaling, %s: %s", name, exc)
            points.append({"scope": name, "cores": ranks, "n": n, "error": str(exc)[:500]})
            continue
        log("HPL scaling, %s (%d core(s), N=%d, %dx%d): %.2f GFLOPS in %.1f s, residual %s", name, ranks, n, p, q,
            run["gflops"], run["seconds"], "PASSED" if run["passed"] else "FAILED")
        points.append({"scope": name, "cores": ranks, "n": n, "p": p, "q": q, "gflops": run["gflops"],
                       "seconds": run["seconds"], "residual": run["residual"], "passed": run["passed"],
                       "binding": run["binding"]})
    points.append({"scope": "all-cores", "cores": cores, "n": section["n"], "p": section["p"], "q": section["q"],
                   "gflops": all_rate, "seconds": statistics.median(r["seconds"] for r in section["runs"]),
                   "passed": section["summary"]["all_passed"]})
    one_core = points[0].get("gflops")
    for point in points:
        if point.get("gflops") and one_core:
            point["parallel_efficiency"] = round(point["gflops"] / point["cores"] / one_core, 4)
    return {"method": "one solve per scope, one rank per core, N within the scope's memory and an equal share of "
                      f"{budget_s:.0f} s; all-cores is the median of the solves above; parallel efficiency = "
                      "GFLOPS per core over one core's",
            "budget_s": budget_s, "points": points}


def efficiency_at_phase_clocks(points: list[dict[str, Any]], phases: dict[str, dict[str, Any]]) -> None:
    """Each scaling point's parallel efficiency at the clock of its own phase, beside the plain one: GFLOPS per core
    per GHz over one core's. The one-core solve runs at single-core turbo (c7i.metal-48xl's lscpu: 3.8 GHz against
    about 3.2 all-core), which the plain efficiency counts as lost scaling. A point whose phase has no reading (a
    solve shorter than the loop's delay) gets none."""
    ghz = {point["scope"]: (phases.get("solves" if point["scope"] == "all-cores" else f"scaling {point['scope']}")
                            or {}).get("median_mhz") for point in points}
    one = next((p for p in points if p["scope"] == "one-core" and p.get("gflops")), None)
    if one is None or not ghz.get("one-core"):
        return
    per_clock = one["gflops"] / (ghz["one-core"] / 1000)
    for point in points:
        if point.get("gflops") and ghz.get(point["scope"]):
            point["clock_ghz"] = round(ghz[point["scope"]] / 1000, 3)
            point["parallel_efficiency_at_phase_clock"] = round(
                point["gflops"] / point["cores"] / point["clock_ghz"] / per_clock, 4)
