"""Xero's OAuth 2 code flow, tokens and connections, driven as a browser and an app would."""

import base64
import json
from datetime import timedelta

import httpx

from ledgerbridge_sim import oauth, organisations
from ledgerbridge_sim.state import Simulator
from tests.sim.oauth.conftest import (
    CALLBACK,
    XERO_CLIENT,
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

TOKEN = "/xero/identity/connect/token"
REVOCATION = "/xero/identity/connect/revocation"


def names(sim: Simulator) -> dict[str, str]:
    return {org.name: org.id for org in organisations.listed(sim, "xero")}


def connected_tokens(http: httpx.Client, labels: list[str], **params: str) -> dict[str, str]:
    response = exchange(http, "xero", consent_code(http, "xero", labels, **params))
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def jwt_claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return claims


def test_consent_page_names_the_app_the_scopes_and_every_organisation(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    sim.settings["xero"]["app_name"] = "Acme Sync"
    response = open_consent(sim_http, "xero")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = ConsentPage(response.text)
    assert "Acme Sync" in response.text
    assert "View and manage your invoices" in response.text
    assert "Keep access while you are away" in response.text
    assert set(page.choices()) == set(names(sim))
    # A real form: posted back to the authorize endpoint, every visible control labelled.
    assert page.form_method == "post"
    assert page.form_action == "/xero/identity/connect/authorize"
    for control in page.controls:
        if control.tag == "input" and control.attrs["type"] != "hidden":
            assert page.label_targets.get(control.attrs["id"]), control.attrs
    assert sorted(c.text for c in page.controls if c.tag == "button") == ["Allow access", "Cancel"]
    assert page.scripts == 0
    assert page.external_references == []


def test_full_code_flow_connects_the_ticked_tenants(sim_http: httpx.Client, sim: Simulator) -> None:
    page = ConsentPage(open_consent(sim_http, "xero", state="abc 123").text)
    ticked = [page.choices()["Demo MSP (AU)"], page.choices()["Demo MSP (UK)"]]
    landed = callback_params(submit_consent(sim_http, page, "Allow access", ticked))
    assert landed["state"] == "abc 123"

    response = exchange(sim_http, "xero", landed["code"])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert set(tokens) == {
        "id_token",
        "access_token",
        "expires_in",
        "token_type",
        "refresh_token",
        "scope",
    }
    assert tokens["expires_in"] == 1800
    assert tokens["token_type"] == "Bearer"
    assert tokens["scope"].split() == [
        "openid",
        "profile",
        "email",
        "offline_access",
        "accounting.invoices",
        "accounting.contacts",
    ]

    listed = sim_http.get("/xero/connections", headers=bearer(tokens["access_token"]))
    assert listed.status_code == 200
    connections = listed.json()
    assert {c["tenantName"]: c["tenantId"] for c in connections} == {
        "Demo MSP (AU)": ticked[0],
        "Demo MSP (UK)": ticked[1],
    }
    assert {c["tenantType"] for c in connections} == {"ORGANISATION"}
    assert connections[0]["createdDateUtc"] == "2026-03-02T09:00:00.0000000"
    # The auth event in the access token is the one the connections carry.
    event = jwt_claims(tokens["access_token"])["authentication_event_id"]
    assert {c["authEventId"] for c in connections} == {event}

    grant = oauth.authenticate(sim, "xero", f"Bearer {tokens['access_token']}")
    assert grant is not None
    assert set(grant.organisation_ids) == set(ticked)
    assert grant.client_id == XERO_CLIENT[0]


def test_cancel_sends_access_denied_with_the_state(sim_http: httpx.Client) -> None:
    page = ConsentPage(open_consent(sim_http, "xero", state="keep-me").text)
    landed = callback_params(submit_consent(sim_http, page, "Cancel", []))
    assert landed == {"error": "access_denied", "state": "keep-me"}


def test_allow_without_a_tenant_shows_the_page_again_with_the_problem(
    sim_http: httpx.Client,
) -> None:
    page = ConsentPage(open_consent(sim_http, "xero").text)
    response = submit_consent(sim_http, page, "Allow access", [])
    assert response.status_code == 400
    assert "Choose an organisation to connect." in response.text
    assert ConsentPage(response.text).form_method == "post"


def test_unknown_app_or_foreign_redirect_uri_is_refused_without_redirecting(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    unknown = open_consent(sim_http, "xero", client_id="someone-else")
    assert unknown.status_code == 400
    assert "location" not in unknown.headers
    elsewhere = open_consent(sim_http, "xero", redirect_uri="https://attacker.invalid/cb")
    assert elsewhere.status_code == 400
    assert "not registered" in elsewhere.text

    sim.settings["xero"]["redirect_uris"] = ["http://127.0.0.1:9000/exact"]
    assert open_consent(sim_http, "xero", redirect_uri=CALLBACK).status_code == 400
    exact = open_consent(sim_http, "xero", redirect_uri="http://127.0.0.1:9000/exact")
    assert exact.status_code == 200


def test_unknown_scope_is_sent_back_to_the_app(sim_http: httpx.Client) -> None:
    response = open_consent(sim_http, "xero", scope="openid accounting.everything")
    landed = callback_params(response)
    assert landed["error"] == "invalid_scope"
    assert landed["state"] == "st-123"


def test_a_code_works_once(sim_http: httpx.Client) -> None:
    code = consent_code(sim_http, "xero", ["Demo MSP (NZ)"])
    assert exchange(sim_http, "xero", code).status_code == 200
    again = exchange(sim_http, "xero", code)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant"}


def test_a_code_dies_after_five_minutes(sim_http: httpx.Client, sim: Simulator) -> None:
    prompt = consent_code(sim_http, "xero", ["Demo MSP (NZ)"])
    late = consent_code(sim_http, "xero", ["Demo MSP (NZ)"])
    sim.clock.advance(timedelta(minutes=5) - timedelta(seconds=1))
    assert exchange(sim_http, "xero", prompt).status_code == 200
    sim.clock.advance(timedelta(seconds=1))
    assert exchange(sim_http, "xero", late).json() == {"error": "invalid_grant"}


def test_a_code_needs_the_redirect_uri_it_was_issued_for(sim_http: httpx.Client) -> None:
    code = consent_code(sim_http, "xero", ["Demo MSP (NZ)"])
    response = exchange(sim_http, "xero", code, redirect_uri="http://localhost:8765/other")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_invalid_client(sim_http: httpx.Client) -> None:
    code = consent_code(sim_http, "xero", ["Demo MSP (NZ)"])
    response = exchange(sim_http, "xero", code, client=(XERO_CLIENT[0], "guessed"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "guessed" not in response.text
    no_credentials = sim_http.post(TOKEN, data={"grant_type": "refresh_token"})
    assert no_credentials.status_code == 401
    # The code was not spent by the refused attempt.
    assert exchange(sim_http, "xero", code).status_code == 200


def test_bad_token_requests_get_rfc_6749_errors(sim_http: httpx.Client) -> None:
    headers = basic(XERO_CLIENT)
    missing = sim_http.post(TOKEN, data={"code": "x"}, headers=headers)
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    unknown = sim_http.post(TOKEN, data={"grant_type": "password"}, headers=headers)
    assert (unknown.status_code, unknown.json()["error"]) == (400, "unsupported_grant_type")
    no_code = sim_http.post(TOKEN, data={"grant_type": "authorization_code"}, headers=headers)
    assert no_code.json()["error"] == "invalid_request"


def test_access_token_lives_1800_virtual_seconds(sim_http: httpx.Client, sim: Simulator) -> None:
    tokens = connected_tokens(sim_http, ["Demo MSP (AU)"])
    sim.clock.advance(timedelta(seconds=1799))
    assert oauth.authenticate(sim, "xero", f"Bearer {tokens['access_token']}") is not None
    sim.clock.advance(timedelta(seconds=1))
    assert oauth.authenticate(sim, "xero", f"Bearer {tokens['access_token']}") is None
    expired = sim_http.get("/xero/connections", headers=bearer(tokens["access_token"]))
    assert expired.status_code == 401
    assert expired.json()["Detail"].startswith("TokenExpired")
    assert expired.headers["www-authenticate"] == "Bearer error=invalid_token"


def test_refresh_rotates_and_the_old_token_has_thirty_minutes_grace(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    first = connected_tokens(sim_http, ["Demo MSP (AU)"])
    sim.clock.advance(timedelta(minutes=25))
    second = refresh(sim_http, "xero", first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["expires_in"] == 1800
    assert oauth.authenticate(sim, "xero", f"Bearer {second['access_token']}") is not None

    # The response was lost: a retry with the old token inside the grace still gets a pair.
    sim.clock.advance(timedelta(minutes=29))
    retried = refresh(sim_http, "xero", first["refresh_token"])
    assert retried.status_code == 200
    assert oauth.authenticate(sim, "xero", f"Bearer {retried.json()['access_token']}")
    assert refresh(sim_http, "xero", retried.json()["refresh_token"]).status_code == 200

    sim.clock.advance(timedelta(minutes=1))
    dead = refresh(sim_http, "xero", first["refresh_token"])
    assert (dead.status_code, dead.json()) == (400, {"error": "invalid_grant"})
    # The token handed out by the first refresh has not been used yet, so it still works.
    assert refresh(sim_http, "xero", second["refresh_token"]).status_code == 200


def test_refresh_token_expires_after_sixty_days_unused(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    kept = connected_tokens(sim_http, ["Demo MSP (AU)"])
    idle = connected_tokens(sim_http, ["Demo MSP (NZ)"])
    sim.clock.advance(timedelta(days=59))
    renewed = refresh(sim_http, "xero", kept["refresh_token"]).json()
    sim.clock.advance(timedelta(days=1))
    assert refresh(sim_http, "xero", idle["refresh_token"]).json() == {"error": "invalid_grant"}
    assert refresh(sim_http, "xero", renewed["refresh_token"]).status_code == 200


def test_no_refresh_token_without_offline_access(sim_http: httpx.Client) -> None:
    tokens = connected_tokens(sim_http, ["Demo MSP (AU)"], scope="accounting.invoices")
    assert "refresh_token" not in tokens
    assert "id_token" not in tokens
    assert tokens["scope"] == "accounting.invoices"


def test_revoking_the_refresh_token_kills_its_tokens_and_connections(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    revoked = connected_tokens(sim_http, ["Demo MSP (AU)"])
    other = connected_tokens(sim_http, ["Demo MSP (US)"])
    wrong = sim_http.post(
        REVOCATION, data={"token": revoked["refresh_token"]}, headers=basic(("x", "y"))
    )
    assert wrong.status_code == 401
    response = sim_http.post(
        REVOCATION, data={"token": revoked["refresh_token"]}, headers=basic(XERO_CLIENT)
    )
    assert response.status_code == 200
    assert refresh(sim_http, "xero", revoked["refresh_token"]).json()["error"] == "invalid_grant"
    assert oauth.authenticate(sim, "xero", f"Bearer {revoked['access_token']}") is None
    remaining = sim_http.get("/xero/connections", headers=bearer(other["access_token"])).json()
    assert [c["tenantName"] for c in remaining] == ["Demo MSP (US)"]


def test_disconnecting_one_tenant(sim_http: httpx.Client, sim: Simulator) -> None:
    tokens = connected_tokens(sim_http, ["Demo MSP (AU)", "Demo MSP (NZ)"])
    headers = bearer(tokens["access_token"])
    connections = sim_http.get("/xero/connections", headers=headers).json()
    nz = next(c for c in connections if c["tenantName"] == "Demo MSP (NZ)")
    assert sim_http.delete(f"/xero/connections/{nz['id']}", headers=headers).status_code == 204
    left = sim_http.get("/xero/connections", headers=headers).json()
    assert [c["tenantName"] for c in left] == ["Demo MSP (AU)"]
    grant = oauth.authenticate(sim, "xero", headers["Authorization"])
    assert grant is not None and nz["tenantId"] not in grant.organisation_ids
    assert sim_http.delete(f"/xero/connections/{nz['id']}", headers=headers).status_code == 404


def test_connections_filter_by_auth_event_and_reconsent_updates_the_connection(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    first = connected_tokens(sim_http, ["Demo MSP (AU)"])
    sim.clock.advance(timedelta(minutes=10))
    second = connected_tokens(sim_http, ["Demo MSP (AU)", "Demo MSP (UK)"])
    headers = bearer(second["access_token"])
    everything = sim_http.get("/xero/connections", headers=headers).json()
    assert len(everything) == 2
    au = next(c for c in everything if c["tenantName"] == "Demo MSP (AU)")
    assert au["createdDateUtc"] == "2026-03-02T09:00:00.0000000"
    assert au["updatedDateUtc"] == "2026-03-02T09:10:00.0000000"
    event = str(jwt_claims(second["access_token"])["authentication_event_id"])
    assert event != jwt_claims(first["access_token"])["authentication_event_id"]
    filtered = sim_http.get(
        "/xero/connections", params={"authEventId": event}, headers=headers
    ).json()
    assert len(filtered) == 2
    none = sim_http.get("/xero/connections", params={"authEventId": "nope"}, headers=headers)
    assert none.json() == []


def test_connections_need_a_live_bearer_token(sim_http: httpx.Client) -> None:
    response = sim_http.get("/xero/connections", headers=bearer("made-up"))
    assert response.status_code == 401
    assert response.json()["Detail"] == "AuthenticationUnsuccessful"
