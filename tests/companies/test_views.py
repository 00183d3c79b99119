"""Connecting a company to its ledger through the pages, as an account admin does it."""

import html
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.db import connection as db
from django.test import Client

from ledgerbridge.accounts.models import User
from ledgerbridge.companies.models import Company, LedgerConnection
from ledgerbridge.core.models import AuditEvent
from ledgerbridge_sim.state import Simulator
from tests.companies.conftest import (
    CALLBACKS,
    QBO_US,
    XERO_AU,
    XERO_NZ,
    advance,
    connect,
    connection_of,
    consent,
    local,
)

pytestmark = pytest.mark.django_db


def page_text(client: Client, company: Company) -> str:
    return client.get(f"/companies/{company.pk}/").content.decode()


def test_admin_connects_a_company_to_xero_and_sees_the_organisation(
    ledgers: Simulator, vendor: httpx.Client, admin_client: Client, company: Company, alice: User
) -> None:
    answer = connect(admin_client, vendor, company, "xero", [XERO_AU[0]])

    assert answer.status_code == 302 and answer["Location"] == f"/companies/{company.pk}/"
    stored = connection_of(company)
    assert (stored.system, stored.organisation_id, stored.organisation_name) == (
        "xero",
        *XERO_AU,
    )
    assert stored.is_connected and stored.connected_by == alice
    assert "offline_access" in stored.scope_list
    page = page_text(admin_client, company)
    assert "Demo MSP (AU)" in page and "Connected" in page and "Check connection" in page
    event = AuditEvent.objects.get(action="ledger.connected")
    assert event.actor == alice and event.details["organisation_id"] == XERO_AU[0]


def test_tokens_are_stored_encrypted(
    ledgers: Simulator, vendor: httpx.Client, admin_client: Client, company: Company
) -> None:
    connect(admin_client, vendor, company, "xero", [XERO_AU[0]])
    stored = connection_of(company)
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM companies_ledgerconnection WHERE id = %s",
            [stored.pk],
        )
        raw_access, raw_refresh = cursor.fetchone()
    assert stored.access_token and stored.refresh_token
    assert stored.access_token not in raw_access and stored.refresh_token not in raw_refresh


def test_the_authorize_request_carries_a_state_and_no_secret(
    ledgers: Simulator, admin_client: Client, company: Company
) -> None:
    started = admin_client.post(f"/companies/{company.pk}/connect/xero/")
    query = parse_qs(urlsplit(started["Location"]).query)
    assert started["Location"].startswith("http://sim.test/xero/identity/connect/authorize?")
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["demo-xero-client-id"]
    assert query["redirect_uri"] == [CALLBACKS["xero"]]
    assert "offline_access" in query["scope"][0].split()
    assert query["state"][0]
    assert "demo-xero-client-secret" not in started["Location"]


def test_a_grant_covering_several_xero_organisations_lets_the_admin_pick_one(
    ledgers: Simulator, vendor: httpx.Client, admin_client: Client, company: Company
) -> None:
    answer = connect(admin_client, vendor, company, "xero", [XERO_AU[0], XERO_NZ[0]])

    assert answer["Location"] == "/companies/oauth/xero/choose/"
    assert company.ledger_connection() is None
    choice = admin_client.get("/companies/oauth/xero/choose/").content.decode()
    assert "Demo MSP (AU)" in choice and "Demo MSP (NZ)" in choice
    nothing = admin_client.post("/companies/oauth/xero/choose/", {})
    assert nothing.status_code == 400
    assert "Choose the organisation" in nothing.content.decode()

    chosen = admin_client.post("/companies/oauth/xero/choose/", {"organisation": XERO_NZ[0]})

    assert chosen["Location"] == f"/companies/{company.pk}/"
    assert connection_of(company).organisation_name == "Demo MSP (NZ)"
    # The waiting grant is used up.
    assert admin_client.get("/companies/oauth/xero/choose/").status_code == 400


def test_cancelling_at_the_vendor_says_so_and_connects_nothing(
    ledgers: Simulator, vendor: httpx.Client, admin_client: Client, company: Company
) -> None:
    started = admin_client.post(f"/companies/{company.pk}/connect/xero/")
    back = consent(vendor, started["Location"], organisations=[], decision="cancel")
    assert "error=access_denied" in back

    answer = admin_client.get(local(back), follow=True)

    assert "You cancelled at Xero, so nothing was connected." in answer.content.decode()
    assert company.ledger_connection() is None


def test_a_replayed_callback_is_refused_in_plain_words(
    ledgers: Simulator, vendor: httpx.Client, admin_client: Client, company: Company
) -> None:
    started = admin_client.post(f"/companies/{company.pk}/connect/xero/")
    back = local(consent(vendor, started["Location"], organisations=[XERO_AU[0]]))
    admin_client.get(back)

    again = admin_client.get(back)

    assert again.status_code == 400
    assert "already used" in again.content.decode()
    assert LedgerConnection.objects.count() == 1


def test_a_callback_from_another_browser_session_is_refused(
    ledgers: Simulator, vendor: httpx.Client, admin_client: Client, company: Company, alice: User
) -> None:
    started = admin_client.post(f"/companies/{company.pk}/connect/xero/")
    back = local(consent(vendor, started["Location"], organisations=[XERO_AU[0]]))
    # Someone lures the admin (signed in elsewhere) to a callback they started themselves.
    other_session = Client()
    other_session.force_login(alice)

    answer = other_session.get(back)

    assert answer.status_code == 400
    assert "another browser session" in answer.content.decode()
    assert company.ledger_connection() is None


