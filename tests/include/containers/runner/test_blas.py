"""The BLAS probe: the CPU's widest vectors, the kernel a library chose, and the verdict between them."""

from __future__ import annotations

import glob
import os

import numpy
import pytest

from benchmark_runner import blas


@pytest.mark.parametrize(("flags", "isa"), [
    (["sse2", "avx", "avx2", "fma", "avx512f"], "avx512"), (["sse2", "avx", "avx2", "fma"], "avx2"),
    (["sse2", "avx"], "avx"), (["fp", "asimd", "sve", "sve2"], "sve"), (["fp", "asimd"], "neon"), (["sse2"], "sse"),
])
def test_cpu_isa_is_the_widest_vector_unit(flags, isa):
    assert blas.cpu_isa(flags) == isa


def test_a_narrower_kernel_is_a_fallback_and_says_so():
    found = {"name": "BLIS", "kernel": "zen3", "kernel_isa": "avx2"}

    verdict = blas.judge(found, ["avx2", "fma", "avx512f"])

    assert verdict["matches_cpu"] is False and verdict["cpu_isa"] == "avx512"
    assert verdict["detail"].startswith("BLIS selected zen3 (avx2 kernels) on a CPU with avx512")


def test_a_matching_kernel_passes_and_an_unknown_width_is_explained():
    assert blas.judge({"name": "OpenBLAS", "kernel": "SkylakeX", "kernel_isa": "avx512"},
                      ["avx2", "fma", "avx512f"])["matches_cpu"] is True
    sve_on_neoverse = blas.judge({"name": "OpenBLAS", "kernel": "NEOVERSEN1", "kernel_isa": "neon"},
                                 ["asimd", "sve"])
    assert sve_on_neoverse["matches_cpu"] is False
    unknown = blas.judge({"name": "oneMKL", "kernel": "libmkl_def", "kernel_isa": None}, ["avx2", "fma"])
    assert unknown["matches_cpu"] is None and "cannot tell" in unknown["detail"]


def test_probe_asks_a_real_openblas_which_core_it_chose():
    # numpy's wheel carries scipy-openblas (prefixed symbols): the probe finds them too.
    (library,) = glob.glob(os.path.join(os.path.dirname(numpy.__file__), os.pardir, "numpy.libs", "*openblas*"))

    found = blas.probe(library)

    assert found["name"] == "OpenBLAS" and found["version"].startswith("0.3.")
    assert found["kernel"] and found["config"].startswith("OpenBLAS ")
    assert found["cpu_isa"] == blas.cpu_isa(blas._cpu_flags())
    assert found["matches_cpu"] in (True, False)  # a kernel of the table: never unknown


def test_a_probe_that_fails_is_recorded_not_raised(tmp_path):
    fake = tmp_path / "libopenblas.so.0"
    fake.write_bytes(b"not a library")

    found = blas.probe(str(fake))

    assert found["kernel"] is None and found["matches_cpu"] is None
    assert found["detail"].startswith("probe failed (exit 1)") and "OSError" in found["detail"]


GENOA_OR_TURIN_FLAGS = ["sse2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl"]


def test_blis_zen3_kernels_reach_genoa_s_rate_and_fall_back_on_turin():
    """Zen 4 (family 19h) runs AVX-512 double-pumped, so BLIS's AVX2 zen3 kernels reach its FLOPs per cycle; Zen 5
    (family 1Ah, Turin) runs it on 512-bit data paths, where the same kernels get half."""
    zen3 = {"name": "BLIS", "kernel": "zen3", "kernel_isa": "avx2"}

    genoa = blas.judge(zen3, GENOA_OR_TURIN_FLAGS, vendor="AuthenticAMD", family="25")
    turin = blas.judge(zen3, GENOA_OR_TURIN_FLAGS, vendor="AuthenticAMD", family="26")
    sapphire_rapids = blas.judge(zen3, GENOA_OR_TURIN_FLAGS, vendor="GenuineIntel", family="6")

    assert genoa["matches_cpu"] is True and genoa["cpu_full_rate_isa"] == "avx2" and "same FLOPs" in genoa["detail"]
    assert turin["matches_cpu"] is False and turin["cpu_full_rate_isa"] == "avx512"
    assert "fallback" in turin["detail"]
    assert sapphire_rapids["matches_cpu"] is False
