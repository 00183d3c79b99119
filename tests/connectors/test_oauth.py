"""The ledger OAuth client against the in-process simulator: the four calls of the flow, how a
refusal is classified, and that no token or client secret reaches a log line or an error."""

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.http import ApiCall
from ledgerbridge.connectors.oauth import (
    LedgerOAuth,
    OAuthApp,
    OAuthError,
    TokenSet,
    xero_auth_event_id,
)
from ledgerbridge.core import clock
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.oauth import grant_code, revoke_all
from ledgerbridge_sim.state import Fault, Simulator

SIM = "http://sim.test"
CALLBACK = "http://127.0.0.1:8000/companies/oauth/{system}/callback/"
XERO_AU = "8f3c1e52-6f0b-4c1e-9a57-1d2e3f4a5b01"
XERO_NZ = "8f3c1e52-6f0b-4c1e-9a57-1d2e3f4a5b02"
QBO_US = "9341452100000001"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def app(system: str, *, secret: str = "") -> OAuthApp:
    if system == "xero":
        return OAuthApp(
            system="xero",
            client_id="demo-xero-client-id",
            client_secret=secret or "demo-xero-client-secret",
            authorize_url=f"{SIM}/xero/identity/connect/authorize",
            token_url=f"{SIM}/xero/identity/connect/token",
            revoke_url=f"{SIM}/xero/identity/connect/revocation",
            api_url=f"{SIM}/xero/api.xro/2.0/",
            scopes=("openid", "profile", "email", "offline_access", "accounting.settings"),
            connections_url=f"{SIM}/xero/connections",
        )
    return OAuthApp(
        system="qbo",
        client_id="demo-qbo-client-id",
        client_secret=secret or "demo-qbo-client-secret",
        authorize_url=f"{SIM}/qbo/connect/oauth2",
        token_url=f"{SIM}/qbo/oauth2/v1/tokens/bearer",
        revoke_url=f"{SIM}/qbo/oauth2/v1/tokens/revoke",
        api_url=f"{SIM}/qbo/v3/",
        scopes=("com.intuit.quickbooks.accounting",),
    )


@pytest.fixture
def sim() -> Simulator:
    simulator = Simulator()
    simulator.clock.set(START)
    clock.set_now(START)
    return simulator


@pytest.fixture
def transport(sim: Simulator) -> Iterator[InProcessTransport]:
    handle = InProcessTransport(build_app(sim))
    yield handle
    handle.close()


@pytest.fixture
def calls() -> list[ApiCall]:
    return []


def client(
    system: str, transport: InProcessTransport, calls: list[ApiCall], **options: Any
) -> LedgerOAuth:
    return LedgerOAuth(
        options.pop("oauth_app", None) or app(system),
        transport=transport,
        log_hook=calls.append,
        detailed_logging=True,
        sleep=lambda seconds: None,
        **options,
    )


def signed_in(
    sim: Simulator, oauth: LedgerOAuth, organisations: list[str] | None = None
) -> TokenSet:
    system = oauth.app.system
    callback = CALLBACK.format(system=system)
    granted = grant_code(
        sim,
        system,
        {
            "organisation_ids": organisations or [XERO_AU if system == "xero" else QBO_US],
            "redirect_uri": callback,
            "scope": " ".join(oauth.app.scopes),
        },
    )
    return oauth.exchange_code(granted["code"], redirect_uri=callback)


def test_the_authorization_url_asks_for_a_code_with_the_apps_scopes() -> None:
    oauth = LedgerOAuth(app("xero"))
    url = oauth.authorization_url(redirect_uri=CALLBACK.format(system="xero"), state="s-1")
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == app("xero").authorize_url
    assert query == {
        "response_type": ["code"],
        "client_id": ["demo-xero-client-id"],
        "redirect_uri": [CALLBACK.format(system="xero")],
        "scope": ["openid profile email offline_access accounting.settings"],
        "state": ["s-1"],
    }


def test_exchange_gives_both_tokens_and_their_lifetimes(
    sim: Simulator, transport: InProcessTransport, calls: list[ApiCall]
) -> None:
    xero = signed_in(sim, client("xero", transport, calls))
    qbo = signed_in(sim, client("qbo", transport, calls))

    assert xero.access_token and xero.refresh_token
    assert (xero.access_expires_at - START).total_seconds() == 1800
    assert xero.refresh_expires_at is None  # Xero does not say
    assert "offline_access" in xero.scopes
    assert (qbo.access_expires_at - START).total_seconds() == 3600
    assert qbo.refresh_expires_at is not None and qbo.refresh_expires_at > qbo.access_expires_at
    assert qbo.scopes == ("com.intuit.quickbooks.accounting",)


