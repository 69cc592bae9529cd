"""Demand (issue 30 item 1): the types users ask about, counted by the API and read back with a decay."""

from __future__ import annotations

import datetime

import pytest

from instance_benchmarks import demand
from instance_benchmarks.results import ResultStore

TODAY = datetime.date(2026, 11, 29)


def test_each_process_writes_its_running_total_and_the_plan_reads_them_decayed(tmp_path, monkeypatch):
    store = ResultStore(tmp_path.as_uri())
    first, second = demand.DemandCounter(), demand.DemandCounter()
    week_ago = TODAY - datetime.timedelta(weeks=1)

    first.count(store, ["m7i.large", "m7i.large", "c7g.large"], today=TODAY)  # a type once per request
    first.count(store, ["m7i.large"], today=TODAY)  # within FLUSH_S: counted, written later
    first.flush(store)
    second.count(store, ["m7i.large"], today=week_ago)

    found = demand.read(store, today=TODAY)

    assert found == {"m7i.large": pytest.approx(2 + demand.DECAY_PER_WEEK), "c7g.large": 1}
    first.flush(store)  # a total written again is not counted twice
    assert demand.read(store, today=TODAY) == found


def test_counts_older_than_the_memory_and_files_that_are_not_counts_are_left_out(tmp_path):
    store = ResultStore(tmp_path.as_uri())
    old = TODAY - datetime.timedelta(weeks=demand.MEMORY_WEEKS + 1)
    demand.DemandCounter().count(store, ["m7i.large"], today=old)
    broken = store.root / "demand" / f"date={TODAY}" / "broken.json"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("{not json")
    (store.root / "demand" / "date=yesterday").mkdir(parents=True)

    assert demand.read(store, today=TODAY) == {}


def test_a_store_that_cannot_be_written_never_fails_the_request(tmp_path, caplog):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the store's folder should be")
    store = ResultStore(blocked.as_uri())

    demand.DemandCounter().count(store, ["m7i.large"], today=TODAY)

    assert "Demand counts could not be written" in caplog.text
