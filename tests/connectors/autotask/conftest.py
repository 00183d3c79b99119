"""The Autotask client against the in-process simulator: no ports, and time moved, never slept."""

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledgerbridge.connectors.autotask.adapter import AutotaskSource
from ledgerbridge.connectors.autotask.client import AutotaskClient, AutotaskCredentials
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.core import clock
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.autotask import app as autotask
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.state import Simulator

FIXTURES = Path(__file__).parent / "fixtures"
SIM_BASE = "http://sim.test"
ZONE_LOOKUP = f"{SIM_BASE}/autotask/ATServicesRest/V1.0/zoneInformation"
NOW = datetime(2024, 2, 20, 15, 0, tzinfo=UTC)
DEMO = AutotaskCredentials(
    username=autotask.DEFAULT_USERNAME,
    secret=autotask.DEFAULT_SECRET,
    integration_code=autotask.DEFAULT_INTEGRATION_CODE,
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


class Clocks:
    """LedgerBridge's clock and the simulator's, moved together; `sleep` is what clients wait on."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.slept: list[float] = []
        self.on_sleep: list[Callable[[], None]] = []
        clock.set_now(NOW)
        sim.clock.set(NOW)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(timedelta(seconds=seconds))
        for hook in self.on_sleep:
            hook()

    def advance(self, delta: timedelta) -> None:
        clock.advance(delta)
        self.sim.clock.advance(delta)


@pytest.fixture
def sim() -> Simulator:
    return Simulator()


@pytest.fixture
def clocks(sim: Simulator) -> Clocks:
    return Clocks(sim)


@pytest.fixture
def sim_transport(sim: Simulator) -> Iterator[InProcessTransport]:
    transport = InProcessTransport(build_app(sim))
    yield transport
    transport.close()


type ClientFactory = Callable[..., AutotaskClient]


@pytest.fixture
def make_client(sim_transport: InProcessTransport, clocks: Clocks) -> Iterator[ClientFactory]:
    made: list[AutotaskClient] = []

    def make(credentials: AutotaskCredentials = DEMO, **kwargs: Any) -> AutotaskClient:
        kwargs.setdefault("retry", RetryPolicy(max_attempts=5, base_delay=0.5))
        client = AutotaskClient(
            credentials,
            zone_lookup_url=ZONE_LOOKUP,
            transport=sim_transport,
            sleep=clocks.sleep,
            **kwargs,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> AutotaskClient:
    return make_client()


@pytest.fixture
def source(client: AutotaskClient) -> AutotaskSource:
    return AutotaskSource(client)


@pytest.fixture
def documented_tenant(sim: Simulator) -> Simulator:
    """The small tenant of the documentation examples in fixtures/, loaded into the simulator."""
    invoices = load("invoices_page.json")["items"]
    paid = load("invoice_paid.json")["item"]
    autotask.seed(
        sim,
        {
            "TaxRegions": [{"id": 3, "name": "Texas", "isActive": True}],
            "TaxCategories": load("tax_categories.json")["items"],
            "Taxes": load("taxes.json")["items"],
            "PaymentTerms": load("payment_terms.json")["items"],
            "BillingCodes": [
                {
                    "id": 29682801,
                    "name": "Remote Support",
                    "generalLedgerAccount": 4010,
                    "taxCategoryID": 2,
                    "isActive": True,
                },
                {
                    "id": 29682810,
                    "name": "Software Licensing",
                    "generalLedgerAccount": 4110,
                    "taxCategoryID": 2,
                    "isActive": True,
                },
            ],
            "Companies": load("companies.json")["items"],
            "Contacts": load("contacts.json")["items"],
            "Products": load("products.json")["items"],
            "Invoices": [*invoices, paid],
            "BillingItems": [
                *load("billing_items.json")["items"],
                {
                    "id": 7003,
                    "invoiceID": 29684513,
                    "companyID": 174,
                    "billingItemType": 6,
                    "billingCodeID": 29682801,
                    "itemName": "Service credit",
                    "description": "January outage",
                    "quantity": Decimal(-1),
                    "rate": Decimal("100.00"),
                    "extendedPrice": Decimal("-100.00"),
                    "taxDollars": Decimal("-8.25"),
                    "totalAmount": Decimal("-108.25"),
                    "nonBillable": 0,
                },
            ],
        },
    )
    return sim