def test_a_forged_state_is_refused(ledgers: Simulator, admin_client: Client) -> None:
    answer = admin_client.get("/companies/oauth/xero/callback/?code=abc&state=forged")
    assert answer.status_code == 400
    assert "did not start here" in answer.content.decode()


def test_a_sign_in_older_than_ten_minutes_has_expired(
    ledgers: Simulator, vendor: httpx.Client, admin_client: Client, company: Company
) -> None:
    started = admin_client.post(f"/companies/{company.pk}/connect/xero/")
    back = local(consent(vendor, started["Location"], organisations=[XERO_AU[0]]))
    advance(ledgers, 11 * 60)

    answer = admin_client.get(back)

    assert answer.status_code == 400
    assert "expired" in answer.content.decode()


def test_a_connected_company_cannot_be_connected_twice(
    ledgers: Simulator, vendor: httpx.Client, admin_client: Client, company: Company
) -> None:
    connect(admin_client, vendor, company, "xero", [XERO_AU[0]])
    again = admin_client.post(f"/companies/{company.pk}/connect/qbo/", follow=True)
    assert "already connected" in again.content.decode()
    assert LedgerConnection.objects.count() == 1


def test_disconnect_withdraws_access_at_the_vendor(
    ledgers: Simulator,
    vendor: httpx.Client,
    admin_client: Client,
    company: Company,
    alice: User,
) -> None:
    connect(admin_client, vendor, company, "xero", [XERO_AU[0]])
    access_token = connection_of(company).access_token
    confirm = admin_client.get(f"/companies/{company.pk}/disconnect/").content.decode()
    assert "Demo MSP (AU)" in confirm

    done = admin_client.post(f"/companies/{company.pk}/disconnect/", follow=True)

    assert "LedgerBridge's access there is withdrawn" in html.unescape(done.content.decode())
    ended = connection_of(company)
    assert not ended.is_connected and ended.access_token is None and ended.refresh_token is None
    assert alice.email in ended.disconnect_reason
    # The vendor no longer honours the token it issued.
    listed = vendor.get("/xero/connections", headers={"Authorization": f"Bearer {access_token}"})
    assert listed.status_code == 401
    assert AuditEvent.objects.filter(action="ledger.disconnected", actor=alice).exists()


def test_a_user_sees_the_status_but_not_the_admin_buttons(
    ledgers: Simulator,
    vendor: httpx.Client,
    admin_client: Client,
    company: Company,
    bob: User,
) -> None:
    connect(admin_client, vendor, company, "xero", [XERO_AU[0]])
    bob.companies.add(company)
    client = Client()
    client.force_login(bob)

    page = page_text(client, company)

    assert "Demo MSP (AU)" in page and "Check connection" in page
    assert "Disconnect" not in page and "Connect to Xero" not in page


def test_companies_list_and_create(admin_client: Client, company: Company) -> None:
    listed = admin_client.get("/companies/").content.decode()
    assert "Northwind Traders" in listed and "Not connected" in listed

    refused = admin_client.post("/companies/new/", {"name": "   "})
    created = admin_client.post("/companies/new/", {"name": "Fabrikam Books"})

    assert refused.status_code == 400
    fabrikam = Company.objects.get(name="Fabrikam Books")
    assert created["Location"] == f"/companies/{fabrikam.pk}/"
    assert AuditEvent.objects.filter(action="company.created", target_id=str(fabrikam.pk)).exists()
    assert "Connect to QuickBooks" in page_text(admin_client, fabrikam)


def test_qbo_connection_takes_the_company_from_the_redirect(
    ledgers: Simulator, vendor: httpx.Client, admin_client: Client, company: Company
) -> None:
    answer = connect(admin_client, vendor, company, "qbo", [QBO_US[0]])

    assert answer["Location"] == f"/companies/{company.pk}/"
    stored = connection_of(company)
    assert (stored.system, stored.organisation_id) == ("qbo", QBO_US[0])
    assert stored.organisation_name == QBO_US[1]
    assert stored.refresh_expires_at is not None


def test_reconnecting_after_a_dead_sign_in_replaces_the_banner_with_a_live_connection(
    ledgers: Simulator, vendor: httpx.Client, admin_client: Client, company: Company
) -> None:
    from ledgerbridge_sim.oauth import revoke_all

    connect(admin_client, vendor, company, "xero", [XERO_AU[0]])
    revoke_all(ledgers, "xero")
    advance(ledgers, 4000)
    admin_client.post(f"/companies/{company.pk}/check/")
    assert 'data-testid="disconnected-banner"' in page_text(admin_client, company)

    connect(admin_client, vendor, company, "xero", [XERO_AU[0]])

    page = page_text(admin_client, company)
    assert 'data-testid="disconnected-banner"' not in page and "Check connection" in page
    rows = LedgerConnection.objects.filter(company=company).order_by("pk")
    assert [row.is_connected for row in rows] == [False, True]
    assert "no longer accepts" in rows[0].disconnect_reason
