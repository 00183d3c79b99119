"""(a) The engine's own cost: invoices per second and memory, with no vendor in the way.

The PSA is `workload.GeneratedPsa` (invoices made on demand, nothing held) and the ledger is
`LeanLedger` below (answers at once, keeps nothing but counters), so what is measured is the
engine: SyncRecords, the write log, digests, mapping and batching, on a fresh SQLite database.
No rate limits, no latency; 500 customers, batches of 50.

Each size runs in a fresh child process (`python -m bench.engine_throughput <n> measure`) on its
own copy of a freshly migrated database, so each peak is that run's alone: migrations, other
sizes and the parent's memory are not in it. The largest size runs in the background on the
second core while the others run one at a time. Figures per size n:

- `invoices_per_second_<n>`: invoices posted and acknowledged ÷ wall seconds of `InvoiceSync.run`
  (one process, one thread: one core);
- `peak_rss_mib_<n>`: the child's peak resident set (`VmHWM`, Django and Python included;
  not `ru_maxrss`, which on Linux carries the parent's peak over the exec);
- `run_growth_mib_<n>`: that peak minus the child's resident set just before the run.

`rss_ratio_large_vs_small` is the peak at 100,000 ÷ the peak at 10,000 (target ≤ 1.2). With
`./dev bench --profile` two more children report where a run's time goes (cProfile: each engine
step's share) and what it holds late in a run (tracemalloc: the biggest allocation sites).
"""

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.workload import GeneratedPsa, LedgerCodes, new_sync_context, record_states
from ledgerbridge.connectors.base import (
    ConnectivityReport,
    Customer,
    InvoiceKind,
    LedgerAccount,
    LedgerCustomer,
    LedgerDocument,
    LedgerItem,
    LedgerPayment,
    LedgerTaxRate,
    LedgerTerm,
    LockDates,
    NameClashRule,
    PostableDocument,
    PostResult,
    Product,
    ProductIdPolicy,
    TrackingCategory,
)

ROOT = Path(__file__).resolve().parent.parent
THROUGHPUT_SIZE = 20_000
MEMORY_SIZES = (10_000, 100_000)
CUSTOMERS = 500
LEAN_CODES = LedgerCodes(
    revenue_account="200", tax_code="OUTPUT", exempt_tax_code="EXEMPT", adjustment_account="260"
)
# cProfile slows a run about fourfold; tracemalloc needs enough invoices to tell growth.
PROFILE_SIZES = {"cpu": 5_000, "memory": 10_000}
MIN_INVOICES_PER_SECOND = 1_000
MAX_RSS_RATIO = 1.2


class LeanLedger:
    """A ledger that accepts everything at once and remembers only how often it was called."""

    label = "Lean ledger"

    def __init__(self, batch_size: int = 50) -> None:
        self.batch_size = batch_size
        self.post_calls = 0
        self.documents_posted = 0

    def post_documents(self, documents: Sequence[PostableDocument]) -> list[PostResult]:
        self.post_calls += 1
        self.documents_posted += len(documents)
        return [
            PostResult(
                key=document.key,
                document=LedgerDocument(
                    ledger_id=f"L-{document.psa_id}",
                    kind=document.kind,
                    number=document.number,
                    total=document.total,
                ),
                outcome="created",
            )
            for document in documents
        ]

    def ensure_customer(
        self, customer: Customer, *, on_name_clash: NameClashRule = NameClashRule.FAIL
    ) -> LedgerCustomer:
        return LedgerCustomer(
            ledger_id=f"contact-{customer.psa_id}", name=customer.name, outcome="found"
        )

    def ensure_item(
        self,
        product: Product,
        *,
        policy: ProductIdPolicy = ProductIdPolicy.FAIL,
        mapped_code: str = "",
        income_account_code: str = "",
    ) -> LedgerItem:
        return LedgerItem(ledger_id=product.identifier, code=product.identifier)

    def find_document(
        self, kind: InvoiceKind, *, number: str = "", reference: str = ""
    ) -> LedgerDocument | None:
        return None

    def update_document(self, ledger_id: str, document: PostableDocument) -> PostResult:
        raise NotImplementedError("the throughput run never re-posts")

    def lock_dates(self) -> LockDates:
        return LockDates()

    def list_accounts(self) -> Iterator[LedgerAccount]:
        return iter(())

    def list_tax_rates(self) -> Iterator[LedgerTaxRate]:
        return iter(())

    def list_tracking_categories(self) -> Iterator[TrackingCategory]:
        return iter(())

    def list_terms(self) -> Iterator[LedgerTerm]:
        return iter(())

    def list_items(self) -> Iterator[LedgerItem]:
        return iter(())

    def payments_since(self, cursor: datetime | None) -> Iterator[LedgerPayment]:
        return iter(())

    def test_connectivity(self) -> ConnectivityReport:
        return ConnectivityReport(ok=True)


