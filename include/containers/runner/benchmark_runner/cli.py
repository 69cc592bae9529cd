"""benchrun: the runner's command line. Each subcommand prints one JSON document
(or writes it to --out); progress goes to stderr.

    benchrun topology
    benchrun build
    benchrun stream [--threads N] [--array-size ELEMENTS] [--ntimes K] [--repetitions R] [--scaling]
                    [--profile P]
    benchrun hpl [--n N] [--nb NB] [--p P --q Q] [--time-budget SECONDS] [--repetitions R]
                 [--scaling-budget SECONDS] [--profile P]
    benchrun all --profile quick|standard|test [--repetitions R] [--time-budget SECONDS] [--out FILE]

The `test` profile (test_only in profiles.json) checks plumbing, not figures: its STREAM arrays are far
below the run rule's 4x the last-level cache and its HPL is capped at a few seconds. Its documents say
`runner.rule_sized: false`, and the Airflow side keeps them out of every dataset.

A benchmark that fails is recorded in the document's `errors` and run rules, the
document is still written, and the exit status is 1: the caller quarantines it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import sys
import time
import traceback
import uuid
from pathlib import Path
from typing import Any, Callable

from benchmark_runner import RUNNER_VERSION, SCHEMA_ID, build, hpl, imds, stream, topology, tuning
from benchmark_runner._log import log

PROFILES_FILE = Path(__file__).resolve().parent.parent / "profiles.json"
PROFILES: dict[str, dict[str, Any]] = {
    name: profile for name, profile in json.loads(PROFILES_FILE.read_text()).items() if not name.startswith("_")
}
DEFAULT_TIME_BUDGET_S = 1800


def rule_sized(profile: str | None) -> bool | None:
    """Whether a profile's benchmarks follow the run rules' sizes (None: no profile named)."""
    return None if profile is None else not PROFILES[profile].get("test_only", False)

# Identity the host driver knows and the runner cannot see (instance type, region, image...).
IDENTITY_ENV = {
    "target": "BENCHRUN_TARGET",
    "instance_type": "BENCHRUN_INSTANCE_TYPE",
    "instance_id": "BENCHRUN_INSTANCE_ID",
    "region": "BENCHRUN_REGION",
    "availability_zone": "BENCHRUN_AVAILABILITY_ZONE",
    "ami_id": "BENCHRUN_AMI_ID",
    "container_image": "BENCHRUN_CONTAINER_IMAGE",
    "container_digest": "BENCHRUN_CONTAINER_DIGEST",
}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def host_identity() -> dict[str, Any]:
    identity: dict[str, Any] = {key: os.environ.get(var) or None for key, var in IDENTITY_ENV.items()}
    identity["target"] = identity["target"] or "local"
    identity["hostname"] = socket.gethostname()
    return identity


def new_document(command: list[str], profile: str | None) -> dict[str, Any]:
    system = topology.detect()
    system["tuning"] = tuning.detect(cpu_flags=system["cpu_flags"])
    # Emulated figures describe the emulator: the failed rule keeps them out of every dataset.
    native = {"rule": "host.native", "passed": not system["emulated"],
              "detail": system["emulated"] or "the code runs on the CPU it was built for"}
    return {
        "$schema": SCHEMA_ID,
        "schema_version": 1,
        "document_id": str(uuid.uuid4()),
        "runner": {"version": RUNNER_VERSION, "commands": [command], "profile": profile,
                   **({} if profile is None else {"rule_sized": rule_sized(profile)}),
                   "python": sys.version.split()[0]},
        "host": host_identity(),
        "system": system,
        "environment": {k: v for k, v in os.environ.items() if k.startswith(tuning.ENVIRONMENT_PREFIXES)},
        "started_at": _now(),
        "finished_at": None,
        "stream": None,
        "hpl": None,
        "run_rules": [native] if system["emulated"] else [],
        "errors": [],
        "timings": {},
    }


def _stage(doc: dict[str, Any], name: str, fn: Callable[[], tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
    """Run one benchmark; a failure is recorded in the document, never lost."""
    started = time.monotonic()
    try:
        section, rules = fn()
        doc[name] = section
        doc["run_rules"].extend(rules)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded in the document
        log("%s failed: %s", name.upper(), exc)
        doc["errors"].append({"stage": name, "message": str(exc), "type": type(exc).__name__,
                              "traceback": traceback.format_exc(limit=5)})
        doc["run_rules"].append({"rule": f"{name}.completed", "passed": False, "detail": str(exc)[:500]})
    finally:
        doc["timings"][f"{name}_s"] = round(time.monotonic() - started, 3)


def _profile(args: argparse.Namespace) -> dict[str, Any]:
    """The profile a stage was asked for, or {} (a stage run with its own sizes)."""
    return PROFILES.get(getattr(args, "profile", None) or "", {})


def run_stream(doc: dict[str, Any], args: argparse.Namespace) -> None:
    array_size = args.array_size
    profile = _profile(args)
    if array_size is None and profile.get("stream_array_bytes"):  # the test profile: small arrays, said so
        array_size = profile["stream_array_bytes"] // stream.BYTES_PER_ELEMENT

    def go() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        variants = build.build_stream()
        section, rules = stream.measure(variants, doc["system"], stores=args.stores, threads=args.threads,
                                        array_elements=array_size, ntimes=args.ntimes, repetitions=args.repetitions,
                                        scaling=args.scaling)
        if profile.get("test_only"):
            for rule in rules:
                if not rule["passed"] and rule["rule"] == "stream.array_size_at_least_4x_llc":
                    rule["detail"] = f"test profile (plumbing only, not a figure): {rule['detail']}"
        return section, rules

    _stage(doc, "stream", go)


def run_hpl(doc: dict[str, Any], args: argparse.Namespace) -> None:
    def go() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        binary = {**build.build_hpl(), "mpi": build.mpi_version()}
        before = tuning.summarize_mhz(tuning.core_mhz())
        loop, calibrated = _clock_loop()
        with tuning.ClockSampler(loop=loop) as during:
            section, rules = hpl.measure(binary, doc["system"], n=args.n, nb=args.nb, p=args.p, q=args.q,
                                         time_budget_s=args.time_budget, repetitions=args.repetitions,
                                         threads_per_rank=args.threads_per_rank,
                                         probe_cap=_profile(args).get("hpl_probe_n"),
                                         n_hint=getattr(args, "n_hint", None), phase=during.mark)
            if args.scaling_budget:
                section["scaling"] = hpl.scaling(binary, doc["system"], section, budget_s=args.scaling_budget,
                                                 phase=during.mark)
        if loop is not None:
            calibrated["during"] = during.loop_summary()
            # The clock of each phase (probes, solves, each scaling point): efficiency against its own phase's.
            calibrated["phases"] = during.phase_summary()
            if section.get("scaling"):
                hpl.efficiency_at_phase_clocks(section["scaling"]["points"], calibrated["phases"])
            log("core clock during HPL, counted: %s MHz under vector load (before: %s scalar, %s vector)",
                calibrated["during"]["vector"]["median_mhz"], calibrated["before"]["scalar"]["median_mhz"],
                calibrated["before"]["vector"]["median_mhz"])
        section["core_clock"] = {"before": before, "during": during.summary(), "calibrated": calibrated}
        return section, rules

    _stage(doc, "hpl", go)


def _clock_loop() -> tuple[tuning.LoopClock | None, dict[str, Any]]:
    """The calibrated clock loop, built for this CPU and read on the idle host; a loop that cannot be built
    leaves HPL to run and says why (the clock is provenance, not a benchmark)."""
    try:
        binary = build.build_clockloop()
    except build.BuildError as exc:
        log("the clock loop could not be built, so the clock is not counted: %s", exc)
        return None, {"method": None, "note": f"not measured: {exc}"[:500]}
    loop = tuning.LoopClock(binary["path"])
    return loop, {"method": loop.method(), "binary": binary, "before": loop.before()}


def hpl_time_budget(profile: dict[str, Any], suite_budget_s: float) -> float:
    """The seconds HPL's repetitions may use out of the whole suite's budget."""
    budget = suite_budget_s * profile["hpl_budget_share"]
    return min(budget, profile["hpl_budget_cap_s"]) if profile["hpl_budget_cap_s"] else budget


def emit(doc: dict[str, Any], out: str | None) -> None:
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    if out:
        path = Path(out)
        if path.exists() and not path.is_file():  # /dev/null, a FIFO: written to, never renamed over
            with path.open("w") as stream:
                stream.write(text)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        tmp.write_text(text)
        tmp.replace(path)  # readers never see half a document
        log("wrote %s", path)
    else:
        sys.stdout.write(text)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="benchrun", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True)

    sub.add_parser("topology", help="print the host's topology")
    sub.add_parser("build", help="compile STREAM and resolve or build xhpl, print what was built")

    s = sub.add_parser("stream", help="run STREAM")
    s.add_argument("--threads", type=_positive_int, help="one placement with this many threads")
    s.add_argument("--array-size", type=_positive_int, help="elements per array (default: 4x the LLC)")
    s.add_argument("--ntimes", type=_positive_int, default=10)
    s.add_argument("--repetitions", type=_positive_int, default=3)
    s.add_argument("--stores", choices=["auto", "regular", "nontemporal"], default="auto",
                   help="store variant; auto measures the built variants and keeps the faster")
    s.add_argument("--scaling", action="store_true", help="also 2, 4, 8, ... threads: the curve from one core to all")
    s.add_argument("--profile", choices=sorted(PROFILES),
                   help="the profile this run belongs to, recorded in the document (test: small arrays)")

    h = sub.add_parser("hpl", help="run HPL")
    h.add_argument("--n", type=_positive_int, help="problem size (default: sized by memory and time budget)")
    h.add_argument("--nb", type=_positive_int)
    h.add_argument("--n-hint", type=_positive_int,
                   help="the plan's N for this type: used where it is the N sized here or the rung below it")
    h.add_argument("--p", type=_positive_int)
    h.add_argument("--q", type=_positive_int)
    h.add_argument("--time-budget", type=float, help="seconds for all repetitions together")
    h.add_argument("--repetitions", type=_positive_int, default=1)
    h.add_argument("--threads-per-rank", type=_positive_int,
                   help="BLAS threads per MPI rank with --p/--q (default: measured when P and Q are not given)")
    h.add_argument("--scaling-budget", type=float, default=0.0,
                   help="seconds for HPL on one core and on one NUMA node after the solves: parallel efficiency")
    h.add_argument("--profile", choices=sorted(PROFILES),
                   help="the profile this run belongs to, recorded in the document (test: its smaller probes)")

    a = sub.add_parser("all", help="topology, STREAM and HPL in one document")
    a.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    a.add_argument("--repetitions", type=_positive_int, help="overrides the profile's repetitions")
    a.add_argument("--time-budget", type=float, default=DEFAULT_TIME_BUDGET_S,
                   help="seconds for the whole suite on this host")
    a.add_argument("--contribute", action="store_true",
                   help="on your own EC2 instance: add the identity EC2 signs (IMDS) so the project can check and "
                        "accept the result (docs/contributing-results.md)")

    for p in (s, h, a, sub.choices["topology"], sub.choices["build"]):
        p.add_argument("--out", help="write the JSON document here instead of stdout")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    command = ["benchrun", *(argv if argv is not None else sys.argv[1:])]
    if args.command == "topology":
        emit(topology.detect(), args.out)
        return 0
    if args.command == "build":
        try:
            built = {"stream": build.build_stream(), "hpl": build.build_hpl(), "mpi": build.mpi_version()}
        except build.BuildError as exc:
            log("build failed: %s", exc)
            return 2
        emit(built, args.out)
        return 0

    started = time.monotonic()
    doc = new_document(command, getattr(args, "profile", None))
    if getattr(args, "contribute", False):
        try:  # before the benchmarks: a contribution that cannot be signed is not worth their hour
            doc["contribution"] = imds.read_identity()
        except imds.NotOnEc2 as exc:
            log("%s", exc)
            return 2
    if args.command == "stream":
        run_stream(doc, args)
    elif args.command == "hpl":
        run_hpl(doc, args)
    else:
        profile = PROFILES[args.profile]
        budget = hpl_time_budget(profile, args.time_budget)
        run_stream(doc, argparse.Namespace(threads=None, array_size=None, stores="auto", profile=args.profile,
                                           ntimes=profile["stream_ntimes"], scaling=profile["stream_scaling"],
                                           repetitions=args.repetitions or profile["stream_repetitions"]))
        run_hpl(doc, argparse.Namespace(n=None, nb=None, p=None, q=None, threads_per_rank=None, time_budget=budget,
                                        profile=args.profile,
                                        repetitions=args.repetitions or profile["hpl_repetitions"],
                                        scaling_budget=args.time_budget * profile["hpl_scaling_share"]))
    doc["finished_at"] = _now()
    doc["timings"]["total_s"] = round(time.monotonic() - started, 3)
    emit(doc, args.out)
    return 1 if doc["errors"] else 0
