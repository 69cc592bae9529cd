"""Compile the benchmarks on the host they will measure.

STREAM is the project's own C (src/stream.c). HPL is resolved in this order and
the choice is recorded in the result document:

1. a configured ``xhpl``: ``$BENCHRUN_XHPL``, else ``xhpl`` on PATH (what the
   containers ship, built against the architecture's tuned BLAS);
2. ``xhpl`` built here from the HPL bundled in the HPC Challenge sources
   (``hpcc_1.5.0.orig.tar.gz``) that Debian's source archive serves, fetched with
   ``apt-get source`` through the host's own apt configuration, checked against
   a pinned SHA-256, linked against OpenBLAS and OpenMPI.

Builds land in a directory keyed by a hash of sources, flags and compiler, so a
changed source rebuilds and an unchanged one costs nothing.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from benchmark_runner import blas
from benchmark_runner._log import log

SRC_DIR = Path(__file__).resolve().parent.parent / "src"

HPCC_VERSION = "1.5.0"
HPCC_TARBALL = f"hpcc_{HPCC_VERSION}.orig.tar.gz"
# sha256 of Debian's hpcc_1.5.0.orig.tar.gz (656 KB), as listed in hpcc_1.5.0-3.dsc.
HPCC_TARBALL_SHA256 = "0a6fef7ab9f3347e549fed65ebb98234feea9ee18aea0c8f59baefbe3cf7ffb8"

# Edits that make HPCC's HPL a standalone HPL again: read HPL.dat and honour its
# output device line (HPCC forces hpccinf.txt / hpccoutf.txt), and replace two
# MPI-1 calls that OpenMPI 4 removed with their MPI-2 names, as HPL 2.3 did.
HPL_SOURCE_EDITS = {
    "testing/ptest/HPL_pdinfo.c": [
        ('#define INFILE "hpccinf.txt"', '#define INFILE "HPL.dat"'),
        ("fid = 8; /* always write to a file */", ""),
        ('strcpy( file, "hpccoutf.txt" );', ""),
    ],
    "src/comm/HPL_packL.c": [
        ("MPI_Address(", "MPI_Get_address("),
        ("MPI_Type_struct(", "MPI_Type_create_struct("),
    ],
}


class BuildError(RuntimeError):
    """A benchmark could not be built; the message says what to install or set."""


def default_build_dir() -> Path:
    configured = os.environ.get("BENCHRUN_BUILD_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "benchrun"


def arch_flags() -> list[str]:
    """Tune for the CPU the benchmark runs on; arm64 GCC spells it -mcpu.

    $BENCHRUN_ARCH_FLAGS overrides it where the build host is not the benchmark host
    (an image build must not bake the build machine's -march=native into xhpl).
    """
    configured = os.environ.get("BENCHRUN_ARCH_FLAGS")
    if configured:
        return configured.split()
    return ["-mcpu=native"] if platform.machine() in ("aarch64", "arm64") else ["-march=native"]


def cpu_signature() -> str:
    """-march=native binaries are only valid on the CPU that built them: key the cache on it."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    first = cpuinfo.split("\n\n", 1)[0]
    wanted = ("model name", "flags", "features", "cpu implementer", "cpu part")
    lines = [line for line in first.splitlines() if line.split(":", 1)[0].strip().lower() in wanted]
    return platform.machine() + "\n" + "\n".join(lines)


def compiler_version(cc: str) -> str:
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(f"no working C compiler '{cc}' ({exc}); install gcc (Debian: build-essential)") from exc
    return out.splitlines()[0].strip()


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def stream_variants() -> dict[str, list[str]]:
    """Compile flags per STREAM variant on this architecture."""
    base = ["-O3", *arch_flags(), "-fopenmp"]
    variants = {"regular": base}
    if platform.machine() in ("x86_64", "amd64"):
        variants["nontemporal"] = [*base, "-DSTREAM_NONTEMPORAL"]
    return variants


def build_stream(build_dir: Path | None = None, cc: str = "gcc") -> dict[str, Any]:
    """Every STREAM variant for this host; the runner measures them and keeps the faster.

    $BENCHRUN_STREAM_MANIFEST names a JSON file of prebuilt variants instead (an image's
    vendor-compiler builds): {"regular": {"path": ..., "cflags": ..., "compiler": ...}, ...}.
    """
    manifest = os.environ.get("BENCHRUN_STREAM_MANIFEST")
    if manifest:
        variants = json.loads(Path(manifest).read_text())
        for name, info in variants.items():
            if not os.access(info.get("path", ""), os.X_OK):
                raise BuildError(f"{manifest}: STREAM variant {name!r} has no executable at {info.get('path')!r}")
            info.update(variant=name, source=info.get("source", "src/stream.c (prebuilt in the image)"))
        return variants
    build_dir = build_dir or default_build_dir()
    version = compiler_version(cc)
    built = {}
    for variant, flags in stream_variants().items():
        binary = _compile_once(build_dir, "stream", flags, cc=cc, version=version, extra=["-lm"],
                               what=f"STREAM ({variant} stores)")
        built[variant] = {"path": str(binary), "compiler": version, "cflags": " ".join(flags),
                          "source": "src/stream.c", "variant": variant}
    return built


def build_clockloop(build_dir: Path | None = None, cc: str = "gcc") -> dict[str, Any]:
    """src/clockloop.c for this CPU: the calibrated clock loop, whose vector mode runs the widest FMAs here."""
    build_dir = build_dir or default_build_dir()
    version = compiler_version(cc)
    flags = ["-O2", *arch_flags()]
    binary = _compile_once(build_dir, "clockloop", flags, cc=cc, version=version, extra=[],
                           what="the clock loop")
    return {"path": str(binary), "compiler": version, "cflags": " ".join(flags), "source": "src/clockloop.c"}


def _compile_once(build_dir: Path, name: str, flags: list[str], *, cc: str, version: str, extra: list[str],
                  what: str) -> Path:
    """src/<name>.c compiled with `flags` into a directory keyed by source, flags, compiler and CPU; once."""
    source = SRC_DIR / f"{name}.c"
    out_dir = build_dir / f"{name}-{_digest(source.read_bytes(), ' '.join(flags), version, cpu_signature())}"
    binary = out_dir / name
    if not binary.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        log("compiling %s: %s %s", what, cc, " ".join(flags))
        tmp = out_dir / f"{name}.tmp"
        _run([cc, *flags, "-o", str(tmp), str(source), *extra], f"{what} compilation")
        tmp.rename(binary)
    return binary


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout)[-2000:]
        raise BuildError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd[:6])} ...\n{tail}")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def apt_deb_src_lines(etc_apt: Path = Path("/etc/apt")) -> list[str]:
    """deb-src lines mirroring this host's configured `deb ... main` sources.

    The source archive is reached through the same mirror apt already uses, so
    nothing about the network is hard-coded here.
    """
    lines: list[str] = []
    for sources in sorted((etc_apt / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", sources.read_text()):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and "main" in fields.get("components", "").split():
                for uri in fields.get("uris", "").split():
                    for suite in fields.get("suites", "").split():
                        lines.append(f"deb-src {uri} {suite} main")
    list_files = [etc_apt / "sources.list", *sorted((etc_apt / "sources.list.d").glob("*.list"))]
    for list_file in list_files:
        if not list_file.exists():
            continue
        for line in list_file.read_text().splitlines():
            match = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$", line)
            if match and "main" in match.group(3).split():
                lines.append(f"deb-src {match.group(1)} {match.group(2)} main")
    return list(dict.fromkeys(lines))


def fetch_hpcc_source(dest: Path) -> Path:
    """Debian's hpcc upstream tarball in `dest`, fetched with apt-get if missing."""
    tarball = dest / HPCC_TARBALL
    if tarball.exists() and file_sha256(tarball) == HPCC_TARBALL_SHA256:
        return tarball
    if not shutil.which("apt-get"):
        raise BuildError(
            f"no xhpl found and no apt-get to fetch the HPL source: set BENCHRUN_XHPL to an xhpl binary, "
            f"or put {HPCC_TARBALL} (sha256 {HPCC_TARBALL_SHA256}) in {dest}"
        )
    src_lines = apt_deb_src_lines()
    if not src_lines:
        raise BuildError("no Debian 'deb ... main' source configured in /etc/apt; cannot fetch the HPL source")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="benchrun-apt-") as tmp:
        apt_dir = Path(tmp)
        (apt_dir / "parts").mkdir()
        (apt_dir / "lists" / "partial").mkdir(parents=True)
        (apt_dir / "parts" / "src.list").write_text("\n".join(src_lines) + "\n")
        # A private source list and list directory: the host's apt state is left as it was.
        opts = [
            f"-o=Dir::Etc::SourceParts={apt_dir / 'parts'}",
            "-o=Dir::Etc::SourceList=/dev/null",
            f"-o=Dir::State::Lists={apt_dir / 'lists'}",
        ]
        log("fetching the HPC Challenge source (HPL 2.0 lineage) with apt-get source")
        _run(["apt-get", *opts, "update"], "apt-get update (deb-src)")
        # The .debian.tar.xz part may be missing from the archive (seen: 404); only
        # the upstream tarball matters, so the exit status is not trusted either way.
        subprocess.run(
            ["apt-get", *opts, "source", "--download-only", "hpcc"],
            cwd=dest,
            capture_output=True,
            text=True,
        )
    if not tarball.exists():
        raise BuildError(f"apt-get source did not deliver {HPCC_TARBALL}; set BENCHRUN_XHPL to an xhpl binary")
    actual = file_sha256(tarball)
    if actual != HPCC_TARBALL_SHA256:
        tarball.unlink()
        raise BuildError(f"{HPCC_TARBALL} has sha256 {actual}, expected {HPCC_TARBALL_SHA256}; refusing to build")
    return tarball


def _extract_hpl(tarball: Path, dest: Path) -> Path:
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(f"hpcc-{HPCC_VERSION}/hpl/")]
        for member in members:
            if member.issym() or member.islnk() or ".." in Path(member.name).parts:
                raise BuildError(f"unexpected link or path in {tarball.name}: {member.name}")
        tar.extractall(dest, members=members)  # noqa: S202 - members checked above
    root = dest / f"hpcc-{HPCC_VERSION}" / "hpl"
    for relative, edits in HPL_SOURCE_EDITS.items():
        path = root / relative
        text = path.read_text()
        for old, new in edits:
            if old not in text:
                raise BuildError(f"HPL source edit no longer applies to {relative}: {old!r}")
            text = text.replace(old, new)
        path.write_text(text)
    return root


