import httpx
import pytest

from ledgerbridge_sim.state import Simulator
from tests.sim.autotask.conftest import EVERY_ROW, HEADERS, AutotaskApi


def test_zone_discovery_points_back_at_the_simulator(sim_http: httpx.Client) -> None:
    response = sim_http.get(
        "/autotask/ATServicesRest/V1.0/zoneInformation", params={"user": "api@demo.example"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "zoneName": "Simulator Zone 1",
        "url": "http://sim.test/autotask/zone1/ATServicesRest/",
        "webUrl": "http://sim.test/autotask/zone1/web/",
        "ci": 123456,
    }


def test_zone_discovery_follows_the_host_the_client_used(sim_http: httpx.Client) -> None:
    response = sim_http.get(
        "http://127.0.0.1:8900/autotask/atservicesrest/v1.0/ZoneInformation",
        params={"user": "API@demo.example"},
    )
    assert response.json()["url"] == "http://127.0.0.1:8900/autotask/zone1/ATServicesRest/"


def test_zone_discovery_needs_no_credentials_but_a_known_user(sim_http: httpx.Client) -> None:
    response = sim_http.get(
        "/autotask/ATServicesRest/V1.0/zoneInformation", params={"user": "nobody@x.example"}
    )
    assert response.status_code == 500
    assert response.json() == {"errors": ["Zone information could not be determined"]}


def test_the_api_base_is_the_zone_url_plus_version_and_ignores_case(
    api: AutotaskApi, tenant: Simulator
) -> None:
    assert api.base == "http://sim.test/autotask/zone1/ATServicesRest/V1.0/"
    lower = api.base.replace("ATServicesRest/V1.0", "atservicesrest/v1.0")
    response = api.post(lower + "companies/QUERY", json={"filter": EVERY_ROW})
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [174, 250, 300]


def test_version_information(api: AutotaskApi) -> None:
    response = api.http.get(api.base.removesuffix("V1.0/") + "VersionInformation")
    assert response.json() == {"apiVersions": ["1.0"]}


@pytest.mark.parametrize("missing", ["UserName", "Secret", "ApiIntegrationCode"])
def test_a_missing_header_is_401(api: AutotaskApi, missing: str) -> None:
    headers = {name: value for name, value in HEADERS.items() if name != missing}
    response = api.post("Companies/query", json={"filter": EVERY_ROW}, headers=headers)
    assert response.status_code == 401
    assert missing in response.json()["errors"][0]


def test_a_wrong_secret_is_401(api: AutotaskApi) -> None:
    response = api.post(
        "Companies/query", json={"filter": EVERY_ROW}, headers={**HEADERS, "Secret": "nope"}
    )
    assert response.status_code == 401
    assert response.json()["errors"]


def test_an_unknown_user_is_500_as_the_real_service_answers(api: AutotaskApi) -> None:
    response = api.post(
        "Companies/query",
        json={"filter": EVERY_ROW},
        headers={**HEADERS, "UserName": "someone@else.example"},
    )
    assert response.status_code == 500
    assert "someone@else.example" in response.json()["errors"][0]


def test_an_unknown_integration_code_is_500(api: AutotaskApi) -> None:
    response = api.post(
        "Companies/query",
        json={"filter": EVERY_ROW},
        headers={**HEADERS, "ApiIntegrationCode": "SOMEOTHERVENDOR"},
    )
    assert response.status_code == 500
    assert response.json() == {"errors": ["IntegrationCode is invalid."]}


def test_extra_credentials_come_from_the_system_state(api: AutotaskApi, sim: Simulator) -> None:
    extra = sim.system("autotask").extra
    extra["api_users"] = {"second@msp.example": "s3cret"}
    extra["integration_codes"] = {"OTHERCODE"}
    headers = {
        "UserName": "second@msp.example",
        "Secret": "s3cret",
        "ApiIntegrationCode": "OTHERCODE",
    }
    response = api.post("Companies/query", json={"filter": EVERY_ROW}, headers=headers)
    assert response.status_code == 200
    zone = api.http.get(
        "/autotask/ATServicesRest/V1.0/zoneInformation", params={"user": "second@msp.example"}
    )
    assert zone.status_code == 200


def test_impersonation_must_name_an_existing_resource(api: AutotaskApi, tenant: Simulator) -> None:
    bad = api.get("Companies/174", headers={**HEADERS, "ImpersonationResourceId": "42"})
    assert bad.status_code == 500
    good = api.get("Companies/174", headers={**HEADERS, "ImpersonationResourceId": "29682886"})
    assert good.status_code == 200


def test_a_zone_move_answers_401_until_the_client_looks_the_zone_up_again(
    api: AutotaskApi, sim: Simulator, tenant: Simulator
) -> None:
    sim.settings["autotask"]["zone"] = "zone7"
    assert api.post("Companies/query", json={"filter": EVERY_ROW}).status_code == 401
    zone = api.http.get(
        "/autotask/ATServicesRest/V1.0/zoneInformation", params={"user": HEADERS["UserName"]}
    )
    moved = AutotaskApi(api.http, zone.json()["url"] + "V1.0/")
    assert moved.base == "http://sim.test/autotask/zone7/ATServicesRest/V1.0/"
    assert moved.post("Companies/query", json={"filter": EVERY_ROW}).status_code == 200


def test_unknown_routes_answer_like_asp_net(api: AutotaskApi) -> None:
    response = api.get("NoSuchEntity/query")
    assert response.status_code == 404
    assert "No HTTP resource was found" in response.json()["Message"]
