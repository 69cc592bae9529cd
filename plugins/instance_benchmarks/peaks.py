"""Theoretical peaks per processor: the denominators of every efficiency figure.

One row per processor generation that runs a current EC2 family, each with its public
sources. A row is matched against the `cpu_model` the runner recorded (x86: the
`model name` of /proc/cpuinfo; Arm: "ARM implementer 0x41 part 0x...", since Graviton
reports no model name). A processor that matches no row gets no efficiency and a reason;
nothing is guessed.

    peak FLOPS     = physical cores x sustained GHz x double-precision FLOPs per cycle per core
    peak bandwidth = sockets x memory channels per socket x MT/s x 8 bytes

The sustained clock is AWS's own per-type figure (DescribeInstanceTypes
`SustainedClockSpeedInGhz`, carried in the document's plan); without it there is no FLOPS
peak. A second FLOPS peak uses the clock the runner counted under vector FMA load during HPL
(src/clockloop.c): no public source this project found gives the AVX-512 or SVE clock of
EC2's custom parts (8488C, 8375C, 9R14, Graviton), and a counted clock says whether a low
efficiency is the clock's doing or the code's. Memory speed is the platform's rated speed
(AWS does not publish DIMM speeds per type), and the bandwidth peak is that of whole sockets:
an instance smaller than a socket shares those channels, so its STREAM efficiency reads low by
design.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Processor:
    name: str
    microarchitecture: str
    families: str  # EC2 families it runs, for the reader
    cpu_model: str  # regular expression on the recorded cpu_model
    fp64_flops_per_cycle: int  # per core: FMA units x vector lanes x 2
    memory_channels: int | None  # per socket; None where the vendor never published it
    memory_mts: int | None
    sources: tuple[str, ...]

    def matches(self, cpu_model: str) -> bool:
        return re.search(self.cpu_model, cpu_model or "") is not None


_INTEL_SKX = ("https://www.intel.com/content/www/us/en/developer/articles/technical/"
              "xeon-processor-scalable-family-technical-overview.html")
_AMD_GUIDES = ("https://www.amd.com/en/search/documentation/hub.html "
               "(Software Optimization Guides, families 17h/19h/1Ah)")

PROCESSORS: tuple[Processor, ...] = (
    # Intel: two 512-bit FMA units per core on the server parts -> 2 x 8 lanes x 2 = 32.
    Processor("Intel Xeon Scalable 1st gen (Skylake-SP)", "Skylake-SP", "c5, m5, r5, z1d, i3en, d3",
              r"Xeon\(R\) Platinum 81\d\d", 32, 6, 2666,
              (_INTEL_SKX, "https://aws.amazon.com/ec2/instance-types/m5/")),
    Processor("Intel Xeon Scalable 2nd gen (Cascade Lake)", "Cascade Lake", "c5, m5, r5, m5zn, g4dn, u-*",
              r"Xeon\(R\) Platinum 82\d\d", 32, 6, 2933,
              ("https://www.intel.com/content/www/us/en/products/docs/processors/xeon/2nd-gen-xeon-scalable-processors-brief.html",
               "https://aws.amazon.com/ec2/instance-types/c5/")),
    Processor("Intel Xeon Scalable 3rd gen (Ice Lake)", "Ice Lake-SP", "c6i, m6i, r6i, x2idn, x2iedn, i4i",
              r"Xeon\(R\) Platinum 83\d\d", 32, 8, 3200,
              ("https://www.intel.com/content/www/us/en/products/docs/processors/xeon/3rd-gen-xeon-scalable-processors-brief.html",
               "https://aws.amazon.com/ec2/instance-types/m6i/")),
    # r7iz runs the Gold 6455B (lscpu of r7iz.32xlarge, tests/fixtures/ec2-topologies), a Sapphire Rapids part.
    Processor("Intel Xeon Scalable 4th gen (Sapphire Rapids)", "Golden Cove", "c7i, m7i, r7i, m7i-flex, r7iz, u7i",
              r"Xeon\(R\) (Platinum 84|Gold 64)\d\d", 32, 8, 4800,
              ("https://www.intel.com/content/www/us/en/products/docs/processors/xeon-accelerated/4th-gen-xeon-scalable-processors-product-brief.html",
               "https://aws.amazon.com/ec2/instance-types/m7i/")),
    Processor("Intel Xeon Scalable 5th gen (Emerald Rapids)", "Raptor Cove", "i7ie",
              r"Xeon\(R\) Platinum 85\d\d", 32, 8, 5600,
              ("https://www.intel.com/content/www/us/en/products/docs/processors/xeon/5th-gen-xeon-scalable-processors.html",
               "https://aws.amazon.com/ec2/instance-types/i7ie/")),
    Processor("Intel Xeon 6 P-core (Granite Rapids)", "Redwood Cove", "c8i, m8i, r8i",
              r"Xeon\(R\) 6\d\d\dP", 32, 12, 6400,
              ("https://www.intel.com/content/www/us/en/products/details/processors/xeon/xeon6-p-cores.html",
               "https://aws.amazon.com/ec2/instance-types/m8i/")),
    # AMD: the last digit of an EPYC model number is its generation. Zen 1: 2 x 128-bit FMA -> 8;
    # Zen 2/3: 2 x 256-bit -> 16; Zen 4: AVX-512 on 256-bit datapaths -> 16; Zen 5: 2 x 512-bit -> 32.
    Processor("AMD EPYC 7001 (Naples)", "Zen", "m5a, r5a, t3a",
              r"AMD EPYC 7\w\w1\b", 8, 8, 2666,
              ("https://www.amd.com/en/products/processors/server/epyc/7001-series.html", _AMD_GUIDES)),
    Processor("AMD EPYC 7002 (Rome)", "Zen 2", "c5a, c5ad, g4ad",
              r"AMD EPYC 7\w\w2\b", 16, 8, 3200,
              ("https://www.amd.com/en/products/processors/server/epyc/7002-series.html", _AMD_GUIDES)),
    Processor("AMD EPYC 7003 (Milan)", "Zen 3", "c6a, m6a, r6a, hpc6a",
              r"AMD EPYC 7\w\w3\b", 16, 8, 3200,
              ("https://www.amd.com/en/products/processors/server/epyc/7003-series.html", _AMD_GUIDES)),
    Processor("AMD EPYC 9004 (Genoa)", "Zen 4", "c7a, m7a, r7a, hpc7a",
              r"AMD EPYC 9\w\w4\b", 16, 12, 4800,
              ("https://www.amd.com/en/products/processors/server/epyc/4th-generation-9004-and-8004-series.html",
               _AMD_GUIDES)),
    Processor("AMD EPYC 9005 (Turin)", "Zen 5", "c8a, m8a, r8a",
              r"AMD EPYC 9\w\w5\b", 32, 12, 6000,
              ("https://www.amd.com/en/products/processors/server/epyc/9005-series.html", _AMD_GUIDES)),
    # Graviton reports its core by Arm part number (implementer 0x41 = Arm).
    Processor("AWS Graviton (Cortex-A72)", "Cortex-A72", "a1",
              r"implementer 0x41 part 0xd08\b", 8, None, None,
              ("https://developer.arm.com/Processors/Cortex-A72",
               "https://github.com/aws/aws-graviton-getting-started (memory configuration not published)")),
    Processor("AWS Graviton2 (Neoverse N1)", "Neoverse N1", "c6g, m6g, r6g, t4g, x2gd",
              r"implementer 0x41 part 0xd0c\b", 8, 8, 3200,
              ("https://developer.arm.com/Processors/Neoverse%20N1", "https://aws.amazon.com/ec2/graviton/")),
    Processor("AWS Graviton3 (Neoverse V1)", "Neoverse V1", "c7g, m7g, r7g, c7gn, hpc7g",
              r"implementer 0x41 part 0xd40\b", 16, 8, 4800,
              ("https://developer.arm.com/Processors/Neoverse%20V1", "https://aws.amazon.com/ec2/instance-types/c7g/")),
    Processor("AWS Graviton4 (Neoverse V2)", "Neoverse V2", "c8g, m8g, r8g, x8g",
              r"implementer 0x41 part 0xd4f\b", 16, 12, 5600,
              ("https://developer.arm.com/Processors/Neoverse%20V2",
               "https://aws.amazon.com/blogs/hpc/performance-gains-with-aws-graviton4-a-devitopro-case-study/")),
)


# Cores per socket of the processors EC2 hosts were recorded with (lscpu's "Core(s) per socket" of the largest
# size, tests/fixtures/ec2-topologies, SpareCores@804d3c7). A smaller instance gets part of a socket, and of its
# memory channels: its STREAM efficiency is shown against the socket's peak beside its share of the socket's
# cores, never bare. A processor not here has no share, and says so.
SOCKET_CORES = {
    "Intel(R) Xeon(R) Platinum 8488C": 48,  # m7i.48xlarge, c7i.metal-48xl
    "Intel(R) Xeon(R) Platinum 8477C": 56,  # u7i-6tb.112xlarge
    "Intel(R) Xeon(R) Gold 6455B": 32,  # r7iz.32xlarge
    "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz": 32,  # x2iedn.32xlarge
    "AMD EPYC 9R14": 96,  # m7a.48xlarge, hpc7a.96xlarge
    "ARM implementer 0x41 part 0xd40": 64,  # Graviton3, c7g.16xlarge
    "ARM implementer 0x41 part 0xd4f": 96,  # Graviton4, m8g.48xlarge
    "ARM implementer 0x41 part 0xd84": 192,  # Graviton5, m9g.48xlarge (two NUMA nodes, one socket)
}


def socket_share(*, cpu_model: str, physical_cores: int, sockets: int) -> tuple[float | None, str]:
    """The instance's share of its sockets' cores, and the sentence that goes beside a socket-level efficiency."""
    per_socket = SOCKET_CORES.get(cpu_model)
    if not per_socket:
        return None, "the peak is whole sockets'; this processor's cores per socket are not recorded, so the " \
                     "instance's share of them is unknown"
    share = min(1.0, physical_cores / (sockets * per_socket))
    return share, (f"the peak is {sockets} whole socket(s)'; the instance has {physical_cores} of their "
                   f"{sockets * per_socket} cores ({share:.0%}), and a share of their memory channels")


def processor_for(cpu_model: str) -> Processor | None:
    found = [p for p in PROCESSORS if p.matches(cpu_model)]
    return found[0] if len(found) == 1 else None


def processor_of_family(instance_family: str) -> Processor | None:
    """The row that lists an EC2 family (m7i) among those it runs, where only one does: the planner's guess
    before a host is measured, since DescribeInstanceTypes names the manufacturer, not the processor."""
    found = [p for p in PROCESSORS if instance_family in p.families.split(", ")]
    return found[0] if len(found) == 1 else None


def peaks(*, cpu_model: str, physical_cores: int, sockets: int, sustained_ghz: float | None,
          measured_ghz: float | None = None) -> dict[str, Any]:
    """Peak GFLOPS and GB/s for a measured host, each None with a reason when it cannot be known.

    `measured_ghz`: the clock counted under vector load during HPL, for the second FLOPS peak."""
    processor = processor_for(cpu_model)
    result: dict[str, Any] = {"processor": None, "peak_gflops": None, "peak_gb_s": None,
                              "peak_gflops_note": None, "peak_gb_s_note": None, "socket_share": None,
                              "peak_gflops_measured_clock": None}
    if processor is None:
        why = (f"processor {cpu_model!r} is not in the peak table (plugins/instance_benchmarks/peaks.py): "
               "no efficiency rather than a guess")
        return {**result, "peak_gflops_note": why, "peak_gb_s_note": why}
    result["processor"] = processor.name
    if measured_ghz:
        result["peak_gflops_measured_clock"] = physical_cores * measured_ghz * processor.fp64_flops_per_cycle
    if sustained_ghz:
        result["peak_gflops"] = physical_cores * sustained_ghz * processor.fp64_flops_per_cycle
    else:
        result["peak_gflops_note"] = "no sustained clock for this host (DescribeInstanceTypes SustainedClockSpeedInGhz)"
    if processor.memory_channels and processor.memory_mts:
        result["peak_gb_s"] = sockets * processor.memory_channels * processor.memory_mts * 8 / 1000
        result["socket_share"], share_note = socket_share(cpu_model=cpu_model, physical_cores=physical_cores,
                                                          sockets=sockets)
        if result["socket_share"] is None or result["socket_share"] < 1:
            result["peak_gb_s_note"] = share_note
    else:
        result["peak_gb_s_note"] = f"{processor.name}: memory channels and speed not published"
    return result
