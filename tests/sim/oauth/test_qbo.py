"""QuickBooks Online's OAuth 2: one company per consent, rolling refresh tokens, discovery."""

from datetime import timedelta
from urllib.parse import urlencode

import httpx
import pytest

from ledgerbridge_sim import oauth, organisations
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.state import Simulator
from tests.sim.oauth.conftest import (
    QBO_CLIENT,
    ConsentPage,
    basic,
    bearer,
    callback_params,
    consent_code,
    exchange,
    open_consent,
    refresh,
    submit_consent,
)

HUNDRED_DAYS = 100 * 24 * 3600
REVOKE = "/qbo/oauth2/v1/tokens/revoke"


def connected_tokens(http: httpx.Client, company: str = "Demo MSP (US)") -> dict[str, object]:
    response = exchange(http, "qbo", consent_code(http, "qbo", [company]))
    assert response.status_code == 200, response.text
    tokens: dict[str, object] = response.json()
    return tokens


def live(sim: Simulator, access_token: object) -> bool:
    return oauth.authenticate(sim, "qbo", f"Bearer {access_token}") is not None


def test_full_code_flow_carries_the_chosen_company_as_realm_id(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    page = ConsentPage(open_consent(sim_http, "qbo", state="qs").text)
    assert page.form_action == "/qbo/connect/oauth2"
    kinds = {c.attrs["type"] for c in page.controls if c.attrs.get("name") == "organisation"}
    assert kinds == {"radio"}  # one company per consent
    assert set(page.choices()) == {org.name for org in organisations.listed(sim, "qbo")}
    assert page.scripts == 0 and page.external_references == []
    canada = page.choices()["Demo MSP (CA)"]

    landed = callback_params(submit_consent(sim_http, page, "Allow access", [canada]))
    assert landed["realmId"] == canada
    assert landed["state"] == "qs"

    response = exchange(sim_http, "qbo", landed["code"])
    assert response.status_code == 200
    tokens = response.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["x_refresh_token_expires_in"] == HUNDRED_DAYS
    assert {"access_token", "refresh_token", "id_token"} <= set(tokens)
    grant = oauth.authenticate(sim, "qbo", f"Bearer {tokens['access_token']}")
    assert grant is not None
    assert grant.organisation_ids == (canada,)
    assert grant.scopes == ("com.intuit.quickbooks.accounting", "openid", "email")


def test_cancel_and_invalid_choices(sim_http: httpx.Client, sim: Simulator) -> None:
    page = ConsentPage(open_consent(sim_http, "qbo").text)
    cancelled = callback_params(submit_consent(sim_http, page, "Cancel", []))
    assert cancelled == {"error": "access_denied", "state": "st-123"}
    nothing = submit_consent(sim_http, page, "Allow access", [])
    assert nothing.status_code == 400
    # A hand-made post naming two companies is refused: QuickBooks connects one at a time.
    two = list(page.choices().values())[:2]
    forged = [f for f in page.submission("Allow access", []) if f[0] != "organisation"]
    forged += [("organisation", realm) for realm in two]
    response = sim_http.post(
        page.form_action,
        content=urlencode(forged),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert "Choose one company." in response.text


def test_access_token_lives_3600_virtual_seconds(sim_http: httpx.Client, sim: Simulator) -> None:
    tokens = connected_tokens(sim_http)
    sim.clock.advance(timedelta(seconds=3599))
    assert live(sim, tokens["access_token"])
    sim.clock.advance(timedelta(seconds=1))
    assert not live(sim, tokens["access_token"])


def test_refresh_within_a_day_keeps_the_token_and_rolls_its_expiry(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    tokens = connected_tokens(sim_http)
    sim.clock.advance(timedelta(hours=12))
    renewed = refresh(sim_http, "qbo", str(tokens["refresh_token"])).json()
    assert renewed["refresh_token"] == tokens["refresh_token"]
    assert renewed["x_refresh_token_expires_in"] == HUNDRED_DAYS
    assert renewed["access_token"] != tokens["access_token"]
    assert live(sim, renewed["access_token"])


def test_refresh_after_a_day_hands_out_a_new_token_and_retires_the_old(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    tokens = connected_tokens(sim_http)
    sim.clock.advance(timedelta(days=1))
    renewed = refresh(sim_http, "qbo", str(tokens["refresh_token"])).json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    old = refresh(sim_http, "qbo", str(tokens["refresh_token"]))
    assert (old.status_code, old.json()) == (400, {"error": "invalid_grant"})
    assert refresh(sim_http, "qbo", renewed["refresh_token"]).status_code == 200


def test_rolling_expiry_is_one_hundred_days_from_last_use(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    sim.settings["qbo"]["refresh_token_rotation_seconds"] = 365 * 24 * 3600
    used = connected_tokens(sim_http, "Demo MSP (US)")
    idle = connected_tokens(sim_http, "Demo MSP (UK)")
    sim.clock.advance(timedelta(days=60))
    assert refresh(sim_http, "qbo", str(used["refresh_token"])).status_code == 200
    sim.clock.advance(timedelta(days=40))
    assert refresh(sim_http, "qbo", str(idle["refresh_token"])).json()["error"] == "invalid_grant"
    still = refresh(sim_http, "qbo", str(used["refresh_token"])).json()
    assert still["refresh_token"] == used["refresh_token"]


def test_wrong_client_secret_and_reused_code(sim_http: httpx.Client) -> None:
    code = consent_code(sim_http, "qbo", ["Demo MSP (AU)"])
    refused = exchange(sim_http, "qbo", code, client=(QBO_CLIENT[0], "not-it"))
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    assert exchange(sim_http, "qbo", code).status_code == 200
    assert exchange(sim_http, "qbo", code).json() == {"error": "invalid_grant"}


@pytest.mark.parametrize("as_json", [True, False])
def test_revoking_disconnects_the_company(
    sim_http: httpx.Client, sim: Simulator, as_json: bool
) -> None:
    tokens = connected_tokens(sim_http)
    token = str(tokens["refresh_token"])
    headers = basic(QBO_CLIENT) | {"Accept": "application/json"}
    if as_json:
        response = sim_http.post(REVOKE, json={"token": token}, headers=headers)
    else:
        response = sim_http.post(REVOKE, data={"token": token}, headers=headers)
    assert response.status_code == 200
    assert not live(sim, tokens["access_token"])
    assert refresh(sim_http, "qbo", token).json() == {"error": "invalid_grant"}


def test_discovery_points_at_the_host_the_caller_used(sim: Simulator) -> None:
    app = build_app(sim)
    with httpx.Client(transport=InProcessTransport(app), base_url="http://127.0.0.1:8391") as http:
        document = http.get("/qbo/.well-known/openid_configuration").json()
        for key in (
            "authorization_endpoint",
            "token_endpoint",
            "revocation_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
            "issuer",
        ):
            assert document[key].startswith("http://127.0.0.1:8391/qbo/"), key
        # The advertised endpoints are the working ones.
        page = ConsentPage(
            http.get(
                document["authorization_endpoint"],
                params={
                    "response_type": "code",
                    "client_id": QBO_CLIENT[0],
                    "redirect_uri": "http://localhost:8765/connect/done",
                    "scope": "com.intuit.quickbooks.accounting",
                },
            ).text
        )
        realm = page.choices()["Demo MSP (US)"]
        code = callback_params(submit_consent(http, page, "Allow access", [realm]))["code"]
        answer = http.post(
            document["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": "http://localhost:8765/connect/done",
            },
            headers=basic(QBO_CLIENT),
        )
        assert answer.status_code == 200
        assert "id_token" not in answer.json()  # no openid scope asked for
    with httpx.Client(transport=InProcessTransport(app), base_url="http://sim.test") as other:
        moved = other.get("/qbo/.well-known/openid_configuration").json()
        assert moved["token_endpoint"] == "http://sim.test/qbo/oauth2/v1/tokens/bearer"


def test_userinfo_answers_for_openid_tokens(sim_http: httpx.Client) -> None:
    tokens = connected_tokens(sim_http)
    response = sim_http.get(
        "/qbo/v1/openid_connect/userinfo", headers=bearer(str(tokens["access_token"]))
    )
    assert response.status_code == 200
    info = response.json()
    assert info["email"] and info["emailVerified"] is True and info["sub"]
    assert "givenName" not in info  # profile was not among the scopes
    refused = sim_http.get("/qbo/v1/openid_connect/userinfo", headers=bearer("nope"))
    assert refused.status_code == 401
