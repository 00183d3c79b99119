"""Codebase discovery, credentials, clientId, security roles, versions and the rate limit."""

from datetime import timedelta

import httpx
import pytest

from ledgerbridge_sim.connectwise.app import generate
from ledgerbridge_sim.state import Simulator

from .conftest import CLIENT_ID, CwApi, basic


def test_companyinfo_names_the_codebase_without_auth(sim_http: httpx.Client) -> None:
    response = sim_http.get("/connectwise/login/companyinfo/demo")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"Codebase", "VersionCode", "VersionNumber", "CompanyID", "IsCloud"}
    assert body["Codebase"] == "v2025_1/"
    assert body["CompanyID"] == "demo"
    assert body["IsCloud"] is True


def test_companyinfo_ignores_case_and_answers_null_for_strangers(sim_http: httpx.Client) -> None:
    assert sim_http.get("/connectwise/login/companyinfo/DEMO").json()["CompanyID"] == "demo"
    unknown = sim_http.get("/connectwise/login/companyinfo/nobody")
    assert unknown.status_code == 200
    assert unknown.text == "null"


def test_the_tenant_codebase_and_the_alias_both_work(cw: CwApi, sim: Simulator) -> None:
    for codebase in ("v2025_1/", "v4_6_release/", "V2025_1/"):
        response = cw.request("GET", f"/connectwise/{codebase}apis/3.0/system/info")
        assert response.status_code == 200, codebase
        assert response.json()["isCloud"] is True


def test_a_moved_codebase_is_404_until_companyinfo_is_read_again(cw: CwApi, sim: Simulator) -> None:
    sim.system("connectwise").extra["codebase"] = "v2025_2/"
    old = cw.request("GET", "/connectwise/v2025_1/apis/3.0/system/info")
    assert old.status_code == 404
    fresh = cw.http.get("/connectwise/login/companyinfo/demo").json()["Codebase"]
    assert cw.request("GET", f"/connectwise/{fresh}apis/3.0/system/info").status_code == 200


