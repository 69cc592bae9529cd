"""The local host: capacity refusal, the timeout killing the whole process group, the engine probe."""

from __future__ import annotations

import os
import time

import pytest

from instance_benchmarks.hosts import CapacityUnavailable, HostHandle, get_host, local

PLAN = {"instance_type": "local", "target": "local", "spec": {"vcpus": 1}, "min_memory_bytes": 1}


def test_specs_is_this_machine_whatever_was_asked():
    (spec,) = local.LocalHost().specs(["m7i.large"])

    assert spec.instance_type == "local" and spec.vcpus == os.cpu_count()
    assert spec.family in ("intel", "amd", "graviton", "other")


def test_capacity_check_reports_what_it_checked():
    checked = local.LocalHost().check_capacity(PLAN)

    assert checked["cpus_online"] >= 1 and checked["memory_available_bytes"] > 0


def test_capacity_check_refuses_more_memory_than_available():
    plan = {**PLAN, "min_memory_bytes": 2**50}

    with pytest.raises(CapacityUnavailable, match="MiB free"):
        local.LocalHost().check_capacity(plan)


def test_capacity_check_refuses_more_cpus_than_online():
    plan = {**PLAN, "spec": {"vcpus": (os.cpu_count() or 1) + 1}}

    with pytest.raises(CapacityUnavailable, match="CPUs"):
        local.LocalHost().check_capacity(plan)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_timeout_kills_benchrun_and_its_children(tmp_path, monkeypatch):
    pid_file = tmp_path / "child.pid"
    script = tmp_path / "fake_benchrun.py"
    script.write_text(
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen(['sleep', '300'])\nopen({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "print('started a child that would outlive us', file=sys.stderr, flush=True)\ntime.sleep(300)\n"
    )
    monkeypatch.setattr(local, "BENCHRUN", script)

    started = time.monotonic()
    code, _, tail = local.LocalHost()._benchrun(["stream"], timeout_s=2)

    assert time.monotonic() - started < 30
    assert code != 0
    assert tail[-1] == "benchrun killed after the 2 s timeout"
    child = int(pid_file.read_text())
    for _ in range(50):  # the kernel reaps asynchronously
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child)


def test_run_without_a_document_reports_exit_and_stderr(tmp_path, monkeypatch):
    script = tmp_path / "crashing_benchrun.py"
    script.write_text("import sys\nprint('boom: no BLAS', file=sys.stderr)\nsys.exit(3)\n")
    monkeypatch.setattr(local, "BENCHRUN", script)
    handle = HostHandle(target="local", host_id="h", instance_type="local")

    outcome = local.LocalHost().run(handle, ["stream"], staging_uri=(tmp_path / "s.json").as_uri(), timeout_s=30,
                                    env={})

    assert outcome.staged_uri is None and outcome.exit_code == 3 and "boom: no BLAS" in outcome.stderr_tail


class _FakeDockerClient:
    def ping(self):
        return True

    def version(self):
        return {"Version": "27.0.3"}


def test_docker_engine_with_and_without_an_engine(monkeypatch):
    import docker

    monkeypatch.setenv("DOCKER_HOST", "unix:///run/engine.sock")
    monkeypatch.setattr(docker, "from_env", lambda **_: _FakeDockerClient())
    client, how = local.docker_engine()
    assert isinstance(client, _FakeDockerClient) and how == "at unix:///run/engine.sock (version 27.0.3)"

    def no_engine(**_):
        raise docker.errors.DockerException("Error while fetching server API version")

    monkeypatch.setattr(docker, "from_env", no_engine)
    assert local.docker_engine() == (None, "none at unix:///run/engine.sock: DockerException")


def test_without_an_engine_prepare_builds_bare_and_says_so(monkeypatch, caplog):
    monkeypatch.setattr(local, "docker_engine", lambda: (None, "none at the default socket: DockerException"))
    host = local.LocalHost()
    monkeypatch.setattr(host, "_benchrun", lambda args, **_: (0, '{"stream": {}, "hpl": {}}', []))
    handle = HostHandle(target="local", host_id="here", instance_type="local", details={})

    with caplog.at_level("WARNING"):
        prepared = host.prepare(handle)

    assert prepared["mode"] == "bare" and prepared["docker_engine"].startswith("none at the default socket")
    assert "No Docker engine answers" in caplog.text and "bare" in caplog.text


def test_local_target_takes_the_image_registry_from_the_params():
    assert get_host("local", {"image_registry": "127.0.0.1:5000/runner"}).image_registry == "127.0.0.1:5000/runner"
    assert get_host("local", {"image_registry": None}).image_registry is None


def test_aws_target_takes_its_settings_from_the_params():
    host = get_host("aws", {"aws_conn_id": "bench", "region": "eu-west-1", "market": "spot",
                            "subnet_ids": ["subnet-0123456789abcdef0"]})

    assert host.settings.aws_conn_id == "bench" and host.settings.region == "eu-west-1"
    assert host.settings.market == "spot" and host.settings.subnet_ids == ("subnet-0123456789abcdef0",)


def test_unknown_target():
    with pytest.raises(ValueError, match="expected 'local' or 'aws'"):
        get_host("gcp")


