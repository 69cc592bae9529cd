"""What the host was tuned to while it ran: the settings that move STREAM and HPL figures.

Transparent huge pages, the frequency governor and driver, the kernel command line and its
CPU-vulnerability mitigations, the hypervisor (from DMI and /sys/hypervisor), and the core clock
before and during HPL, two ways: /proc/cpuinfo's `cpu MHz` as the kernel reports it, and counted by
a calibrated loop (src/clockloop.c), since many hypervisors fix the former at the nominal figure and
arm64 reports none. Every value is read or measured; one that cannot be is None with a reason, never
guessed (containers see the host's /proc and /sys read-only, which is what is wanted here).
"""

from __future__ import annotations

import re
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

SYS = Path("/sys")
PROC = Path("/proc")
# The environment that changes what the math and MPI libraries do, recorded whole.
ENVIRONMENT_PREFIXES = ("OPENBLAS_", "OMP_", "GOMP_", "MKL_", "KMP_", "BLIS_", "I_MPI_", "OMPI_", "PMIX_",
                        "GOTO_")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _selected(text: str | None) -> str | None:
    """'always [madvise] never' -> 'madvise' (the kernel's way of showing the active choice)."""
    if text is None:
        return None
    match = re.search(r"\[([^\]]+)\]", text)
    return match.group(1) if match else text


def hypervisor(sys: Path = SYS, cpu_flags: list[str] | None = None) -> dict[str, Any]:
    """Nitro (KVM-based) or Xen, from DMI's vendor and product and /sys/hypervisor; bare metal says none."""
    dmi = {key: _read(sys / "class" / "dmi" / "id" / key)
           for key in ("sys_vendor", "product_name", "bios_vendor", "bios_version")}
    xen = _read(sys / "hypervisor" / "type")
    flagged = None if cpu_flags is None else "hypervisor" in cpu_flags
    text = " ".join(v for v in (*dmi.values(), xen) if v).lower()
    if xen == "xen" or "xen" in text:
        kind = "xen"
    elif "amazon ec2" in text and flagged is False:
        kind = "none (EC2 bare metal)"
    elif "amazon ec2" in text:
        kind = "nitro"
    elif flagged:
        kind = "unknown hypervisor"
    else:
        kind = "none" if flagged is False else None
    return {"kind": kind, "cpu_flag": flagged, "xen": xen, **dmi}


def mitigations(sys: Path = SYS) -> dict[str, str]:
    """/sys/devices/system/cpu/vulnerabilities: each vulnerability and how the kernel handles it."""
    folder = sys / "devices" / "system" / "cpu" / "vulnerabilities"
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return {}
    return {entry.name: _read(entry) or "" for entry in entries}


def frequency(sys: Path = SYS) -> dict[str, Any]:
    policy = sys / "devices" / "system" / "cpu" / "cpufreq" / "policy0"
    return {"governor": _read(policy / "scaling_governor"), "driver": _read(policy / "scaling_driver"),
            "max_khz": _int(_read(policy / "cpuinfo_max_freq")), "min_khz": _int(_read(policy / "cpuinfo_min_freq"))}


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def detect(*, sys: Path = SYS, proc: Path = PROC, cpu_flags: list[str] | None = None) -> dict[str, Any]:
    thp = sys / "kernel" / "mm" / "transparent_hugepage"
    return {
        "transparent_hugepages": _selected(_read(thp / "enabled")),
        "transparent_hugepages_defrag": _selected(_read(thp / "defrag")),
        "frequency": frequency(sys),
        "kernel_cmdline": _read(proc / "cmdline"),
        "mitigations": mitigations(sys),
        "hypervisor": hypervisor(sys, cpu_flags),
    }