def test_paths_ignore_case(cw: CwApi, sim: Simulator) -> None:
    generate(sim, invoices=5, seed=1)
    assert cw.get("finance/glAccounts").json() == cw.get("finance/glaccounts").json()
    assert cw.get("Finance/TaxCodes/count").json()["count"] == 4


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        basic(private="wrong"),
        basic(public="someone-else"),
        basic(company="other"),
        "Basic not-base64!",
        "Bearer demo-private",
        "Basic " + "ZGVtby1wdWJsaWM6ZGVtby1wcml2YXRl",  # "demo-public:demo-private": no company
    ],
)
def test_bad_credentials_are_401_unauthorized(cw: CwApi, authorization: str | None) -> None:
    headers = {"clientId": CLIENT_ID}
    if authorization:
        headers["Authorization"] = authorization
    response = cw.http.get("/connectwise/v4_6_release/apis/3.0/system/info", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "Unauthorized"
    assert body["message"]


def test_company_id_ignores_case_but_keys_do_not(cw: CwApi) -> None:
    ok = cw.request("GET", "system/info", headers={"Authorization": basic(company="DEMO")})
    assert ok.status_code == 200
    wrong = cw.request("GET", "system/info", headers={"Authorization": basic(public="DEMO-PUBLIC")})
    assert wrong.status_code == 401


def test_a_missing_client_id_is_refused_and_named(cw: CwApi, sim: Simulator) -> None:
    response = cw.http.get(
        "/connectwise/v4_6_release/apis/3.0/system/info", headers={"Authorization": basic()}
    )
    assert response.status_code == 401
    assert "clientId" in response.json()["message"]
    sim.system("connectwise").extra["missing_client_id_status"] = 400
    response = cw.http.get(
        "/connectwise/v4_6_release/apis/3.0/system/info", headers={"Authorization": basic()}
    )
    assert response.status_code == 400
    assert "clientId" in response.json()["message"]


def test_an_unregistered_client_id_is_refused(cw: CwApi, sim: Simulator) -> None:
    other = "9f1c2b7e-1111-4222-8333-444455556666"
    response = cw.request("GET", "system/info", headers={"clientId": other})
    assert response.status_code == 401
    assert other in response.json()["message"]
    sim.system("connectwise").extra["client_ids"] = [other]
    assert cw.request("GET", "system/info", headers={"clientId": other}).status_code == 200


def test_more_credentials_can_be_configured(cw: CwApi, sim: Simulator) -> None:
    sim.system("connectwise").extra["credentials"] = [
        {"companyId": "acmemsp", "publicKey": "pub2", "privateKey": "priv2", "member": "jdoe"}
    ]
    auth = basic("acmemsp", "pub2", "priv2")
    assert cw.request("GET", "system/info", headers={"Authorization": auth}).status_code == 200
    info = cw.http.get("/connectwise/login/companyinfo/AcmeMSP").json()
    assert info["CompanyID"] == "acmemsp"


def test_a_security_role_without_a_permission_is_403_naming_it(cw: CwApi, sim: Simulator) -> None:
    generate(sim, invoices=5, seed=1)
    sim.system("connectwise").extra["denied_permissions"] = {
        "apiuser": ["Finance/Accounting Interface"]
    }
    response = cw.get("finance/accounting/unpostedinvoices")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "Security"
    assert "You do not have security permission" in body["message"]
    assert "Finance > Accounting Interface (Inquire level)" in body["message"]
    assert body["errors"][0]["field"] == "Accounting Interface"
    assert cw.get("finance/invoices").status_code == 200  # other areas still answer


def test_a_permission_can_be_denied_at_one_level(cw: CwApi, sim: Simulator) -> None:
    generate(sim, invoices=5, seed=1)
    sim.system("connectwise").extra["credentials"] = [
        {
            "companyId": "demo",
            "publicKey": "ro",
            "privateKey": "ro-secret",
            "member": "jdoe",
            "denied": ["Finance/Invoicing:Add"],
        }
    ]
    headers = {"Authorization": basic(public="ro", private="ro-secret")}
    invoice = next(iter(sim.system("connectwise").collection("invoices")))
    read = cw.request("GET", f"finance/invoices/{invoice}/payments", headers=headers)
    assert read.status_code == 200
    write = cw.request(
        "POST",
        f"finance/invoices/{invoice}/payments",
        headers=headers,
        json={"type": "Payment", "amount": 1},
    )
    assert write.status_code == 403
    assert "Invoicing (Add level)" in write.json()["message"]


def test_every_response_names_the_api_version_and_a_request_id(cw: CwApi) -> None:
    first = cw.get("system/info")
    second = cw.request(
        "GET",
        "system/info",
        headers={"Accept": "application/vnd.connectwise.com+json; version=2020.4"},
    )
    for response in (first, second):
        assert response.headers["api-current-version"] == "2025.1"
        assert response.headers["x-cw-request-id"]
        assert response.headers["content-type"].startswith("application/json")
    assert first.headers["x-cw-request-id"] != second.headers["x-cw-request-id"]
    refused = cw.request("GET", "system/info", headers={"Authorization": basic(private="x")})
    assert refused.headers["api-current-version"] == "2025.1"


def test_unknown_routes_and_verbs(cw: CwApi) -> None:
    missing = cw.get("finance/nothing")
    assert missing.status_code == 404
    assert missing.json()["code"] == "NotFound"
    wrong_verb = cw.request("PUT", "finance/accounting/batches")
    assert wrong_verb.status_code == 405


def test_a_missing_record_is_404(cw: CwApi, sim: Simulator) -> None:
    generate(sim, invoices=5, seed=1)
    response = cw.get("finance/invoices/999999")
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


def test_429_with_retry_after_past_capacity(cw: CwApi, sim: Simulator) -> None:
    sim.settings["connectwise"]["capacity_per_minute"] = 3
    assert [cw.get("system/info").status_code for _ in range(3)] == [200, 200, 200]
    refused = cw.get("system/info")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert refused.json()["code"]
    sim.clock.advance(timedelta(seconds=45))
    again = cw.get("system/info")
    assert again.status_code == 429
    assert again.headers["Retry-After"] == "15"
    sim.clock.advance(timedelta(seconds=15))
    assert cw.get("system/info").status_code == 200


def test_the_window_slides_and_refusals_do_not_count(cw: CwApi, sim: Simulator) -> None:
    sim.settings["connectwise"]["capacity_per_minute"] = 2
    cw.get("system/info")
    sim.clock.advance(timedelta(seconds=30))
    cw.get("system/info")
    for _ in range(5):
        assert cw.get("system/info").status_code == 429
    sim.clock.advance(timedelta(seconds=30))  # the first call left the window
    assert cw.get("system/info").status_code == 200
    assert cw.get("system/info").status_code == 429


def test_capacity_is_per_client_id(cw: CwApi, sim: Simulator) -> None:
    sim.settings["connectwise"]["capacity_per_minute"] = 1
    other = "9f1c2b7e-1111-4222-8333-444455556666"
    sim.system("connectwise").extra["client_ids"] = [other]
    assert cw.get("system/info").status_code == 200
    assert cw.get("system/info").status_code == 429
    assert cw.request("GET", "system/info", headers={"clientId": other}).status_code == 200


def test_overlong_urls_can_be_refused(cw: CwApi, sim: Simulator) -> None:
    long_list = ",".join(str(n) for n in range(1, 600))
    assert cw.get("company/companies", conditions=f"id in ({long_list})").status_code == 200
    sim.settings["connectwise"]["max_url_length"] = 2000
    refused = cw.get("company/companies", conditions=f"id in ({long_list})")
    assert refused.status_code == 414
    assert cw.get("company/companies", conditions="id in (1,2)").status_code == 200
