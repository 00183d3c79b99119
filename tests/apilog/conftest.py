"""API log tests: the simulators in-process (never a real vendor host), the clock frozen.

Ledger calls reach the in-process simulator through `oauth.route_through`, as in
tests/companies; PSA credentials name the simulator's address and get its transport passed in.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from ledgerbridge.accounts.models import Account, PsaCredential, PsaKind, User
from ledgerbridge.apilog.models import ApiCallRecord
from ledgerbridge.companies.models import Company
from ledgerbridge.connectors import oauth
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.state import Simulator
from tests.companies.conftest import CALLBACKS, SIM, START, point_settings_at

CW_SECRETS = {
    "site": f"{SIM}/connectwise",
    "company_id": "demo",
    "public_key": "northwind-public-key-7Q2",
    "private_key": "northwind-private-key-X9w",
    "client_id": "00000000-0000-4000-8000-000000000001",  # the simulator's documented clientId
}
AT_SECRETS = {
    "username": "api@northwind.example",
    "secret": "northwind-at-secret-5Rk",
    "integration_code": "NORTHWINDINTEGRATIONCODE",
    "zone_lookup_url": f"{SIM}/autotask/atservicesrest/v1.0/zoneInformation",
}


@pytest.fixture
def sim() -> Simulator:
    from ledgerbridge.core import clock

    simulator = Simulator()
    simulator.clock.set(START)
    clock.set_now(START)
    for system, callback in CALLBACKS.items():
        simulator.settings[system]["redirect_uris"] = [callback]
    # The simulators accept this test's own PSA credentials, so the test knows every secret.
    simulator.system("connectwise").extra["credentials"] = [
        {
            "companyId": CW_SECRETS["company_id"],
            "publicKey": CW_SECRETS["public_key"],
            "privateKey": CW_SECRETS["private_key"],
            "member": "apiuser",
        }
    ]
    autotask = simulator.system("autotask").extra
    autotask["api_users"] = {AT_SECRETS["username"]: AT_SECRETS["secret"]}
    autotask["integration_codes"] = {AT_SECRETS["integration_code"]}
    return simulator


@pytest.fixture
def transport(sim: Simulator) -> Iterator[InProcessTransport]:
    handle = InProcessTransport(build_app(sim))
    yield handle
    handle.close()


@pytest.fixture
def ledgers(sim: Simulator, transport: InProcessTransport, settings: Any) -> Iterator[Simulator]:
    point_settings_at(settings, SIM)
    with oauth.route_through(transport):
        yield sim


@pytest.fixture
def company(account: Account) -> Company:
    return Company.objects.create(account=account, name="Northwind Traders")


def credential(account: Account, psa: str, secrets: dict[str, str]) -> PsaCredential:
    return PsaCredential.objects.create(
        account=account,
        psa=psa,
        label="Main" if psa == PsaKind.CONNECTWISE else "Datto",
        secrets=secrets,
        is_primary=psa == PsaKind.CONNECTWISE,
    )


@pytest.fixture
def admin_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


def logged_call(account: Account, **fields: Any) -> ApiCallRecord:
    """One stored call, as the hook would have written it."""
    values: dict[str, Any] = {
        "connection": "Xero: Demo MSP (AU)",
        "vendor": "Xero",
        "method": "GET",
        "path": "/api.xro/2.0/Accounts",
        "status": 200,
        "duration_ms": 40,
        "outcome": "ok",
    }
    return ApiCallRecord.objects.create(account=account, **(values | fields))
