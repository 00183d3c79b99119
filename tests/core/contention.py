"""Separate OS processes contending for one lease or one rate budget, for multi-process tests.

The parent (a test) calls `run_children`; each child runs this module as
`python -m tests.core.contention MODE DB_NAME NAME SECONDS`, connects to the parent's *test*
database, prints "ready", waits for a line on stdin so all children start together, contends
for SECONDS of real time, then prints one JSON line with what it did. Times are wall-clock
nanoseconds (`time.time_ns()`), the clock `core.clock` reads, so they compare across processes.
"""

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def run_children(mode: str, name: str, count: int, seconds: float) -> list[dict[str, Any]]:
    """Start `count` children contending in `mode` ("lease" or "budget"); return their reports."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ledgerbridge.settings",
        "LEDGERBRIDGE_TESTING": "true",
    }
    db_name = str(connection.settings_dict["NAME"])
    argv = [sys.executable, "-m", "tests.core.contention", mode, db_name, name, str(seconds)]
    children = [
        subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline()
            if line.strip() != "ready":
                _, err = child.communicate(timeout=10)
                raise AssertionError(f"child did not start: {line!r}\n{err}")
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        reports = []
        for child in children:
            out, err = child.communicate(timeout=seconds + 20)
            if child.returncode != 0:
                raise AssertionError(f"child failed with {child.returncode}:\n{err}")
            reports.append(json.loads(out))
        return reports
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()


def contend_for_lease(name: str, deadline: float) -> dict[str, Any]:
    from ledgerbridge.core import leases

    me = f"worker-{os.getpid()}"
    holds: list[tuple[int, int]] = []
    seen_others: list[str | None] = []
    attempts = 0
    while time.monotonic() < deadline:
        attempts += 1
        if leases.acquire(name, me, timedelta(seconds=30)):
            start = time.time_ns()
            if (holder := leases.holder_of(name)) != me:
                seen_others.append(holder)
            time.sleep(0.002)  # stands in for the work the lease protects
            holds.append((start, time.time_ns()))
            leases.release(name, me)
    return {"holder": me, "attempts": attempts, "holds": holds, "seen_others": seen_others}


def contend_for_budget(name: str, deadline: float) -> dict[str, Any]:
    from ledgerbridge.core import ratebudget

    calls: list[tuple[int, int]] = []
    waits: Counter[str] = Counter()
    while time.monotonic() < deadline:
        outcome = ratebudget.reserve(name)
        if isinstance(outcome, ratebudget.Reservation):
            start = time.time_ns()
            time.sleep(0.01)  # stands in for the HTTP call
            calls.append((start, time.time_ns()))
            ratebudget.release(outcome)
        else:
            waits[outcome.reason] += 1
            time.sleep(0.002)
    return {"calls": calls, "waits": dict(waits)}


def main(argv: list[str]) -> None:
    mode, db_name, name, seconds = argv[1], argv[2], argv[3], float(argv[4])
    from django.conf import settings

    # Connections are made lazily from this dict, so this points them at the test database.
    settings.DATABASES["default"]["NAME"] = db_name
    import django

    django.setup()
    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()
    deadline = time.monotonic() + seconds
    contend = {"lease": contend_for_lease, "budget": contend_for_budget}[mode]
    print(json.dumps(contend(name, deadline)), flush=True)
    connection.close()


if __name__ == "__main__":
    main(sys.argv)