def test_token_calls_are_form_posts_with_basic_client_auth(
    sim: Simulator, transport: InProcessTransport, calls: list[ApiCall]
) -> None:
    seen: list[httpx.Request] = []

    class Recording(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return transport.handle_request(request)

    oauth = LedgerOAuth(app("xero"), transport=Recording())
    signed_in(sim, oauth)

    token_request = seen[0]
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token_request.headers["Authorization"].startswith("Basic ")
    form = parse_qs(token_request.content.decode())
    assert form["grant_type"] == ["authorization_code"]
    assert "client_secret" not in form


def test_a_xero_refresh_rotates_the_refresh_token(
    sim: Simulator, transport: InProcessTransport, calls: list[ApiCall]
) -> None:
    oauth = client("xero", transport, calls)
    first = signed_in(sim, oauth)

    second = oauth.refresh(first.refresh_token)

    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token


def test_organisations_lists_only_what_this_consent_connected(
    sim: Simulator, transport: InProcessTransport, calls: list[ApiCall]
) -> None:
    oauth = client("xero", transport, calls)
    signed_in(sim, oauth, [XERO_AU])
    later = signed_in(sim, oauth, [XERO_NZ])

    assert xero_auth_event_id(later.access_token)
    found = oauth.organisations(later.access_token)

    assert [(org.id, org.name) for org in found] == [(XERO_NZ, "Demo MSP (NZ)")]
    # Without the filter Xero would also list the earlier tenant; identify still finds it.
    assert oauth.identify(later.access_token, XERO_AU).name == "Demo MSP (AU)"


def test_identify_refuses_an_organisation_no_longer_connected(
    sim: Simulator, transport: InProcessTransport, calls: list[ApiCall]
) -> None:
    oauth = client("xero", transport, calls)
    tokens = signed_in(sim, oauth)
    revoke_all(sim, "xero", organisation_id=XERO_AU)

    with pytest.raises(ConnectorError) as raised:
        oauth.identify(tokens.access_token, XERO_AU)

    assert raised.value.kind == ErrorKind.PERMISSION
    assert "no longer lists" in raised.value.message


def test_a_revoked_grant_is_invalid_grant(
    sim: Simulator, transport: InProcessTransport, calls: list[ApiCall]
) -> None:
    oauth = client("xero", transport, calls)
    tokens = signed_in(sim, oauth)
    oauth.revoke(tokens.refresh_token)

    with pytest.raises(OAuthError) as raised:
        oauth.refresh(tokens.refresh_token)

    assert raised.value.grant_is_dead and raised.value.kind == ErrorKind.AUTH
    assert raised.value.status == 400


def test_qbo_revocation_ends_the_grant(
    sim: Simulator, transport: InProcessTransport, calls: list[ApiCall]
) -> None:
    oauth = client("qbo", transport, calls)
    tokens = signed_in(sim, oauth)
    oauth.revoke(tokens.refresh_token)
    with pytest.raises(OAuthError) as raised:
        oauth.refresh(tokens.refresh_token)
    assert raised.value.grant_is_dead


def test_wrong_client_credentials_are_not_a_dead_grant(
    sim: Simulator, transport: InProcessTransport, calls: list[ApiCall]
) -> None:
    good = signed_in(sim, client("xero", transport, calls))
    wrong = client("xero", transport, calls, oauth_app=app("xero", secret="not-the-secret"))

    with pytest.raises(OAuthError) as raised:
        wrong.refresh(good.refresh_token)

    assert not raised.value.grant_is_dead
    assert "client id and secret" in raised.value.message


def test_a_code_is_not_sent_twice_after_a_lost_answer(
    sim: Simulator, transport: InProcessTransport, calls: list[ApiCall]
) -> None:
    oauth = client("xero", transport, calls)
    callback = CALLBACK.format(system="xero")
    granted = grant_code(sim, "xero", {"organisation_ids": [XERO_AU], "redirect_uri": callback})
    sim.add_fault(Fault(method="POST", path="/connect/token$", drop_after_commit=True, times=1))

    with pytest.raises(ConnectorError) as raised:
        oauth.exchange_code(granted["code"], redirect_uri=callback)

    assert raised.value.kind == ErrorKind.UNCERTAIN
    assert sum(1 for call in calls if call.path.endswith("/connect/token")) == 1


def test_a_xero_refresh_is_retried_after_a_lost_answer(
    sim: Simulator, transport: InProcessTransport, calls: list[ApiCall]
) -> None:
    oauth = client("xero", transport, calls)
    tokens = signed_in(sim, oauth)
    sim.add_fault(Fault(method="POST", path="/connect/token$", drop_after_commit=True, times=1))

    # The first answer is lost after Xero rotated; the grace window makes the retry work.
    renewed = oauth.refresh(tokens.refresh_token)

    assert renewed.refresh_token != tokens.refresh_token
    outcomes = [call.outcome for call in calls if call.path.endswith("/connect/token")]
    assert outcomes[-2:] == ["retrying", "ok"]


def test_no_token_or_secret_reaches_the_log_hook_the_logs_or_an_error(
    sim: Simulator,
    transport: InProcessTransport,
    calls: list[ApiCall],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    oauth = client("xero", transport, calls)
    first = signed_in(sim, oauth)
    second = oauth.refresh(first.refresh_token)
    oauth.organisations(second.access_token)
    oauth.revoke(second.refresh_token)
    with pytest.raises(OAuthError) as raised:
        oauth.refresh(second.refresh_token)

    secrets = [
        "demo-xero-client-secret",
        first.access_token,
        first.refresh_token,
        second.access_token,
        second.refresh_token,
    ]
    logged = "\n".join(repr(call) for call in calls) + caplog.text
    told = " ".join(
        [str(raised.value), raised.value.hint, raised.value.vendor_detail, repr(second)]
    )
    assert calls and any(call.request_body for call in calls)
    for secret in secrets:
        assert secret not in logged
        assert secret not in told