def blas_link_flags() -> list[str]:
    return (os.environ.get("BENCHRUN_BLAS_LIBS") or "-lopenblas").split()


def build_hpl(build_dir: Path | None = None) -> dict[str, Any]:
    """The HPL to run, in the documented order (the choice is recorded in the document):

    1. a configured xhpl ($BENCHRUN_XHPL, else xhpl on PATH);
    2. xhpl built here from Debian's hpcc source;
    3. Debian's hpcc binary, whose HPL runs last in the whole HPC Challenge suite (slow:
       every solve pays for the other tests too), when 2 cannot be built.
    $BENCHRUN_HPL=hpcc selects 3 directly.
    """
    if os.environ.get("BENCHRUN_HPL") == "hpcc":
        return hpcc_binary("BENCHRUN_HPL=hpcc")
    configured = os.environ.get("BENCHRUN_XHPL") or shutil.which("xhpl")
    if configured:
        if not os.access(configured, os.X_OK):
            raise BuildError(f"BENCHRUN_XHPL={configured} is not an executable file")
        return {"path": configured, "kind": "xhpl", "source": "configured xhpl", **_link_info(Path(configured))}
    try:
        return build_xhpl_from_source(build_dir)
    except BuildError as exc:
        if not shutil.which("hpcc"):
            raise
        log("cannot build xhpl (%s); falling back to Debian's hpcc", exc)
        return hpcc_binary(f"xhpl could not be built: {exc}")


