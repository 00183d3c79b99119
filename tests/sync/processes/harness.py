"""Real processes syncing against the simulators on a real port.

The simulators run here, in uvicorn on a free 127.0.0.1 port in a thread of the test process,
so the test reads their state directly while `ledgerbridge worker` children post to them over
HTTP. Companies are set up the way an admin sets them up (PSA credentials, a ledger connection
with OAuth tokens, settings and mapping rows), in the test database the children share, so
each run builds its context from the database exactly as in production.
"""

import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import uvicorn

from ledgerbridge.accounts.models import Account, PsaCredential, PsaKind
from ledgerbridge.companies.models import (
    Company,
    CompanySettings,
    LedgerConnection,
    Mapping,
    MappingKind,
)
from ledgerbridge.connectors.base import ProductIdPolicy
from ledgerbridge.connectors.ledgers import ledger_for
from ledgerbridge.connectors.psa import source_for
from ledgerbridge.core import clock
from ledgerbridge.sync.models import SyncRecord
from ledgerbridge_sim import oauth
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.autotask import app as autotask_sim
from ledgerbridge_sim.connectwise import app as connectwise_sim
from ledgerbridge_sim.connectwise.auth import DEFAULT_CLIENT_ID, DEFAULT_COMPANY, DEFAULT_PUBLIC_KEY
from ledgerbridge_sim.organisations import DEFAULTS
from ledgerbridge_sim.state import Simulator
from tests.sync.e2e import books
from tests.sync.e2e.mappings import auto_mappings

QBO_REALMS = {org.country: org.id for org in DEFAULTS["qbo"]}
XERO_TENANTS = {org.country: org.id for org in DEFAULTS["xero"]}
CONNECTWISE_PRIVATE_KEY = "demo-private"  # the simulator's published demo credential


def relaxed_simulator() -> Simulator:
    """Vendor throttles scaled out of the way: LedgerBridge's own rate budgets still pace it."""
    sim = Simulator()
    sim.settings.setdefault("qbo", {})["throttling"] = False
    sim.settings.setdefault("connectwise", {})["capacity_per_minute"] = 1_000_000
    sim.settings.setdefault("autotask", {})["requests_per_hour"] = 10_000_000
    sim.settings.setdefault("xero", {}).update(
        minute_limit=1_000_000, day_limit=10_000_000, app_minute_limit=10_000_000
    )
    return sim


class SimulatorServer:
    """One `Simulator` behind uvicorn on 127.0.0.1, until `stop()`."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Without it every answer waits ~40 ms for a delayed ACK (Nagle), 60 times too slow;
        # accepted connections inherit the option from the listening socket.
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind(("127.0.0.1", 0))
        self._listener = listener
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        self._server = uvicorn.Server(
            uvicorn.Config(build_app(sim), lifespan="off", log_level="warning", access_log=False)
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [listener]}, daemon=True
        )
        self._thread.start()
        # A real server starting in a thread: waiting on the wall clock is the point here.
        deadline = time.monotonic() + 15
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "no simulator"
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._listener.close()


def point_settings_at(settings: Any, base: str) -> None:
    """Ledger addresses under `base`, as LEDGERBRIDGE_SIM_URL sets them in the children."""
    settings.LEDGER_SIM_URL = base
    settings.XERO_TOKEN_URL = f"{base}/xero/identity/connect/token"
    settings.XERO_API_URL = f"{base}/xero/api.xro/2.0/"
    settings.QBO_TOKEN_URL = f"{base}/qbo/oauth2/v1/tokens/bearer"
    settings.QBO_API_URL = f"{base}/qbo/v3/"


@dataclass(frozen=True)
class CompanyPlan:
    name: str
    psa: str  # "connectwise" / "autotask"
    ledger: str  # "qbo" / "xero"
    organisation: str  # QuickBooks realm or Xero tenant
    invoices: int
    seed: int


@dataclass
class SeededCompany:
    plan: CompanyPlan
    company: Company
    server: SimulatorServer  # holds this company's PSA database
    ledger_server: SimulatorServer
    postable: set[str]
    marks_before: dict[str, Any]

    def problems(self) -> list[str]:
        """What a finance admin would flag, read from the simulators (empty: books agree)."""
        return (
            books.check_books(
                SimulatorsOf(psa=self.server.sim, ledger=self.ledger_server.sim),  # type: ignore[arg-type]
                psa=self.plan.psa,
                ledger=self.plan.ledger,
                organisation=self.plan.organisation,
                company_id=self.company.pk,
                postable=self.postable,
                marks_before=self.marks_before,
            )
            + self.customer_problems()
        )

    def customer_problems(self) -> list[str]:
        """A customer created twice (say, by a worker killed before it noted the first)."""
        names = ledger_customer_names(self)
        twice = sorted({name for name in names if names.count(name) > 1})
        return [f"customers in the ledger twice: {twice[:5]}"] if twice else []

    def settled(self) -> bool:
        """Every postable record acknowledged or failed (what the run must end with)."""
        return SyncRecord.objects.filter(
            company=self.company, psa_id__in=self.postable, state__in=books.FINAL_STATES
        ).count() == len(self.postable)


class SimulatorsOf:
    """The PSA's simulator and the ledger's as one, for checks that read both sides' state."""

    def __init__(self, *, psa: Simulator, ledger: Simulator) -> None:
        self.psa, self.ledger = psa, ledger

    def system(self, name: str) -> Any:
        return (self.ledger if name in ("qbo", "xero") else self.psa).system(name)


