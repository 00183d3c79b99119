"""Stored PSA credentials become a working source, pointed wherever the credentials say."""

import pytest

from ledgerbridge.accounts.models import Account, PsaCredential, PsaKind
from ledgerbridge.connectors.base import ConnectorError
from ledgerbridge.connectors.psa import budget_name, source_for
from ledgerbridge.core.models import RateBudget
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.state import Simulator

SIM = "http://127.0.0.1:8900"


@pytest.fixture
def transport() -> InProcessTransport:
    return InProcessTransport(build_app(Simulator()))


def test_connectwise_credentials_reach_the_simulator(
    account: Account, transport: InProcessTransport
) -> None:
    credential = PsaCredential.objects.create(
        account=account,
        psa=PsaKind.CONNECTWISE,
        label="CW",
        secrets={
            "site": f"{SIM}/connectwise",
            "company_id": "demo",
            "public_key": "demo-public",
            "private_key": "demo-private",
            "client_id": "00000000-0000-4000-8000-000000000001",
        },
    )
    report = source_for(credential, transport=transport).test_connectivity()
    assert report.ok, report.findings


def test_autotask_credentials_reach_the_simulator_under_a_shared_budget(
    account: Account, transport: InProcessTransport
) -> None:
    credential = PsaCredential.objects.create(
        account=account,
        psa=PsaKind.AUTOTASK,
        label="AT",
        secrets={
            "username": "api@demo.example",
            "secret": "demo-secret",
            "integration_code": "DEMOINTEGRATIONCODE",
            "zone_lookup_url": f"{SIM}/autotask/atservicesrest/v1.0/zoneInformation",
        },
    )
    source = source_for(credential, transport=transport)
    assert source.test_connectivity().ok
    budget = RateBudget.objects.get(name=budget_name(credential))
    assert budget.calls_per_window * 60 <= 10_000  # never more than Autotask's hourly limit


def test_incomplete_credentials_say_what_is_missing(account: Account) -> None:
    credential = PsaCredential.objects.create(
        account=account, psa=PsaKind.CONNECTWISE, label="Half done", secrets={"site": "x"}
    )
    with pytest.raises(ConnectorError) as caught:
        source_for(credential)
    assert "company_id" in caught.value.message and "Half done" in caught.value.message
