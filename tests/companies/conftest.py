"""Ledger sign-in tests: the OAuth and ledger simulators in-process, both clocks frozen together.

LedgerBridge's settings point at `http://sim.test` (never a real vendor host) and every ledger
call goes through `InProcessTransport`. The redirect URIs the Django test client produces are
registered with the simulated apps, as an operator registers them with Xero and Intuit.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from django.test import Client

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.companies.models import Company, LedgerConnection
from ledgerbridge.connectors import oauth
from ledgerbridge.core import clock
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.state import Simulator

SIM = "http://sim.test"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CALLBACKS = {
    "xero": "http://testserver/companies/oauth/xero/callback/",
    "qbo": "http://testserver/companies/oauth/qbo/callback/",
}
# The simulator's default organisations (ledgerbridge_sim/organisations.py).
XERO_AU = ("8f3c1e52-6f0b-4c1e-9a57-1d2e3f4a5b01", "Demo MSP (AU)")
XERO_NZ = ("8f3c1e52-6f0b-4c1e-9a57-1d2e3f4a5b02", "Demo MSP (NZ)")
QBO_US = ("9341452100000001", "Demo MSP (US)")


def point_settings_at(settings: Any, base: str) -> None:
    """Every ledger address under `base`, as LEDGERBRIDGE_SIM_URL would set them."""
    settings.XERO_AUTHORIZE_URL = f"{base}/xero/identity/connect/authorize"
    settings.XERO_TOKEN_URL = f"{base}/xero/identity/connect/token"
    settings.XERO_REVOKE_URL = f"{base}/xero/identity/connect/revocation"
    settings.XERO_CONNECTIONS_URL = f"{base}/xero/connections"
    settings.XERO_API_URL = f"{base}/xero/api.xro/2.0/"
    settings.QBO_AUTHORIZE_URL = f"{base}/qbo/connect/oauth2"
    settings.QBO_TOKEN_URL = f"{base}/qbo/oauth2/v1/tokens/bearer"
    settings.QBO_REVOKE_URL = f"{base}/qbo/oauth2/v1/tokens/revoke"
    settings.QBO_API_URL = f"{base}/qbo/v3/"


@pytest.fixture
def sim() -> Simulator:
    simulator = Simulator()
    simulator.clock.set(START)
    clock.set_now(START)
    for system, callback in CALLBACKS.items():
        simulator.settings[system]["redirect_uris"] = [callback]
    return simulator


@pytest.fixture
def transport(sim: Simulator) -> Iterator[InProcessTransport]:
    handle = InProcessTransport(build_app(sim))
    yield handle
    handle.close()


@pytest.fixture
def ledgers(sim: Simulator, transport: InProcessTransport, settings: Any) -> Iterator[Simulator]:
    """The simulator, with LedgerBridge's ledger calls routed to it."""
    point_settings_at(settings, SIM)
    with oauth.route_through(transport):
        yield sim


@pytest.fixture
def vendor(transport: InProcessTransport) -> Iterator[httpx.Client]:
    """The browser's side of the vendor: its consent pages and the control API."""
    with httpx.Client(transport=transport, base_url=SIM) as client:
        yield client


def advance(sim: Simulator, seconds: float) -> None:
    """Move both clocks together, as real time would."""
    sim.clock.advance(timedelta(seconds=seconds))
    clock.advance(timedelta(seconds=seconds))


@pytest.fixture
def admin_client(alice: User, settings: Any) -> Client:
    # The tests move the clock by hours; the admin stays signed in meanwhile.
    settings.SESSION_IDLE_TIMEOUT = settings.SESSION_ABSOLUTE_TIMEOUT = 7 * 24 * 3600
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def company(account: Account) -> Company:
    return Company.objects.create(account=account, name="Northwind Traders")


def consent(
    vendor: httpx.Client,
    authorize_url: str,
    *,
    organisations: list[str],
    decision: str = "allow",
) -> str:
    """Answer the simulated consent page as a person would; the URL it sends the browser to."""
    asked = urlsplit(authorize_url)
    page = vendor.get(f"{asked.path}?{asked.query}")
    assert page.status_code == 200, page.text
    fields: list[tuple[str, str]] = [
        (key, values[0]) for key, values in parse_qs(asked.query).items()
    ]
    fields += [("organisation", org) for org in organisations]
    fields.append(("decision", decision))
    answer = vendor.post(
        asked.path,
        content=urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"])


def local(url: str) -> str:
    """The path and query of a URL on the Django test server."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def connect(
    client: Client,
    vendor: httpx.Client,
    company: Company,
    system: str,
    organisations: list[str],
) -> Any:
    """Connect through the pages: start, consent at the vendor, come back to the callback."""
    started = client.post(f"/companies/{company.pk}/connect/{system}/")
    assert started.status_code == 302, started
    back = consent(vendor, started["Location"], organisations=organisations)
    return client.get(local(back))


def connection_of(company: Company) -> LedgerConnection:
    found = company.ledger_connection()
    assert found is not None
    return found


def make_connection(
    sim: Simulator, company: Company, system: str, organisation: tuple[str, str]
) -> LedgerConnection:
    """A company connected the way the pages do it, with consent scripted at the simulator."""
    from ledgerbridge.connectors.oauth import oauth_for
    from ledgerbridge_sim.oauth import grant_code

    granted = grant_code(
        sim, system, {"organisation_ids": [organisation[0]], "redirect_uri": CALLBACKS[system]}
    )
    tokens = oauth_for(system).exchange_code(granted["code"], redirect_uri=CALLBACKS[system])
    return LedgerConnection.objects.create(
        company=company,
        system=system,
        organisation_id=organisation[0],
        organisation_name=organisation[1],
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        access_expires_at=tokens.access_expires_at,
        refresh_expires_at=tokens.refresh_expires_at,
        scopes=" ".join(tokens.scopes),
    )


def token_calls(sim: Simulator, system: str = "xero") -> int:
    path = "/identity/connect/token" if system == "xero" else "/oauth2/v1/tokens/bearer"
    return sum(1 for r in sim.requests if r.system == system and r.path.endswith(path))
