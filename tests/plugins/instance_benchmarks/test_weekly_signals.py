"""The week's signals (issue 30 item 1), each read from its source: the dataset, the catalog's history, the
AMI parameter's answer, the demand counts and the spot record; and combined per type by signals_for."""

from __future__ import annotations

import datetime
import json

import pytest

from instance_benchmarks import analysis, catalog, weekly_signals
from instance_benchmarks.results import ResultStore
from instance_benchmarks.weekly_plan import SPOT_INTERRUPTION_PRIOR
from tests.fakes.documents import variant

TODAY = datetime.date(2026, 11, 29)
FAMILY_OF = {"m7i.large": "m7i", "m7i.xlarge": "m7i", "c7i.large": "c7i", "m7g.large": "m7g"}


def row(name: str, **extra) -> dict:
    return {"instance_type": name, "instance_family": FAMILY_OF[name], "architecture": "x86_64",
            "fingerprint": "f1", **extra}


def measured(day: str = "2026-11-01", **extra) -> dict:
    return {"last_day": datetime.date.fromisoformat(day), "interval_halfwidth": 0.02, "hosts": 2,
            "cpu_model": "SPR", "ami_id": "ami-0aaa", "microcode": "0x2b000590", **extra}


def test_a_type_never_measured_has_no_age_and_the_prior_spot_risk():
    signals = weekly_signals.signals_for(row("m7i.large"), FAMILY_OF, weekly_signals.Known(), today=TODAY)

    assert signals.age_weeks is None and signals.reasons()[0] == "never measured"
    assert signals.spot_risk == pytest.approx(SPOT_INTERRUPTION_PRIOR)


def test_age_interval_and_hosts_come_from_the_measured_facts():
    known = weekly_signals.Known(measured={"m7i.large": measured()})

    signals = weekly_signals.signals_for(row("m7i.large"), FAMILY_OF, known, today=TODAY)

    assert signals.age_weeks == 4 and signals.interval_halfwidth == 0.02 and signals.hosts == 2
    assert not signals.aws_changed and not signals.image_changed
    assert signals.reasons() == ("stale 4 weeks", "interval ±2.0%")


def test_a_sibling_s_drift_counts_by_family_and_by_cpu_model_but_a_type_s_own_does_not():
    known = weekly_signals.Known(measured={"m7i.large": measured(), "c7i.large": measured(),
                                           "m7g.large": measured(cpu_model="Graviton3")},
                                 drift={"m7i.xlarge": -0.06})
    by_family = weekly_signals.signals_for(row("m7i.large"), FAMILY_OF, known, today=TODAY)
    by_model = weekly_signals.signals_for(row("c7i.large"), FAMILY_OF, known, today=TODAY)
    other = weekly_signals.signals_for(row("m7g.large"), FAMILY_OF, known, today=TODAY)
    itself = weekly_signals.signals_for(row("m7i.xlarge"), FAMILY_OF, known, today=TODAY)

    assert by_family.sibling_drift == -0.06 and "sibling drifted -6%" in by_family.reasons()
    assert by_model.sibling_drift == 0.0  # c7i.large shares no family with m7i.xlarge, whose model is unknown
    known.measured["m7i.xlarge"] = measured()
    assert weekly_signals.signals_for(row("c7i.large"), FAMILY_OF, known, today=TODAY).sibling_drift == -0.06
    assert other.sibling_drift == 0.0 and itself.sibling_drift == 0.0


def test_what_aws_reports_an_ami_and_microcode_newer_than_the_stored_ones_are_each_a_change():
    known = weekly_signals.Known(measured={"m7i.large": measured()}, fingerprint_then={"m7i.large": "f1"},
                                 latest_ami={"x86_64": "ami-0aaa"}, newest_microcode={"SPR": "0x2b000590"})
    assert weekly_signals.signals_for(row("m7i.large"), FAMILY_OF, known, today=TODAY).aws_changed is False

    changed = weekly_signals.signals_for(row("m7i.large", fingerprint="f2"), FAMILY_OF, known, today=TODAY)
    known.latest_ami = {"x86_64": "ami-0bbb"}
    new_ami = weekly_signals.signals_for(row("m7i.large"), FAMILY_OF, known, today=TODAY)
    known.latest_ami, known.newest_microcode = {"x86_64": "ami-0aaa"}, {"SPR": "0x2b000603"}
    new_microcode = weekly_signals.signals_for(row("m7i.large"), FAMILY_OF, known, today=TODAY)

    assert changed.aws_changed and "AWS reports it differently since" in changed.reasons()
    assert new_ami.image_changed and new_microcode.image_changed
    known.fingerprint_then = {}  # no catalog from its measured day: no change can be told
    assert not weekly_signals.signals_for(row("m7i.large", fingerprint="f2"), FAMILY_OF, known,
                                          today=TODAY).aws_changed


def test_the_project_s_own_interruptions_raise_a_type_s_spot_risk_over_the_prior():
    known = weekly_signals.Known()
    known.spot_hosts["m7i.large"], known.spot_interrupted["m7i.large"] = 1, 3

    signals = weekly_signals.signals_for(row("m7i.large"), FAMILY_OF, known, today=TODAY)

    assert signals.spot_risk == pytest.approx((3 + SPOT_INTERRUPTION_PRIOR * 20) / (4 + 20))


