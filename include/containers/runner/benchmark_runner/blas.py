"""Which BLAS kernels run on this CPU: asked of the library itself, at run time.

An efficiency figure measures the library as much as the CPU when the library
falls back to kernels narrower than the CPU's vector units (an AVX2 kernel on an
AVX-512 core, NEON on an SVE core). The probe records, per library:

- OpenBLAS: its build config and `openblas_get_corename()`, the core it dispatched to;
- BLIS: its version and `bli_arch_string(bli_arch_query_id())`;
- oneMKL: its version string and the code-path library it loaded after one DGEMM
  (libmkl_def, _mc3, _avx2, _avx512, _avx10: read from /proc/self/maps, because
  MKL 2026's MKL_Get_Version names no instruction set: "Intel(R) Architecture processors").

and compares the kernel's widest vector ISA with the CPU's: `matches_cpu` is false
when the kernel is narrower. The probe runs in a child process, so a library that
aborts (BLIS does on a bad BLIS_ARCH_TYPE) cannot take the runner with it.
"""

from __future__ import annotations

import ctypes
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

# Widest vector ISA, ranked; a kernel below the CPU's rank is a fallback.
ISA_RANK = {"generic": 0, "sse": 1, "avx": 2, "avx2": 3, "avx512": 4, "neon": 1, "sve": 2}

OPENBLAS_CORE_ISA = {
    "skylakex": "avx512", "cooperlake": "avx512", "sapphirerapids": "avx512",
    "haswell": "avx2", "zen": "avx2", "sandybridge": "avx", "bulldozer": "avx", "piledriver": "avx",
    "steamroller": "avx", "excavator": "avx",
    "neoversev1": "sve", "neoversev2": "sve", "neoversen2": "sve", "a64fx": "sve", "armv8sve": "sve",
    "armv9sme": "sve",
    "neoversen1": "neon", "cortexa57": "neon", "cortexa72": "neon", "cortexa73": "neon", "cortexa53": "neon",
    "thunderx2t99": "neon", "thunderx3t110": "neon", "falkor": "neon", "tsv110": "neon", "emag8180": "neon",
    "armv8": "neon",
}
BLIS_ARCH_ISA = {
    "skx": "avx512", "knl": "avx512", "zen4": "avx512", "zen5": "avx512",
    "haswell": "avx2", "zen": "avx2", "zen2": "avx2", "zen3": "avx2",
    "sandybridge": "avx", "excavator": "avx", "steamroller": "avx", "piledriver": "avx", "bulldozer": "avx",
    "penryn": "sse", "armsve": "sve", "a64fx": "sve", "altramax": "neon", "altra": "neon",
    "firestorm": "neon", "thunderx2": "neon", "cortexa57": "neon", "cortexa53": "neon", "generic": "generic",
}
# MKL's default path (libmkl_def) is where it sends CPUs it does not dispatch by feature, AMD's among
# them; it carries kernels of its own (measured, benchmarks/images_compare.py on 2 Zen cores: 63.7 GFLOPS
# HPL, beside 66.2 for OpenBLAS's AVX2 Zen kernels), so its width is not known from its name and the
# probe does not guess.
MKL_PATH_ISA = {"def": None, "mc3": "sse", "avx": "avx", "avx2": "avx2", "avx512": "avx512", "avx10": "avx512"}


def cpu_isa(flags: list[str] | set[str]) -> str:
    """The widest vector ISA the CPU offers, from /proc/cpuinfo's flags (x86) or features (arm64)."""
    flags = set(flags)
    if "avx512f" in flags:
        return "avx512"
    if "avx2" in flags and "fma" in flags:
        return "avx2"
    if "avx" in flags:
        return "avx"
    if "sve" in flags:
        return "sve"
    if "asimd" in flags:
        return "neon"
    return "sse" if "sse2" in flags else "generic"


def full_rate_isa(flags: list[str] | set[str], vendor: str | None = None, family: str | int | None = None) -> str:
    """The widest vector ISA the cores execute at full rate, which a kernel must use to reach the CPU's FLOPs.

    AMD family 19h (Zen 4: Genoa, Bergamo) executes 512-bit instructions as two 256-bit halves on its 256-bit
    units ("double pumped"), so an AVX2 kernel reaches the same FLOPs per cycle as an AVX-512 one there; the
    server parts of family 1Ah (Zen 5: Turin, the EC2 types' Zen 5) execute them on full 512-bit data paths, so an
    AVX2 kernel gets half (A. J. Yee, "Zen4's AVX512 Teardown", 2022, and "Zen5's AVX512 Teardown", 2024,
    numberworld.org, from AMD's own data and measurement). Intel's AVX-512 cores run it at full width."""
    isa = cpu_isa(flags)
    if isa == "avx512" and vendor == "AuthenticAMD" and family is not None and int(family) == 0x19:
        return "avx2"
    return isa


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _cpu_field(text: str, *names: str) -> str | None:
    match = re.search(rf"^(?:{'|'.join(names)})\s*:\s*(.*)$", text, re.MULTILINE)
    return match.group(1).strip() if match else None


def _cpu_flags() -> list[str]:
    return (_cpu_field(_cpuinfo(), "flags", "Features") or "").split()


def _library_kind(path: str) -> str | None:
    name = Path(path).name
    for kind in ("openblas", "blis", "mkl"):
        if kind in name:
            return kind
    return None


