"""This machine's engine helper: the mirror it debootstraps from, and what it says when nothing runs.

The engine, the registry and the bases themselves are exercised for real by test_images_in_engine.
"""

from __future__ import annotations

import pytest

from instance_benchmarks import engine


def test_the_mirror_is_the_one_apt_uses(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n")

    assert engine.debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_a_one_line_sources_list_and_no_configuration_at_all(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb [arch=amd64] http://legacy.example/debian trixie main\n")
    assert engine.debian_mirror(tmp_path) == "http://legacy.example/debian"

    (tmp_path / "sources.list").unlink()
    assert engine.debian_mirror(tmp_path) == "http://deb.debian.org/debian"


def test_nothing_running_answers_nothing_and_says_how_to_start_it(tmp_path):
    assert engine.Engine(tmp_path).answers() is False
    registry = engine.Registry(tmp_path)
    assert registry.answers() is False
    with pytest.raises(engine.EngineError, match="python -m instance_benchmarks.engine start"):
        registry.address  # noqa: B018 - the property raises


def test_stopping_what_is_not_running_is_a_no_op(tmp_path):
    engine.Engine(tmp_path).stop()
    engine.Registry(tmp_path).stop()
    assert not list(tmp_path.iterdir())


def test_a_missing_debian_package_is_named(monkeypatch):
    monkeypatch.setattr(engine.shutil, "which", lambda _: None)

    with pytest.raises(engine.EngineError, match="dockerd not found: install Debian's docker.io"):
        engine._require("dockerd", "docker.io")


def test_an_exited_child_is_not_taken_for_a_running_daemon(tmp_path):
    """dockerd and the registry are this process's children: once stopped they are zombies until reaped, and a
    zombie answers kill(pid, 0), so stopping waited out its whole timeout for a daemon that had gone."""
    import subprocess
    import time
    from pathlib import Path

    child = subprocess.Popen(["true"])
    pidfile = tmp_path / "daemon.pid"
    pidfile.write_text(str(child.pid))
    deadline = time.monotonic() + 30
    while Path(f"/proc/{child.pid}/stat").read_text().split()[2] != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)  # exited, not yet reaped

    assert engine._pid_alive(pidfile) is None
    assert not Path(f"/proc/{child.pid}").exists()  # reaped
