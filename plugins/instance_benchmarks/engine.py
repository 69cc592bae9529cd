"""A Docker Engine, a registry and Debian base images on this machine, started by hand.

For the tests and `make images` on a machine with no Docker set up (no systemd, no
bridge, no route to Docker Hub): Debian's `dockerd` with the flags these machines
need, Debian's `docker-registry` on 127.0.0.1 as the stand-in for ECR, and Debian
base images made with debootstrap and pushed there, so that the Dockerfiles'
`FROM base@sha256:...` pinning runs exactly as it does against a public registry.

Everything lives under one folder (`<cache>/engine`: `.build/engine` in the checkout, or under
$INSTANCE_BENCHMARKS_CACHE, which clones share): the engine's socket,
data root and exec root, the registry's storage, the debootstrapped root filesystems.
The data roots survive between runs, so a second build reuses its layers; the
processes are stopped by whoever started them (`stop()`), and a caller that finds
them already running leaves them running.

    python -m instance_benchmarks.engine start|stop|status|bases
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from instance_benchmarks import CACHE_DIR

log = logging.getLogger(__name__)

DEFAULT_ROOT = CACHE_DIR / "engine"
DEBIAN_SUITE = "trixie"
# What the Dockerfiles name in production (a public image, pinned by digest at build time), and
# what stands in for it here: a minbase debootstrap of the same Debian release.
PRODUCTION_BASE = f"debian:{DEBIAN_SUITE}-slim"
PLATFORM_ARCH = {"linux/amd64": "amd64", "linux/arm64": "arm64"}
# Why each dockerd flag (measured, ../shared/FACTS.md): no iptables or bridge can be set up here;
# without the two ulimits every container fails (no CAP_SYS_RESOURCE, Docker's defaults exceed
# the hard limits).
DOCKERD_FLAGS = ("--iptables=false", "--bridge=none", "--storage-driver=overlay2",
                 "--default-ulimit", "nofile=20000:20000", "--default-ulimit", "nproc=20000:20000")


class EngineError(RuntimeError):
    """The engine, the registry or a base image could not be set up; the message says what to do."""


def _pid_alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    # A process this one started and that has exited stays a zombie until it is reaped, and a zombie answers
    # kill(pid, 0): stopping the engine waited its whole timeout for a dockerd that had already gone (36 s)
    with contextlib.suppress(ChildProcessError):  # not this process's child: nothing to reap
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


def _stop_pid(pidfile: Path, what: str, timeout_s: float = 30) -> None:
    pid = _pid_alive(pidfile)
    if pid is None:
        return
    log.info("Stopping %s (pid %d)", what, pid)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _pid_alive(pidfile):
        time.sleep(0.2)
    if _pid_alive(pidfile):
        os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


def _wait(predicate, timeout_s: float, what: str, log_file: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    tail = log_file.read_text()[-1500:] if log_file.exists() else ""
    raise EngineError(f"{what} did not answer within {timeout_s:.0f} s; its log ({log_file}) ends:\n{tail}")


def _require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if not path:
        raise EngineError(f"{binary} not found: install Debian's {package} (make deps-engine installs them, as root)")
    return path


@dataclass
class Engine:
    """Debian's dockerd on a socket of its own under `root`."""

    root: Path = DEFAULT_ROOT
    started_here: bool = field(default=False, init=False)

    @property
    def socket_path(self) -> Path:
        return self.root / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pidfile(self) -> Path:
        return self.root / "dockerd.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "dockerd.log"

    def client(self, timeout: int = 600):
        import docker

        return docker.DockerClient(base_url=self.docker_host, timeout=timeout)

    def answers(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            return bool(self.client(timeout=3).ping())
        except Exception:  # noqa: BLE001 - any failure means "not answering"
            return False

    def start(self, timeout_s: float = 90) -> Engine:
        if self.answers():
            log.info("Docker engine already answers on %s", self.docker_host)
            return self
        dockerd = _require("dockerd", "docker.io")
        # The exec root holds the engine's runtime state and sockets: short path, fresh each start.
        exec_root = Path("/run") / f"ib-docker-{hashlib.sha256(str(self.root).encode()).hexdigest()[:10]}"
        for path in (self.root / "data", exec_root):
            path.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        cmd = [dockerd, "--host", self.docker_host, "--data-root", str(self.root / "data"),
               "--exec-root", str(exec_root), "--pidfile", str(self.pidfile), *DOCKERD_FLAGS]
        log.info("Starting the Docker engine: %s", " ".join(cmd))
        with self.log_file.open("ab") as out:
            subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        _wait(self.answers, timeout_s, "dockerd", self.log_file)
        self.started_here = True
        return self

    def stop(self) -> None:
        _stop_pid(self.pidfile, "dockerd")


@dataclass
class Registry:
    """Debian's docker-registry (distribution 2.8) on 127.0.0.1, storage under `root`."""

    root: Path = DEFAULT_ROOT
    port: int | None = None
    started_here: bool = field(default=False, init=False)

    @property
    def pidfile(self) -> Path:
        return self.root / "registry.pid"

    @property
    def state_file(self) -> Path:
        return self.root / "registry.json"

    @property
    def log_file(self) -> Path:
        return self.root / "registry.log"

    @property
    def address(self) -> str:
        """host:port, as image references spell it (localhost registries need no TLS)."""
        if self.port is None:
            state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
            self.port = state.get("port")
        if self.port is None:
            raise EngineError("the registry has not been started (python -m instance_benchmarks.engine start)")
        return f"127.0.0.1:{self.port}"

    def answers(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=3) as response:  # noqa: S310
                return response.status == 200
        except (OSError, EngineError):
            return False

    def start(self, timeout_s: float = 30) -> Registry:
        if _pid_alive(self.pidfile) and self.answers():
            log.info("Registry already answers on %s", self.address)
            return self
        self.port = None  # not running: a fresh free port, not the last run's
        binary = _require("docker-registry", "docker-registry")
        if self.port is None:
            with socket.socket() as probe:  # a free port: two checkouts on one machine each get their own
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        storage = self.root / "registry"
        storage.mkdir(parents=True, exist_ok=True)
        config = self.root / "registry.yml"
        # The packaged config requires htpasswd auth; this one serves loopback only, without auth.
        config.write_text(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n"
                          f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{self.port}\n")
        with self.log_file.open("ab") as out:
            proc = subprocess.Popen([binary, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.pidfile.write_text(str(proc.pid))
        self.state_file.write_text(json.dumps({"port": self.port}))
        _wait(self.answers, timeout_s, "docker-registry", self.log_file)
        self.started_here = True
        log.info("Registry serves on %s", self.address)
        return self

    def stop(self) -> None:
        _stop_pid(self.pidfile, "docker-registry")


def debian_mirror(etc_apt: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt uses (debootstrap reaches Debian through it too)."""
    texts = [p.read_text() for p in sorted((etc_apt / "sources.list.d").glob("*.sources"))]
    for text in texts:
        for stanza in re.split(r"\n\s*\n", text):
            if re.search(r"^Suites:.*\b(bookworm|trixie|stable)\b(?!-)", stanza, re.MULTILINE):
                match = re.search(r"^URIs:\s*(\S+)", stanza, re.MULTILINE)
                if match:
                    return match.group(1)
    sources = etc_apt / "sources.list"
    if sources.exists():
        match = re.search(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(bookworm|trixie|stable)\s", sources.read_text(),
                          re.MULTILINE)
        if match:
            return match.group(1)
    return "http://deb.debian.org/debian"


def local_base(platform: str, *, engine: Engine, registry: Registry, suite: str = DEBIAN_SUITE) -> str:
    """`<registry>/debian:<suite>-<arch>` made here (debootstrap, import, push) unless the registry has it.

    Returns the reference by tag; the image driver resolves its digest as it does for any base.
    """
    arch = PLATFORM_ARCH[platform]
    reference = f"{registry.address}/debian:{suite}-{arch}"
    client = engine.client()
    with contextlib.suppress(Exception):
        client.images.get_registry_data(reference)
        return reference
    rootfs_tar = engine.root / "bases" / f"debian-{suite}-{arch}.tar"
    if not rootfs_tar.exists():
        _debootstrap(suite, arch, rootfs_tar)
    log.info("Importing %s as %s", rootfs_tar.name, reference)
    docker = _require("docker", "docker.io")
    env = {**os.environ, "DOCKER_HOST": engine.docker_host}
    subprocess.run([docker, "import", "--platform", platform, "--change", "CMD [\"bash\"]", str(rootfs_tar),
                    reference], check=True, env=env, stdout=subprocess.DEVNULL)
    for event in client.images.push(reference.rsplit(":", 1)[0], tag=f"{suite}-{arch}", stream=True, decode=True):
        if "error" in event:
            raise EngineError(f"pushing {reference} to the local registry failed: {event['error']}")
    return reference


def _debootstrap(suite: str, arch: str, rootfs_tar: Path) -> None:
    debootstrap = _require("debootstrap", "debootstrap")
    if arch != {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine):
        _enable_emulation(arch)
    rootfs = rootfs_tar.with_suffix(".rootfs")
    shutil.rmtree(rootfs, ignore_errors=True)
    mirror = debian_mirror()
    log.info("debootstrap --variant=minbase --arch=%s %s from %s (about 70 s)", arch, suite, mirror)
    started = time.monotonic()
    proc = subprocess.run([debootstrap, "--variant=minbase", f"--arch={arch}", suite, str(rootfs), mirror],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        log_tail = (rootfs / "debootstrap" / "debootstrap.log")
        detail = log_tail.read_text()[-1500:] if log_tail.exists() else proc.stderr[-1500:]
        raise EngineError(f"debootstrap of {suite}/{arch} from {mirror} failed (exit {proc.returncode}):\n{detail}")
    # apt's caches are not part of a base image.
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (rootfs / leftover).glob("*"):
            if item.is_file():
                item.unlink()
    rootfs_tar.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(rootfs_tar.with_suffix(".tmp")), "."],
                   check=True)
    rootfs_tar.with_suffix(".tmp").rename(rootfs_tar)
    shutil.rmtree(rootfs, ignore_errors=True)
    log.info("debootstrap %s/%s done in %.0f s", suite, arch, time.monotonic() - started)


def _enable_emulation(arch: str) -> None:
    """Register qemu-user for a foreign architecture (binfmt_misc with the F flag, so containers use it)."""
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)], check=False)
    qemu = {"arm64": "aarch64"}[arch]
    if (binfmt / f"qemu-{qemu}").exists():
        return
    updater = _require("update-binfmts", "binfmt-support")
    _require(f"qemu-{qemu}-static", "qemu-user-static")
    proc = subprocess.run([updater, "--enable", f"qemu-{qemu}"], capture_output=True, text=True)
    if not (binfmt / f"qemu-{qemu}").exists():
        raise EngineError(f"cannot register qemu-{qemu} with binfmt_misc ({proc.stderr.strip()}); "
                          "linux/arm64 images cannot be built on this machine")


def local_bases(engine: Engine, registry: Registry, platforms: set[str]) -> dict[tuple[str, str], str]:
    """Production base -> local stand-in, per platform: what the image driver's `base_for` takes."""
    return {(PRODUCTION_BASE, platform): local_base(platform, engine=engine, registry=registry)
            for platform in sorted(platforms)}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="instance_benchmarks.engine", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "bases"])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--platform", action="append", default=None, help="for bases (default: linux/amd64)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    engine, registry = Engine(args.root), Registry(args.root)
    try:
        if args.action == "start":
            engine.start(), registry.start()
        elif args.action == "stop":
            registry.stop(), engine.stop()
        elif args.action == "bases":
            engine.start(), registry.start()
            for (_, platform), ref in local_bases(engine, registry, set(args.platform or ["linux/amd64"])).items():
                print(f"base {platform} {ref}")
        if args.action != "stop":
            print(f"DOCKER_HOST={engine.docker_host} answers={engine.answers()}")
            print(f"registry={registry.address if registry.state_file.exists() else '-'} "
                  f"answers={registry.answers()}")
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
