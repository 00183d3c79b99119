"""The sync engine with the real adapters, against the in-process simulators, on virtual time.

`Harness` wires one PSA (ConnectWise or Autotask) to one ledger (QuickBooks Online or Xero)
the way a company's settings would: real clients pointed at `http://sim.test`, mappings made
by `auto_mappings` from what both sides list, and a `SyncContext` built by hand (the settings
models do not exist yet). `harness.sync()` is one "Sync now": invoices, then payments.
Clients wait only through `VirtualClocks.sleep`, which moves the simulator's clock and
`core.clock` together; nothing sleeps for real.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledgerbridge.accounts.models import Account
from ledgerbridge.companies.models import Company
from ledgerbridge.connectors.autotask.adapter import AutotaskSource
from ledgerbridge.connectors.autotask.client import AutotaskClient, AutotaskCredentials
from ledgerbridge.connectors.base import Ledger, ProductIdPolicy, PsaSource
from ledgerbridge.connectors.connectwise.adapter import ConnectWiseSource
from ledgerbridge.connectors.connectwise.client import ConnectWiseClient
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.qbo.adapter import QboLedger
from ledgerbridge.connectors.qbo.client import QboClient
from ledgerbridge.connectors.xero.adapter import XeroLedger
from ledgerbridge.connectors.xero.client import XeroClient
from ledgerbridge.core import clock
from ledgerbridge.sync.engine import InvoiceSync, SyncContext
from ledgerbridge.sync.models import RecordType, SyncRun
from ledgerbridge.sync.payments import PaymentSync
from ledgerbridge.sync.policy import Mappings, SyncPolicy
from ledgerbridge_sim import oauth
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.autotask import app as autotask_sim
from ledgerbridge_sim.connectwise import app as connectwise_sim
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.organisations import DEFAULTS
from ledgerbridge_sim.state import Simulator
from tests.sync.e2e import books
from tests.sync.e2e.mappings import auto_mappings

SIM = "http://sim.test"
# ConnectWise's generated books span 2025; the run happens early in the next year.
NOW = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
QBO_US_REALM = DEFAULTS["qbo"][0].id
XERO_US_TENANT = next(org.id for org in DEFAULTS["xero"] if org.country == "US")
CW_CLIENT_ID = "00000000-0000-4000-8000-000000000001"  # the simulator's documented clientId
PSAS = ("connectwise", "autotask")
LEDGERS = ("qbo", "xero")
PAIRS = [(psa, ledger) for ledger in LEDGERS for psa in PSAS]


class VirtualClocks:
    """The simulator's clock and LedgerBridge's, moved together by whatever a client waits."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.slept = timedelta(0)
        clock.set_now(NOW)
        sim.clock.set(NOW)

    def sleep(self, seconds: float) -> None:
        self.advance(timedelta(seconds=seconds))
        self.slept += timedelta(seconds=seconds)

    def advance(self, delta: timedelta) -> None:
        clock.advance(delta)
        self.sim.clock.advance(delta)


class SimTokens:
    """`AccessTokens` from the simulator's OAuth; a refresh asks it for a fresh token."""

    def __init__(self, sim: Simulator, system: str, organisation_id: str) -> None:
        self.sim, self.system, self.organisation_id = sim, system, organisation_id
        self.token = self._issue()

    def _issue(self) -> str:
        issued = oauth.issue_tokens(self.sim, self.system, (self.organisation_id,))
        return str(issued["access_token"])

    def current(self) -> str:
        return self.token

    def refreshed(self, rejected: str) -> str:
        if rejected == self.token:
            self.token = self._issue()
        return self.token


# Enough patience for a few dropped replies in a row, in virtual seconds.
RETRY = RetryPolicy(max_attempts=5, base_delay=0.5)


def connectwise_source(transport: InProcessTransport, clocks: VirtualClocks) -> ConnectWiseSource:
    client = ConnectWiseClient(
        site=f"{SIM}/connectwise",
        company_id="demo",
        public_key="demo-public",
        private_key="demo-private",
        client_id=CW_CLIENT_ID,
        transport=transport,
        sleep=clocks.sleep,
    )
    return ConnectWiseSource(client)


def autotask_source(transport: InProcessTransport, clocks: VirtualClocks) -> AutotaskSource:
    client = AutotaskClient(
        AutotaskCredentials(
            username=autotask_sim.DEFAULT_USERNAME,
            secret=autotask_sim.DEFAULT_SECRET,
            integration_code=autotask_sim.DEFAULT_INTEGRATION_CODE,
        ),
        zone_lookup_url=f"{SIM}/autotask/ATServicesRest/V1.0/zoneInformation",
        transport=transport,
        sleep=clocks.sleep,
        retry=RETRY,
    )
    return AutotaskSource(client)


def qbo_ledger(
    sim: Simulator, transport: InProcessTransport, clocks: VirtualClocks, **options: Any
) -> QboLedger:
    client = QboClient(
        api_url=f"{SIM}/qbo/v3/",
        realm_id=QBO_US_REALM,
        tokens=SimTokens(sim, "qbo", QBO_US_REALM),
        transport=transport,
        sleep=clocks.sleep,
        retry=RETRY,
    )
    # A US company on automated sales tax: the MSP's PSA already worked the tax out, so the
    # PSA's tax is sent as the document's total tax (what an admin turns on for a US realm).
    options.setdefault("override_automated_tax", True)
    return QboLedger(client, **options)


