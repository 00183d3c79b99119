"""The demo MSP in LedgerBridge, made the way an admin makes it: through the actions.

An account with its admin (a fresh password every run, two-factor optional for this account
only), four sets of PSA credentials (one primary), four companies across both PSAs and both
ledgers, each connected through the ledger's OAuth code flow (consent scripted at the simulator,
the code exchanged by `connectors.oauth`), with settings and mappings saved.

A second run starts the demo's companies afresh: the simulators forget everything when they
stop, so yesterday's connections and records would point at documents that no longer exist.
"""

import secrets
from dataclasses import dataclass, field
from datetime import date
from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.test import RequestFactory
from django.urls import reverse

from ledgerbridge.accounts.actions.account import do_create_psa_credential
from ledgerbridge.accounts.models import Account, PsaCredential, PsaKind, TwoFactorPolicy, User
from ledgerbridge.accounts.roles import Role
from ledgerbridge.companies import signin
from ledgerbridge.companies.actions import (
    do_connect_ledger,
    do_create_company,
    do_save_settings,
    do_set_mappings,
)
from ledgerbridge.companies.models import Company, CompanySettings
from ledgerbridge.connectors.ledgers import ledger_for, rate_budget_name
from ledgerbridge.connectors.oauth import LedgerOrganisation, oauth_for
from ledgerbridge.connectors.psa import budget_name, source_for
from ledgerbridge.connectors.qbo.client import batch_budget_name
from ledgerbridge.core.models import OutboundWrite, RateBudget
from ledgerbridge.demo.mappings import plan_mappings
from ledgerbridge.demo.simulators import SimulatorServer
from ledgerbridge_sim.autotask.app import (
    DEFAULT_INTEGRATION_CODE,
    DEFAULT_SECRET,
    DEFAULT_USERNAME,
)
from ledgerbridge_sim.connectwise.auth import DEFAULT_CLIENT_ID, DEFAULT_COMPANY, DEFAULT_PUBLIC_KEY

DEMO_ACCOUNT = "Demo MSP"
DEMO_EMAIL = "demo@ledgerbridge.example"
CONNECTWISE_PRIVATE_KEY = "demo-private"  # the simulator's published demo credential


@dataclass(frozen=True)
class CompanyPlan:
    """One demo company: which PSA database feeds it, which ledger it posts into, and the
    deliberate gaps that must fail with an instructive error."""

    name: str
    locale: str
    timezone: str
    psa: str  # "connectwise" / "autotask"
    psa_server: str  # "main" / "second": which simulator holds its PSA database
    credential_label: str
    ledger: str  # "xero" / "qbo"
    organisation_id: str
    leave_unmapped_account: str = ""
    leave_unmapped_tax_code: str = ""
    leave_rarest_tax_code_unmapped: bool = False
    lock_oldest: int = 0  # a ledger lock date catching this many of the oldest invoices
    currency: str = ""


@dataclass
class DemoCompany:
    plan: CompanyPlan
    company: Company
    credential: PsaCredential
    left_unmapped: list[str] = field(default_factory=list)
    lock_date: date | None = None


def ensure_demo_user() -> tuple[User, str]:
    """The demo account and its admin, with a new password (returned) every run."""
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        # Two-factor is optional only for this local demo account, so a newcomer can look
        # around without an authenticator app; real accounts require it by default.
        account, _ = Account.objects.get_or_create(
            name=DEMO_ACCOUNT, defaults={"two_factor_policy": TwoFactorPolicy.OPTIONAL}
        )
        user = User.objects.filter(email=DEMO_EMAIL).first() or User(
            email=DEMO_EMAIL,
            account=account,
            first_name="Demo",
            last_name="Admin",
            role=Role.ACCOUNT_ADMIN,
        )
        # A fresh password every run: the demo never keeps a guessable fixed one.
        user.set_password(password)
        user.save()
    return user, password


def acting_as(user: User) -> HttpRequest:
    """A request as the demo admin, so every action audits who did it, as from the pages."""
    request = RequestFactory().post("/demo/", REMOTE_ADDR="127.0.0.1")
    request.user = user
    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore()
    return request


