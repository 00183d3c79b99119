"""The simulators' shared state: records per system, a virtual clock, faults and a request log."""

import itertools
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


class VirtualClock:
    """Follows real time until set; then moves only when told (tests never sleep)."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._frozen: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return datetime.now(UTC) + self._offset

    def set(self, moment: datetime, *, frozen: bool = True) -> None:
        if moment.tzinfo is None:
            raise ValueError("the simulator clock needs a timezone-aware time")
        with self._lock:
            if frozen:
                self._frozen = moment
            else:
                self._frozen = None
                self._offset = moment - datetime.now(UTC)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            if self._frozen is not None:
                self._frozen += delta
                return self._frozen
            self._offset += delta
            return datetime.now(UTC) + self._offset

    def reset(self) -> None:
        with self._lock:
            self._offset, self._frozen = timedelta(), None


@dataclass
class Fault:
    """A planned misbehaviour for requests matching `method` and the `path` regular expression.

    `status` answers with that status instead of calling the simulator (a 500 before commit, a
    429 storm); `delay` sleeps first (seconds); `drop_after_commit` lets the write happen and then
    breaks the connection before the response is complete. `times` limits how many requests it
    hits (None: all); `probability` hits only that share of matching requests.
    """

    method: str = "*"
    path: str = ".*"
    system: str = "*"
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop_after_commit: bool = False
    times: int | None = None
    probability: float = 1.0
    id: int = 0
    hits: int = 0

    def matches(self, system: str, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.system not in ("*", system):
            return False
        if self.method not in ("*", method.upper()):
            return False
        return re.search(self.path, path) is not None


@dataclass
class LoggedRequest:
    system: str
    method: str
    path: str
    status: int
    at: datetime


class SystemState:
    """One system's records: collection name → id → record (vendor JSON, as stored)."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[int, dict[str, Any]]] = {}
        self._ids: dict[str, itertools.count[int]] = {}
        self.extra: dict[str, Any] = {}  # system-specific bookkeeping (batches, limits, …)

    def collection(self, name: str) -> dict[int, dict[str, Any]]:
        return self.collections.setdefault(name, {})

    def next_id(self, name: str) -> int:
        counter = self._ids.setdefault(
            name, itertools.count(max(self.collection(name), default=0) + 1)
        )
        return next(counter)

    def insert(self, name: str, record: dict[str, Any], *, id_field: str = "id") -> dict[str, Any]:
        if record.get(id_field) is None:
            record[id_field] = self.next_id(name)
        self.collection(name)[int(record[id_field])] = record
        return record


class Simulator:
    """Everything the simulators know. One lock: requests are served one state change at a time."""

    SYSTEMS = ("connectwise", "autotask", "xero", "qbo")

    def __init__(self, *, seed: int = 1) -> None:
        self.lock = threading.RLock()
        self.clock = VirtualClock()
        self.random = random.Random(seed)
        self.systems: dict[str, SystemState] = {name: SystemState() for name in self.SYSTEMS}
        self.faults: list[Fault] = []
        self._fault_ids = itertools.count(1)
        self.requests: list[LoggedRequest] = []
        # Per-system settings a test may change (rate-limit capacities and the like).
        self.settings: dict[str, dict[str, Any]] = {name: {} for name in self.SYSTEMS}

    def system(self, name: str) -> SystemState:
        return self.systems[name]

    def reset(self) -> None:
        with self.lock:
            self.systems = {name: SystemState() for name in self.SYSTEMS}
            self.faults.clear()
            self.requests.clear()
            self.settings = {name: {} for name in self.SYSTEMS}
            self.clock.reset()

    def add_fault(self, fault: Fault) -> Fault:
        with self.lock:
            fault.id = next(self._fault_ids)
            self.faults.append(fault)
            return fault

    def take_fault(self, system: str, method: str, path: str) -> Fault | None:
        """The first fault that hits this request (counting the hit), if any."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(system, method, path):
                    if fault.probability < 1.0 and self.random.random() >= fault.probability:
                        continue
                    fault.hits += 1
                    return fault
            return None

    def log_request(self, system: str, method: str, path: str, status: int) -> None:
        with self.lock:
            self.requests.append(LoggedRequest(system, method, path, status, self.clock.now()))

    def request_counts(self, system: str | None = None) -> Counter[str]:
        with self.lock:
            return Counter(
                f"{r.method} {r.path}" for r in self.requests if system in (None, r.system)
            )
