"""Build and push the runner images, one per variant, through the docker SDK.

    python -m instance_benchmarks.images --registry 123456789012.dkr.ecr.us-east-1.amazonaws.com/instance-benchmarks
    python -m instance_benchmarks.images --variant generic --registry localhost:5000/bench --no-push
    python -m instance_benchmarks.images --local      # `make images`: this machine's engine and registry

Each variant is built for its platform with its base images pinned by digest (resolved
from the registry at build time and passed as build arguments, so a rebuild of the
same tag is reproducible and the digest is recorded), tagged `<variant>-<runner
version>`, pushed, and reported with the digest of the pushed image: the digest the
result documents record. An ECR registry gets its credentials from the Amazon
provider's EcrHook and its repository created if missing.

`--local` starts this machine's own engine, registry and Debian base images
(instance_benchmarks.engine) and builds against those instead: the base stays a
build argument, so the Dockerfiles are the production ones.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from instance_benchmarks import CACHE_DIR, INCLUDE_DIR, RUNNER_DIR
from instance_benchmarks.engine import EngineError

log = logging.getLogger(__name__)

CONTEXT = INCLUDE_DIR / "containers"
# Where the driver assembles a build context (the context plus any wheels a variant installs offline).
BUILD_ROOT = CACHE_DIR / "images"
# A local build is tagged and pushed here when no image_registry is configured (containers.py, hosts/ec2.py).
LOCAL_REPOSITORY = "instance-benchmarks-runner"
ECR_REGISTRY = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/")


@dataclass(frozen=True)
class Variant:
    name: str
    platform: str
    dockerfile: str
    # build-arg prefix -> image reference; each becomes <PREFIX>_IMAGE and <PREFIX>_DIGEST
    bases: dict[str, str]
    # pip requirements (hash-pinned) whose wheels the driver downloads into the context's <dir>/wheels
    wheels: str | None = None


VARIANTS = {
    v.name: v
    for v in (
        Variant("generic", "linux/amd64", "generic.Dockerfile", {"BASE": "debian:trixie-slim"}),
        Variant("intel", "linux/amd64", "intel.Dockerfile", {"BASE": "debian:trixie-slim"},
                wheels="intel/requirements.txt"),
        Variant("amd", "linux/amd64", "amd.Dockerfile", {"BASE": "debian:trixie-slim"}),
        Variant("graviton", "linux/arm64", "graviton.Dockerfile", {"BASE": "debian:trixie-slim"}),
    )
}
# The image an architecture family runs (the DAG's task groups are these families). The amd family runs the generic
# image (OpenBLAS) until a BLIS with Zen 4/5 kernels can be had (issue 29): on this Zen 3 VM OpenBLAS's HPL was ahead
# of BLIS 1.1's zen3 kernels in both rounds of images_compare.py (BLIS 0.936 and 0.930 of it); on Zen 4 both reach
# the double-pumped AVX-512 rate; on Zen 5 (Turin, 512-bit data paths) BLIS 1.1 falls back to its AVX2 zen3
# kernels, where OpenBLAS 0.3.29 has AVX-512 ones. The amd image is still built, for that comparison.
VARIANT_FOR_FAMILY = {"intel": "intel", "amd": "generic", "graviton": "graviton"}


class ImageBuildError(RuntimeError):
    """A build or push failed; the message names the variant, the step and the daemon's own error."""


@dataclass
class BuiltImage:
    variant: str
    platform: str
    repository: str
    tag: str
    image_id: str
    base_digests: dict[str, str]
    pushed_digest: str | None = None
    built_in_s: float | None = None
    size_bytes: int | None = None
    build_log_tail: list[str] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return f"{self.repository}@{self.pushed_digest}" if self.pushed_digest else f"{self.repository}:{self.tag}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reference": self.reference}


def repository_of(reference: str) -> str:
    """'localhost:5000/x:1.0' -> 'localhost:5000/x'; 'debian:bookworm-slim' -> 'debian' (tag and digest dropped)."""
    name = reference.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def runner_version() -> str:
    text = (RUNNER_DIR / "benchmark_runner" / "__init__.py").read_text()
    match = re.search(r'^RUNNER_VERSION = "([^"]+)"', text, re.MULTILINE)
    if not match:
        raise ImageBuildError("RUNNER_VERSION not found in the runner package")
    return match.group(1)