def test_the_dataset_gives_each_type_its_last_day_widest_interval_and_fewest_hosts():
    docs = [variant(instance_type="m7i.large", run_id="run-1", started_at="2026-11-01T00:00:00Z"),
            variant(instance_type="m7i.large", run_id="run-2", started_at="2026-11-08T00:00:00Z")]
    docs[1]["host"]["ami_id"] = "ami-0123"
    summary = analysis.summarize(analysis.rows_frame(docs))

    facts = weekly_signals.measured_facts(summary, "us-east-1")["m7i.large"]

    assert facts["last_day"] == datetime.date(2026, 11, 8) and facts["hosts"] == 2
    assert facts["ami_id"] == "ami-0123" and facts["microcode"] == docs[1]["system"]["microcode"]
    head = analysis.headline(analysis.current(summary))
    widest = max(1.96 * r.host_std / 2**0.5 / r.mean for r in head.itertuples())
    assert facts["interval_halfwidth"] == pytest.approx(widest)
    assert weekly_signals.measured_facts(summary, "eu-west-1") == {}


def test_a_change_beyond_both_figures_and_the_host_spread_is_drift_for_four_weeks():
    """Each run here is one host: its interval holds its repetitions only, so a 9% move (within two hosts' spread
    at HOST_CV 3.7%: 1.96 x 3.7% x sqrt 2 = 10.3%) is not drift, though analysis.drift flags the intervals apart."""
    first = variant(run_id="run-1", started_at="2026-10-25T00:00:00Z")
    raw = analysis.rows_frame([first, variant(run_id="run-2", started_at="2026-11-01T00:00:00Z", scale=0.8)])
    small = analysis.rows_frame([first, variant(run_id="run-2", started_at="2026-11-01T00:00:00Z", scale=0.91)])

    assert weekly_signals.recent_drift(raw, "us-east-1", today=TODAY) == {"m7i.large": pytest.approx(-0.2)}
    assert weekly_signals.recent_drift(raw, "us-east-1", today=TODAY + datetime.timedelta(weeks=5)) == {}
    assert any("change" in f for f in analysis.drift(small)[0]["flags"])  # apart by the repetitions' intervals
    assert weekly_signals.recent_drift(small, "us-east-1", today=TODAY) == {}
    steady = analysis.rows_frame([first, variant(run_id="run-3", started_at="2026-11-01T00:00:00Z")])
    assert weekly_signals.recent_drift(steady, "us-east-1", today=TODAY) == {}


def test_the_fingerprint_then_is_the_catalog_s_on_or_before_the_day_a_type_was_measured(tmp_path):
    store = ResultStore(tmp_path.as_uri())
    for day, fingerprint in (("2026-10-01", "old"), ("2026-11-01", "new")):
        catalog.publish(store.root, "us-east-1", [row("m7i.large", fingerprint=fingerprint)], date=day)

    found = weekly_signals.fingerprints_then(store, "us-east-1", {"m7i.large": datetime.date(2026, 10, 15)})

    assert found == {"m7i.large": "old"}
    assert weekly_signals.fingerprints_then(store, "us-east-1", {"m7i.large": datetime.date(2026, 9, 1)}) == {}


def test_a_fingerprint_moves_with_what_moves_figures_and_not_with_the_order_of_a_list():
    described = {"InstanceType": "m7i.large", "Hypervisor": "nitro", "MemoryInfo": {"SizeInMiB": 8192},
                 "ProcessorInfo": {"Manufacturer": "Intel", "SustainedClockSpeedInGhz": 3.2,
                                   "SupportedFeatures": ["amd-sev-snp", "avx512"]},
                 "VCpuInfo": {"DefaultVCpus": 2, "DefaultCores": 1, "DefaultThreadsPerCore": 2}}
    reordered = json.loads(json.dumps(described))
    reordered["ProcessorInfo"]["SupportedFeatures"].reverse()
    faster = json.loads(json.dumps(described))
    faster["ProcessorInfo"]["SustainedClockSpeedInGhz"] = 3.5

    assert catalog.fingerprint(described) == catalog.fingerprint(reordered)
    assert catalog.fingerprint(described) != catalog.fingerprint(faster)


def test_the_spot_record_counts_spot_documents_and_interrupted_quarantines(tmp_path):
    store = ResultStore(tmp_path.as_uri())
    spot = variant(run_id="run-1")
    spot["provenance"]["market"] = "spot"
    raw = analysis.rows_frame([spot, variant(instance_type="c7i.large", run_id="run-1")])
    for replica in (1, 2):
        reason = store.root / "quarantine" / "run-2" / f"m7i.large_host{replica}" / "reason.json"
        reason.parent.mkdir(parents=True, exist_ok=True)
        reason.write_text(json.dumps({"instance_type": "m7i.large", "reasons": ["x"], "interrupted": replica == 1}))

    stored, interrupted = weekly_signals.spot_record(store, raw)

    assert stored == {"m7i.large": 1} and interrupted == {"m7i.large": 1}