def xero_ledger(sim: Simulator, transport: InProcessTransport, clocks: VirtualClocks) -> XeroLedger:
    client = XeroClient(
        api_url=f"{SIM}/xero/api.xro/2.0/",
        tenant_id=XERO_US_TENANT,
        tokens=SimTokens(sim, "xero", XERO_US_TENANT),
        transport=transport,
        sleep=clocks.sleep,
        retry=RETRY,
    )
    return XeroLedger(client)


def generate_psa(sim: Simulator, psa: str, *, invoices: int, seed: int) -> None:
    if psa == "connectwise":
        connectwise_sim.generate(sim, invoices=invoices, seed=seed)
    else:
        autotask_sim.generate(sim, invoices=invoices, seed=seed)


@dataclass(frozen=True)
class Before:
    postable: set[str]
    marks: dict[str, Any]


@dataclass
class Harness:
    """One company syncing one PSA into one ledger."""

    sim: Simulator
    clocks: VirtualClocks
    company: Company
    psa: str
    ledger_name: str
    source: PsaSource
    ledger: Ledger
    organisation: str  # the Xero tenant or QuickBooks realm written to
    policy: SyncPolicy = field(default_factory=SyncPolicy)
    mappings: Mappings = field(default_factory=Mappings)
    runs: list[SyncRun] = field(default_factory=list)

    def map(self, **policy_options: Any) -> None:
        """Mappings and policy as a finance admin sets them up from both sides' lists."""
        self.policy, self.mappings = auto_mappings(self.source, self.ledger, **policy_options)

    def before(self) -> Before:
        """What the PSA holds before a sync: its postable invoices and existing marks."""
        return Before(books.postable_ids(self.source), books.psa_marks(self.sim, self.psa))

    def problems(self, before: Before) -> list[str]:
        return books.check_books(
            self.sim,
            psa=self.psa,
            ledger=self.ledger_name,
            organisation=self.organisation,
            company_id=self.company.pk,
            postable=before.postable,
            marks_before=before.marks,
        )

    def documents(self) -> list[books.LedgerDoc]:
        return books.ledger_documents(self.sim, self.ledger_name, self.organisation)

    def context(self) -> SyncContext:
        run = SyncRun.objects.create(
            company=self.company,
            trigger=SyncRun.Trigger.MANUAL,
            record_types=[RecordType.INVOICE.value, RecordType.PAYMENT.value],
        )
        self.runs.append(run)
        return SyncContext(
            company_id=self.company.pk,
            run=run,
            source=self.source,
            ledger=self.ledger,
            policy=self.policy,
            mappings=self.mappings,
            ledger_target=f"{self.ledger_name}:{self.company.pk}",
            psa_target=f"{self.psa}:{self.company.pk}",
        )

    def sync_invoices(self) -> dict[str, int]:
        return dict(InvoiceSync(self.context()).run())

    def sync_payments(self) -> dict[str, int]:
        return dict(PaymentSync(self.context()).run())


type HarnessFactory = Callable[..., Harness]


@pytest.fixture
def sim() -> Simulator:
    sim = Simulator()
    # Throttles stay on but scaled out of the way: these tests are about the engine.
    sim.settings.setdefault("qbo", {})["throttling"] = False
    sim.settings.setdefault("connectwise", {})["capacity_per_minute"] = 100_000
    sim.settings.setdefault("autotask", {})["requests_per_hour"] = 1_000_000
    xero = sim.settings.setdefault("xero", {})
    xero.update(minute_limit=100_000, day_limit=1_000_000, app_minute_limit=1_000_000)
    return sim


@pytest.fixture
def clocks(sim: Simulator) -> Iterator[VirtualClocks]:
    yield VirtualClocks(sim)
    clock.set_now(None)


@pytest.fixture
def transport(sim: Simulator) -> Iterator[InProcessTransport]:
    made = InProcessTransport(build_app(sim))
    yield made
    made.close()


@pytest.fixture
def company(account: Account) -> Company:
    return Company.objects.create(account=account, name="Northwind US")


@pytest.fixture
def make_harness(
    sim: Simulator, clocks: VirtualClocks, transport: InProcessTransport, company: Company
) -> HarnessFactory:
    def make(psa: str, ledger: str, **ledger_options: Any) -> Harness:
        source: PsaSource = (
            connectwise_source(transport, clocks)
            if psa == "connectwise"
            else autotask_source(transport, clocks)
        )
        if ledger == "xero":
            return Harness(
                sim, clocks, company, psa, ledger, source,
                xero_ledger(sim, transport, clocks), XERO_US_TENANT,
            )  # fmt: skip
        made = qbo_ledger(sim, transport, clocks, **ledger_options)
        return Harness(sim, clocks, company, psa, ledger, source, made, QBO_US_REALM)

    return make


def seeded(make_harness: HarnessFactory, psa: str, ledger: str, invoices: int = 120) -> Harness:
    """A pair with a generated MSP's books in the PSA (about `invoices` postable) and mapped."""
    harness = make_harness(psa, ledger)
    if psa == "autotask":
        # Most generated Autotask invoices were exported long ago; enough stay postable here.
        generate_psa(harness.sim, psa, invoices=invoices * 3, seed=11)
        books.unexport_recent_autotask_invoices(harness.sim)
    else:
        generate_psa(harness.sim, psa, invoices=invoices, seed=11)
    # ConnectWise catalog ids run to 73 characters, Xero item codes to 30: the admin lets
    # LedgerBridge shorten them (test_long_product_ids… shows the refusal without it).
    harness.map(product_id_policy=ProductIdPolicy.TRUNCATE_HASH)
    return harness