def hpcc_binary(reason: str) -> dict[str, Any]:
    path = shutil.which("hpcc")
    if not path:
        raise BuildError("BENCHRUN_HPL=hpcc but hpcc is not installed (Debian: apt-get install hpcc)")
    return {"path": path, "kind": "hpcc", "source": "Debian hpcc (HPL inside the HPC Challenge suite)",
            "reason": reason, **_link_info(Path(path))}


def build_xhpl_from_source(build_dir: Path | None = None) -> dict[str, Any]:
    build_dir = build_dir or default_build_dir()
    mpicc = shutil.which("mpicc")
    if not mpicc:
        raise BuildError("mpicc not found: install OpenMPI (Debian: libopenmpi-dev openmpi-bin)")
    tarball = fetch_hpcc_source(build_dir / "sources")
    flags = ["-O3", *arch_flags(), "-DHPL_CALL_CBLAS"]
    libs = [*blas_link_flags(), "-lm"]
    wrapper = SRC_DIR / "hpl_main.c"
    key = _digest(HPCC_TARBALL_SHA256, repr(HPL_SOURCE_EDITS), wrapper.read_bytes(), " ".join(flags + libs),
                  compiler_version(mpicc), cpu_signature())
    out_dir = build_dir / f"hpl-hpcc-{HPCC_VERSION}-{key}"
    binary = out_dir / "xhpl"
    info = {
        "kind": "xhpl",
        "source": f"HPL from Debian hpcc_{HPCC_VERSION}.orig.tar.gz (HPL 2.0 lineage), built here",
        "source_sha256": HPCC_TARBALL_SHA256,
        "compiler": compiler_version(mpicc),
        "cflags": " ".join(flags),
        "libs": " ".join(libs),
    }
    if not binary.exists():
        log("building xhpl from %s with %s", tarball.name, " ".join(flags + libs))
        with tempfile.TemporaryDirectory(prefix="benchrun-hpl-") as tmp:
            root = _extract_hpl(tarball, Path(tmp))
            sources = sorted(p for d in ("src", "testing") for p in (root / d).rglob("*.c")) + [wrapper]
            objects = Path(tmp) / "obj"
            objects.mkdir()

            def compile_one(index_source: tuple[int, Path]) -> Path:
                index, source = index_source
                obj = objects / f"{index:04d}_{source.stem}.o"
                _run([mpicc, "-c", *flags, f"-I{root / 'include'}", str(source), "-o", str(obj)],
                     f"compiling {source.name}")
                return obj

            with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                objs = list(pool.map(compile_one, enumerate(sources)))
            out_dir.mkdir(parents=True, exist_ok=True)
            tmp_binary = out_dir / "xhpl.tmp"
            _run([mpicc, "-o", str(tmp_binary), *map(str, objs), *libs], "linking xhpl")
            tmp_binary.rename(binary)
    return {"path": str(binary), **info, **_link_info(binary)}


