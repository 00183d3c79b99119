"""Autotask's two limits: requests per rolling hour per database, threads per integration.

- **Hourly threshold**: 10,000 requests in any rolling 60 minutes, shared by every integration of
  the tenant (the simulator is one tenant). At 100 % the service refuses calls until the window
  clears; from 50 % and 75 % it adds latency (0.5 s, 1 s), which the simulator only does when
  `sim.settings["autotask"]["threshold_latency"]` is true, so tests stay fast.
- **Thread limit**: at most 3 requests in flight per (integration code, entity endpoint); the
  next one is answered 429 "Thread Threshold Exceeded". Zone discovery is exempt.

Time comes from `sim.clock`, so a test moves the clock instead of waiting an hour. Counters live
in the system's `extra`, so `sim.reset()` clears them. Callers hold `sim.lock`.
"""

from collections import Counter, deque
from datetime import datetime, timedelta
from typing import Any, Final

from ledgerbridge_sim.autotask.wire import AutotaskError
from ledgerbridge_sim.state import Simulator

DEFAULT_REQUESTS_PER_HOUR: Final = 10_000
DEFAULT_THREADS_PER_ENTITY: Final = 3
WINDOW: Final = timedelta(hours=1)


def settings(sim: Simulator) -> dict[str, Any]:
    return sim.settings.setdefault("autotask", {})


def requests_per_hour(sim: Simulator) -> int:
    return int(settings(sim).get("requests_per_hour", DEFAULT_REQUESTS_PER_HOUR))


def _window(sim: Simulator) -> deque[datetime]:
    window: deque[datetime] = sim.system("autotask").extra.setdefault("request_times", deque())
    return window


def _in_flight(sim: Simulator) -> Counter[tuple[str, str]]:
    flights: Counter[tuple[str, str]] = sim.system("autotask").extra.setdefault(
        "threads_in_flight", Counter()
    )
    return flights


def requests_this_hour(sim: Simulator) -> int:
    window = _window(sim)
    horizon = sim.clock.now() - WINDOW
    while window and window[0] <= horizon:
        window.popleft()
    return len(window)


def count_request(sim: Simulator) -> float:
    """Count one request against the hour; returns the latency to add (seconds).

    Refused requests are not counted: the service turns them away before doing any work.
    """
    limit = requests_per_hour(sim)
    used = requests_this_hour(sim)
    if used >= limit:
        raise AutotaskError(
            429,
            f"The request threshold of {limit} requests per 60 minutes has been exceeded for "
            "this Autotask database. Requests are refused until usage drops below the threshold.",
        )
    _window(sim).append(sim.clock.now())
    if not settings(sim).get("threshold_latency"):
        return 0.0
    share = (used + 1) / limit
    return 1.0 if share >= 0.75 else 0.5 if share >= 0.5 else 0.0


def take_thread(sim: Simulator, integration_code: str, endpoint: str) -> tuple[str, str]:
    """Claim a thread slot for the request's duration; release it with `release_thread`."""
    limit = int(settings(sim).get("threads_per_entity", DEFAULT_THREADS_PER_ENTITY))
    key = (integration_code.upper(), endpoint.lower())
    flights = _in_flight(sim)
    if flights[key] >= limit:
        raise AutotaskError(
            429,
            f"Thread Threshold Exceeded — The Autotask API thread threshold of {limit} threads "
            f"has been exceeded for the {endpoint} endpoint.",
        )
    flights[key] += 1
    return key


def release_thread(sim: Simulator, key: tuple[str, str]) -> None:
    flights = _in_flight(sim)
    flights[key] -= 1
    if flights[key] <= 0:
        del flights[key]
