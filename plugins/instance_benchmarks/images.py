"""Build and push the runner images, one per variant, through the docker SDK.

    python -m instance_benchmarks.images --registry 123456789012.dkr.ecr.us-east-1.amazonaws.com/instance-benchmarks
    python -m instance_benchmarks.images --variant generic --registry localhost:5000/bench --no-push

Each variant is built for its platform with its base images pinned by digest (resolved
from the registry at build time and passed as build arguments, so a rebuild of the
same tag is reproducible and the digest is recorded), tagged `<variant>-<runner
version>`, pushed, and reported with the digest of the pushed image: the digest the
result documents record. An ECR registry gets its credentials from the Amazon
provider's EcrHook and its repository created if missing.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from instance_benchmarks import INCLUDE_DIR, RUNNER_DIR

log = logging.getLogger(__name__)

CONTEXT = INCLUDE_DIR / "containers"
ECR_REGISTRY = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/")


@dataclass(frozen=True)
class Variant:
    name: str
    platform: str
    dockerfile: str
    # build-arg prefix -> image reference; each becomes <PREFIX>_IMAGE and <PREFIX>_DIGEST
    bases: dict[str, str]


VARIANTS = {
    v.name: v
    for v in (
        Variant("generic", "linux/amd64", "generic.Dockerfile", {"BASE": "debian:bookworm-slim"}),
        Variant("intel", "linux/amd64", "intel.Dockerfile",
                {"BUILD": "intel/oneapi-hpckit:latest", "RUNTIME": "intel/oneapi-runtime:latest"}),
        Variant("amd", "linux/amd64", "amd.Dockerfile", {"BASE": "debian:bookworm-slim"}),
        Variant("graviton", "linux/arm64", "graviton.Dockerfile", {"BASE": "debian:bookworm-slim"}),
    )
}
# The image an architecture family runs (the DAG's task groups are these families).
VARIANT_FOR_FAMILY = {"intel": "intel", "amd": "amd", "graviton": "graviton"}


class ImageBuildError(RuntimeError):
    """A build or push failed; the message carries the daemon's own error."""


@dataclass
class BuiltImage:
    variant: str
    platform: str
    repository: str
    tag: str
    image_id: str
    base_digests: dict[str, str]
    pushed_digest: str | None = None
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


class ImageBuilder:
    def __init__(self, client: Any, *, repository: str, version: str | None = None,
                 auth_config: dict[str, str] | None = None) -> None:
        self.client = client
        self.repository = repository.rstrip("/")
        self.version = version or runner_version()
        self.auth_config = auth_config

    def base_digest(self, reference: str) -> str:
        """The registry's current digest for `reference` (the manifest list for multi-arch images)."""
        digest = self.client.images.get_registry_data(reference).id
        if not str(digest).startswith("sha256:"):
            raise ImageBuildError(f"registry returned no sha256 digest for {reference}: {digest!r}")
        return digest

    def build(self, variant: Variant) -> BuiltImage:
        digests = {prefix: self.base_digest(ref) for prefix, ref in variant.bases.items()}
        buildargs = {"RUNNER_VERSION": self.version}
        for prefix, ref in variant.bases.items():
            buildargs[f"{prefix}_IMAGE"] = repository_of(ref)
            buildargs[f"{prefix}_DIGEST"] = digests[prefix]
        tag = f"{variant.name}-{self.version}"
        log.info("Building %s for %s (%s) with %s", variant.name, variant.platform, variant.dockerfile, digests)
        try:
            image, stream = self.client.images.build(
                path=str(CONTEXT), dockerfile=variant.dockerfile, tag=f"{self.repository}:{tag}",
                platform=variant.platform, buildargs=buildargs, rm=True, pull=True,
            )
        except Exception as exc:  # docker.errors.BuildError / APIError carry the daemon's message
            raise ImageBuildError(f"building {variant.name} failed: {exc}") from exc
        tail = [chunk["stream"].rstrip() for chunk in stream if isinstance(chunk, dict) and chunk.get("stream")]
        return BuiltImage(variant=variant.name, platform=variant.platform, repository=self.repository, tag=tag,
                          image_id=image.id, base_digests=digests, build_log_tail=tail[-20:])

    def push(self, built: BuiltImage) -> BuiltImage:
        digest = None
        for event in self.client.images.push(built.repository, tag=built.tag, stream=True, decode=True,
                                             auth_config=self.auth_config):
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="instance_benchmarks.images", description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", required=True, help="repository to push to, e.g. an ECR repository URI")
    parser.add_argument("--variant", default="all", help=f"comma-separated, or all ({', '.join(VARIANTS)})")
    parser.add_argument("--no-push", action="store_true", help="build only")
    parser.add_argument("--aws-conn-id", default="aws_default")
    args = parser.parse_args(argv)
    names = list(VARIANTS) if args.variant == "all" else [v.strip() for v in args.variant.split(",")]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    import docker

    auth = None if args.no_push else ecr_auth(args.registry, args.aws_conn_id)
    builder = ImageBuilder(docker.from_env(), repository=args.registry, auth_config=auth)
    for name in names:
        built = builder.build(VARIANTS[name])
        if not args.no_push:
            builder.push(built)
        print(json.dumps(built.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
