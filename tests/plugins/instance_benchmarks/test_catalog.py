"""The EC2 catalog against moto's DescribeInstanceTypes (1,395 types, one page), and request resolution."""

from __future__ import annotations

import pytest
from moto import mock_aws

from instance_benchmarks import catalog
from tests.conftest import MOTO_ENV

SIX = ["m7i.large", "c7i.large", "m7a.large", "c7a.large", "m7g.large", "c7g.large"]


@pytest.fixture(scope="module")
def specs():
    with pytest.MonkeyPatch.context() as mp:  # module scope: moto_env is per test, the catalog read is slow
        for var, value in MOTO_ENV.items():
            mp.setenv(var, value)
        with mock_aws():
            yield catalog.load_catalog(aws_conn_id=None, region_name="us-east-1")


def test_the_whole_catalog_is_read_through_the_paginator(specs):
    assert len(specs) > 1000
    assert len({s.instance_type for s in specs}) == len(specs)


@pytest.mark.parametrize(("name", "family", "arch"), [
    ("m7i.large", "intel", "x86_64"), ("m7a.large", "amd", "x86_64"), ("m7g.large", "graviton", "arm64"),
    ("c5.xlarge", "intel", "x86_64"), ("a1.large", "graviton", "arm64"), ("mac2.metal", "other", "arm64_mac"),
])
def test_architecture_family_from_the_manufacturer(specs, name, family, arch):
    spec = next(s for s in specs if s.instance_type == name)

    assert (spec.family, spec.architecture) == (family, arch)


def test_spec_fields_from_the_description(specs):
    spec = next(s for s in specs if s.instance_type == "m7i.large")

    assert (spec.vcpus, spec.physical_cores, spec.memory_bytes) == (2, 1, 8 * 2**30)
    assert (spec.instance_family, spec.generation, spec.current_generation) == ("m7i", 7, True)
    assert spec.sustained_clock_ghz == 3.2 and spec.accelerators == ()
    gpu = next(s for s in specs if s.instance_type == "p4d.24xlarge")
    assert gpu.accelerators == ("gpu",)


def test_resolve_types_across_the_three_families(specs):
    selected, left_out = catalog.resolve(SIX, specs)

    assert [s.instance_type for s in selected] == sorted(SIX)
    assert {s.family for s in selected} == {"intel", "amd", "graviton"} and left_out == {}


def test_resolve_a_family_name(specs):
    selected, _ = catalog.resolve(["m7g"], specs)

    assert selected and all(s.instance_family == "m7g" for s in selected)
    assert "m7g.large" in {s.instance_type for s in selected}


def test_all_is_current_generation_without_accelerators(specs):
    selected, left_out = catalog.resolve(["all"], specs)

    assert selected and all(s.current_generation and not s.accelerators and s.family != "other" for s in selected)
    assert left_out["p4d.24xlarge"].startswith("accelerated (gpu)")
    assert "previous generation" in left_out.values()


def test_unknown_and_accelerated_requests_say_why(specs):
    selected, left_out = catalog.resolve(["m7i.large", "zz9.large", "p4d.24xlarge"], specs)

    assert [s.instance_type for s in selected] == ["m7i.large"]
    assert left_out["zz9.large"] == "not an instance type or family this region offers"
    assert left_out["p4d.24xlarge"].startswith("accelerated")


@pytest.mark.parametrize(("name", "parts"), [
    ("m7i.large", ("m7i", "m", 7, "i", "large")), ("c7gn.16xlarge", ("c7gn", "c", 7, "gn", "16xlarge")),
    ("u-6tb1.metal", ("u-6tb1", "u", 1, "", "metal")), ("a1.medium", ("a1", "a", 1, "", "medium")),
])
def test_parse_instance_type(name, parts):
    parsed = catalog.parse_instance_type(name)

    assert (parsed["family"], parsed["series"], parsed["generation"], parsed["attributes"], parsed["size"]) == parts


