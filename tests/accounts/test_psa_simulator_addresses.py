"""PSA addresses on the Account screen: real vendors by host name over https, and the
simulators (LEDGERBRIDGE_SIM_URL: the demo and tests) as typed, so a newcomer can try
LedgerBridge end to end without anything but the browser."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ledgerbridge.accounts.models import PsaCredential, User

SIM = "http://127.0.0.1:8900"
CW = {
    "label": "Sync API member",
    "company_id": "demo",
    "public_key": "demo-public",
    "private_key": "demo-private",
    "client_id": "00000000-0000-4000-8000-000000000001",
}
AT = {
    "label": "Autotask API user",
    "username": "api@demo.example",
    "secret": "demo-secret",
    "integration_code": "DEMOINTEGRATIONCODE",
}


@pytest.fixture
def admin(client: Client, alice: User, settings: Any) -> Client:
    settings.LEDGER_SIM_URL = SIM
    client.force_login(alice)
    return client


def post(client: Client, psa: str, data: dict[str, str]) -> Any:
    return client.post(reverse("accounts:psa-credential-create") + f"?psa={psa}", data)


def test_connectwise_on_the_simulator_keeps_its_address_as_typed(admin: Client) -> None:
    answer = post(admin, "connectwise", {**CW, "site": f"{SIM}/connectwise/"})
    assert answer.status_code == 302
    assert PsaCredential.objects.get().secrets["site"] == f"{SIM}/connectwise"


@pytest.mark.parametrize(
    "site",
    [
        "http://127.0.0.1:9999/connectwise",  # a local address that is not the simulators'
        "http://10.0.0.5/connectwise",
        "https://cw.example.com:8443/v4_6_release",
    ],
)
def test_other_addresses_with_a_port_or_path_are_refused(admin: Client, site: str) -> None:
    answer = post(admin, "connectwise", {**CW, "site": site})
    assert answer.status_code == 400
    assert "Enter the API host name only" in answer.content.decode()
    assert not PsaCredential.objects.exists()


def test_autotask_finds_its_zone_itself_unless_a_test_system_is_named(admin: Client) -> None:
    assert post(admin, "autotask", AT).status_code == 302
    assert not PsaCredential.objects.get(label=AT["label"]).secrets.get("zone_lookup_url")

    lookup = f"{SIM}/autotask/atservicesrest/v1.0/zoneInformation"
    answer = post(admin, "autotask", {**AT, "label": "Demo", "zone_lookup_url": lookup})
    assert answer.status_code == 302
    assert PsaCredential.objects.get(label="Demo").secrets["zone_lookup_url"] == lookup


@pytest.mark.parametrize(
    "lookup",
    ["http://webservices.autotask.net/zoneInformation", "https://autotask.example/zone"],
)
def test_a_zone_lookup_elsewhere_than_autotask_or_the_simulators_is_refused(
    admin: Client, lookup: str
) -> None:
    answer = post(admin, "autotask", {**AT, "zone_lookup_url": lookup})
    assert answer.status_code == 400
    assert "Leave this empty unless you use a test system" in answer.content.decode()
    assert not PsaCredential.objects.exists()
