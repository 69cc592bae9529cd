"""Demand: which instance types users ask about, counted where they ask and read back by the weekly plan.

The API and the page count the types each compare, recommend and results request names (issue 30 item 1). A count
lives in the api-server's process and is written, at most every FLUSH_S seconds, to the results store as that
process's running total for the day (`demand/date=<d>/<process>.json`): one small object per process and day,
overwritten, so a retried write never counts twice and the API never waits on more than one PUT a half-minute.
A process that stops loses at most its last FLUSH_S seconds of counts: a signal for a plan, not a bill.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

FLUSH_S = 30.0
# A request's weight after a week: the simulator's memory (refresh_sim.py), a few weeks; older than
# MEMORY_WEEKS is not read at all (its weight is below 0.07).
DECAY_PER_WEEK = 0.8
MEMORY_WEEKS = 12


def _directory(store: Any) -> Any:
    return store.root / "demand"


class DemandCounter:
    """One process's counts per day and type, written to the store as running totals."""

    def __init__(self) -> None:
        self._counts: dict[str, Counter[str]] = {}
        self._lock = threading.Lock()
        self._written_at = 0.0
        self._name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def count(self, store: Any, instance_types: Iterable[str], *, today: datetime.date | None = None) -> None:
        """Count a request for each of `instance_types` (each type once per request); write when due. Never
        fails the request that counts: a store that cannot be written is logged."""
        day = (today or datetime.datetime.now(datetime.UTC).date()).isoformat()
        with self._lock:
            self._counts.setdefault(day, Counter()).update(set(instance_types))
            due = time.monotonic() - self._written_at >= FLUSH_S
            if due:
                self._written_at = time.monotonic()
        if due:
            self.flush(store)

    def flush(self, store: Any) -> None:
        with self._lock:
            days = {day: dict(counts) for day, counts in self._counts.items()}
            # Only today's (and yesterday's, for a request near midnight) totals still grow.
            for day in sorted(self._counts)[:-2]:
                del self._counts[day]
        try:
            for day, counts in days.items():
                path = _directory(store) / f"date={day}" / f"{self._name}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(counts, sort_keys=True))
        except Exception:  # noqa: BLE001 - counting must never fail a request
            log.warning("Demand counts could not be written to %s", _directory(store), exc_info=True)


def read(store: Any, *, today: datetime.date) -> dict[str, float]:
    """{instance type: requests in the last MEMORY_WEEKS weeks, each weighted DECAY_PER_WEEK ** its age in weeks}."""
    base = _directory(store)
    found: dict[str, float] = {}
    if not base.exists():
        return found
    for dated in base.glob("date=*"):
        try:
            day = datetime.date.fromisoformat(dated.name.removeprefix("date="))
        except ValueError:
            continue  # not ours
        age_weeks = (today - day).days / 7
        if not 0 <= age_weeks <= MEMORY_WEEKS:
            continue
        weight = DECAY_PER_WEEK**age_weeks
        for path in dated.glob("*.json"):
            try:
                counts = json.loads(path.read_text())
            except ValueError:
                log.warning("Demand: %s is not JSON; left out", path)
                continue
            for instance_type, count in counts.items():
                if isinstance(count, int) and count > 0:
                    found[instance_type] = found.get(instance_type, 0.0) + count * weight
    return found