def ecr_auth(repository: str, aws_conn_id: str | None) -> dict[str, str] | None:
    """Docker credentials for an ECR repository (created if missing); None for other registries."""
    match = ECR_REGISTRY.match(repository)
    if not match:
        return None
    from airflow.providers.amazon.aws.hooks.ecr import EcrHook

    hook = EcrHook(aws_conn_id=aws_conn_id, region_name=match.group("region"))
    name = repository.split("/", 1)[1]
    client = hook.conn
    try:
        client.describe_repositories(repositoryNames=[name])
    except client.exceptions.RepositoryNotFoundException:
        log.info("Creating ECR repository %s", name)
        client.create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": True},
                                 encryptionConfiguration={"encryptionType": "AES256"})
    (credentials,) = hook.get_temporary_credentials(registry_ids=[match.group("account")])
    return {"username": credentials.username, "password": credentials.password,
            "serveraddress": credentials.proxy_endpoint}


def download_wheels(requirements: Path, cache: Path) -> list[Path]:
    """The hash-pinned wheels of `requirements`, downloaded once into `cache` (pip checks every hash)."""
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
           "--only-binary=:all:", "--platform", "manylinux_2_28_x86_64", "-r", str(requirements), "-d", str(cache)]
    log.info("Downloading the wheels of %s into %s", requirements.relative_to(CONTEXT), cache)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ImageBuildError(f"downloading the wheels of {requirements.name} failed: {proc.stderr.strip()[-800:]}")
    names = {re.split(r"[=<>~!]", line.split()[0])[0].replace("-", "_").lower()
             for line in requirements.read_text().splitlines() if line.strip() and not line.startswith("#")}
    return sorted(p for p in cache.glob("*.whl") if p.name.split("-")[0].lower() in names)


def build_context(variant: Variant, root: Path = BUILD_ROOT) -> Path:
    """include/containers as the build context, plus the variant's wheels (hard links into the cache)."""
    context = root / "context" / variant.name
    shutil.rmtree(context, ignore_errors=True)
    shutil.copytree(CONTEXT, context, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "wheels"))
    if variant.wheels:
        wheels = context / Path(variant.wheels).parent / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        for wheel in download_wheels(CONTEXT / variant.wheels, root / "wheels"):
            try:
                os.link(wheel, wheels / wheel.name)
            except OSError:
                shutil.copy2(wheel, wheels / wheel.name)
    return context


STEP = re.compile(r"^Step \d+/\d+ : ")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ImageBuilder:
    """Builds and pushes the variants through a docker client (the SDK's DockerClient).

    `base_for` maps (base reference, platform) to the reference to build from instead: this
    machine's debootstrapped stand-ins for Debian's public images (instance_benchmarks.engine).
    """

    def __init__(self, client: Any, *, repository: str, version: str | None = None,
                 auth_config: dict[str, str] | None = None,
                 base_for: Mapping[tuple[str, str], str] | None = None,
                 context_root: Path = BUILD_ROOT) -> None:
        self.client = client
        self.repository = repository.rstrip("/")
        self.version = version or runner_version()
        self.auth_config = auth_config
        self.base_for = dict(base_for or {})
        self.context_root = context_root

    def base_digest(self, reference: str) -> str:
        """The registry's current digest for `reference` (the manifest list for multi-arch images)."""
        try:
            digest = self.client.images.get_registry_data(reference).id
        except Exception as exc:  # docker.errors.APIError / NotFound carry the registry's answer
            raise ImageBuildError(f"cannot resolve the base image {reference} in its registry: {exc}") from exc
        if not str(digest).startswith("sha256:"):
            raise ImageBuildError(f"registry returned no sha256 digest for {reference}: {digest!r}")
        return digest

    def build(self, variant: Variant, *, no_cache: bool = False) -> BuiltImage:
        started = time.monotonic()
        bases = {prefix: self.base_for.get((ref, variant.platform), ref) for prefix, ref in variant.bases.items()}
        digests = {prefix: self.base_digest(ref) for prefix, ref in bases.items()}
        buildargs = {"RUNNER_VERSION": self.version}
        for prefix, ref in bases.items():
            buildargs[f"{prefix}_IMAGE"] = repository_of(ref)
            buildargs[f"{prefix}_DIGEST"] = digests[prefix]
        tag = f"{variant.name}-{self.version}"
        context = build_context(variant, self.context_root)
        log.info("Building %s for %s (%s) from %s", variant.name, variant.platform, variant.dockerfile,
                 {prefix: f"{repository_of(bases[prefix])}@{digest}" for prefix, digest in digests.items()})
        # The low-level API streams the build, so its progress reaches the log as it happens. The
        # build's RUN steps use the host's network: apt and pip reach the mirrors with no bridge set up.
        events = self.client.api.build(
            path=str(context), dockerfile=variant.dockerfile, tag=f"{self.repository}:{tag}",
            platform=variant.platform, buildargs=buildargs, rm=True, forcerm=True, pull=True,
            network_mode="host", nocache=no_cache, decode=True,
        )
        tail: list[str] = []
        step = "before the first step"
        image_id = None
        for event in events:
            if "error" in event:
                detail = (event.get("errorDetail") or {}).get("message") or event["error"]
                raise ImageBuildError(f"building {variant.name} failed at {step}: {detail.strip()}\n"
                                      + "\n".join(tail[-15:]))
            for line in ANSI.sub("", event.get("stream") or "").splitlines():
                if not line.strip():
                    continue
                if STEP.match(line):
                    step = line
                log.info("[%s] %s", variant.name, line)
                tail.append(line)
            if (event.get("aux") or {}).get("ID"):
                image_id = event["aux"]["ID"]
        image = self.client.images.get(image_id or f"{self.repository}:{tag}")
        return BuiltImage(variant=variant.name, platform=variant.platform, repository=self.repository, tag=tag,
                          image_id=image.id, base_digests=digests, built_in_s=round(time.monotonic() - started, 1),
                          size_bytes=image.attrs.get("Size"), build_log_tail=tail[-20:])

    def build_all(self, variants: list[Variant], *, push: bool = True, no_cache: bool = False
                  ) -> dict[str, BuiltImage]:
        """Every variant built (and pushed) beside the others, not one after another: most of a build waits on
        apt's downloads or on one compiler process, so the engine has room for the rest."""
        from concurrent.futures import ThreadPoolExecutor

        def one(variant: Variant) -> BuiltImage:
            built = self.build(variant, no_cache=no_cache)
            return self.push(built) if push else built

        with ThreadPoolExecutor(max_workers=max(1, len(variants)), thread_name_prefix="build") as pool:
            futures = {variant.name: pool.submit(one, variant) for variant in variants}
        return {name: future.result() for name, future in futures.items()}

    def push(self, built: BuiltImage) -> BuiltImage:
        digest = None
        try:
            events = list(self.client.images.push(built.repository, tag=built.tag, stream=True, decode=True,
                                                  auth_config=self.auth_config))
        except Exception as exc:  # the registry refused the connection itself
            raise ImageBuildError(f"pushing {built.repository}:{built.tag} failed: {exc}") from exc
        for event in events:
            if "error" in event:
                raise ImageBuildError(f"pushing {built.repository}:{built.tag} failed: {event['error']}")
            aux = event.get("aux") or {}
            if aux.get("Digest"):
                digest = aux["Digest"]
        if not digest:
            raise ImageBuildError(f"pushing {built.repository}:{built.tag} reported no digest")
        built.pushed_digest = digest
        log.info("Pushed %s", built.reference)
        return built


