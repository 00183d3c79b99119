"""(b), (c), (d): the engine and the real ledger adapters under each ledger's rate limits.

Every run syncs generated invoices (`workload.GeneratedPsa`) through `InvoiceSync` into the
real adapter (`XeroLedger`, `QboLedger`) talking to the in-process simulator, with the vendor's
real limits on both sides: the simulator enforces them (and answers 429 past them), and the
client paces itself with its `core.ratebudget` budget (`configure_rate_budget`).

How time is measured. Both clocks (`ledgerbridge.core.clock` and `sim.clock`) are frozen and
move together, only when told: each ledger call takes `latency` seconds (300 ms) before the
simulator answers, and every wait (rate budget, `Retry-After`, back-off) moves them by what it
waits. Limits are the vendors' own per minute and second; nothing is scaled, because nothing
sleeps for real. So the figure is virtual time: LedgerBridge's own processing (engine, adapter,
budget bookkeeping) and the simulator's take none. (a) measures the engine's own cost; each
run here also reports `lb_ms_per_invoice`, the real time LedgerBridge spent per invoice (wall
time minus time inside the simulator), to compare with `ms_per_invoice_at_ceiling`.

Steady state. The company already has its customers and products in the ledger (a warm-up run
posted one invoice per customer), and the warm-up leaves the vendor's limit window full, as a
run that follows another does. Without it, a short run would be flattered by the first minute's
burst (a full minute's allowance at once) and could report more than the ceiling.

Figures per run: `invoices_per_second` = invoices posted ÷ virtual seconds of `InvoiceSync.run`;
`ceiling` = min(limit rate of the posting call x batch size, concurrency ÷ latency x batch
size), each limit that applies to the posting call taken (Xero: 60 calls a minute, 5 at once;
QuickBooks batch calls: 500 a minute, 10 a second, 40 batch calls a minute, 10 at once);
`ceiling_fraction` = the two's quotient (target ≥ 0.90 at full batch size). (c) is the same run
with `batch_size` 1; `batch_speedup` = (b) ÷ (c). (d) `write_calls_per_invoice` = POST/PUT/
DELETE requests the simulator logged during the run ÷ invoices posted. `calls` counts the
run's requests by method and resource, to show where the limit went.
"""

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

import httpx

from bench.workload import GeneratedPsa, LedgerCodes, new_sync_context, record_states
from ledgerbridge.connectors.base import Ledger
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge_sim import oauth
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.organisations import DEFAULTS
from ledgerbridge_sim.state import Simulator

if TYPE_CHECKING:
    from ledgerbridge.sync.models import SyncRun

START: Final = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
LATENCY_SECONDS: Final = 0.3
# (b) runs long enough for five or more whole minutes at the ledger's pace; (c), one call per
# invoice, reaches twenty minutes with fewer invoices. Both keep 25 invoices per customer.
INVOICES: Final = 6_000
SINGLE_INVOICES: Final = 1_200
INVOICES_PER_CUSTOMER: Final = 25  # a year of monthly agreements and the odd project invoice
MIN_CEILING_FRACTION: Final = 0.90
# Both ledgers' binding limits count per minute; the rate is measured over whole minutes.
WINDOW_SECONDS: Final = 60
WRITE_METHODS: Final = frozenset({"POST", "PUT", "DELETE", "PATCH"})


class TokenSource(Protocol):
    def current(self) -> str: ...

    def refreshed(self, rejected: str) -> str: ...


@dataclass(frozen=True)
class LimitProfile:
    """One ledger's documented limits on the call that posts documents."""

    system: str
    label: str
    batch_size: int
    calls_per_second: tuple[float, ...]  # every rate limit the posting call counts against
    concurrency: int
    calls_per_window: int  # the binding limit's allowance per minute, to fill before timing
    posting_call: str  # the request that posts documents, as `calls` counts it
    codes: LedgerCodes
    max_write_calls_per_invoice: float
    build: Callable[["LedgerSetup"], Ledger]

    def ceiling(self, batch_size: int, latency: float) -> float:
        """Invoices per second the limits allow at this batch size and call latency."""
        by_rate = min(self.calls_per_second) * batch_size
        by_concurrency = self.concurrency / latency * batch_size
        return min(by_rate, by_concurrency)


