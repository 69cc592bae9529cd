"""Which runner image this machine's CPU family runs (the real runs: test_images_in_engine)."""

from __future__ import annotations

import pytest

from instance_benchmarks import containers


@pytest.mark.parametrize(("family", "variant"), [
    ("intel", "intel"), ("amd", "generic"), ("graviton", "graviton"), ("other", "generic"), (None, "generic")])
def test_the_family_picks_the_image(family, variant):
    assert containers.variant_for_host({"architecture_family": family}) == variant