def _openblas_symbol(lib: ctypes.CDLL, name: str):
    """OpenBLAS's own name, or the scipy-openblas wheels' prefixed one (scipy_<name>, 64-bit: ...64_)."""
    for candidate in (name, f"scipy_{name}64_", f"scipy_{name}"):
        try:
            function = getattr(lib, candidate)
        except AttributeError:
            continue
        function.restype = ctypes.c_char_p
        return function
    raise AttributeError(f"{name} not exported")


def _probe_openblas(lib: ctypes.CDLL) -> dict[str, Any]:
    config = (_openblas_symbol(lib, "openblas_get_config")() or b"").decode()
    version = re.search(r"OpenBLAS\s+(\S+)", config)
    kernel = (_openblas_symbol(lib, "openblas_get_corename")() or b"").decode()
    return {"name": "OpenBLAS", "version": version.group(1) if version else None, "config": config,
            "kernel": kernel, "kernel_isa": OPENBLAS_CORE_ISA.get(kernel.lower())}


def _probe_blis(lib: ctypes.CDLL) -> dict[str, Any]:
    lib.bli_arch_query_id.restype = ctypes.c_int
    lib.bli_arch_string.argtypes = [ctypes.c_int]
    lib.bli_arch_string.restype = ctypes.c_char_p
    lib.bli_info_get_version_str.restype = ctypes.c_char_p
    kernel = lib.bli_arch_string(lib.bli_arch_query_id()).decode()
    return {"name": "BLIS", "version": lib.bli_info_get_version_str().decode(), "config": None,
            "kernel": kernel, "kernel_isa": BLIS_ARCH_ISA.get(kernel)}


def _probe_mkl(lib: ctypes.CDLL) -> dict[str, Any]:
    buffer = ctypes.create_string_buffer(512)
    lib.MKL_Get_Version_String(buffer, len(buffer))
    text = buffer.value.decode()
    n = 64  # one DGEMM makes MKL pick and load its code path
    a = (ctypes.c_double * (n * n))(*([1.0] * (n * n)))
    c = (ctypes.c_double * (n * n))()
    lib.cblas_dgemm(101, 111, 111, n, n, n, ctypes.c_double(1.0), a, n, a, n, ctypes.c_double(0.0), c, n)
    loaded = re.findall(r"libmkl_(def|mc3|avx|avx2|avx512|avx10)\.so", Path("/proc/self/maps").read_text())
    kernel = loaded[0] if loaded else None
    version = re.search(r"Version ([0-9.]+)", text)
    return {"name": "oneMKL", "version": version.group(1) if version else None,
            "config": text, "kernel": f"libmkl_{kernel}" if kernel else None,
            "kernel_isa": MKL_PATH_ISA.get(kernel or "")}


def probe_in_process(path: str) -> dict[str, Any]:
    kind = _library_kind(path)
    if kind is None:
        return {"library": path, "name": None, "kernel": None, "detail": "not a BLAS this probe knows"}
    lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    found = {"openblas": _probe_openblas, "blis": _probe_blis, "mkl": _probe_mkl}[kind](lib)
    return {"library": path, **found}


def judge(found: dict[str, Any], flags: list[str], *, vendor: str | None = None,
          family: str | int | None = None) -> dict[str, Any]:
    """Add the CPU's ISA and whether the selected kernel reaches its full rate (None when unknown): a kernel as
    wide as the widest vectors the cores execute at full width (full_rate_isa)."""
    cpu = cpu_isa(flags)
    full = full_rate_isa(flags, vendor, family)
    kernel_isa = found.get("kernel_isa")
    matches = None if kernel_isa is None else ISA_RANK[kernel_isa] >= ISA_RANK[full]
    result = {**found, "cpu_isa": cpu, "cpu_full_rate_isa": full, "matches_cpu": matches}
    if matches is False:
        result["detail"] = (f"{found.get('name')} selected {found.get('kernel')} ({kernel_isa} kernels) on a CPU "
                            f"with {cpu}: the figure measures the library's fallback, not the CPU")
    elif matches and full != cpu:
        result["detail"] = (f"{found.get('name')} selected {found.get('kernel')} ({kernel_isa} kernels) on a CPU "
                            f"with {cpu} executed at {full} width (AMD family 19h): the same FLOPs per cycle")
    elif matches is None and found.get("kernel"):
        result["detail"] = (f"{found.get('name')} selected {found.get('kernel')}, whose vector width the probe "
                            "cannot tell: compare its figure with another BLAS on the same CPU")
    return result


def probe(path: str | None, timeout_s: float = 60) -> dict[str, Any] | None:
    """Probe `path` in a child process; a failure is recorded, never raised."""
    if not path:
        return None
    proc = subprocess.run([sys.executable, "-m", "benchmark_runner.blas", path], capture_output=True, text=True,
                          timeout=timeout_s, cwd=str(Path(__file__).resolve().parent.parent))
    if proc.returncode != 0:
        return {"library": path, "name": _library_kind(path), "kernel": None, "matches_cpu": None,
                "detail": f"probe failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"}
    text = _cpuinfo()
    return judge(json.loads(proc.stdout), _cpu_flags(), vendor=_cpu_field(text, "vendor_id"),
                 family=_cpu_field(text, "cpu family"))


if __name__ == "__main__":
    print(json.dumps(probe_in_process(sys.argv[1])))
