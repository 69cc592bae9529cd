"""The host's tuning state from fake /sys and /proc trees, built from real EC2 descriptions where they exist."""

from __future__ import annotations

import json
import time

import pytest

from benchmark_runner import build, tuning
from tests.conftest import FIXTURES

TOPOLOGIES = FIXTURES / "ec2-topologies"


def ec2_sys(root, instance_type: str) -> tuple:
    """/sys/class/dmi/id as that EC2 host showed it (its recorded dmidecode), and its CPU flags (lscpu)."""
    dmi = {entry["name"]: entry["props"] for entry in
           json.loads((TOPOLOGIES / instance_type / "dmidecode.json").read_text())}
    folder = root / "class" / "dmi" / "id"
    folder.mkdir(parents=True)
    for name, value in {"sys_vendor": dmi["System Information"]["Manufacturer"],
                        "product_name": dmi["System Information"]["Product Name"],
                        "bios_vendor": dmi["BIOS Information"]["Vendor"]}.items():
        (folder / name).write_text(f"{value}\n")
    lscpu = {e["field"].rstrip(":"): e["data"] for e in
             json.loads((TOPOLOGIES / instance_type / "lscpu.json").read_text())["lscpu"]}
    return root, lscpu["Flags"].split()


@pytest.mark.parametrize(("instance_type", "kind"), [
    ("m7i.large", "nitro"),
    ("c7i.metal-48xl", "none (EC2 bare metal)"),  # no hypervisor flag on bare metal
    ("x2iedn.32xlarge", "nitro"),
])
def test_the_hypervisor_is_read_from_dmi_and_the_cpu_flags(tmp_path, instance_type, kind):
    sys_root, flags = ec2_sys(tmp_path, instance_type)

    found = tuning.hypervisor(sys_root, flags)

    assert found["kind"] == kind and found["sys_vendor"] == "Amazon EC2"


def test_xen_is_named_and_an_unreadable_host_is_not_guessed(tmp_path):
    (tmp_path / "xen" / "hypervisor").mkdir(parents=True)
    (tmp_path / "xen" / "hypervisor" / "type").write_text("xen\n")

    assert tuning.hypervisor(tmp_path / "xen", ["fpu", "hypervisor"])["kind"] == "xen"
    assert tuning.hypervisor(tmp_path / "nothing", None)["kind"] is None


def test_thp_governor_cmdline_and_mitigations_are_read_from_the_kernel(tmp_path):
    sys_root, proc = tmp_path / "sys", tmp_path / "proc"
    thp = sys_root / "kernel" / "mm" / "transparent_hugepage"
    thp.mkdir(parents=True)
    (thp / "enabled").write_text("always [madvise] never\n")
    (thp / "defrag").write_text("always defer defer+madvise [madvise] never\n")
    policy = sys_root / "devices" / "system" / "cpu" / "cpufreq" / "policy0"
    policy.mkdir(parents=True)
    (policy / "scaling_governor").write_text("performance\n")
    (policy / "scaling_driver").write_text("intel_pstate\n")
    (policy / "cpuinfo_max_freq").write_text("3800000\n")
    vulnerabilities = sys_root / "devices" / "system" / "cpu" / "vulnerabilities"
    vulnerabilities.mkdir(parents=True)
    (vulnerabilities / "meltdown").write_text("Not affected\n")
    (vulnerabilities / "spectre_v2").write_text("Mitigation; Enhanced IBRS\n")
    proc.mkdir()
    (proc / "cmdline").write_text("BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p1 mitigations=auto\n")

    found = tuning.detect(sys=sys_root, proc=proc, cpu_flags=["hypervisor"])

    assert found["transparent_hugepages"] == "madvise" and found["transparent_hugepages_defrag"] == "madvise"
    assert found["frequency"] == {"governor": "performance", "driver": "intel_pstate", "max_khz": 3800000,
                                  "min_khz": None}
    assert found["kernel_cmdline"].endswith("mitigations=auto")
    assert found["mitigations"] == {"meltdown": "Not affected", "spectre_v2": "Mitigation; Enhanced IBRS"}


