"""The calibrated clock loop (src/clockloop.c) checked against itself, and against /proc/cpuinfo.

The loop counts the clock as dependent one-cycle adds per CPU second. Its vector mode puts FMAs between
the adds; if those FMAs, not the add chain, set the pace, the reading would fall as their density rises.
So the vector mode is built at three densities (8, 16 and 32 FMAs per 64 adds) and, on an AVX-512 host,
once more with 256-bit vectors only: a reading that stays put across densities is the clock's, and the
256-bit build shows whether the vector clock is the 512-bit one. Readings are interleaved (one of each
per round), 50 ms each, median of `--rounds` (default 9). About 5 s.

    .venv/bin/python benchmarks/clock_loop.py [--rounds 9]

The last line is exactly `scalar_mhz: <f> vector_mhz: <f> vector_over_scalar: <f> density_spread: <f>
cpuinfo_mhz: <f or None>`, where density_spread is (max - min) / median of the three densities' medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
from pathlib import Path

import _common  # noqa: F401 - puts the runner on the path

from benchmark_runner import build, tuning


def compile_variant(out: Path, *flags: str) -> Path:
    source = build.SRC_DIR / "clockloop.c"
    subprocess.run(["gcc", "-O2", *build.arch_flags(), *flags, "-o", str(out), str(source)], check=True,
                   capture_output=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        builds = {f"vector, {8 * d} FMAs per 64 adds": compile_variant(Path(tmp) / f"d{d}", f"-DFMA8_PER_HALF={d}")
                  for d in (1, 2, 4)}
        default = builds["vector, 32 FMAs per 64 adds"]
        avx512 = "avx512f" in (Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else "")
        if avx512:
            builds["vector, 256-bit only"] = compile_variant(Path(tmp) / "ymm", "-mno-avx512f")
        readings: dict[str, list[float]] = {"scalar": [], **{name: [] for name in builds}}
        for _ in range(args.rounds):
            readings["scalar"].append(tuning.LoopClock(str(default)).sample("scalar", 50))
            for name, binary in builds.items():
                readings[name].append(tuning.LoopClock(str(binary)).sample("vector", 50))
    cpuinfo = tuning.core_mhz()

    medians = {name: statistics.median(values) for name, values in readings.items()}
    for name, values in readings.items():
        print(f"{name:<32} median {medians[name]:7.1f} MHz  range {min(values):.1f}-{max(values):.1f}  "
              f"n={len(values)}")
    print(f"{'/proc/cpuinfo cpu MHz':<32} " + (f"median {statistics.median(cpuinfo):7.1f} MHz over {len(cpuinfo)} "
                                                "CPUs" if cpuinfo else "not reported"))
    densities = [medians[f"vector, {8 * d} FMAs per 64 adds"] for d in (1, 2, 4)]
    vector = medians["vector, 32 FMAs per 64 adds"]
    spread = (max(densities) - min(densities)) / statistics.median(densities)
    print(f"scalar_mhz: {medians['scalar']:.1f} vector_mhz: {vector:.1f} "
          f"vector_over_scalar: {vector / medians['scalar']:.3f} density_spread: {spread:.3f} "
          f"cpuinfo_mhz: {statistics.median(cpuinfo) if cpuinfo else None}")


if __name__ == "__main__":
    main()
