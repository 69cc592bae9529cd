"""SSM Run Command for the AWS target: the scripts an instance runs, sending them, reading outcomes.

Two scripts per instance. `container_script` gets the runner image: pull it from the
registry (logging in first when it is ECR) or, with no registry, build it on the
instance from the bundled context the DAG uploaded to S3, base images pinned by the
digests they resolve to there. `runner_script` runs benchrun in that image and
uploads the document itself (SSM keeps only 24,000 characters of output), exiting
with benchrun's status. It uploads under its role session's user id (`<role id>:<instance
id>`, from STS) inserted before the file name: the instance role may write only under
`${aws:userid}` (include/iam/instance-role-policy.json), so no instance can write, or
overwrite, another instance's document; the DAG takes the one whose id ends in its instance's.
Every value from a plan or a param reaches the shell through shlex.quote: an instance
type like `m7i.large;reboot` stays a string.
"""

from __future__ import annotations

import datetime
import re
import shlex
from typing import Any

from instance_benchmarks.images import ECR_REGISTRY

DOCUMENT = "AWS-RunShellScript"
TERMINAL_STATUSES = frozenset({"Success", "Failed", "Cancelled", "TimedOut", "DeliveryTimedOut",
                               "ExecutionTimedOut", "Undeliverable", "Terminated"})
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
OUTPUT_TAIL_CHARS = 2000
# Exit codes the scripts use for their own failures (benchrun's own codes pass through).
EXIT_NO_DOCKER, EXIT_IMAGE, EXIT_UPLOAD, EXIT_LOGIN = 5, 3, 4, 6


def _quoted_env(env: dict[str, str]) -> str:
    bad = [name for name in env if not _ENV_NAME.match(name)]
    if bad:
        raise ValueError(f"invalid environment variable names: {bad}")
    return " ".join(f"-e {shlex.quote(f'{k}={v}')}" for k, v in sorted(env.items()))


def container_script(*, image: str, pull: bool, context_uri: str | None = None, dockerfile: str = "",
                     bases: dict[str, str] | None = None, build_args: dict[str, str] | None = None) -> list[str]:
    """Commands that leave `image` on the instance and print `source=`, `image=` and `digest=` lines.

    `pull`: from its registry; otherwise (or when the pull fails and a context is given)
    build from the context tarball at `context_uri`, each base in `bases` (build-arg
    prefix -> reference) pulled first and passed as <PREFIX>_IMAGE / <PREFIX>_DIGEST.
    """
    if context_uri is not None and not context_uri.startswith("s3://"):
        raise ValueError(f"context_uri must be an s3:// URI, got {context_uri!r}")
    lines = [
        "set -uo pipefail",
        f"image={shlex.quote(image)}",
        # User data installs docker; SSM can answer before cloud-init has finished.
        "cloud-init status --wait >/dev/null 2>&1 || true",
        "command -v docker >/dev/null || { echo 'docker is not installed: see /var/log/cloud-init-output.log' >&2; "
        f"exit {EXIT_NO_DOCKER}; }}",
        "source=",
        # The repo@sha256 of the reference's own repository: an engine that pulled the same image from two
        # registries lists both RepoDigests, in no order that says which was pulled.
        'repo_digest() { local repo="${1%@*}"; case "${repo##*/}" in *:*) repo="${repo%:*}";; esac; '
        "docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' \"$1\" 2>/dev/null "
        '| grep -F "$repo@" | head -n 1; }',
    ]
    ecr = ECR_REGISTRY.match(image)
    if pull and ecr:
        host = image.split("/", 1)[0]
        lines.append(
            f"aws ecr get-login-password --region {shlex.quote(ecr.group('region'))} | docker login --username AWS "
            f"--password-stdin {shlex.quote(host)} >/dev/null || "
            f"{{ echo 'docker login to {host} failed: does the instance profile allow ECR pulls?' >&2; "
            f"exit {EXIT_LOGIN}; }}")
    if pull:
        lines.append('if docker pull --quiet "$image" >/dev/null; then source=pulled; '
                     'else echo "docker pull failed for $image" >&2; fi')
    if context_uri is not None:
        flags = [f"-f {shlex.quote(dockerfile)}", f"-t {shlex.quote(image)}"]
        flags += [f"--build-arg {shlex.quote(f'{k}={v}')}" for k, v in sorted((build_args or {}).items())]
        build = ['if [ -z "$source" ]; then', '  echo "building $image on the instance from the bundled context" >&2']
        for prefix, reference in sorted((bases or {}).items()):
            var = f"{prefix.lower()}_digest"
            build += [
                f"  docker pull --quiet {shlex.quote(reference)} >/dev/null || {{ echo 'cannot pull base "
                f"{reference}' >&2; exit {EXIT_IMAGE}; }}",
                f"  {var}=\"$(repo_digest {shlex.quote(reference)} | cut -d@ -f2)\"",
            ]
            repository = reference.split("@", 1)[0].rsplit(":", 1)[0] if "/" in reference or ":" in reference \
                else reference
            flags += [f"--build-arg {shlex.quote(f'{prefix}_IMAGE={repository}')}",
                      f'--build-arg "{prefix}_DIGEST=${var}"']
        build += [
            f"  aws s3 cp --only-show-errors {shlex.quote(context_uri)} - | docker build --quiet {' '.join(flags)} - "
            ">/dev/null || { echo \"docker build of $image failed\" >&2; exit " + str(EXIT_IMAGE) + "; }",
            "  source=built",
            "fi",
        ]
        lines += build
    lines += [
        f'[ -n "$source" ] || {{ echo "no image $image: pull failed and nothing to build from" >&2; '
        f'exit {EXIT_IMAGE}; }}',
        'digest="$(repo_digest "$image" || true)"',
        'echo "source=$source"',
        'echo "image=$image"',
        'echo "digest=$digest"',
    ]
    return lines


