"""Building: deb-src lines derived from the host's apt configuration, source edits, cache keys."""

from __future__ import annotations

import json
import tarfile

import pytest

from benchmark_runner import build


def test_deb_src_lines_mirror_both_apt_formats(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://mirror.example/other\nSuites: bookworm\nComponents: contrib\n"
    )
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://legacy.example/debian bookworm main contrib\n"
    )

    lines = build.apt_deb_src_lines(tmp_path)

    assert lines == [
        "deb-src http://mirror.example/debian bookworm main",
        "deb-src http://mirror.example/debian bookworm-updates main",
        "deb-src http://legacy.example/debian bookworm main",
    ]


def test_source_edit_that_no_longer_applies_fails_loudly(tmp_path):
    root = tmp_path / "src" / f"hpcc-{build.HPCC_VERSION}" / "hpl"
    for relative in build.HPL_SOURCE_EDITS:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("/* a different HPL */\n")
    tarball = tmp_path / "hpcc.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tmp_path / "src" / f"hpcc-{build.HPCC_VERSION}", arcname=f"hpcc-{build.HPCC_VERSION}")

    with pytest.raises(build.BuildError, match="no longer applies"):
        build._extract_hpl(tarball, tmp_path / "out")


def test_cache_key_names_this_cpu():
    signature = build.cpu_signature()

    assert signature.startswith(build.platform.machine())
    assert len(signature.splitlines()) >= 2  # model and flags (or implementer and part)


def test_configured_xhpl_must_be_executable(tmp_path, monkeypatch):
    fake = tmp_path / "xhpl"
    fake.write_text("not executable")
    monkeypatch.setenv("BENCHRUN_XHPL", str(fake))

    with pytest.raises(build.BuildError, match="not an executable"):
        build.build_hpl(tmp_path)


def test_hpcc_is_the_fallback_when_xhpl_cannot_be_built(tmp_path, monkeypatch):
    monkeypatch.delenv("BENCHRUN_XHPL", raising=False)
    monkeypatch.delenv("BENCHRUN_HPL", raising=False)
    real_which = build.shutil.which
    monkeypatch.setattr(build.shutil, "which",
                        lambda name: None if name in ("xhpl", "mpicc") else ("/usr/bin/hpcc" if name == "hpcc"
                                                                             else real_which(name)))
    monkeypatch.setattr(build, "_link_info", lambda _: {})

    chosen = build.build_hpl(tmp_path)

    assert chosen["kind"] == "hpcc" and "mpicc not found" in chosen["reason"]


def test_without_hpcc_the_build_error_stands(tmp_path, monkeypatch):
    monkeypatch.delenv("BENCHRUN_XHPL", raising=False)
    monkeypatch.delenv("BENCHRUN_HPL", raising=False)
    monkeypatch.setattr(build.shutil, "which", lambda name: None)

    with pytest.raises(build.BuildError, match="mpicc not found"):
        build.build_hpl(tmp_path)


def test_stream_manifest_of_prebuilt_variants(tmp_path, monkeypatch):
    binary = tmp_path / "stream"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"regular": {"path": str(binary), "cflags": "-O3 -qopenmp", "compiler": "icx"}}))
    monkeypatch.setenv("BENCHRUN_STREAM_MANIFEST", str(manifest))

    variants = build.build_stream(tmp_path)

    assert variants == {"regular": {"path": str(binary), "cflags": "-O3 -qopenmp", "compiler": "icx",
                                    "variant": "regular", "source": "src/stream.c (prebuilt in the image)"}}
