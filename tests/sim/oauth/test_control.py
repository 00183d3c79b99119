"""The control API's OAuth levers: scripted consent and "the user disconnected the app"."""

import httpx

from ledgerbridge_sim import oauth, organisations
from ledgerbridge_sim.state import Simulator
from tests.sim.oauth.conftest import bearer, exchange, refresh


def test_scripted_consent_defaults_to_the_demo_app_and_the_first_organisation(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    granted = sim_http.post("/_sim/oauth/xero/grant")
    assert granted.status_code == 201
    body = granted.json()
    assert set(body) == {"code", "state", "redirect_uri"}
    tokens = exchange(sim_http, "xero", body["code"], redirect_uri=body["redirect_uri"]).json()
    connections = sim_http.get("/xero/connections", headers=bearer(tokens["access_token"]))
    first = organisations.listed(sim, "xero")[0]
    assert [c["tenantId"] for c in connections.json()] == [first.id]
    assert "offline_access" in tokens["scope"].split()


def test_scripted_consent_with_everything_named(sim_http: httpx.Client, sim: Simulator) -> None:
    tenants = [org.id for org in organisations.listed(sim, "xero")[1:3]]
    body = sim_http.post(
        "/_sim/oauth/xero/grant",
        json={
            "client_id": "demo-xero-client-id",
            "redirect_uri": "http://localhost:8765/connect/done",
            "organisation_ids": tenants,
            "scope": "offline_access accounting.transactions",
            "state": "s-9",
        },
    ).json()
    assert body["state"] == "s-9"
    assert body["redirect_uri"] == "http://localhost:8765/connect/done"
    tokens = exchange(sim_http, "xero", body["code"]).json()
    assert tokens["scope"] == "offline_access accounting.transactions"
    grant = oauth.authenticate(sim, "xero", f"Bearer {tokens['access_token']}")
    assert grant is not None and sorted(grant.organisation_ids) == sorted(tenants)


def test_scripted_quickbooks_consent_names_the_realm(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    realm = organisations.listed(sim, "qbo")[2].id
    body = sim_http.post("/_sim/oauth/qbo/grant", json={"organisation_ids": [realm]}).json()
    assert body["realmId"] == realm
    tokens = exchange(sim_http, "qbo", body["code"], redirect_uri=body["redirect_uri"]).json()
    grant = oauth.authenticate(sim, "qbo", f"Bearer {tokens['access_token']}")
    assert grant is not None and grant.organisation_ids == (realm,)


def test_scripted_consent_refuses_what_a_user_could_not_choose(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    realms = [org.id for org in organisations.listed(sim, "qbo")[:2]]
    cases = [
        ("qbo", {"organisation_ids": realms}, "exactly one company"),
        ("xero", {"organisation_ids": ["not-a-tenant"]}, "not-a-tenant"),
        ("xero", {"client_id": "stranger"}, "stranger"),
        ("xero", {"redirect_uri": "https://elsewhere.invalid/cb"}, "not registered"),
        ("xero", {"scope": "accounting.everything"}, "accounting.everything"),
    ]
    for system, spec, reason in cases:
        response = sim_http.post(f"/_sim/oauth/{system}/grant", json=spec)
        assert response.status_code == 400, spec
        assert reason in response.json()["error"], spec
    assert sim_http.post("/_sim/oauth/xero/grant", content=b"[1, 2]").status_code == 400
    assert sim_http.post("/_sim/oauth/autotask/grant").status_code == 404


def test_revoke_all_kills_every_token(sim_http: httpx.Client, sim: Simulator) -> None:
    codes = [sim_http.post("/_sim/oauth/qbo/grant").json() for _ in range(2)]
    tokens = [
        exchange(sim_http, "qbo", c["code"], redirect_uri=c["redirect_uri"]).json() for c in codes
    ]
    response = sim_http.post("/_sim/oauth/qbo/revoke-all")
    assert response.json() == {"revoked": 2, "disconnected": 0}
    for pair in tokens:
        assert oauth.authenticate(sim, "qbo", f"Bearer {pair['access_token']}") is None
        assert refresh(sim_http, "qbo", pair["refresh_token"]).json() == {"error": "invalid_grant"}


def test_revoke_all_for_one_xero_tenant_only_drops_that_connection(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    tenants = [org.id for org in organisations.listed(sim, "xero")[:2]]
    code = sim_http.post("/_sim/oauth/xero/grant", json={"organisation_ids": tenants}).json()
    tokens = exchange(sim_http, "xero", code["code"], redirect_uri=code["redirect_uri"]).json()
    response = sim_http.post("/_sim/oauth/xero/revoke-all", json={"organisation_id": tenants[0]})
    assert response.json() == {"revoked": 0, "disconnected": 1}
    grant = oauth.authenticate(sim, "xero", f"Bearer {tokens['access_token']}")
    assert grant is not None and grant.organisation_ids == (tenants[1],)
    everything = sim_http.post("/_sim/oauth/xero/revoke-all").json()
    assert everything == {"revoked": 1, "disconnected": 1}
    assert oauth.authenticate(sim, "xero", f"Bearer {tokens['access_token']}") is None


def test_reset_forgets_tokens(sim_http: httpx.Client, sim: Simulator) -> None:
    tokens = oauth.issue_tokens(sim, "xero", ("t-1",))
    sim_http.post("/_sim/reset")
    assert oauth.authenticate(sim, "xero", f"Bearer {tokens['access_token']}") is None


def test_revoke_all_for_one_quickbooks_company_leaves_the_others(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    realms = [org.id for org in organisations.listed(sim, "qbo")[:2]]
    access = {}
    for realm in realms:
        code = sim_http.post("/_sim/oauth/qbo/grant", json={"organisation_ids": [realm]}).json()
        tokens = exchange(sim_http, "qbo", code["code"], redirect_uri=code["redirect_uri"])
        access[realm] = f"Bearer {tokens.json()['access_token']}"
    response = sim_http.post("/_sim/oauth/qbo/revoke-all", json={"organisation_id": realms[0]})
    assert response.json() == {"revoked": 1, "disconnected": 0}
    assert oauth.authenticate(sim, "qbo", access[realms[0]]) is None
    assert oauth.authenticate(sim, "qbo", access[realms[1]]) is not None
