"""HPL efficiency against the DGEMM rate of the same BLAS, and against hpcc's HPL.

1. `benchrun hpl` as the standard profile runs it (layout measured, N sized by the
   time budget), one solve.
2. DGEMM of the very library xhpl loads (resolved with ldd, called through
   cblas_dgemm) with as many BLAS threads as HPL used in total, best of three.
3. With --hpcc-pairs K: Debian's hpcc against benchrun's HPL, alternating pairs at the same N,
   NB, P x Q and threads. hpcc runs its whole suite each time (three pairs did not finish within
   20 minutes from a fresh clone, issue 15), so it is off by default.

Prints the figures; the last line is exactly `hpl_over_dgemm: <float>`.

    .venv/bin/python benchmarks/hpl_vs_dgemm.py [--time-budget 120] [--dgemm-n 6000] [--hpcc-pairs 3]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import time

import numpy as np
from _common import benchrun, run_hpcc

CBLAS_ROW_MAJOR, CBLAS_NO_TRANS = 101, 111


def dgemm_gflops(library: str, n: int, threads: int) -> float:
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    blas = ctypes.CDLL(library)
    if hasattr(blas, "openblas_set_num_threads"):
        blas.openblas_set_num_threads(threads)
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)), rng.random((n, n))
    c = np.zeros((n, n))
    ptr = ctypes.POINTER(ctypes.c_double)
    args = [ctypes.c_int(CBLAS_ROW_MAJOR), ctypes.c_int(CBLAS_NO_TRANS), ctypes.c_int(CBLAS_NO_TRANS),
            ctypes.c_int(n), ctypes.c_int(n), ctypes.c_int(n), ctypes.c_double(1.0), a.ctypes.data_as(ptr),
            ctypes.c_int(n), b.ctypes.data_as(ptr), ctypes.c_int(n), ctypes.c_double(0.0), c.ctypes.data_as(ptr),
            ctypes.c_int(n)]
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        blas.cblas_dgemm(*args)
        best = min(best, time.perf_counter() - started)
    if not np.allclose(c[:4, :4], a[:4] @ b[:, :4]):
        raise SystemExit("cblas_dgemm returned a wrong product")
    return 2 * n**3 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-budget", type=float, default=120, help="seconds for the HPL solve")
    parser.add_argument("--dgemm-n", type=int, default=6000)
    parser.add_argument("--hpcc-pairs", type=int, default=0, help="hpcc comparisons (each several minutes)")
    parser.add_argument("--hpcc-n", type=int, help="N for the hpcc pairs (default: the solve's N)")
    parser.add_argument("--hpcc-first", action="store_true", help="run hpcc first in each pair (order check)")
    args = parser.parse_args()

    section = benchrun("hpl", "--time-budget", str(args.time_budget), "--repetitions", "1")["hpl"]
    (run,) = section["runs"]
    threads = section["mpi_ranks"] * section["threads_per_rank"]
    print(f"HPL: {run['gflops']:.2f} GFLOPS, N={run['n']} NB={run['nb']} P x Q={run['p']}x{run['q']}, "
          f"{section['rank_layout']}, residual {run['residual']} ({'PASSED' if run['passed'] else 'FAILED'})")
    library = section["binary"]["blas_library"]
    dgemm = dgemm_gflops(library, args.dgemm_n, threads)
    print(f"DGEMM: {dgemm:.2f} GFLOPS, N={args.dgemm_n}, {threads} thread(s), {library}")
    print(f"  BLAS: {section['binary'].get('blas_config')}")

    n = args.hpcc_n or run["n"]
    layout = ["--nb", str(run["nb"]), "--p", str(run["p"]), "--q", str(run["q"]),
              "--threads-per-rank", str(section["threads_per_rank"])]
    ratios = []
    for pair in range(1, args.hpcc_pairs + 1):
        def ours_run() -> dict:
            return benchrun("hpl", "--n", str(n), *layout, "--repetitions", "1")["hpl"]["runs"][0]

        def hpcc_run() -> dict:
            return run_hpcc(n=n, nb=run["nb"], p=run["p"], q=run["q"], threads=section["threads_per_rank"])

        if args.hpcc_first:
            hpcc = hpcc_run()
            ours = ours_run()
        else:
            ours = ours_run()
            hpcc = hpcc_run()
        theirs = hpcc["HPL_Tflops"] * 1000
        ratios.append(ours["gflops"] / theirs)
        print(f"pair {pair} at N={n}: benchrun {ours['gflops']:.2f} GFLOPS, hpcc {theirs:.2f} GFLOPS "
              f"(residual {'PASSED' if hpcc['hpl_passed'] else 'FAILED'}), ratio {ratios[-1]:.3f}", flush=True)
    if ratios:
        print(f"hpl_over_hpcc_median: {statistics.median(ratios):.3f}")
    print(f"hpl_over_dgemm: {run['gflops'] / dgemm:.3f}")


if __name__ == "__main__":
    main()