def test_name_fallback_when_the_manufacturer_is_missing():
    assert catalog.architecture_family(None, ["x86_64"], "m7a.large") == "amd"
    assert catalog.architecture_family(None, ["x86_64"], "m7i.large") == "intel"
    assert catalog.architecture_family(None, ["arm64"], "c7g.large") == "graviton"


@pytest.fixture(scope="module")
def moto_catalog():
    """Every instance type moto knows (1,395 in moto 5.2.5), as the refresh classifies them."""
    import boto3
    from moto import mock_aws

    from tests.conftest import MOTO_ENV

    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in MOTO_ENV.items():
            monkeypatch.setenv(name, value)
        with mock_aws():
            client = boto3.client("ec2", region_name="us-east-1")
            specs = [catalog.spec_from_description(d) for d in catalog.describe_instance_types(client)]
            offerings = catalog.describe_offerings(client)
    return {row["instance_type"]: row for row in catalog.catalog_rows(specs, offerings, region="us-east-1")}


def test_every_type_in_moto_s_catalog_gets_a_family_and_an_architecture_family(moto_catalog):
    assert len(moto_catalog) > 1300
    for name, row in moto_catalog.items():
        assert catalog.parse_instance_type(name), name
        assert row["instance_family"] and row["series"] and row["generation"] is not None, name
        assert row["architecture_family"] in ("intel", "amd", "graviton", "other"), name
        assert row["benchmarkable"] == (row["left_out_because"] is None), name
    assert sum(bool(row["zones"]) for row in moto_catalog.values()) > 1000


@pytest.mark.parametrize(("name", "family", "series", "generation", "architecture_family", "in_all"), [
    ("u-6tb1.112xlarge", "u-6tb1", "u", 1, "intel", True),  # moto has no u-6tb1.metal
    ("c7gn.16xlarge", "c7gn", "c", 7, "graviton", True),
    ("m7i-flex.large", "m7i-flex", "m", 7, "intel", True),
    ("mac2.metal", "mac2", "mac", 2, "other", False),
    ("x2iedn.32xlarge", "x2iedn", "x", 2, "intel", True),
    ("m7a.large", "m7a", "m", 7, "amd", True),
    ("g4dn.xlarge", "g4dn", "g", 4, "intel", False),
])
def test_tricky_names(moto_catalog, name, family, series, generation, architecture_family, in_all):
    row = moto_catalog[name]

    assert (row["instance_family"], row["series"], row["generation"]) == (family, series, generation)
    assert row["architecture_family"] == architecture_family and row["benchmarkable"] == in_all
    if name == "g4dn.xlarge":
        assert "accelerated (gpu)" in row["left_out_because"]
    if name == "mac2.metal":
        assert "no task group" in row["left_out_because"]


def test_what_to_measure_is_what_was_never_measured_newest_family_first():
    """Issue 28 item 8: against what has been measured, not yesterday's catalog."""
    def row(name, generation, benchmarkable=True):
        return {"instance_type": name, "instance_family": name.split(".")[0], "generation": generation,
                "benchmarkable": benchmarkable}

    current = [row("m7i.large", 7), row("m7i.xlarge", 7), row("c8g.large", 8), row("c8g.xlarge", 8),
               row("m6i.large", 6), row("p5.48xlarge", 5, benchmarkable=False)]
    measured = {"m7i.large", "c8g.large", "m6i.large"}

    assert catalog.unmeasured_families(current, measured, limit=5) == {"c8g": ["c8g.xlarge"],
                                                                       "m7i": ["m7i.xlarge"]}
    assert catalog.unmeasured_families(current, measured, limit=1) == {"c8g": ["c8g.xlarge"]}  # newest first
    assert catalog.unmeasured_families(current, set(), limit=0) == {}
    assert list(catalog.unmeasured_families(current, set(), limit=9)) == ["c8g", "m7i", "m6i"]  # never p5
