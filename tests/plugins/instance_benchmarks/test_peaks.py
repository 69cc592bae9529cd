"""Theoretical peaks worked by hand, and a table that matches each processor exactly once."""

from __future__ import annotations

import hashlib

import pytest

from instance_benchmarks import peaks, recorded_hosts
from tests.conftest import FIXTURES

TOPOLOGIES = FIXTURES / "ec2-topologies"

# What the runner records for cpu_model on each processor (x86: /proc/cpuinfo model name; Arm: part number).
RECORDED = {
    "Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz": "Skylake-SP",
    "Intel(R) Xeon(R) Platinum 8124M CPU @ 3.00GHz": "Skylake-SP",
    "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz": "Cascade Lake",
    "Intel(R) Xeon(R) Platinum 8275CL CPU @ 3.00GHz": "Cascade Lake",
    "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz": "Ice Lake-SP",
    "Intel(R) Xeon(R) Platinum 8488C": "Golden Cove",
    "Intel(R) Xeon(R) Platinum 8559C": "Raptor Cove",
    "Intel(R) Xeon(R) 6975P-C": "Redwood Cove",
    "AMD EPYC 7571": "Zen",
    "AMD EPYC 7R32": "Zen 2",
    "AMD EPYC 7R13 Processor": "Zen 3",
    "AMD EPYC 9R14 96-Core Processor": "Zen 4",
    "AMD EPYC 9R45 192-Core Processor": "Zen 5",
    "ARM implementer 0x41 part 0xd08": "Cortex-A72",
    "ARM implementer 0x41 part 0xd0c": "Neoverse N1",
    "ARM implementer 0x41 part 0xd40": "Neoverse V1",
    "ARM implementer 0x41 part 0xd4f": "Neoverse V2",
}


@pytest.mark.parametrize(("cpu_model", "microarchitecture"), sorted(RECORDED.items()))
def test_each_recorded_model_matches_exactly_one_row(cpu_model, microarchitecture):
    assert [p.microarchitecture for p in peaks.PROCESSORS if p.matches(cpu_model)] == [microarchitecture]


def test_every_row_has_a_source_and_is_reachable():
    covered = set(RECORDED.values())
    for processor in peaks.PROCESSORS:
        assert processor.sources and all(s.startswith("https://") for s in processor.sources), processor.name
        assert processor.microarchitecture in covered, f"no recorded model exercises {processor.name}"


@pytest.mark.parametrize(("cpu_model", "cores", "sockets", "ghz", "gflops", "gb_s"), [
    # Sapphire Rapids m7i.48xlarge: 96 cores x 3.2 GHz x 32; 2 sockets x 8 ch x 4800 MT/s x 8 B.
    ("Intel(R) Xeon(R) Platinum 8488C", 96, 2, 3.2, 9830.4, 614.4),
    # Genoa m7a.48xlarge: 192 cores x 3.7 x 16; 2 x 12 x 4800 x 8.
    ("AMD EPYC 9R14 96-Core Processor", 192, 2, 3.7, 11366.4, 921.6),
    # Graviton3 c7g.16xlarge: 64 x 2.6 x 16; 1 x 8 x 4800 x 8.
    ("ARM implementer 0x41 part 0xd40", 64, 1, 2.6, 2662.4, 307.2),
    # Graviton4 c8g.24xlarge: 96 x 2.8 x 16; 1 x 12 x 5600 x 8.
    ("ARM implementer 0x41 part 0xd4f", 96, 1, 2.8, 4300.8, 537.6),
    # Naples m5a.large: 1 core x 2.5 x 8; 1 x 8 x 2666 x 8.
    ("AMD EPYC 7571", 1, 1, 2.5, 20.0, 170.624),
])
def test_peaks_by_hand(cpu_model, cores, sockets, ghz, gflops, gb_s):
    result = peaks.peaks(cpu_model=cpu_model, physical_cores=cores, sockets=sockets, sustained_ghz=ghz)

    assert result["peak_gflops"] == pytest.approx(gflops) and result["peak_gb_s"] == pytest.approx(gb_s)


