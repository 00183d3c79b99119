"""The demo from start to summary: simulators, books, companies, Sync All, payments, summary.

`Scenario.run()` leaves the simulators and the background processes running (the command then
serves the UI, or stops them with `close()` for `--once`).
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TextIO

from django.conf import settings

from ledgerbridge.accounts.models import PsaCredential, User
from ledgerbridge.demo import books, runs
from ledgerbridge.demo.background import Background
from ledgerbridge.demo.setup import (
    CompanyPlan,
    DemoCompany,
    acting_as,
    create_company,
    forget_previous_demo,
)
from ledgerbridge.demo.simulators import SimulatorServer, SimulatorStartError
from ledgerbridge.sync.models import RecordType, SyncRun
from ledgerbridge_sim.organisations import DEFAULTS

XERO = {org.country: org.id for org in DEFAULTS["xero"]}
QBO = {org.country: org.id for org in DEFAULTS["qbo"]}
# Per simulator: (ConnectWise invoices, seed), (Autotask invoices, seed). Autotask's tenant
# exported most of its history already; about a fifth is still waiting to be posted.
PSA_BOOKS = {"main": ((110, 1), (170, 2)), "second": ((80, 3), (150, 4))}

COMPANIES = (
    CompanyPlan(
        name="Northwind IT (AU)",
        locale="AU",
        timezone="Australia/Sydney",
        psa="connectwise",
        psa_server="main",
        credential_label="ConnectWise: Northwind Sydney",
        ledger="xero",
        organisation_id=XERO["AU"],
        lock_oldest=3,
    ),
    CompanyPlan(
        name="Northwind IT (US)",
        locale="US",
        timezone="America/Chicago",
        psa="connectwise",
        psa_server="second",
        credential_label="ConnectWise: Northwind Austin",
        ledger="qbo",
        organisation_id=QBO["US"],
        leave_rarest_tax_code_unmapped=True,
    ),
    CompanyPlan(
        name="Harbor Managed Services (NZ)",
        locale="NZ",
        timezone="Pacific/Auckland",
        psa="autotask",
        psa_server="main",
        credential_label="Autotask: Harbor Auckland",
        ledger="xero",
        organisation_id=XERO["NZ"],
        leave_unmapped_account="4200",  # Travel and Mileage
    ),
    CompanyPlan(
        name="Harbor Managed Services (CA)",
        locale="CA",
        timezone="America/Toronto",
        psa="autotask",
        psa_server="second",
        credential_label="Autotask: Harbor Toronto",
        ledger="qbo",
        organisation_id=QBO["CA"],
        lock_oldest=2,
    ),
)

# The ledger addresses and the demo apps' credentials; LEDGERBRIDGE_SIM_URL alone would leave
# any of them an operator set by name pointing elsewhere.
LEDGER_SETTINGS = {
    "XERO_AUTHORIZE_URL": "{base}/xero/identity/connect/authorize",
    "XERO_TOKEN_URL": "{base}/xero/identity/connect/token",
    "XERO_REVOKE_URL": "{base}/xero/identity/connect/revocation",
    "XERO_CONNECTIONS_URL": "{base}/xero/connections",
    "XERO_API_URL": "{base}/xero/api.xro/2.0/",
    "QBO_AUTHORIZE_URL": "{base}/qbo/connect/oauth2",
    "QBO_TOKEN_URL": "{base}/qbo/oauth2/v1/tokens/bearer",
    "QBO_REVOKE_URL": "{base}/qbo/oauth2/v1/tokens/revoke",
    "QBO_API_URL": "{base}/qbo/v3/",
    "XERO_CLIENT_ID": "demo-xero-client-id",
    "XERO_CLIENT_SECRET": "demo-xero-client-secret",
    "QBO_CLIENT_ID": "demo-qbo-client-id",
    "QBO_CLIENT_SECRET": "demo-qbo-client-secret",
}


def point_at_simulators(base: str) -> None:
    """This process's settings and its children's environment, aimed at the simulators."""
    os.environ["LEDGERBRIDGE_SIM_URL"] = base
    settings.LEDGER_SIM_URL = base
    for name, template in LEDGER_SETTINGS.items():
        value = template.format(base=base)
        setattr(settings, name, value)
        os.environ[name] = value


@dataclass
class Scenario:
    user: User
    sim_port: int
    ui_port: int
    say: Callable[[str], None]
    progress: TextIO
    servers: dict[str, SimulatorServer] = field(default_factory=dict)
    background: Background | None = None
    companies: list[DemoCompany] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def run(self) -> dict[str, Any]:
        self.start_simulators()
        self.seed_books()
        before = self.read_waiting()
        self.make_companies(before)
        self.lock_ledgers(before)
        log_path = settings.HOME / "logs" / "demo-background.log"
        self.background = Background(concurrency=len(self.companies), log_path=log_path)
        self.background.start().wait_until_ready()
        self.say(f"Background worker and scheduler are running (their log: {log_path}).")
        first = runs.sync_all(
            self.companies,
            self.user,
            record_types=[RecordType.INVOICE, RecordType.PAYMENT],
            trigger=SyncRun.Trigger.SYNC_ALL,
            out=self.progress,
            label="Sync all",
            still_running=self.background.alive,
        )
        paid_before, made = self.pay_invoices()
        second = runs.sync_all(
            self.companies,
            self.user,
            record_types=[RecordType.PAYMENT],
            trigger=SyncRun.Trigger.MANUAL,
            out=self.progress,
            label="Payment sync",
            still_running=self.background.alive,
        )
        return self.summary(before, first, second, paid_before, made)

    def close(self) -> None:
        if self.background is not None:
            self.background.stop()
        for server in self.servers.values():
            server.stop()

    # -- steps -------------------------------------------------------------------------------

    def start_simulators(self) -> None:
        try:
            main = SimulatorServer("main").start(self.sim_port)
        except SimulatorStartError as taken:
            if not self.sim_port:
                raise
            # Something else listens there (perhaps `ledgerbridge sim`): any free port will do.
            self.say(f"{taken} Using a free port instead.")
            main = SimulatorServer("main").start(0)
        self.servers["main"] = main
        self.servers["second"] = SimulatorServer("second").start(0)
        point_at_simulators(main.url)
        self.say(
            f"Simulators on {main.url} (Xero, QuickBooks Online, ConnectWise, Autotask) and "
            f"{self.servers['second'].url} (a second ConnectWise and Autotask database)."
        )

    def seed_books(self) -> None:
        for name, ((cw_invoices, cw_seed), (at_invoices, at_seed)) in PSA_BOOKS.items():
            server = self.servers[name]
            books.seed_connectwise(
                server, invoices=cw_invoices, seed=cw_seed, zero_invoice=name == "main"
            )
            books.seed_autotask(server, invoices=at_invoices, seed=at_seed)
        self.say("Seeded the PSA databases with a generated MSP's billing.")

    def read_waiting(self) -> dict[str, list[books.PsaInvoice]]:
        """What each company's PSA lists as waiting to be posted, before anything ran."""
        waiting: dict[str, list[books.PsaInvoice]] = {}
        for plan in COMPANIES:
            control = self.servers[plan.psa_server].control()
            try:
                waiting[plan.name] = books.postable_invoices(control, plan.psa, runs.today())
            finally:
                control.close()
        return waiting

    def make_companies(self, waiting: dict[str, list[books.PsaInvoice]]) -> None:
        account = self.user.account
        assert account is not None
        forget_previous_demo(account)
        request = acting_as(self.user)
        credentials: dict[str, PsaCredential] = {}
        for plan in COMPANIES:
            unmapped_tax_code = ""
            if plan.leave_rarest_tax_code_unmapped:
                control = self.servers[plan.psa_server].control()
                try:
                    unmapped_tax_code = books.rarest_tax_code(control, waiting[plan.name])
                finally:
                    control.close()
            made = create_company(
                request,
                plan,
                self.servers,
                credentials,
                redirect_base=f"http://127.0.0.1:{self.ui_port}",
                unmapped_tax_code=unmapped_tax_code,
            )
            self.companies.append(made)
            connection = made.company.ledger_connection()
            self.say(
                f"Company {plan.name}: {plan.psa} → {connection}, settings and mappings saved."
            )

    def lock_ledgers(self, waiting: dict[str, list[books.PsaInvoice]]) -> None:
        """Lock dates in the ledgers that catch a company's oldest few waiting invoices."""
        main = self.servers["main"].control()
        try:
            for demo in self.companies:
                if not demo.plan.lock_oldest:
                    continue
                day = books.lock_date_before(waiting[demo.plan.name], demo.plan.lock_oldest)
                if day is None:
                    continue
                demo.lock_date = day
                if demo.plan.ledger == "xero":
                    books.lock_xero(main, demo.plan.organisation_id, day)
                else:
                    books.close_qbo_books(main, demo.plan.organisation_id, day)
        finally:
            main.close()

    def pay_invoices(
        self,
    ) -> tuple[dict[int, dict[str, Decimal]], dict[int, list[runs.LedgerPaymentMade]]]:
        paid_before: dict[int, dict[str, Decimal]] = {}
        made: dict[int, list[runs.LedgerPaymentMade]] = {}
        for demo in self.companies:
            control = self.servers[demo.plan.psa_server].control()
            try:
                if demo.plan.psa == "connectwise":
                    paid_before[demo.company.pk] = books.connectwise_payments(control)
                made[demo.company.pk] = runs.pay_some_invoices(demo, self.servers["main"], control)
            finally:
                control.close()
        count = sum(len(payments) for payments in made.values())
        self.say(f"Paid {count} invoices in the ledgers (some in part).")
        return paid_before, made

    def summary(
        self,
        before: dict[str, list[books.PsaInvoice]],
        first: list[SyncRun],
        second: list[SyncRun],
        paid_before: dict[int, dict[str, Decimal]],
        made: dict[int, list[runs.LedgerPaymentMade]],
    ) -> dict[str, Any]:
        main = self.servers["main"].control()
        summaries = []
        try:
            for demo, sync_run, payment_run in zip(self.companies, first, second, strict=True):
                control = self.servers[demo.plan.psa_server].control()
                try:
                    summaries.append(
                        runs.summarise(
                            demo,
                            postable_before=before[demo.plan.name],
                            runs=[sync_run, payment_run],
                            payments_made=made[demo.company.pk],
                            psa_paid_before=paid_before.get(demo.company.pk, {}),
                            psa_control=control,
                            ledger_control=main,
                        )
                    )
                finally:
                    control.close()
            api_calls: dict[str, int] = {}
            for server in self.servers.values():
                control = server.control()
                try:
                    for system, count in control.request_counts().items():
                        api_calls[system] = api_calls.get(system, 0) + count
                finally:
                    control.close()
        finally:
            main.close()
        return {
            "companies": summaries,
            "api_calls": api_calls,
            "seconds": round(time.monotonic() - self.started, 1),
        }