def run_engine(
    invoices: int,
    *,
    customers: int = CUSTOMERS,
    on_progress: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Sync `invoices` generated invoices into a `LeanLedger` in this process; its figures.

    Needs a migrated database (Django set up). Raises if any invoice did not end acknowledged.
    """
    from ledgerbridge.sync.engine import InvoiceSync

    source = GeneratedPsa(invoices, customers=customers)
    ledger = LeanLedger()
    context = new_sync_context(
        name=f"Engine {invoices}",
        source=source,
        ledger=ledger,
        codes=LEAN_CODES,
        ledger_target="lean:bench",
    )
    started = time.perf_counter()
    counts = InvoiceSync(context, on_progress=on_progress).run()
    seconds = time.perf_counter() - started
    states = record_states(context.company_id)
    if states.get("acknowledged", 0) != invoices or ledger.documents_posted != invoices:
        raise RuntimeError(f"engine run of {invoices} ended with {dict(states)} and {counts}")
    return {
        "invoices": invoices,
        "seconds": round(seconds, 2),
        "invoices_per_second": round(invoices / seconds),
        "ledger_calls": ledger.post_calls,
    }


def bench_engine_throughput(
    rounds: int,
    *,
    throughput_size: int = THROUGHPUT_SIZE,
    memory_sizes: tuple[int, int] = MEMORY_SIZES,
    profile: bool = False,
) -> dict[str, Any]:
    """`rounds` is not used: the sizes are the ones the issue names."""
    finish = start_engine_throughput(
        throughput_size=throughput_size, memory_sizes=memory_sizes, profile=profile
    )
    return finish()


def start_engine_throughput(
    *,
    throughput_size: int = THROUGHPUT_SIZE,
    memory_sizes: tuple[int, int] = MEMORY_SIZES,
    profile: bool = False,
) -> Callable[[], dict[str, Any]]:
    """Run the benchmark up to its largest size, which goes on in the background; returns the
    function that waits for it and gives every figure.

    The largest memory run takes longest. It runs on the second core while the other sizes run
    one after another here (and, under `./dev bench`, while later scenarios run).
    """
    template = _database_file()
    small, large = memory_sizes
    figures: dict[str, Any] = {"customers": CUSTOMERS, "batch_size": LeanLedger().batch_size}
    background = _start_child(template, large, mode="measure")
    try:
        for size in sorted({throughput_size, small} - {large}):
            figures.update(_suffixed(_finish_child(_start_child(template, size, "measure")), size))
        if profile:
            for mode in ("cpu", "memory"):
                figures.update(_finish_child(_start_child(template, PROFILE_SIZES[mode], mode)))
    except BaseException:
        background.process.kill()
        _finish_child(background, check=False)
        raise

    def finish() -> dict[str, Any]:
        figures.update(_suffixed(_finish_child(background), large))
        figures["invoices_per_second"] = figures[f"invoices_per_second_{throughput_size}"]
        figures["peak_rss_mib"] = figures[f"peak_rss_mib_{throughput_size}"]
        figures["rss_ratio_large_vs_small"] = round(
            figures[f"peak_rss_mib_{large}"] / figures[f"peak_rss_mib_{small}"], 3
        )
        return figures

    return finish


def _suffixed(measured: dict[str, Any], size: int) -> dict[str, Any]:
    return {f"{key}_{size}": value for key, value in measured.items()}


def _database_file() -> Path:
    from django.db import connection

    name = connection.settings_dict["NAME"]
    path = Path(str(name))
    if not path.is_file():
        raise RuntimeError(f"the engine benchmark needs a SQLite file database, not {name!r}")
    return path


@dataclass
class _Child:
    size: int
    home: tempfile.TemporaryDirectory[str]
    process: subprocess.Popen[str]


def _start_child(template: Path, size: int, mode: str) -> _Child:
    """A child process that syncs `size` invoices on its own copy of the database."""
    home = tempfile.TemporaryDirectory(prefix="lb-bench-engine-")
    # The backup API copies what is committed, WAL included, into a fresh file.
    with (
        sqlite3.connect(template) as source,
        sqlite3.connect(Path(home.name) / "ledgerbridge.sqlite3") as target,
    ):
        source.backup(target)
    env = {
        **os.environ,
        "LEDGERBRIDGE_HOME": home.name,
        "DJANGO_SETTINGS_MODULE": "ledgerbridge.settings",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    process = subprocess.Popen(  # noqa: S603 — our own interpreter and module
        [sys.executable, "-m", "bench.engine_throughput", str(size), mode],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return _Child(size, home, process)


def _finish_child(child: _Child, *, check: bool = True) -> dict[str, Any]:
    try:
        stdout, stderr = child.process.communicate()
        if not check:
            return {}
        if child.process.returncode != 0:
            raise RuntimeError(f"engine child for {child.size} invoices failed:\n{stderr[-3000:]}")
        measured: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        return measured
    finally:
        child.home.cleanup()


def _child(size: int, mode: str) -> dict[str, Any]:
    """In the child: set up Django on the copied database, run once, report."""
    import django

    django.setup()
    from ledgerbridge.core import clock

    clock.set_now(datetime(2026, 11, 2, 1, 0, tzinfo=UTC))
    if mode == "cpu":
        return {"profile_cpu": _cpu_profile(size)}
    if mode == "memory":
        return {"profile_memory": _memory_profile(size)}
    before = _status_mib("VmRSS")
    measured = run_engine(size)
    peak = _status_mib("VmHWM")
    return {
        "invoices_per_second": measured["invoices_per_second"],
        "seconds": measured["seconds"],
        "peak_rss_mib": round(peak, 1),
        "run_growth_mib": round(peak - before, 1),
    }


def _status_mib(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MiB.

    `VmHWM` (peak resident set) rather than `ru_maxrss`: Linux carries the parent's high-water
    mark over an exec into `ru_maxrss`, so a child of a big parent would report the parent.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


# Engine steps that do not call one another, so their shares of the run add up.
_STEPS = {
    ("sync/engine.py", "_work_for"): "SyncRecord get_or_create, one per invoice",
    ("sync/engine.py", "_save"): "SyncRecord full-row save, three per invoice",
    ("core/writelog.py", "record"): "write-log record: get_or_create per invoice",
    ("core/writelog.py", "_update"): "write-log UPDATE (sent, succeeded), two per invoice",
    ("sync/prepare.py", "prepare_invoice"): "map and validate",
    ("core/writelog.py", "digest_of"): "fingerprint and request digests",
    ("sync/engine.py", "_progress"): "run progress UPDATE, one per batch",
    ("bench/workload.py", "get_invoice"): "the generated PSA (not the engine)",
}


def _cpu_profile(size: int) -> list[str]:
    """Where a run's time goes: each engine step's share (cProfile, cumulative time)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    run_engine(size)
    profiler.disable()
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = pstats.Stats(
        profiler
    ).stats  # type: ignore[attr-defined]
    total = next(row[3] for key, row in stats.items() if key[2] == "run_engine")
    shares: dict[str, float] = {}
    for (filename, _, function), (_, calls, _, cumulative, _) in stats.items():
        for (suffix, name), label in _STEPS.items():
            if function == name and filename.endswith(suffix):
                shares[f"{label} [{calls} calls]"] = cumulative
    lines = [f"{size} invoices under cProfile: {total:.1f} s; share of the run by step:"]
    for label, seconds in sorted(shares.items(), key=lambda item: -item[1]):
        lines.append(f"{seconds / total:4.0%} {seconds * 1000 / size:.2f} ms/invoice  {label}")
    rest = total - sum(shares.values())
    lines.append(f"{rest / total:4.0%} {rest * 1000 / size:.2f} ms/invoice  everything else")
    return lines


def _memory_profile(size: int) -> list[str]:
    """What a run holds late (90 % done) that it did not hold before it began, by source line."""
    import tracemalloc

    batches = -(-size // LeanLedger().batch_size)
    late = max(1, batches * 9 // 10)
    snapshots: list[tracemalloc.Snapshot] = []
    calls = 0

    def snapshot_late() -> None:
        nonlocal calls
        calls += 1  # the first call reports the start; batch n ends at call n + 1
        if calls == late + 1:
            snapshots.append(tracemalloc.take_snapshot())

    tracemalloc.start(1)
    before = tracemalloc.take_snapshot()
    run_engine(size, on_progress=snapshot_late)
    tracemalloc.stop()
    ignored = [tracemalloc.Filter(False, tracemalloc.__file__)]
    grown = snapshots[0].filter_traces(ignored).compare_to(before.filter_traces(ignored), "lineno")
    total = sum(stat.size_diff for stat in grown)
    top = [
        f"{size} invoices, 90 % done: the run holds {total / 2**20:.1f} MiB more than before it "
        f"began ({total / size:.0f} B per invoice listed); biggest sites:"
    ]
    for stat in sorted(grown, key=lambda s: -s.size_diff)[:5]:
        frame = stat.traceback[0]
        top.append(
            f"{_short(frame.filename)}:{frame.lineno}: +{stat.size_diff / 2**20:.2f} MiB "
            f"({stat.size_diff / size:.0f} B per invoice)"
        )
    return top


def _short(filename: str) -> str:
    """A source path from the package down (`ledgerbridge/sync/engine.py`)."""
    parts = Path(filename).parts
    for anchor in ("ledgerbridge", "ledgerbridge_sim", "bench", "django", "site-packages"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor) :])
    return Path(filename).name


if __name__ == "__main__":
    print(json.dumps(_child(int(sys.argv[1]), sys.argv[2])))
