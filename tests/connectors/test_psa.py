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


def test_the_detail_level_decides_how_finely_connectwise_lines_come(
    account: Account,
) -> None:
    from ledgerbridge_sim.connectwise.app import generate

    sim = Simulator()
    generate(sim, invoices=30, seed=4)
    transport = InProcessTransport(build_app(sim))
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

    def lines(level: str) -> dict[str, int]:
        source = source_for(credential, transport=transport, detail_level=level)
        return {
            ref.psa_id: len(source.get_invoice(ref).lines)
            for ref in source.list_postable_invoices()
        }

    standard, detail = lines("standard"), lines("detail")
    assert standard.keys() == detail.keys()
    assert all(standard[key] <= detail[key] for key in standard)
    assert sum(standard.values()) < sum(detail.values())  # one line per GL account at standard
    # Condensed lines still add up and read as one unit of the whole amount, with a description.
    source = source_for(credential, transport=transport, detail_level="standard")
    for ref in source.list_postable_invoices():
        invoice = source.get_invoice(ref)
        assert sum(line.line_amount for line in invoice.lines) == invoice.subtotal
        assert all(line.description for line in invoice.lines)
        assert all(line.quantity * line.unit_price == line.line_amount for line in invoice.lines)