def test_a_counted_clock_gives_the_second_flops_peak_and_nothing_else():
    # c7i.metal-48xl counted at 2.7 GHz under AVX-512: 96 x 2.7 x 32, beside 96 x 3.2 x 32 at the sustained clock.
    both = peaks.peaks(cpu_model="Intel(R) Xeon(R) Platinum 8488C", physical_cores=96, sockets=2, sustained_ghz=3.2,
                       measured_ghz=2.7)
    uncounted = peaks.peaks(cpu_model="Intel(R) Xeon(R) Platinum 8488C", physical_cores=96, sockets=2,
                            sustained_ghz=3.2)

    assert both["peak_gflops_measured_clock"] == pytest.approx(8294.4) and both["peak_gflops"] == pytest.approx(9830.4)
    assert uncounted["peak_gflops_measured_clock"] is None
    assert {k: v for k, v in both.items() if k != "peak_gflops_measured_clock"} == \
        {k: v for k, v in uncounted.items() if k != "peak_gflops_measured_clock"}


def test_what_is_not_known_is_said_not_guessed():
    unknown = peaks.peaks(cpu_model="AMD EPYC", physical_cores=2, sockets=1, sustained_ghz=3.0)
    no_clock = peaks.peaks(cpu_model="Intel(R) Xeon(R) Platinum 8488C", physical_cores=2, sockets=1,
                           sustained_ghz=None)
    graviton1 = peaks.peaks(cpu_model="ARM implementer 0x41 part 0xd08", physical_cores=4, sockets=1,
                            sustained_ghz=2.3)

    assert unknown["peak_gflops"] is None and "not in the peak table" in unknown["peak_gflops_note"]
    assert no_clock["peak_gflops"] is None and "SustainedClockSpeedInGhz" in no_clock["peak_gflops_note"]
    assert no_clock["peak_gb_s"] == pytest.approx(307.2)
    assert graviton1["peak_gflops"] == pytest.approx(4 * 2.3 * 8) and graviton1["peak_gb_s"] is None
    assert "not published" in graviton1["peak_gb_s_note"]


# Which row each real EC2 host must land in; None: no row, so no efficiency rather than a guess.
EXPECTED_ROW = {
    "m7i.large": "Golden Cove", "m7i.48xlarge": "Golden Cove", "c7i.metal-48xl": "Golden Cove",
    "r7iz.32xlarge": "Golden Cove",  # Xeon Gold 6455B: Sapphire Rapids, not Emerald Rapids
    "u7i-6tb.112xlarge": "Golden Cove", "x2iedn.32xlarge": "Ice Lake-SP",
    "m7a.48xlarge": "Zen 4", "hpc7a.96xlarge": "Zen 4",
    "c7g.16xlarge": "Neoverse V1", "m8g.48xlarge": "Neoverse V2",
    "m9g.48xlarge": None,  # Neoverse V3: its clock, lanes and memory are not in the table yet
}


def lscpu(instance_type: str) -> dict[str, str]:
    return recorded_hosts.lscpu_fields(TOPOLOGIES / instance_type / "lscpu.json")


def test_the_vendored_topologies_are_the_recorded_ones():
    for line in (TOPOLOGIES / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((TOPOLOGIES / name).read_bytes()).hexdigest() == digest, name
    assert sorted(p.name for p in TOPOLOGIES.iterdir() if p.is_dir()) == sorted(EXPECTED_ROW)


@pytest.mark.parametrize("instance_type", sorted(EXPECTED_ROW))
def test_every_real_ec2_cpu_string_lands_in_its_row(instance_type):
    """Issue 15 item 6: the peak rows' patterns against real EC2 CPU model strings."""
    processor = peaks.processor_for(recorded_hosts.cpu_model(lscpu(instance_type)))

    assert (processor.microarchitecture if processor else None) == EXPECTED_ROW[instance_type]
    if processor:
        assert instance_type.split(".")[0].split("-")[0] in processor.families


def test_every_recorded_processor_has_its_cores_per_socket_and_a_sub_socket_share_says_so():
    for instance_type in set(EXPECTED_ROW) - {"m7i.large"}:  # a 1-core slice: its lscpu shows 1 core per socket
        fields = lscpu(instance_type)
        assert peaks.SOCKET_CORES[recorded_hosts.cpu_model(fields)] == int(fields["Core(s) per socket"]), \
            instance_type
    share, note = peaks.socket_share(cpu_model="AMD EPYC 9R14", physical_cores=8, sockets=1)
    whole, _ = peaks.socket_share(cpu_model="AMD EPYC 9R14", physical_cores=192, sockets=2)
    unknown, why = peaks.socket_share(cpu_model="AMD EPYC", physical_cores=2, sockets=1)

    assert share == pytest.approx(8 / 96) and "8 of their 96 cores (8%)" in note and whole == 1.0
    assert unknown is None and "unknown" in why