@dataclass
class LedgerSetup:
    """What a ledger adapter is built from: the simulator, its transport, tokens and budget."""

    sim: Simulator
    transport: httpx.BaseTransport
    clocks: "VirtualClocks"
    budget: str
    organisation_id: str


class SimTokens:
    """Tokens from the simulator's OAuth; an expired one is replaced by a fresh grant."""

    def __init__(self, sim: Simulator, system: str, organisation_id: str) -> None:
        self.sim, self.system, self.organisation_id = sim, system, organisation_id
        self.refreshes = 0
        self.token = self._issue()

    def _issue(self) -> str:
        issued = oauth.issue_tokens(self.sim, self.system, (self.organisation_id,))
        return str(issued["access_token"])

    def current(self) -> str:
        return self.token

    def refreshed(self, rejected: str) -> str:
        if rejected == self.token:
            self.refreshes += 1
            self.token = self._issue()
        return self.token


class VirtualClocks:
    """LedgerBridge's clock and the simulator's, frozen, moved together by waits and latency."""

    def __init__(self, sim: Simulator, start: datetime = START) -> None:
        from ledgerbridge.core import clock

        self.sim = sim
        self.waited = 0.0
        clock.set_now(start)
        sim.clock.set(start)

    def now(self) -> datetime:
        from ledgerbridge.core import clock

        return clock.now()

    def move(self, seconds: float) -> None:
        from ledgerbridge.core import clock

        delta = timedelta(seconds=seconds)
        clock.advance(delta)
        self.sim.clock.advance(delta)

    def sleep(self, seconds: float) -> None:
        self.waited += seconds
        self.move(seconds)


@dataclass
class LatentTransport(httpx.BaseTransport):
    """The simulator, reached after `latency` virtual seconds; counts real time spent inside it."""

    inner: httpx.BaseTransport
    clocks: VirtualClocks
    latency: float
    real_seconds_inside: float = field(default=0.0)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.clocks.move(self.latency)
        started = time.perf_counter()
        try:
            return self.inner.handle_request(request)
        finally:
            self.real_seconds_inside += time.perf_counter() - started

    def close(self) -> None:
        self.inner.close()


def _xero(setup: LedgerSetup) -> Ledger:
    from ledgerbridge.connectors.xero.adapter import XeroLedger
    from ledgerbridge.connectors.xero.client import XeroClient

    client = XeroClient(
        api_url="http://sim.test/xero/api.xro/2.0/",
        tenant_id=setup.organisation_id,
        tokens=SimTokens(setup.sim, "xero", setup.organisation_id),
        budget=setup.budget,
        transport=setup.transport,
        sleep=setup.clocks.sleep,
        retry=RetryPolicy(max_attempts=5),
    )
    return XeroLedger(client)


def _qbo(setup: LedgerSetup) -> Ledger:
    from ledgerbridge.connectors.qbo.adapter import QboLedger
    from ledgerbridge.connectors.qbo.client import QboClient

    client = QboClient(
        api_url="http://sim.test/qbo/v3/",
        realm_id=setup.organisation_id,
        tokens=SimTokens(setup.sim, "qbo", setup.organisation_id),
        budget=setup.budget,
        transport=setup.transport,
        sleep=setup.clocks.sleep,
        retry=RetryPolicy(max_attempts=5),
    )
    return QboLedger(client)


def _configure_budget(system: str, name: str) -> None:
    if system == "xero":
        from ledgerbridge.connectors.xero.client import configure_rate_budget as xero_budget

        xero_budget(name)
    else:
        from ledgerbridge.connectors.qbo.client import configure_rate_budget as qbo_budget

        qbo_budget(name)


XERO: Final = LimitProfile(
    system="xero",
    label="Xero",
    batch_size=50,
    calls_per_second=(60 / 60,),
    concurrency=5,
    calls_per_window=60,
    posting_call="PUT Invoices",
    codes=LedgerCodes(
        revenue_account="200",
        tax_code="OUTPUT",
        exempt_tax_code="EXEMPTOUTPUT",
        adjustment_account="260",
    ),
    max_write_calls_per_invoice=0.03,
    build=_xero,
)
QBO: Final = LimitProfile(
    system="qbo",
    label="QuickBooks Online",
    batch_size=30,
    calls_per_second=(500 / 60, 10.0, 40 / 60),
    concurrency=10,
    calls_per_window=40,
    posting_call="POST batch",
    codes=LedgerCodes(
        revenue_account="Services",
        # Tax code names: QuickBooks ids differ per company, so they are looked up by name.
        tax_code="GST",
        exempt_tax_code="GST free",
        adjustment_account="Services",
    ),
    max_write_calls_per_invoice=0.04,
    build=_qbo,
)
# The simulators' Australian organisations: the workload is Australian (AUD, GST).
ORGANISATIONS: Final = {
    "xero": next(o.id for o in DEFAULTS["xero"] if o.country == "AU"),
    "qbo": next(o.id for o in DEFAULTS["qbo"] if o.country == "AU"),
}


