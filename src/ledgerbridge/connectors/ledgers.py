"""`ledger_for(company)`: the `Ledger` a company posts into, built from its stored connection.

The client modules are imported inside the function so that importing this module never pulls
in every ledger connector (and so it worked before they existed).
"""

from typing import TYPE_CHECKING

import httpx

from ledgerbridge.connectors.base import ConnectorError, ErrorKind, Ledger
from ledgerbridge.connectors.http import LogHook
from ledgerbridge.connectors.oauth import oauth_app, transport_override

if TYPE_CHECKING:
    from ledgerbridge.companies.models import Company


def rate_budget_name(system: str, organisation_id: str) -> str:
    """One budget per organisation: both vendors count calls per tenant/realm and app."""
    return f"{system}:{organisation_id}"


def ledger_for(
    company: "Company",
    *,
    log_hook: LogHook | None = None,
    detailed_logging: bool = False,
    transport: httpx.BaseTransport | None = None,
) -> Ledger:
    """The company's ledger, or `ConnectorError(kind="auth")` saying how to (re)connect it."""
    from ledgerbridge.companies.tokens import DbAccessTokens, not_connected_error

    connection = company.ledger_connection()
    if connection is None:
        raise ConnectorError(
            ErrorKind.AUTH,
            f"“{company.name}” is not connected to a ledger.",
            hint="Open the company in LedgerBridge and connect it to Xero or QuickBooks Online.",
        )
    if not connection.is_connected:
        raise not_connected_error(connection)
    tokens = DbAccessTokens(connection.pk)
    app = oauth_app(connection.system)
    budget = rate_budget_name(connection.system, connection.organisation_id)
    transport = transport if transport is not None else transport_override()
    if connection.system == "xero":
        from ledgerbridge.connectors.xero import client as xero
        from ledgerbridge.connectors.xero.adapter import XeroLedger

        xero.configure_rate_budget(budget)
        return XeroLedger(
            xero.XeroClient(
                api_url=app.api_url,
                tenant_id=connection.organisation_id,
                tokens=tokens,
                budget=budget,
                log_hook=log_hook,
                detailed_logging=detailed_logging,
                transport=transport,
            )
        )
    from ledgerbridge.companies.models import CompanySettings
    from ledgerbridge.connectors.qbo import client as qbo
    from ledgerbridge.connectors.qbo.adapter import QboLedger

    settings = CompanySettings.objects.filter(company=company).first()
    override_tax = settings is None or (
        settings.automated_sales_tax == CompanySettings.AutomatedSalesTax.OVERRIDE
    )

    qbo.configure_rate_budget(budget)
    return QboLedger(
        qbo.QboClient(
            api_url=app.api_url,
            realm_id=connection.organisation_id,
            tokens=tokens,
            budget=budget,
            log_hook=log_hook,
            detailed_logging=detailed_logging,
            transport=transport,
        ),
        override_automated_tax=override_tax,
    )
