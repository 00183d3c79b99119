"""Xero's API limits: per app and organisation 5 calls in flight, 60 per rolling minute and 5,000
per rolling day; per app 10,000 per minute across organisations.

Windows run on `sim.clock`, so a test moves the clock instead of waiting. A refused call is not
counted (it did no work); every call that gets through counts, replays and failures included.
Each knob lives in `sim.settings["xero"]` (see the app module's docstring). Callers hold
`sim.lock`.
"""

import math
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from ledgerbridge_sim.state import Simulator
from ledgerbridge_sim.xero.wire import XeroError

DEFAULTS: Final = {
    "concurrent_limit": 5,
    "minute_limit": 60,
    "day_limit": 5000,
    "app_minute_limit": 10_000,
}
MINUTE: Final = timedelta(minutes=1)
DAY: Final = timedelta(days=1)


@dataclass
class Allowance:
    """What is left after this call, for the `X-…Limit-Remaining` headers."""

    day: int
    minute: int
    app_minute: int

    def headers(self) -> dict[str, str]:
        return {
            "X-DayLimit-Remaining": str(max(self.day, 0)),
            "X-MinLimit-Remaining": str(max(self.minute, 0)),
            "X-AppMinLimit-Remaining": str(max(self.app_minute, 0)),
        }


def settings(sim: Simulator) -> dict[str, Any]:
    return sim.settings.setdefault("xero", {})


def limit(sim: Simulator, name: str) -> int:
    return int(settings(sim).get(name, DEFAULTS[name]))


def _extra(sim: Simulator) -> dict[str, Any]:
    found: dict[str, Any] = sim.system("xero").extra.setdefault("limits", {})
    return found


def _window(sim: Simulator, name: str, key: tuple[str, ...], span: timedelta) -> deque[datetime]:
    windows: dict[tuple[str, ...], deque[datetime]] = _extra(sim).setdefault(name, {})
    window = windows.setdefault(key, deque())
    horizon = sim.clock.now() - span
    while window and window[0] <= horizon:
        window.popleft()
    return window


def _retry_after(sim: Simulator, window: deque[datetime], span: timedelta) -> int:
    wait = (window[0] + span - sim.clock.now()).total_seconds()
    return max(1, math.ceil(wait))


def _refuse(problem: str, retry_after: int, allowance: Allowance) -> XeroError:
    headers = allowance.headers()
    headers.update({"Retry-After": str(retry_after), "X-Rate-Limit-Problem": problem})
    return XeroError(429, f"Rate limit exceeded: {problem}", headers)


def allowance(sim: Simulator, app: str, tenant: str) -> Allowance:
    return Allowance(
        day=limit(sim, "day_limit") - len(_window(sim, "day", (app, tenant), DAY)),
        minute=limit(sim, "minute_limit") - len(_window(sim, "minute", (app, tenant), MINUTE)),
        app_minute=limit(sim, "app_minute_limit") - len(_window(sim, "app", (app,), MINUTE)),
    )


def take_call(sim: Simulator, app: str, tenant: str) -> Allowance:
    """Count one call, or raise the 429 naming the limit it breaks."""
    day = _window(sim, "day", (app, tenant), DAY)
    minute = _window(sim, "minute", (app, tenant), MINUTE)
    app_minute = _window(sim, "app", (app,), MINUTE)
    before = allowance(sim, app, tenant)
    if len(app_minute) >= limit(sim, "app_minute_limit"):
        raise _refuse("appminute", _retry_after(sim, app_minute, MINUTE), before)
    if len(day) >= limit(sim, "day_limit"):
        raise _refuse("daily", _retry_after(sim, day, DAY), before)
    if len(minute) >= limit(sim, "minute_limit"):
        raise _refuse("minute", _retry_after(sim, minute, MINUTE), before)
    flights: Counter[tuple[str, str]] = _extra(sim).setdefault("in_flight", Counter())
    if flights[(app, tenant)] >= limit(sim, "concurrent_limit"):
        raise _refuse("concurrent", 1, before)
    now = sim.clock.now()
    for window in (day, minute, app_minute):
        window.append(now)
    flights[(app, tenant)] += 1
    return Allowance(before.day - 1, before.minute - 1, before.app_minute - 1)


def release(sim: Simulator, app: str, tenant: str) -> None:
    flights: Counter[tuple[str, str]] = _extra(sim).setdefault("in_flight", Counter())
    flights[(app, tenant)] -= 1
    if flights[(app, tenant)] <= 0:
        del flights[(app, tenant)]
