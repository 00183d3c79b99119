"""Run the benchmark scenarios on a throw-away SQLite home and print what they measured.

Figures, not pass/fail: compare them across commits. Output also goes to bench/out/<name>.json.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bench.psa_memory import bench_psa_memory

OUT = Path(__file__).resolve().parent / "out"


def _setup_django(home: Path) -> None:
    os.environ["LEDGERBRIDGE_HOME"] = str(home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerbridge.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def bench_leases(rounds: int) -> dict[str, float]:
    """Lease acquire+release pairs per second for one company lease (the sync hot path)."""
    from ledgerbridge.core import leases

    ttl = timedelta(minutes=5)
    start = time.perf_counter()
    for i in range(rounds):
        name = f"company:{i % 50}"
        assert leases.acquire(name, "bench", ttl)
        leases.release(name, "bench")
    elapsed = time.perf_counter() - start
    return {"rounds": rounds, "seconds": round(elapsed, 3), "per_second": round(rounds / elapsed)}


def bench_enqueue(rounds: int) -> dict[str, float]:
    """Tasks enqueued per second on the database backend (what a "sync all" fans out)."""
    from django.db import transaction

    from bench.tasks import noop

    start = time.perf_counter()
    with transaction.atomic():
        for i in range(rounds):
            noop.enqueue(i)
    elapsed = time.perf_counter() - start
    return {"rounds": rounds, "seconds": round(elapsed, 3), "per_second": round(rounds / elapsed)}


SCENARIOS: dict[str, Callable[[int], dict[str, float]]] = {
    "leases": bench_leases,
    "enqueue": bench_enqueue,
    "psa_memory": bench_psa_memory,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="./dev bench", description=__doc__)
    parser.add_argument("scenario", nargs="*", help=f"any of: {', '.join(SCENARIOS)} (default all)")
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    chosen = args.scenario or list(SCENARIOS)
    if unknown := [name for name in chosen if name not in SCENARIOS]:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lb-bench-") as home:
        _setup_django(Path(home))
        for name in chosen:
            figures = SCENARIOS[name](args.rounds)
            (OUT / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
            print(f"{name:10} " + "  ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
