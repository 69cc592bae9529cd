"""`make test-cold`: every runner image from nothing, and rule-sized in each.

Per-push CI builds the images on a warm cache (engine layers, registry, bases, compiled benchmarks) and runs
them with the test profile; what that no longer proves is proved here, one command away: with an empty cache
(a fresh INSTANCE_BENCHMARKS_CACHE, which make test-cold makes and removes), each x86-64 image is built from a
debootstrapped Debian without the layer cache, pushed, pulled back by digest and runs `benchrun all --profile
quick` with rule-sized arrays, every run rule passing; graviton is built under emulation, and its emulated
figures are refused (test_images_in_engine.py's graviton test runs on the image this builds).

Skipped unless INSTANCE_BENCHMARKS_TEST_COLD names the variants (make test-cold sets it).
"""

from __future__ import annotations

import json
import os

import pytest

from instance_benchmarks import CACHE_DIR, PROJECT_ROOT, containers, images
from instance_benchmarks.results import schema_errors, validation_reasons

ASKED = [v.strip() for v in os.environ.get("INSTANCE_BENCHMARKS_TEST_COLD", "").split(",") if v.strip()]
EXPECTED_BLAS = {"generic": "OpenBLAS", "amd": "BLIS", "intel": "oneMKL"}

pytestmark = [pytest.mark.cold, pytest.mark.e2e,
              pytest.mark.skipif(not ASKED, reason="make test-cold runs these (INSTANCE_BENCHMARKS_TEST_COLD)")]


@pytest.fixture(scope="module")
def cold_builder(docker_engine):
    """The image driver on an engine whose data root, registry and bases all start empty (a fresh cache)."""
    from instance_benchmarks import engine

    local_engine, registry = docker_engine
    assert str(local_engine.root).startswith(str(CACHE_DIR)) and CACHE_DIR != PROJECT_ROOT / ".build"
    platforms = {images.VARIANTS[v].platform for v in ASKED}
    base_for = engine.local_bases(local_engine, registry, platforms)  # debootstrapped here, none cached
    return images.ImageBuilder(local_engine.client(timeout=3600),
                               repository=f"{registry.address}/{images.LOCAL_REPOSITORY}", base_for=base_for)


@pytest.mark.parametrize("variant", [v for v in ("generic", "amd", "intel") if v in ASKED or not ASKED])
def test_built_from_nothing_the_image_runs_the_quick_profile_rule_sized(variant, cold_builder, tmp_path):
    built = cold_builder.push(cold_builder.build(images.VARIANTS[variant], no_cache=True))
    client = cold_builder.client
    client.images.remove(f"{built.repository}:{built.tag}", force=True)  # what runs must come from the registry
    image = containers.pull_by_digest(client, f"{built.repository}:{built.tag}")
    assert image["digest"] == built.pushed_digest

    code, tail = containers.run_benchrun(
        client, image["image"], ["all", "--profile", "quick"], out_dir=tmp_path, timeout_s=1800,
        env={"BENCHRUN_CONTAINER_IMAGE": image["image"], "BENCHRUN_CONTAINER_DIGEST": image["digest"]})

    assert code == 0, tail
    doc = json.loads((tmp_path / "result.json").read_text())
    assert schema_errors(doc) == [] and doc["runner"]["rule_sized"] is True
    assert validation_reasons(doc) == [], [r for r in doc["run_rules"] if not r["passed"]]
    assert doc["host"]["container_digest"] == built.pushed_digest
    assert doc["hpl"]["binary"]["blas"]["name"] == EXPECTED_BLAS[variant]


@pytest.mark.skipif("graviton" not in ASKED, reason="not asked for (INSTANCE_BENCHMARKS_TEST_COLD)")
def test_graviton_builds_under_emulation_from_nothing(cold_builder):
    built = cold_builder.push(cold_builder.build(images.VARIANTS["graviton"], no_cache=True))

    assert built.pushed_digest.startswith("sha256:") and built.platform == "linux/arm64"
