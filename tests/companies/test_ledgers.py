"""ledger_for(company): the right ledger for the stored connection, with live tokens."""

import pytest

from ledgerbridge.accounts.models import Account
from ledgerbridge.companies.models import Company, CompanySettings, LedgerConnection
from ledgerbridge.connectors.base import ConnectorError, ErrorKind, Ledger
from ledgerbridge.connectors.ledgers import ledger_for
from ledgerbridge.connectors.qbo.adapter import QboLedger
from ledgerbridge.connectors.xero.adapter import XeroLedger
from ledgerbridge_sim.oauth import revoke_all
from ledgerbridge_sim.state import Simulator
from tests.companies.conftest import QBO_US, XERO_AU, advance, make_connection, token_calls

pytestmark = pytest.mark.django_db


def test_a_company_without_a_connection_is_told_to_connect(company: Company) -> None:
    with pytest.raises(ConnectorError) as raised:
        ledger_for(company)
    assert raised.value.kind == ErrorKind.AUTH
    assert "not connected to a ledger" in raised.value.message


def test_each_system_gets_its_own_ledger(ledgers: Simulator, company: Company) -> None:
    xero = make_connection(ledgers, company, "xero", XERO_AU)
    assert isinstance(ledger_for(company), XeroLedger)
    xero.status = "disconnected"
    xero.save()
    make_connection(ledgers, company, "qbo", QBO_US)
    built = ledger_for(company)
    assert isinstance(built, QboLedger) and isinstance(built, Ledger)


def test_the_ledger_refreshes_an_expired_token_on_its_own(
    ledgers: Simulator, company: Company
) -> None:
    make_connection(ledgers, company, "xero", XERO_AU)
    advance(ledgers, 4000)
    calls = token_calls(ledgers)

    ledger_for(company).lock_dates()

    assert token_calls(ledgers) == calls + 1


def test_a_dead_connection_says_why(ledgers: Simulator, company: Company) -> None:
    make_connection(ledgers, company, "xero", XERO_AU)
    revoke_all(ledgers, "xero")
    advance(ledgers, 4000)
    with pytest.raises(ConnectorError):
        ledger_for(company).lock_dates()

    with pytest.raises(ConnectorError, match="no longer accepts"):
        ledger_for(company)


def test_quickbooks_keeps_the_psa_tax_unless_the_company_lets_quickbooks_calculate(
    account: Account,
) -> None:
    company = Company.objects.create(account=account, name="Northwind US")
    LedgerConnection.objects.create(
        company=company,
        system="qbo",
        organisation_id="9341452100000001",
        organisation_name="Demo MSP (US)",
        access_token="a",
        refresh_token="r",
    )
    ledger = ledger_for(company)
    assert isinstance(ledger, QboLedger) and ledger.override_automated_tax is True
    CompanySettings.objects.create(company=company, locale="US", automated_sales_tax="halt")
    ledger = ledger_for(company)
    assert isinstance(ledger, QboLedger) and ledger.override_automated_tax is False