def rate_bound_run(
    profile: LimitProfile,
    *,
    invoices: int,
    customers: int,
    batch_size: int,
    latency: float = LATENCY_SECONDS,
    fill_window: bool = True,
) -> dict[str, Any]:
    """One timed run (after its warm-up) on a fresh simulator; its figures.

    `fill_window=False` skips filling the limit's window before timing (quick checks only: the
    figure then includes the first minute's burst).
    """
    from ledgerbridge.core import clock
    from ledgerbridge.sync.engine import InvoiceSync

    sim = Simulator()
    clocks = VirtualClocks(sim)
    transport = LatentTransport(InProcessTransport(build_app(sim)), clocks, latency)
    budget = f"{profile.system}:bench-{uuid.uuid4().hex[:12]}"
    _configure_budget(profile.system, budget)
    setup = LedgerSetup(sim, transport, clocks, budget, ORGANISATIONS[profile.system])
    target = f"{profile.system}:{setup.organisation_id}"
    try:
        ledger = profile.build(setup)
        ledger.batch_size = batch_size
        codes = _resolved(profile.codes, ledger)
        # Warm-up: last month's run made the customers and products; then enough posting calls
        # to fill the binding limit's window, so the timed run starts in steady state.
        fill = profile.calls_per_window * batch_size if fill_window else 0
        for series, count in (("WARM", customers), ("FILL", fill)):
            if not count:
                continue
            warm = new_sync_context(
                name=f"{profile.label} warm-up {series}",
                source=GeneratedPsa(count, customers=customers, series=series),
                ledger=profile.build(setup),
                codes=codes,
                ledger_target=target,
            )
            warm.ledger.batch_size = batch_size
            InvoiceSync(warm).run()
            _check_all_posted(warm.company_id, count, f"{profile.label} warm-up")

        context = new_sync_context(
            name=f"{profile.label} x{batch_size}",
            source=GeneratedPsa(invoices, customers=customers),
            ledger=ledger,
            codes=codes,
            ledger_target=target,
        )
        first_request = len(sim.requests)
        started_at, waited_before = clocks.now(), clocks.waited
        inside_before = transport.real_seconds_inside
        progress = _Timeline(context.run, clocks, started_at)
        real_started = time.perf_counter()
        InvoiceSync(context, on_progress=progress.note).run()
        real_seconds = time.perf_counter() - real_started
        virtual_seconds = (clocks.now() - started_at).total_seconds()
        _check_all_posted(context.company_id, invoices, profile.label)
        requests = sim.requests[first_request:]
        inside = transport.real_seconds_inside - inside_before
    finally:
        transport.close()
        clock.set_now(None)
    ours = [r for r in requests if r.system == profile.system]
    calls = Counter(f"{r.method} {_resource(r.path)}" for r in ours)
    writes = sum(1 for r in ours if r.method in WRITE_METHODS)
    windows = int(virtual_seconds // WINDOW_SECONDS)
    if windows:
        measured_seconds = windows * WINDOW_SECONDS
        achieved = progress.done_by(measured_seconds) / measured_seconds
    else:
        achieved = invoices / virtual_seconds
    ceiling = profile.ceiling(batch_size, latency)
    return {
        "invoices": invoices,
        "customers": customers,
        "batch_size": batch_size,
        "virtual_seconds": round(virtual_seconds, 1),
        "waited_seconds": round(clocks.waited - waited_before, 1),
        "whole_windows": windows,
        "invoices_per_second": round(achieved, 3),
        "whole_run_invoices_per_second": round(invoices / virtual_seconds, 3),
        "ceiling": round(ceiling, 3),
        "ceiling_fraction": round(achieved / ceiling, 3),
        "write_calls_per_invoice": round(writes / invoices, 4),
        "ledger_calls": len(ours),
        # How close the calls came to the limits: posting calls, and all calls, per second.
        "posting_calls_per_second": round(calls[profile.posting_call] / virtual_seconds, 3),
        "all_calls_per_second": round(len(ours) / virtual_seconds, 3),
        "posting_call_limit_per_second": round(min(profile.calls_per_second), 3),
        "throttled_429": sum(1 for r in ours if r.status == 429),
        "calls": dict(calls.most_common()),
        "real_seconds": round(real_seconds, 1),
        "lb_ms_per_invoice": round((real_seconds - inside) * 1000 / invoices, 2),
        "ms_per_invoice_at_ceiling": round(1000 / ceiling, 2),
    }


class _Timeline:
    """Invoices done by each moment of the run (virtual seconds from its start)."""

    def __init__(self, run: "SyncRun", clocks: VirtualClocks, started_at: datetime) -> None:
        self.run, self.clocks, self.started_at = run, clocks, started_at
        self.points: list[tuple[float, int]] = []

    def note(self) -> None:
        done = int(self.run.progress.get("invoice", {}).get("done", 0))
        self.points.append(((self.clocks.now() - self.started_at).total_seconds(), done))

    def done_by(self, seconds: float) -> int:
        return max((done for at, done in self.points if at <= seconds), default=0)


def _resolved(codes: LedgerCodes, ledger: Ledger) -> LedgerCodes:
    """The codes with tax code names replaced by the ledger's ids for them."""
    ids = {rate.name: rate.ledger_id for rate in ledger.list_tax_rates()}
    return replace(
        codes,
        tax_code=ids.get(codes.tax_code, codes.tax_code),
        exempt_tax_code=ids.get(codes.exempt_tax_code, codes.exempt_tax_code),
    )


def _check_all_posted(company_id: int, expected: int, what: str) -> None:
    states = record_states(company_id)
    if states.get("acknowledged", 0) != expected:
        raise RuntimeError(f"{what}: expected {expected} acknowledged records, got {dict(states)}")


def _resource(path: str) -> str:
    """A request's resource for counting: `PUT Invoices`, `POST batch`, `GET query`."""
    parts = [part for part in path.split("/") if part]
    if "company" in parts:  # QuickBooks: /qbo/v3/company/<realm>/<resource>[/<id>]
        rest = parts[parts.index("company") + 2 :]
        return rest[0] if rest else path
    if "2.0" in parts:  # Xero: /xero/api.xro/2.0/<Resource>[/<id>]
        rest = parts[parts.index("2.0") + 1 :]
        return rest[0] if rest else path
    return path


def bench_rate_bound(
    profile: LimitProfile,
    *,
    invoices: int = INVOICES,
    single_invoices: int = SINGLE_INVOICES,
    invoices_per_customer: int = INVOICES_PER_CUSTOMER,
    latency: float = LATENCY_SECONDS,
    fill_window: bool = True,
) -> dict[str, Any]:
    """(b) at the ledger's batch size, (c) at batch size 1, (d) from (b)'s request log."""

    def run(count: int, batch_size: int) -> dict[str, Any]:
        customers = max(1, count // invoices_per_customer)
        return rate_bound_run(
            profile,
            invoices=count,
            customers=customers,
            batch_size=batch_size,
            latency=latency,
            fill_window=fill_window,
        )

    batched = run(invoices, profile.batch_size)
    single = run(single_invoices, 1)
    return {
        "latency_ms": round(latency * 1000),
        "invoices_per_second": batched["invoices_per_second"],
        "ceiling": batched["ceiling"],
        "ceiling_fraction": batched["ceiling_fraction"],
        "write_calls_per_invoice": batched["write_calls_per_invoice"],
        "single_invoices_per_second": single["invoices_per_second"],
        "single_ceiling_fraction": single["ceiling_fraction"],
        "batch_speedup": round(batched["invoices_per_second"] / single["invoices_per_second"], 1),
        "batched": batched,
        "single": single,
    }


def bench_rate_bound_xero(rounds: int) -> dict[str, Any]:
    """`rounds` is not used: see the module docstring for the sizes."""
    return bench_rate_bound(XERO)


def bench_rate_bound_qbo(rounds: int) -> dict[str, Any]:
    """`rounds` is not used: see the module docstring for the sizes."""
    return bench_rate_bound(QBO)
