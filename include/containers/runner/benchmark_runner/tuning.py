"""What the host was tuned to while it ran: the settings that move STREAM and HPL figures.

Transparent huge pages, the frequency governor and driver, the kernel command line and its
CPU-vulnerability mitigations, the hypervisor (from DMI and /sys/hypervisor), and the core clock,
sampled from /proc/cpuinfo's `cpu MHz` before and during HPL. Every value is read from the
kernel's files; one that cannot be read is None, never guessed (containers see the host's
/proc and /sys read-only, which is what is wanted here).
"""

from __future__ import annotations

import re
import statistics
import threading
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


class ClockSampler:
    """Samples the cores' clock every `interval_s` in a thread, for the length of a `with` block."""

    METHOD = "median and range of /proc/cpuinfo 'cpu MHz' over all CPUs, sampled every second"

    def __init__(self, *, interval_s: float = 1.0, proc: Path = PROC) -> None:
        self.interval_s, self.proc = interval_s, proc
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.samples.extend(core_mhz(self.proc))

    def __enter__(self) -> ClockSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, Any]:
        return summarize_mhz(self.samples)


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
