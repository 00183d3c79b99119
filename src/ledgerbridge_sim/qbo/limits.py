"""QuickBooks Online's throttles, per realm, on the simulator's virtual clock.

Intuit documents three limits for one app on one company: 500 requests per minute (batch calls
included), 10 requests per second, and 40 batch calls per minute. Each is a sliding window here;
a request over any of them is answered HTTP 429 with Fault 3001 ("ThrottleExceeded", type
SERVICE) and is not counted, because the service turns it away before doing work.

Knobs in `sim.settings["qbo"]`: `requests_per_minute`, `requests_per_second`,
`batches_per_minute` (defaults 500, 10, 40) and `throttling` (False switches all three off).
Callers hold `sim.lock`.
"""

from collections import deque
from datetime import datetime, timedelta
from typing import Any, Final

from ledgerbridge_sim.qbo import faults
from ledgerbridge_sim.state import Simulator

DEFAULTS: Final = {"requests_per_minute": 500, "requests_per_second": 10, "batches_per_minute": 40}
WINDOWS: Final = {
    "requests_per_minute": timedelta(minutes=1),
    "requests_per_second": timedelta(seconds=1),
    "batches_per_minute": timedelta(minutes=1),
}


def settings(sim: Simulator) -> dict[str, Any]:
    return sim.settings.setdefault("qbo", {})


def limit(sim: Simulator, name: str) -> int:
    return int(settings(sim).get(name, DEFAULTS[name]))


def _window(sim: Simulator, realm_id: str, name: str) -> deque[datetime]:
    windows: dict[tuple[str, str], deque[datetime]] = sim.system("qbo").extra.setdefault(
        "throttle_windows", {}
    )
    return windows.setdefault((realm_id, name), deque())


def count_request(sim: Simulator, realm_id: str, *, batch: bool) -> None:
    """Admit one request for the realm or raise the 429 Fault."""
    if settings(sim).get("throttling", True) is False:
        return
    now = sim.clock.now()
    names = ["requests_per_minute", "requests_per_second"]
    if batch:
        names.append("batches_per_minute")
    for name in names:
        window = _window(sim, realm_id, name)
        horizon = now - WINDOWS[name]
        while window and window[0] <= horizon:
            window.popleft()
        if len(window) >= limit(sim, name):
            raise faults.throttled()
    for name in names:
        _window(sim, realm_id, name).append(now)
