"""Run the benchmark scenarios on a throw-away SQLite home and print what they measured.

One line of figures per scenario, then the figures the issue sets targets for, each beside its
target (a table, then the same as JSON). Output also goes to bench/out/<name>.json, and the
target checks to bench/out/targets.json. Scenarios: engine_throughput (a), rate_bound_xero and
rate_bound_qbo (b, c, d), and results_page (issue 7's 300 ms) are described in their modules'
docstrings; leases, enqueue and psa_memory have no targets (compare them across commits).
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
from typing import Any

from bench import engine_throughput, rate_bound, results_page
from bench.psa_memory import bench_psa_memory
from bench.targets import Target, as_json, table

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


type Figures = dict[str, Any]
# A scenario gives its figures, or a function that gives them once its background work is done
# (the runner goes on with the next scenario meanwhile).
type Scenario = Callable[[int], Figures | Callable[[], Figures]]

# The engine benchmark comes first: its longest child runs on the second core meanwhile.
SCENARIOS: dict[str, Scenario] = {
    "engine_throughput": lambda rounds: engine_throughput.start_engine_throughput(profile=PROFILE),
    "leases": bench_leases,
    "enqueue": bench_enqueue,
    "psa_memory": bench_psa_memory,
    "rate_bound_xero": rate_bound.bench_rate_bound_xero,
    "rate_bound_qbo": rate_bound.bench_rate_bound_qbo,
    "results_page": results_page.bench_results_page,
}
PROFILE = False  # set by --profile


def _targets() -> list[Target]:
    small, large = engine_throughput.MEMORY_SIZES
    rows = [
        Target(
            "engine_throughput",
            "invoices_per_second",
            f"(a) engine, invoices/s at {engine_throughput.THROUGHPUT_SIZE:,}",
            ">=",
            engine_throughput.MIN_INVOICES_PER_SECOND,
        ),
        Target(
            "engine_throughput",
            "peak_rss_mib",
            f"(a) engine, peak RSS MiB at {engine_throughput.THROUGHPUT_SIZE:,}",
        ),
        Target(
            "engine_throughput",
            "rss_ratio_large_vs_small",
            f"(a) engine, peak RSS at {large:,} / at {small:,}"
            f" ({{peak_rss_mib_{large}}} / {{peak_rss_mib_{small}}} MiB)",
            "<=",
            engine_throughput.MAX_RSS_RATIO,
        ),
    ]
    for profile in (rate_bound.XERO, rate_bound.QBO):
        name = f"rate_bound_{profile.system}"
        rows += [
            Target(
                name,
                "ceiling_fraction",
                f"(b) {profile.label}, achieved / ceiling"
                " ({invoices_per_second} of {ceiling} inv/s)",
                ">=",
                rate_bound.MIN_CEILING_FRACTION,
            ),
            Target(
                name,
                "single_invoices_per_second",
                f"(c) {profile.label}, batch size 1, inv/s"
                " ({single_ceiling_fraction} of its ceiling)",
            ),
            Target(name, "batch_speedup", f"(b)/(c) {profile.label}"),
            Target(
                name,
                "write_calls_per_invoice",
                f"(d) {profile.label}, ledger write calls per invoice",
                "<=",
                profile.max_write_calls_per_invoice,
            ),
        ]
    rows += [
        Target(
            "results_page",
            f"ms_{view}",
            f"Results {view.replace('_', ' ')}, median ms at {{records}} records",
            "<=",
            results_page.TARGET_MS,
        )
        for view in results_page.VIEW_NAMES
    ]
    return rows


def _report(name: str, figures: Figures) -> Figures:
    (OUT / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
    flat = {k: v for k, v in figures.items() if not isinstance(v, dict | list)}
    print(f"{name:17} " + "  ".join(f"{k}={v}" for k, v in flat.items()), flush=True)
    for key, value in figures.items():
        if key.startswith("profile_"):
            print("\n".join(f"    {line}" for line in value), flush=True)
    return figures


def main() -> int:
    global PROFILE
    parser = argparse.ArgumentParser(prog="./dev bench", description=__doc__)
    parser.add_argument("scenario", nargs="*", help=f"any of: {', '.join(SCENARIOS)} (default all)")
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="engine_throughput also reports where its time and memory go",
    )
    args = parser.parse_args()
    PROFILE = args.profile
    chosen = args.scenario or list(SCENARIOS)
    if unknown := [name for name in chosen if name not in SCENARIOS]:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    OUT.mkdir(exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lb-bench-") as home:
        _setup_django(Path(home))
        pending: dict[str, Callable[[], Figures]] = {}
        for name in chosen:
            outcome = SCENARIOS[name](args.rounds)
            if callable(outcome):
                pending[name] = outcome
                continue
            results[name] = _report(name, outcome)
        for name, finish in pending.items():
            results[name] = _report(name, finish())
    checks = [t.check(results[t.scenario]) for t in _targets() if t.scenario in results]
    if checks:
        print()
        print(table(checks))
        print(as_json(checks))
        (OUT / "targets.json").write_text(as_json(checks) + "\n")
    print(f"bench: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