def docker_client(docker_host: str | None = None) -> Any:
    """A client for DOCKER_HOST (or `docker_host`), or an error that says how to get an engine."""
    import docker

    try:
        client = docker.DockerClient(base_url=docker_host, timeout=3600) if docker_host else docker.from_env(
            timeout=3600)
        client.ping()
    except Exception as exc:  # docker.errors.DockerException: no socket, refused, wrong URL
        where = docker_host or os.environ.get("DOCKER_HOST") or "the default socket (/var/run/docker.sock)"
        raise ImageBuildError(
            f"no Docker engine answers at {where} ({exc}). Start one, point DOCKER_HOST at it, or use "
            "--local to start this machine's own (make images)") from exc
    return client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="instance_benchmarks.images", description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--registry", help="repository to push to, e.g. an ECR repository URI")
    target.add_argument("--local", action="store_true",
                        help="start this machine's engine, registry and Debian bases, and push there")
    parser.add_argument("--variant", default="all", help=f"comma-separated, or all ({', '.join(VARIANTS)})")
    parser.add_argument("--no-push", action="store_true", help="build only")
    parser.add_argument("--aws-conn-id", default="aws_default")
    parser.add_argument("--json", action="store_true", help="also print each image's full record as JSON")
    args = parser.parse_args(argv)
    names = list(VARIANTS) if args.variant == "all" else [v.strip() for v in args.variant.split(",")]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    try:
        if args.local:
            from instance_benchmarks import engine

            local_engine, registry = engine.Engine().start(), engine.Registry().start()
            client = docker_client(local_engine.docker_host)
            platforms = {VARIANTS[name].platform for name in names}
            base_for = engine.local_bases(local_engine, registry, platforms)
            repository, auth = f"{registry.address}/{LOCAL_REPOSITORY}", None
        else:
            client, base_for, repository = docker_client(), {}, args.registry
            auth = None if args.no_push else ecr_auth(args.registry, args.aws_conn_id)
        builder = ImageBuilder(client, repository=repository, auth_config=auth, base_for=base_for)
        for built in builder.build_all([VARIANTS[name] for name in names], push=not args.no_push).values():
            print(f"image {built.variant} {built.reference} built_in_s {built.built_in_s}", flush=True)
            if args.json:
                print(json.dumps(built.to_dict()), flush=True)
    except (ImageBuildError, EngineError) as exc:  # one message that says what failed and where
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