def _link_info(binary: Path) -> dict[str, Any]:
    """Which BLAS and MPI the binary really loads (ldd), and OpenBLAS's own build config."""
    info: dict[str, Any] = {"blas_library": None, "blas_config": None, "mpi_library": None}
    try:
        ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return info
    for line in ldd.splitlines():
        match = re.match(r"\s*(\S+)\s+=>\s+(\S+)", line)
        if not match:
            continue
        name, path = match.groups()
        real = os.path.realpath(path)
        if re.search(r"blas|blis|mkl|armpl", name) and info["blas_library"] is None:
            info["blas_library"] = real
            info["blas_config"] = _openblas_config(real)
            info["blas"] = blas.probe(real)
        elif name.startswith("libmpi.") and info["mpi_library"] is None:
            info["mpi_library"] = real
    return info


def _openblas_config(library: str) -> str | None:
    try:
        lib = ctypes.CDLL(library)
        get_config = lib.openblas_get_config
    except (OSError, AttributeError):
        return None
    get_config.restype = ctypes.c_char_p
    value = get_config()
    return value.decode() if value else None


def mpi_version() -> str | None:
    mpirun = shutil.which("mpirun")
    if not mpirun:
        return None
    out = subprocess.run([mpirun, "--version"], capture_output=True, text=True).stdout
    return out.strip().splitlines()[0].strip() if out.strip() else None