def parse_container_output(stdout: str) -> dict[str, str]:
    """The `key=value` lines container_script prints."""
    found = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key in {"source", "image", "digest"}:
            found[key] = value.strip()
    return found


def runner_script(*, image: str, benchrun_args: list[str], staging_uri: str, env: dict[str, str]) -> list[str]:
    """The AWS-RunShellScript `commands` for one benchrun invocation in the prepared image."""
    if not staging_uri.startswith("s3://"):
        raise ValueError(f"staging_uri must be an s3:// URI, got {staging_uri!r}")
    env_flags = _quoted_env(env)
    args = " ".join(shlex.quote(a) for a in benchrun_args)
    return [
        "set -uo pipefail",
        f"image={shlex.quote(image)}",
        f"staging={shlex.quote(staging_uri)}",
        'out="$(mktemp -d)" && chmod 0777 "$out"',
        # The role session's user id ends in this instance's id: the only staging prefix this instance may write.
        'userid="$(aws sts get-caller-identity --query UserId --output text)" || { echo "cannot read this '
        "instance's role session (sts get-caller-identity): is the instance profile attached?\" >&2; "
        f'exit {EXIT_UPLOAD}; }}',
        'staged="${staging%/*}/${userid}/${staging##*/}"',
        'docker image inspect "$image" >/dev/null 2>&1 || { echo "image $image is not on this instance: '
        f'did the container task run?" >&2; exit {EXIT_IMAGE}; }}',
        # --network none: the benchmarks need no network; SYS_NICE lets numactl bind memory; the
        # instance's hostname, not the container id: the STREAM and HPL documents merge on it.
        f'docker run --rm --hostname "$(hostname)" --network none --cap-add SYS_NICE -v "$out:/out" {env_flags} '
        f'-e "BENCHRUN_CONTAINER_IMAGE=$image" "$image" {args} --out /out/result.json',
        "status=$?",
        'if [ -s "$out/result.json" ]; then aws s3 cp --only-show-errors "$out/result.json" "$staged" '
        f'|| {{ echo "upload to $staged failed" >&2; exit {EXIT_UPLOAD}; }}; '
        'else echo "benchrun wrote no document" >&2; fi',
        'exit "$status"',
    ]


def send(ssm_client: Any, *, instance_id: str, commands: list[str], timeout_s: int, comment: str) -> str:
    """Send the script to one instance; returns the command id."""
    response = ssm_client.send_command(
        DocumentName=DOCUMENT,
        InstanceIds=[instance_id],
        Parameters={"commands": commands, "executionTimeout": [str(int(timeout_s))]},
        TimeoutSeconds=600,  # to be delivered; the execution timeout above bounds the run
        Comment=comment[:100],
    )
    return response["Command"]["CommandId"]


def cancel(ssm_client: Any, *, command_id: str, instance_id: str) -> None:
    """Stop a command on its instance (a killed task must not leave a benchmark running on it)."""
    ssm_client.cancel_command(CommandId=command_id, InstanceIds=[instance_id])


def outcome(ssm_client: Any, *, command_id: str, instance_id: str) -> dict[str, Any]:
    """Status, exit code and output tails of one invocation; `done` once it is terminal.

    Right after SendCommand, AWS may answer InvocationDoesNotExist for a moment: that
    reads as Pending, not as a failure.
    """
    from botocore.exceptions import ClientError

    try:
        invocation = ssm_client.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "InvocationDoesNotExist":
            raise
        return {"status": "Pending", "done": False, "exit_code": None, "stdout_tail": "", "stderr_tail": ""}
    status = invocation["Status"]
    return {
        "status": status,
        "seconds": execution_seconds(invocation),
        "status_details": invocation.get("StatusDetails"),
        "done": status in TERMINAL_STATUSES,
        "exit_code": invocation.get("ResponseCode"),
        "stdout_tail": (invocation.get("StandardOutputContent") or "")[-OUTPUT_TAIL_CHARS:],
        "stderr_tail": (invocation.get("StandardErrorContent") or "")[-OUTPUT_TAIL_CHARS:],
    }


def execution_seconds(invocation: dict[str, Any]) -> float | None:
    """How long the command ran on the instance, from SSM's own ExecutionStart/EndDateTime (ISO 8601
    strings, empty until the plugin starts and ends); None when either is missing."""
    start, end = invocation.get("ExecutionStartDateTime"), invocation.get("ExecutionEndDateTime")
    if not start or not end:
        return None
    try:
        elapsed = datetime.datetime.fromisoformat(end) - datetime.datetime.fromisoformat(start)
    except ValueError:
        return None
    return round(elapsed.total_seconds(), 1)


def agent_status(ssm_client: Any, instance_id: str) -> str | None:
    """This instance's SSM agent ping status (Online, ConnectionLost, Inactive), None before it registers."""
    response = ssm_client.describe_instance_information(
        Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])
    for info in response.get("InstanceInformationList", []):
        if info.get("InstanceId") == instance_id:
            return info.get("PingStatus")
    return None


def staged_by(staging: Any, instance_id: str) -> Any | None:
    """The document `runner_script` staged for `staging` (an ObjectStoragePath) on `instance_id`, or None.

    It lies under `<role id>:<instance id>/` beside where `staging` names it; a directory whose id
    ends in another instance's is never taken.
    """
    parent = staging.parent
    if not parent.exists():
        return None
    for session in parent.iterdir():
        if session.name.endswith(f":{instance_id}") and (session / staging.name).exists():
            return session / staging.name
    return None
