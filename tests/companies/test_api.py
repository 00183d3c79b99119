"""The companies API: connection status as scripts see it, a reconnect link when it has ended,
and never a token."""

import httpx
import pytest
from django.test import Client

from ledgerbridge.accounts.actions.tokens import do_create_api_token
from ledgerbridge.accounts.models import User
from ledgerbridge.companies.models import Company, LedgerConnection
from ledgerbridge.companies.tokens import DbAccessTokens
from ledgerbridge.connectors.base import ConnectorError
from ledgerbridge_sim.oauth import revoke_all
from ledgerbridge_sim.state import Simulator
from tests.api.openapi import assert_matches_openapi
from tests.companies.conftest import XERO_AU, advance, make_connection

pytestmark = pytest.mark.django_db


def api(user: User) -> Client:
    """A script's client, sending the user's personal API token."""
    token = do_create_api_token(user, "API test").value
    return Client(headers={"Authorization": f"Bearer {token}"})


def test_a_connected_company_reports_its_organisation_and_no_tokens(
    ledgers: Simulator, company: Company, alice: User
) -> None:
    connection = make_connection(ledgers, company, "xero", XERO_AU)
    client = api(alice)

    listed = client.get("/api/v1/companies")
    one = client.get(f"/api/v1/companies/{company.pk}/connection")

    assert_matches_openapi(listed)
    assert_matches_openapi(one)
    assert listed.json() == [{"id": company.pk, "name": company.name, "connection": one.json()}]
    body = one.json()
    assert body["status"] == "connected" and body["system"] == "xero"
    assert (body["organisation_id"], body["organisation_name"]) == XERO_AU
    assert body["reconnect_url"] is None
    for secret in (connection.access_token, connection.refresh_token):
        assert secret and secret not in listed.content.decode()


def test_a_dead_connection_says_why_and_where_to_reconnect(
    ledgers: Simulator, company: Company, alice: User
) -> None:
    connection = make_connection(ledgers, company, "xero", XERO_AU)
    revoke_all(ledgers, "xero")
    advance(ledgers, 1800)
    with pytest.raises(ConnectorError):
        DbAccessTokens(connection.pk).current()
    client = api(alice)

    answer = client.get(f"/api/v1/companies/{company.pk}/connection")

    assert_matches_openapi(answer)
    body = answer.json()
    assert body["status"] == "disconnected"
    assert body["disconnect_reason"] == (
        "Xero no longer accepts LedgerBridge's sign-in for Demo MSP (AU); reconnect."
    )
    assert body["reconnect_url"] == f"http://testserver/companies/{company.pk}/"


def test_a_company_never_connected_is_not_connected(company: Company, alice: User) -> None:
    client = api(alice)
    answer = client.get(f"/api/v1/companies/{company.pk}/connection")
    assert_matches_openapi(answer)
    assert answer.json()["status"] == "not_connected"


def test_a_user_sees_only_assigned_companies(account: object, bob: User, company: Company) -> None:
    Company.objects.create(account=company.account, name="Unassigned Books")
    bob.companies.add(company)
    client = api(bob)
    assert [c["name"] for c in client.get("/api/v1/companies").json()] == [company.name]
    assert LedgerConnection.objects.count() == 0


def test_check_connection_refreshes_an_expired_token(
    ledgers: Simulator, vendor: httpx.Client, company: Company, admin_client: Client
) -> None:
    connection = make_connection(ledgers, company, "xero", XERO_AU)
    advance(ledgers, 4000)

    answer = admin_client.post(f"/companies/{company.pk}/check/", follow=True)

    assert "Connected to Xero: Demo MSP (AU)." in answer.content.decode()
    renewed = LedgerConnection.objects.get(pk=connection.pk)
    assert renewed.last_refreshed_at is not None and renewed.token_version == 1


def test_check_connection_on_a_revoked_sign_in_shows_the_banner_and_reconnect(
    ledgers: Simulator, vendor: httpx.Client, company: Company, admin_client: Client
) -> None:
    make_connection(ledgers, company, "xero", XERO_AU)
    revoke_all(ledgers, "xero")
    advance(ledgers, 4000)

    answer = admin_client.post(f"/companies/{company.pk}/check/", follow=True)

    page = answer.content.decode().replace("&#x27;", "'")
    assert "Xero no longer accepts LedgerBridge's sign-in for Demo MSP (AU); reconnect." in page
    assert 'data-testid="disconnected-banner"' in page
    assert "Reconnect to Xero" in page


def test_check_connection_ends_a_xero_organisation_that_was_disconnected_there(
    ledgers: Simulator, vendor: httpx.Client, company: Company, admin_client: Client
) -> None:
    make_connection(ledgers, company, "xero", XERO_AU)
    revoke_all(ledgers, "xero", organisation_id=XERO_AU[0])

    admin_client.post(f"/companies/{company.pk}/check/")

    ended = company.ledger_connection()
    assert ended is not None and not ended.is_connected
    assert "no longer lists Demo MSP (AU)" in ended.disconnect_reason