def forget_previous_demo(account: Account) -> None:
    """Remove the companies and credentials an earlier demo run made (and their write log and
    rate budgets, which belonged to simulators that are gone)."""
    companies = list(Company.objects.filter(account=account))
    credentials = list(PsaCredential.objects.filter(account=account))
    budgets = [budget_name(c) for c in credentials]
    with transaction.atomic():
        for company in companies:
            for connection in company.ledger_connections.all():
                budgets.append(rate_budget_name(connection.system, connection.organisation_id))
            OutboundWrite.objects.filter(key__startswith=f"{company.pk}:").delete()
            company.delete()
        for credential in credentials:
            OutboundWrite.objects.filter(target=f"psa:{credential.pk}").delete()
            credential.delete()
        RateBudget.objects.filter(name__in=budgets).delete()
        RateBudget.objects.filter(name__in=[batch_budget_name(name) for name in budgets]).delete()


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
        "username": DEFAULT_USERNAME,
        "secret": DEFAULT_SECRET,
        "integration_code": DEFAULT_INTEGRATION_CODE,
        # Autotask finds a tenant's zone through this lookup; a real tenant leaves it out.
        "zone_lookup_url": f"{server.url}/autotask/atservicesrest/v1.0/zoneInformation",
    }


def create_company(
    request: HttpRequest,
    plan: CompanyPlan,
    servers: dict[str, SimulatorServer],
    credentials: dict[str, PsaCredential],
    *,
    redirect_base: str,
    unmapped_tax_code: str = "",
) -> DemoCompany:
    server = servers[plan.psa_server]
    credential = credentials.get(plan.credential_label)
    if credential is None:
        credential = do_create_psa_credential(
            request,
            psa=plan.psa,
            label=plan.credential_label,
            secrets=psa_secrets(plan.psa, server),
        )
        credentials[plan.credential_label] = credential
    company = do_create_company(request, name=plan.name)
    connect_ledger(request, company, plan, servers["main"], redirect_base=redirect_base)
    changes: dict[str, Any] = {
        "locale": plan.locale,
        "timezone": plan.timezone,
        # The primary credentials need no choice; the others are picked per company.
        "psa_credential": None if credential.is_primary else credential,
        # Long ConnectWise product ids exceed Xero's 30-character item codes.
        "product_id_policy": CompanySettings.ProductIdPolicy.TRUNCATE_HASH,
        # A new connection to a ledger that already has these customers adopts them.
        "name_clash": CompanySettings.NameClash.LINK_EXISTING,
    }
    if plan.currency:
        changes["currency"] = plan.currency
    do_save_settings(request, company, changes)
    source = source_for(credential, currency=plan.currency or "USD")
    ledger = ledger_for(company)
    mapping = plan_mappings(
        source,
        ledger,
        leave_unmapped_account=plan.leave_unmapped_account,
        leave_unmapped_tax_code=unmapped_tax_code or plan.leave_unmapped_tax_code,
    )
    do_set_mappings(request, company, mapping.changes)
    do_save_settings(request, company, dict(mapping.settings))
    return DemoCompany(plan, company, credential, mapping.left_unmapped)


def connect_ledger(
    request: HttpRequest,
    company: Company,
    plan: CompanyPlan,
    server: SimulatorServer,
    *,
    redirect_base: str,
) -> None:
    """The OAuth code flow: state issued as the company page does, consent given at the
    simulator (the admin clicking Allow), the code exchanged, the organisation confirmed."""
    system = plan.ledger
    redirect_uri = f"{redirect_base}{reverse(f'companies:oauth-callback-{system}')}"
    state = signin.issue_state(
        request.session, company_id=company.pk, system=system, redirect_uri=redirect_uri
    )
    control = server.control()
    try:
        granted = control.grant(
            system,
            {
                "organisation_ids": [plan.organisation_id],
                "redirect_uri": redirect_uri,
                "state": state,
            },
        )
    finally:
        control.close()
    started = signin.take_state(request.session, str(granted["state"]), system=system)
    client = oauth_for(system)
    tokens = client.exchange_code(str(granted["code"]), redirect_uri=started.redirect_uri)
    if system == "xero":
        listed = client.organisations(tokens.access_token)
        organisation = next(o for o in listed if o.id == plan.organisation_id)
    else:
        organisation = client.identify(tokens.access_token, str(granted["realmId"]))
        organisation = LedgerOrganisation(organisation.id, organisation.name)
    do_connect_ledger(request, company, system=system, tokens=tokens, organisation=organisation)
