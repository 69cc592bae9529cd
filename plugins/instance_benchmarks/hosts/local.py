"""This machine as a benchmark host: the runner runs in its image, or bare as a subprocess.

Provision and terminate are no-ops that say so in the log; the capacity check
asks whether this machine has the cores and memory the plan needs right now.
`prepare` is the design's build/pull container stage: when a Docker engine answers
(DOCKER_HOST, else the default socket), the family's runner image is pulled by
digest from `image_registry` or, with none configured, built here; the benchmarks
then run in that container as they do on an instance. Only when no engine answers
do they run bare, and the log and the document say so.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections import deque
from pathlib import Path
from typing import Any

from instance_benchmarks import BENCHRUN, CACHE_DIR
from instance_benchmarks.catalog import InstanceSpec, local_spec
from instance_benchmarks.hosts.base import CapacityUnavailable, Host, HostHandle, RunOutcome

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 40


def build_dir() -> Path:
    return Path(os.environ.get("BENCHRUN_BUILD_DIR") or CACHE_DIR / "local")


def meminfo_available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("MemAvailable missing from /proc/meminfo")


class LocalHost(Host):
    target = "local"

    def __init__(self, *, image_registry: str | None = None) -> None:
        self.image_registry = image_registry or None

    def _benchrun(self, args: list[str], *, timeout_s: float, env: dict[str, str] | None = None
                  ) -> tuple[int, str, list[str]]:
        """Run benchrun, relaying its progress lines into the task log as they come."""
        full_env = {**os.environ, "BENCHRUN_BUILD_DIR": str(build_dir()), "BENCHRUN_TARGET": "local",
                    **(env or {})}
        cmd = [sys.executable, str(BENCHRUN), *args]
        log.info("Running %s", " ".join(cmd))
        tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        with tempfile.TemporaryFile(mode="w+") as stdout_file, subprocess.Popen(
            cmd, stdout=stdout_file, stderr=subprocess.PIPE, text=True, env=full_env, start_new_session=True
        ) as proc:
            timed_out = threading.Event()

            def expire() -> None:
                timed_out.set()
                _kill_group(proc)

            watchdog = threading.Timer(timeout_s, expire)
            watchdog.start()
            try:
                assert proc.stderr is not None
                for line in proc.stderr:
                    log.info("%s", line.rstrip())
                    tail.append(line.rstrip())
                proc.wait()
            except BaseException:
                _kill_group(proc)  # a killed task must not leave a benchmark (or mpirun) running
                raise
            finally:
                watchdog.cancel()
            if timed_out.is_set():
                tail.append(f"benchrun killed after the {timeout_s:.0f} s timeout")
            stdout_file.seek(0)
            stdout = stdout_file.read()
        return proc.returncode, stdout, list(tail)

    def topology(self) -> dict[str, Any]:
        code, out, tail = self._benchrun(["topology"], timeout_s=60)
        if code != 0:
            raise RuntimeError(f"benchrun topology failed (exit {code}): {' | '.join(tail[-5:])}")
        return json.loads(out)

    def specs(self, instance_types: list[str]) -> list[InstanceSpec]:
        if instance_types:
            log.warning("target=local ignores instance_types %s: the host is this machine", instance_types)
        return [local_spec(self.topology())]

    def check_capacity(self, plan: dict[str, Any]) -> dict[str, Any]:
        cpus = os.cpu_count() or 1
        available = meminfo_available_bytes()
        load1, _, _ = os.getloadavg()
        checked = {"cpus_online": cpus, "cpus_planned": plan["spec"]["vcpus"], "memory_available_bytes": available,
                   "memory_needed_bytes": plan["min_memory_bytes"], "load_average_1m": load1}
        if cpus < plan["spec"]["vcpus"]:
            raise CapacityUnavailable(f"plan needs {plan['spec']['vcpus']} CPUs, {cpus} are online")
        if available < plan["min_memory_bytes"]:
            raise CapacityUnavailable(
                f"plan needs {plan['min_memory_bytes'] / 2**20:.0f} MiB free, "
                f"{available / 2**20:.0f} MiB are available"
            )
        if load1 > cpus:
            log.warning("Load average %.2f on %d CPUs: other work will disturb the figures", load1, cpus)
        return checked

    def provision(self, plan: dict[str, Any], *, tags: dict[str, str]) -> HostHandle:
        log.info("target=local: nothing to provision, this machine (%s) is the host", socket.gethostname())
        launched = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        return HostHandle(target="local", host_id=socket.gethostname(), instance_type=plan["instance_type"],
                          details={"tags": tags, "launched_at": launched})

    def prepare(self, handle: HostHandle, *, context_uri: str | None = None) -> dict[str, Any]:
        client, engine = docker_engine()
        if client is not None:
            from instance_benchmarks import containers

            variant = containers.variant_for_host(self.topology())
            log.info("Docker engine %s: the benchmarks run in the %s runner image", engine, variant)
            image = containers.local_image(client, variant, registry=self.image_registry)
            return {"mode": "container", "docker_engine": engine, **image}
        log.warning("No Docker engine answers (%s): building and running the benchmarks bare on this host", engine)
        code, out, tail = self._benchrun(["build"], timeout_s=1800)
        if code != 0:
            raise RuntimeError("building the benchmarks failed: " + " | ".join(tail[-10:]))
        return {"mode": "bare", "docker_engine": engine, "built": json.loads(out)}

    def run(self, handle: HostHandle, args: list[str], *, staging_uri: str, timeout_s: float,
            env: dict[str, str], prepared: dict[str, Any] | None = None) -> RunOutcome:
        from airflow.sdk import ObjectStoragePath

        with tempfile.TemporaryDirectory(prefix="benchrun-out-") as tmp:
            out = Path(tmp) / "result.json"
            if (prepared or {}).get("mode") == "container":
                from instance_benchmarks import containers

                client, _ = docker_engine()
                if client is None:
                    raise RuntimeError("the Docker engine that prepared the runner image no longer answers")
                code, tail = containers.run_benchrun(
                    client, prepared["image"], args, out_dir=Path(tmp), timeout_s=timeout_s,
                    env={"BENCHRUN_TARGET": "local", "BENCHRUN_CONTAINER_IMAGE": prepared["image"],
                         "BENCHRUN_CONTAINER_DIGEST": prepared.get("digest") or "", **env})
            else:
                code, _, tail = self._benchrun([*args, "--out", str(out)], timeout_s=timeout_s, env=env)
            if not out.exists():
                return RunOutcome(staged_uri=None, exit_code=code, stderr_tail="\n".join(tail))
            target = ObjectStoragePath(staging_uri)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(out.read_text())
        # The task log already has every line; XCom keeps the tail only when it explains a failure.
        return RunOutcome(staged_uri=staging_uri, exit_code=code, stderr_tail="\n".join(tail) if code else "")

    def terminate(self, handle: HostHandle, *, wait: bool = True) -> None:
        log.info("target=local: nothing to terminate (%s keeps running)", handle.host_id)


def _kill_group(proc: subprocess.Popen) -> None:
    """benchrun starts mpirun and STREAM: kill its whole process group, not just itself."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def docker_engine() -> tuple[Any, str]:
    """(a client, how it answered) when a Docker engine answers at DOCKER_HOST or the default socket;
    (None, why not) otherwise. The CLI alone is not enough: the daemon must answer."""
    where = os.environ.get("DOCKER_HOST") or "the default socket"
    try:
        import docker

        client = docker.from_env(timeout=3600)
        client.ping()
        return client, f"at {where} (version {client.version().get('Version', '?')})"
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine" here
        return None, f"none at {where}: {type(exc).__name__}"