def ledger_customer_names(seeded: SeededCompany) -> list[str]:
    sim, organisation = seeded.ledger_server.sim, seeded.plan.organisation
    with sim.lock:
        if seeded.plan.ledger == "qbo":
            rows = sim.system("qbo").collection("Customer").values()
            return [
                str(r.get("DisplayName")) for r in rows if str(r.get("realmId")) == organisation
            ]
        rows = sim.system("xero").collection("Contacts").values()
        return [str(r.get("Name")) for r in rows if r.get("_TenantID") == organisation]


def psa_secrets(psa: str, server: SimulatorServer) -> dict[str, str]:
    if psa == PsaKind.CONNECTWISE:
        return {
            "site": f"{server.url}/connectwise",
            "company_id": DEFAULT_COMPANY,
            "public_key": DEFAULT_PUBLIC_KEY,
            "private_key": CONNECTWISE_PRIVATE_KEY,
            "client_id": DEFAULT_CLIENT_ID,
        }
    return {
        "username": autotask_sim.DEFAULT_USERNAME,
        "secret": autotask_sim.DEFAULT_SECRET,
        "integration_code": autotask_sim.DEFAULT_INTEGRATION_CODE,
        "zone_lookup_url": f"{server.url}/autotask/ATServicesRest/V1.0/zoneInformation",
    }


def generate_books(sim: Simulator, plan: CompanyPlan) -> None:
    if plan.psa == "connectwise":
        connectwise_sim.generate(sim, invoices=plan.invoices, seed=plan.seed)
        return
    # Most generated Autotask invoices were exported long ago; recent ones wait to be posted.
    autotask_sim.generate(sim, invoices=plan.invoices * 3, seed=plan.seed)
    books.unexport_recent_autotask_invoices(sim)


def seed_company(
    account: Account,
    plan: CompanyPlan,
    *,
    psa_server: SimulatorServer,
    ledger_server: SimulatorServer,
    **settings_changes: Any,
) -> SeededCompany:
    """The PSA's books generated, and a company connected and mapped as an admin would."""
    generate_books(psa_server.sim, plan)
    credential = PsaCredential.objects.create(
        account=account,
        psa=plan.psa,
        label=f"{plan.name} ({plan.psa})",
        secrets=psa_secrets(plan.psa, psa_server),
    )
    company = Company.objects.create(account=account, name=plan.name)
    issued = oauth.issue_tokens(ledger_server.sim, plan.ledger, (plan.organisation,))
    now = clock.now()
    LedgerConnection.objects.create(
        company=company,
        system=plan.ledger,
        organisation_id=plan.organisation,
        organisation_name=plan.name,
        access_token=issued["access_token"],
        refresh_token=issued["refresh_token"],
        access_expires_at=now + timedelta(seconds=int(issued["expires_in"])),
        scopes=str(issued.get("scope", "")),
    )
    source = source_for(credential)
    ledger = ledger_for(company)
    policy, mappings = auto_mappings(
        source, ledger, product_id_policy=ProductIdPolicy.TRUNCATE_HASH
    )
    CompanySettings.objects.create(
        company=company,
        locale="US",
        psa_credential=credential,
        exempt_tax_code=policy.exempt_tax_code,
        adjustment_account_code=policy.adjustment_account_code,
        adjustment_tax_code=policy.adjustment_tax_code,
        default_account_code=mappings.default_account,
        product_id_policy=CompanySettings.ProductIdPolicy.TRUNCATE_HASH,
        name_clash=CompanySettings.NameClash.LINK_EXISTING,
        **settings_changes,
    )
    rows = [
        Mapping(company=company, kind=MappingKind.ACCOUNT, psa_value=psa, ledger_value=code)
        for psa, code in mappings.accounts.items()
    ] + [
        Mapping(company=company, kind=MappingKind.TAX_CODE, psa_value=psa, ledger_value=code)
        for psa, code in mappings.tax_codes.items()
    ]
    Mapping.objects.bulk_create(rows)
    return SeededCompany(
        plan,
        company,
        psa_server,
        ledger_server,
        postable=books.postable_ids(source),
        marks_before=books.psa_marks(psa_server.sim, plan.psa),
    )