def core_mhz(proc: Path = PROC) -> list[float]:
    """Every CPU's `cpu MHz` from /proc/cpuinfo (empty where the kernel does not report it, as on arm64)."""
    text = _read(proc / "cpuinfo") or ""
    return [float(v) for v in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", text, re.MULTILINE)]


class LoopClock:
    """The clock counted by src/clockloop.c: a chain of dependent one-cycle adds timed by the thread's CPU clock.

    `scalar` reads the clock of plain integer code; `vector` puts one FMA on the widest vectors the core has
    between every two adds, which is the clock an Intel core runs HPL's AVX-512 at (Graviton has no such drop).
    """

    METHOD = ("calibrated loop (src/clockloop.c): dependent one-cycle integer adds counted per CPU second of the "
              "loop's own thread; 'vector' adds one FMA on the widest vectors per two adds. Before HPL: "
              "{samples} samples of {before_ms} ms per mode; during: one {during_ms} ms vector "
              "sample every {every_s:g} s on a core it shares with an HPL rank (it takes that rank about "
              "{share:.1%} of its time)")
    BEFORE_SAMPLES, BEFORE_MS, DURING_MS, EVERY_S = 3, 50, 20, 5.0

    def __init__(self, path: str) -> None:
        self.path = path

    def method(self) -> str:
        return self.METHOD.format(samples=self.BEFORE_SAMPLES, before_ms=self.BEFORE_MS, during_ms=self.DURING_MS,
                                  every_s=self.EVERY_S, share=self.DURING_MS / 1000 / self.EVERY_S)

    def sample(self, mode: str, milliseconds: int) -> float | None:
        """One reading in MHz, or None where the loop failed (recorded as fewer samples, never as a figure)."""
        try:
            out = subprocess.run([self.path, mode, str(milliseconds)], capture_output=True, text=True, timeout=30,
                                 check=True).stdout
            return float(out.split()[0])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            return None

    def before(self) -> dict[str, Any]:
        """Scalar and vector readings on the idle host, just before HPL."""
        return {mode: summarize_loop([self.sample(mode, self.BEFORE_MS) for _ in range(self.BEFORE_SAMPLES)])
                for mode in ("scalar", "vector")}


def summarize_loop(samples: list[float | None]) -> dict[str, Any]:
    taken = [s for s in samples if s is not None]
    if not taken:
        return {"median_mhz": None, "min_mhz": None, "max_mhz": None, "samples": 0,
                "note": "the loop gave no reading (see the runner's log)" if samples else "no sample was due"}
    return {"median_mhz": round(statistics.median(taken), 1), "min_mhz": round(min(taken), 1),
            "max_mhz": round(max(taken), 1), "samples": len(taken)}


class ClockSampler:
    """Samples the cores' clock in a thread for the length of a `with` block: /proc/cpuinfo every `interval_s`,
    and the calibrated loop's vector mode every LoopClock.EVERY_S where a loop is given.

    `mark(phase)` starts a phase (a probe, the solves, a scaling point): the loop takes one reading `phase_delay_s`
    into it, when its solve is running, besides the regular ones, and phase_summary gives each phase the readings
    taken within it. A one-core solve runs at single-core turbo and an all-core one at the all-core clock, so each
    figure is stated against its own phase's clock (issue 29)."""

    METHOD = "median and range of /proc/cpuinfo 'cpu MHz' over all CPUs, sampled every second"

    def __init__(self, *, interval_s: float = 1.0, proc: Path = PROC, loop: LoopClock | None = None,
                 phase_delay_s: float = 1.0) -> None:
        self.interval_s, self.proc, self.loop, self.phase_delay_s = interval_s, proc, loop, phase_delay_s
        self.samples: list[float] = []
        self.loop_samples: list[float | None] = []
        self._readings: list[tuple[float, float | None]] = []  # (monotonic time, MHz) of every loop reading
        self._phases: list[tuple[str, float]] = []  # (name, monotonic start)
        self._due_phase: tuple[str, float] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ended: float | None = None

    def mark(self, phase: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._phases.append((phase, now))
            self._due_phase = (phase, now + self.phase_delay_s)

    def _read(self) -> None:
        reading = self.loop.sample("vector", LoopClock.DURING_MS) if self.loop is not None else None
        self.loop_samples.append(reading)
        with self._lock:
            self._readings.append((time.monotonic(), reading))

    def _run(self) -> None:
        loop_due = LoopClock.EVERY_S
        while not self._stop.wait(self.interval_s):
            self.samples.extend(core_mhz(self.proc))
            loop_due -= self.interval_s
            with self._lock:
                phase_due = self._due_phase is not None and time.monotonic() >= self._due_phase[1]
                if phase_due:
                    self._due_phase = None
            if self.loop is not None and (loop_due <= 1e-9 or phase_due):
                if loop_due <= 1e-9:
                    loop_due = LoopClock.EVERY_S
                self._read()

    def __enter__(self) -> ClockSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._ended = time.monotonic()

    def summary(self) -> dict[str, Any]:
        return summarize_mhz(self.samples)

    def loop_summary(self) -> dict[str, Any]:
        return {"vector": summarize_loop(self.loop_samples)}

    def phase_summary(self) -> dict[str, dict[str, Any]]:
        """{phase: the vector readings taken while it ran}, each phase ending where the next began."""
        end = self._ended if self._ended is not None else time.monotonic()
        with self._lock:
            phases, readings = list(self._phases), list(self._readings)
        found = {}
        for index, (name, start) in enumerate(phases):
            stop = phases[index + 1][1] if index + 1 < len(phases) else end
            found[name] = summarize_loop([mhz for at, mhz in readings if start <= at < stop])
        return found


def summarize_mhz(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {"method": ClockSampler.METHOD, "median_mhz": None, "min_mhz": None, "max_mhz": None, "samples": 0,
                "note": "the kernel reports no cpu MHz here (arm64, some hypervisors): not measured"}
    summary = {"method": ClockSampler.METHOD, "median_mhz": round(statistics.median(samples), 1),
               "min_mhz": round(min(samples), 1), "max_mhz": round(max(samples), 1), "samples": len(samples)}
    if len(samples) > 1 and min(samples) == max(samples):
        # A virtual machine's kernel often reports the nominal clock it was told at boot, whatever the load.
        summary["note"] = "every sample equal: likely the nominal clock the kernel reports, not a measured one"
    return summary
