"""The runner image on this machine's Docker engine: get it (pull by digest, or build), run benchrun in it.

What target=local does when an engine answers, and what the tests do with the real
images. The container runs as on an instance (ssm.runner_script): the host's hostname, no
network, CAP_SYS_NICE for numactl's memory binding, the document written to a mounted /out.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def variant_for_host(topology: dict[str, Any]) -> str:
    """The image this machine's CPU family runs (the generic one for a family with none)."""
    from instance_benchmarks.images import VARIANT_FOR_FAMILY

    return VARIANT_FOR_FAMILY.get(topology.get("architecture_family") or "", "generic")


def pull_by_digest(client: Any, reference: str) -> dict[str, Any]:
    """Resolve `reference` (repository:tag) to its digest in its registry and pull exactly that."""
    repository = reference.rsplit(":", 1)[0] if "@" not in reference else reference.split("@", 1)[0]
    digest = client.images.get_registry_data(reference).id
    pinned = f"{repository}@{digest}"
    log.info("Pulling %s (%s)", pinned, reference)
    client.images.pull(pinned)
    return {"image": pinned, "digest": digest, "source": "pulled"}


def local_image(client: Any, variant: str, *, registry: str | None) -> dict[str, Any]:
    """The variant's image on this engine: pulled by digest from `registry` when one is configured,
    otherwise built here (from this machine's Debian bases when its own registry runs, pushed there
    so the document can name a digest)."""
    from instance_benchmarks import engine
    from instance_benchmarks.images import LOCAL_REPOSITORY, VARIANTS, ImageBuilder, runner_version

    if registry:
        return pull_by_digest(client, f"{registry.rstrip('/')}:{variant}-{runner_version()}")
    local_registry = engine.Registry()
    if local_registry.answers():
        bases = engine.local_bases(engine.Engine(), local_registry, {VARIANTS[variant].platform})
        repository = f"{local_registry.address}/{LOCAL_REPOSITORY}"
    else:
        bases, repository = {}, LOCAL_REPOSITORY
    builder = ImageBuilder(client, repository=repository, base_for=bases)
    built = builder.build(VARIANTS[variant])
    if local_registry.answers():
        builder.push(built)
    log.info("Runner image %s built in %.0f s", built.reference, built.built_in_s or 0)
    return {"image": built.reference, "digest": built.pushed_digest, "source": "built",
            "image_id": built.image_id}


def run_benchrun(client: Any, image: str, args: list[str], *, out_dir: Path, timeout_s: float,
                 env: dict[str, str]) -> tuple[int, list[str]]:
    """`benchrun ARGS --out /out/result.json` in `image`; its lines reach the log as they come.

    Returns (exit code, the last lines). A timeout kills the container; the container is
    removed whatever happens.
    """
    out_dir.chmod(0o777)  # the image runs as an unprivileged user
    container = client.containers.run(
        # The host's name, not the container's id: the STREAM and HPL documents of one host merge on it.
        image, [*args, "--out", "/out/result.json"], detach=True, hostname=socket.gethostname(),
        network_mode="none", cap_add=["SYS_NICE"],
        volumes={str(out_dir): {"bind": "/out", "mode": "rw"}}, environment=env,
    )
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        with contextlib.suppress(Exception):
            container.kill()

    watchdog = threading.Timer(timeout_s, expire)
    watchdog.start()
    tail: list[str] = []
    try:
        log.info("Running %s in %s (container %s)", " ".join(args), image, container.short_id)
        for chunk in container.logs(stream=True, follow=True):
            for line in chunk.decode(errors="replace").splitlines():
                log.info("%s", line)
                tail = [*tail[-39:], line]
        code = container.wait()["StatusCode"]
    finally:
        watchdog.cancel()
        with contextlib.suppress(Exception):
            container.remove(force=True)
    if timed_out.is_set():
        tail.append(f"benchrun killed after the {timeout_s:.0f} s timeout")
    return code, tail
