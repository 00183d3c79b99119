"""The calls the Xero and QuickBooks API simulators make: issue_tokens and authenticate."""

from datetime import timedelta

import httpx

from ledgerbridge_sim import oauth
from ledgerbridge_sim.state import Simulator
from tests.sim.oauth.conftest import refresh


def test_issued_tokens_authenticate_for_the_named_organisations(sim: Simulator) -> None:
    tokens = oauth.issue_tokens(sim, "xero", ("tenant-a", "tenant-b"))
    assert tokens["expires_in"] == 1800 and tokens["token_type"] == "Bearer"
    grant = oauth.authenticate(sim, "xero", f"bearer {tokens['access_token']}")
    assert grant is not None
    assert grant.organisation_ids == ("tenant-a", "tenant-b")
    assert grant.client_id == "demo-xero-client-id"
    assert "accounting.invoices" in grant.scopes
    assert grant.expires_at == sim.clock.now() + timedelta(seconds=1800)


def test_issued_scopes_and_client_are_kept(sim: Simulator) -> None:
    tokens = oauth.issue_tokens(
        sim, "qbo", ("9341452100000001",), client_id="other-app", scopes=("openid",)
    )
    grant = oauth.authenticate(sim, "qbo", f"Bearer {tokens['access_token']}")
    assert grant is not None
    assert (grant.client_id, grant.scopes) == ("other-app", ("openid",))
    assert tokens["expires_in"] == 3600


def test_issued_refresh_tokens_work_at_the_token_endpoint(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    tokens = oauth.issue_tokens(sim, "qbo", ("9341452100000001",))
    sim.clock.advance(timedelta(hours=2))
    assert oauth.authenticate(sim, "qbo", f"Bearer {tokens['access_token']}") is None
    renewed = refresh(sim_http, "qbo", tokens["refresh_token"])
    assert renewed.status_code == 200
    assert oauth.authenticate(sim, "qbo", f"Bearer {renewed.json()['access_token']}")


def test_anything_but_a_live_bearer_token_is_refused(sim: Simulator) -> None:
    tokens = oauth.issue_tokens(sim, "xero", ("tenant-a",))
    assert oauth.authenticate(sim, "xero", None) is None
    assert oauth.authenticate(sim, "xero", "") is None
    assert oauth.authenticate(sim, "xero", f"Basic {tokens['access_token']}") is None
    assert oauth.authenticate(sim, "xero", "Bearer unknown") is None
    # A Xero token is no QuickBooks token.
    assert oauth.authenticate(sim, "qbo", f"Bearer {tokens['access_token']}") is None
