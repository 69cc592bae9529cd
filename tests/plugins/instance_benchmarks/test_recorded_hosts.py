"""Real EC2 host descriptions read as the runner sees a host: the counts their descriptions (and hwloc) give."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from instance_benchmarks import recorded_hosts
from instance_benchmarks.catalog import InstanceSpec
from tests.conftest import FIXTURES

TOPOLOGIES = FIXTURES / "ec2-topologies"
HOSTS = sorted(p.name for p in TOPOLOGIES.iterdir() if p.is_dir())


@pytest.mark.parametrize("instance_type", HOSTS)
def test_sockets_numa_nodes_and_cpus_are_what_the_description_says(instance_type):
    fields = recorded_hosts.lscpu_fields(TOPOLOGIES / instance_type / "lscpu.json")

    host = recorded_hosts.topology(fields, memory_bytes=2**30)

    assert host["sockets"] == int(fields["Socket(s)"])
    assert len(host["numa_nodes"]) == int(fields["NUMA node(s)"])
    cpus = [cpu for node in host["numa_nodes"] for cpu in node["cpus"]]
    assert sorted(cpus) == list(range(int(fields["CPU(s)"])))  # each CPU in exactly one node
    assert sum(node["physical_cores"] for node in host["numa_nodes"]) == host["physical_cores"]
    assert host["physical_cores"] * host["threads_per_core"] == host["logical_cpus"]


@pytest.mark.parametrize("instance_type", [h for h in HOSTS if (TOPOLOGIES / h / "lstopo.xml").exists()])
def test_hwloc_counts_the_same_packages_numa_nodes_and_cores(instance_type):
    objects = [o.get("type") for o in ET.parse(TOPOLOGIES / instance_type / "lstopo.xml")  # noqa: S314 - vendored, checksummed
               .iter("object")]
    host = recorded_hosts.topology(recorded_hosts.lscpu_fields(TOPOLOGIES / instance_type / "lscpu.json"),
                                   memory_bytes=2**30)

    assert (objects.count("Package"), objects.count("NUMANode"), objects.count("Core")) == \
        (host["sockets"], len(host["numa_nodes"]), host["physical_cores"])


def test_the_last_level_cache_and_the_part_one_core_can_fill():
    amd = recorded_hosts.topology(recorded_hosts.lscpu_fields(TOPOLOGIES / "m7a.48xlarge" / "lscpu.json"),
                                  memory_bytes=2**30)
    graviton = recorded_hosts.lscpu_fields(TOPOLOGIES / "m8g.48xlarge" / "lscpu.json")

    assert amd["last_level_cache_bytes"] == 768 * 2**20 and amd["llc_instance_bytes"] == 32 * 2**20  # 24 CCDs
    assert recorded_hosts.cpu_model(graviton) == "ARM implementer 0x41 part 0xd4f"  # as the runner records it


def test_the_spec_takes_the_catalog_s_memory_and_clock_and_the_host_s_cpu():
    catalog = InstanceSpec(instance_type="r7iz.32xlarge", family="intel", architecture="x86_64", cpu_model="Intel",
                           vcpus=128, physical_cores=64, memory_bytes=1024 * 2**30, last_level_cache_bytes=0,
                           instance_family="r7iz", sustained_clock_ghz=3.9)

    spec, host = recorded_hosts.load(TOPOLOGIES / "r7iz.32xlarge", catalog)

    assert spec.cpu_model == "Intel(R) Xeon(R) Gold 6455B" and spec.sustained_clock_ghz == 3.9
    assert spec.memory_bytes == host["memory_total_bytes"] == 1024 * 2**30
    assert spec.last_level_cache_bytes == 120 * 2**20 and spec.llc_instance_bytes == 60 * 2**20