def test_the_clock_is_sampled_while_the_block_runs_or_said_to_be_unreported(tmp_path):
    (tmp_path / "cpuinfo").write_text("processor : 0\ncpu MHz : 2900.100\n\nprocessor : 1\ncpu MHz : 3100.300\n")

    with tuning.ClockSampler(interval_s=0.01, proc=tmp_path) as sampler:
        time.sleep(0.1)

    summary = sampler.summary()
    assert summary["samples"] >= 2 and summary["min_mhz"] == 2900.1 and summary["max_mhz"] == 3100.3
    assert summary["median_mhz"] == 3000.2
    assert "note" not in summary
    assert tuning.summarize_mhz([])["median_mhz"] is None  # arm64: not measured, and said
    # this VM's kernel said 2600 MHz 94 times during HPL: the nominal figure, said to be so
    assert "nominal" in tuning.summarize_mhz([2600.0] * 94)["note"]


def test_the_loop_counts_the_clock_in_both_modes_and_a_failed_loop_gives_no_figure(tmp_path):
    loop = tuning.LoopClock(build.build_clockloop(tmp_path)["path"])

    readings = {mode: [loop.sample(mode, 20) for _ in range(3)] for mode in ("scalar", "vector")}

    # Any EC2 core, or this VM's (about 4,050 scalar and 3,750 vector here, while /proc/cpuinfo says 2,600).
    assert all(300 < mhz < 7000 for mhz in readings["scalar"] + readings["vector"]), readings
    assert tuning.LoopClock(str(tmp_path / "missing")).sample("scalar", 20) is None
    assert tuning.summarize_loop([None, None]) == {"median_mhz": None, "min_mhz": None, "max_mhz": None,
                                                   "samples": 0, "note": "the loop gave no reading (see the "
                                                                         "runner's log)"}
    assert tuning.summarize_loop([3000.0, None, 3100.0, 3050.0])["samples"] == 3  # a failed reading is not one
    assert "0.4%" in loop.method()  # what the readings during HPL take from it: 20 ms every 5 s


def test_the_sampler_reads_the_loop_every_few_seconds_while_the_block_runs(tmp_path, monkeypatch):
    (tmp_path / "cpuinfo").write_text("processor : 0\ncpu MHz : 2600.000\n")
    taken = []

    class CountingLoop(tuning.LoopClock):
        def sample(self, mode, milliseconds):
            taken.append((mode, milliseconds))
            return 3000.0 + len(taken)

    monkeypatch.setattr(tuning.LoopClock, "EVERY_S", 0.05)
    with tuning.ClockSampler(interval_s=0.01, proc=tmp_path, loop=CountingLoop("unused")) as sampler:
        time.sleep(0.3)

    vector = sampler.loop_summary()["vector"]
    assert 2 <= vector["samples"] == len(taken) <= 7 and set(taken) == {("vector", tuning.LoopClock.DURING_MS)}
    assert vector["min_mhz"] == 3001.0 and vector["max_mhz"] == 3000.0 + len(taken)
    assert sampler.summary()["samples"] > vector["samples"]  # /proc/cpuinfo every interval, the loop every 0.05 s


class PhaseClock:
    """A calibrated loop whose reading is the clock of the phase running now (as set by the test)."""

    def __init__(self) -> None:
        self.mhz = 0.0

    def sample(self, mode: str, milliseconds: int) -> float:
        return self.mhz


def test_each_phase_gets_the_readings_taken_while_it_ran():
    """The one-core solve at single-core turbo (3,800 MHz), the all-core solves at 3,200: each phase's own."""
    loop = PhaseClock()
    with tuning.ClockSampler(interval_s=0.01, loop=loop, phase_delay_s=0.02) as sampler:
        for phase, mhz in (("solves", 3200.0), ("scaling one-core", 3800.0), ("scaling node0", 3400.0)):
            loop.mhz = mhz
            sampler.mark(phase)
            time.sleep(0.1)
        sampler.mark("too short to read")

    phases = sampler.phase_summary()

    assert {name: phases[name]["median_mhz"] for name in ("solves", "scaling one-core", "scaling node0")} == {
        "solves": 3200.0, "scaling one-core": 3800.0, "scaling node0": 3400.0}
    assert all(phases[name]["samples"] >= 1 for name in ("solves", "scaling one-core", "scaling node0"))
    assert phases["too short to read"]["samples"] == 0 and phases["too short to read"]["median_mhz"] is None
