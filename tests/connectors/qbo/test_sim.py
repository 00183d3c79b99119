"""QboClient and QboLedger against the QuickBooks simulator, in-process, on a virtual clock.

Includes the issue's acceptance tests for QuickBooks: a batch of 30 with 3 invalid (2), 1,000
invoices through commit-then-drop faults landing exactly once (3), and 3,000 invoices under the
real limits with the rate budget pacing the calls (4).
"""

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledgerbridge.connectors.base import (
    ConnectorError,
    Customer,
    ErrorKind,
    InvoiceKind,
    NameClashRule,
    PostableDocument,
    PostableLine,
    PostResult,
)
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.qbo.adapter import QboLedger
from ledgerbridge.connectors.qbo.client import QboClient, configure_rate_budget, select
from ledgerbridge_sim import oauth
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.organisations import DEFAULTS
from ledgerbridge_sim.state import Fault, Simulator
from tests.connectors.qbo.conftest import NOW, Clocks

SIM_API = "http://sim.test/qbo/v3/"
US_REALM = DEFAULTS["qbo"][0].id
CA_REALM = DEFAULTS["qbo"][1].id


class SimTokens:
    """Tokens from the simulator's OAuth; a refresh asks it for a new one."""

    def __init__(self, sim: Simulator, realm_id: str) -> None:
        self.sim, self.realm_id = sim, realm_id
        self.token = self._issue()
        self.refreshes = 0

    def _issue(self) -> str:
        token: str = oauth.issue_tokens(self.sim, "qbo", (self.realm_id,))["access_token"]
        return token

    def current(self) -> str:
        return self.token

    def refreshed(self, rejected: str) -> str:
        self.refreshes += 1
        if rejected == self.token:
            self.token = self._issue()
        return self.token


@pytest.fixture
def sim() -> Simulator:
    return Simulator()


@pytest.fixture
def sim_clocks(sim: Simulator) -> Iterator[Clocks]:
    from ledgerbridge.core import clock

    yield Clocks(sim)
    clock.set_now(None)


@pytest.fixture
def transport(sim: Simulator) -> Iterator[InProcessTransport]:
    made = InProcessTransport(build_app(sim))
    yield made
    made.close()


type Factory = Callable[..., QboClient]


@pytest.fixture
def make_client(
    sim: Simulator, transport: InProcessTransport, sim_clocks: Clocks
) -> Iterator[Factory]:
    made: list[QboClient] = []

    def make(realm_id: str = CA_REALM, **kwargs: Any) -> QboClient:
        kwargs.setdefault("tokens", SimTokens(sim, realm_id))
        kwargs.setdefault("retry", RetryPolicy(max_attempts=5, base_delay=0.5))
        client = QboClient(
            api_url=SIM_API,
            realm_id=realm_id,
            transport=transport,
            sleep=sim_clocks.sleep,
            **kwargs,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def qbo_requests(sim: Simulator, path: str = "") -> list[tuple[str, str, int]]:
    return [
        (r.method, r.path, r.status) for r in sim.requests if r.system == "qbo" and path in r.path
    ]


def stored_invoices(sim: Simulator, realm_id: str) -> list[dict[str, Any]]:
    return [
        row
        for row in sim.system("qbo").collection("Invoice").values()
        if str(row.get("realmId")) == realm_id
    ]


class Company:
    """What a test needs from one realm: customers, an item, the standard tax code."""

    def __init__(self, ledger: QboLedger, customers: int = 3) -> None:
        self.ledger = ledger
        self.item = next(i for i in ledger.list_items() if i.active and i.unit_price).code
        rates = {r.name: r for r in ledger.list_tax_rates()}
        self.tax = rates.get("HST ON")
        self.customers = [
            ledger.ensure_customer(Customer(psa_id=f"C{n}", name=f"Client {n}")).ledger_id
            for n in range(customers)
        ]

    def invoice(self, n: int, **changes: Any) -> PostableDocument:
        amount = Decimal(100 + n % 50) + Decimal("0.25")
        rate = self.tax.rate if self.tax and self.tax.rate is not None else Decimal(0)
        tax = (amount * rate / 100).quantize(Decimal("0.01"))
        fields: dict[str, Any] = {
            "key": f"co1:invoice:{n}:v1",
            "kind": InvoiceKind.INVOICE,
            "psa_id": str(n),
            "number": f"INV-{n:05d}",
            "customer_ledger_id": self.customers[n % len(self.customers)],
            "issued_on": date(2026, 10, 15),
            "due_on": date(2026, 11, 14),
            "currency": "",
            "lines": (
                PostableLine(
                    description=f"Managed services, month {n}",
                    quantity=Decimal(1),
                    unit_price=amount,
                    line_amount=amount,
                    item_code=self.item,
                    tax_code=self.tax.ledger_id if self.tax else "",
                    tax_amount=tax,
                ),
            ),
            "total": amount + tax,
        }
        fields.update(changes)
        return PostableDocument(**fields)


def push(ledger: QboLedger, documents: list[PostableDocument]) -> list[PostResult]:
    """What the engine does: batches of 30, and uncertain documents sent again after lookup."""
    results: dict[str, PostResult] = {}
    pending = list(documents)
    for _ in range(10):
        if not pending:
            break
        retry: list[PostableDocument] = []
        for start in range(0, len(pending), ledger.batch_size):
            chunk = pending[start : start + ledger.batch_size]
            for document, result in zip(chunk, ledger.post_documents(chunk), strict=True):
                results[document.key] = result
                if result.error is not None and result.error.kind in (
                    ErrorKind.UNCERTAIN,
                    ErrorKind.RATE_LIMITED,
                    ErrorKind.TRANSIENT,
                ):
                    retry.append(document)
        pending = retry
    return [results[d.key] for d in documents]


# -- lists and connectivity ----------------------------------------------------------------


def test_lists_of_a_new_canadian_company(make_client: Factory) -> None:
    ledger = QboLedger(make_client(CA_REALM))
    rates = {r.name: r for r in ledger.list_tax_rates()}
    assert rates["GST/PST BC"].rate == Decimal(12) and rates["HST ON"].rate == Decimal(13)
    assert all(a.account_type in ("Income", "Other Income") for a in ledger.list_accounts())
    assert {t.name: t.days for t in ledger.list_terms()}["Net 30"] == 30
    items = list(ledger.list_items())
    assert items and all(":" in i.code or i.code == i.name for i in items)
    assert {c.name for c in ledger.list_tracking_categories()} == {"Class", "Department"}


def test_connectivity_ok_and_for_a_realm_the_token_does_not_cover(
    make_client: Factory, sim: Simulator
) -> None:
    report = QboLedger(make_client(US_REALM)).test_connectivity()
    assert report.ok and report.details["automated_sales_tax"] == "yes"
    stranger = make_client(CA_REALM, tokens=SimTokens(sim, US_REALM))
    report = QboLedger(stranger).test_connectivity()
    assert not report.ok
    assert report.problems[0].kind == ErrorKind.PERMISSION
    assert CA_REALM in report.problems[0].message


def test_an_expired_token_is_refreshed_once(
    make_client: Factory, sim: Simulator, sim_clocks: Clocks
) -> None:
    tokens = SimTokens(sim, CA_REALM)
    client = make_client(CA_REALM, tokens=tokens)
    client.query_page(select("Term"))
    sim_clocks.sleep(3601)  # the access token lives an hour
    assert client.query_page(select("Term"))
    assert tokens.refreshes == 1
    assert [status for *_, status in qbo_requests(sim)] == [200, 401, 200]


# -- customers -----------------------------------------------------------------------------


def test_customer_names_clash_across_suppliers_and_employees(
    make_client: Factory, sim: Simulator
) -> None:
    ledger = QboLedger(make_client(CA_REALM))
    vendor = ledger.client.query_page(select("Vendor"))[0]["DisplayName"]
    employee = ledger.client.query_page(select("Employee"))[0]["DisplayName"]
    with pytest.raises(ConnectorError, match="a supplier named"):
        ledger.ensure_customer(Customer(psa_id="V1", name=vendor))
    with pytest.raises(ConnectorError, match="an employee named"):
        ledger.ensure_customer(
            Customer(psa_id="E1", name=employee), on_name_clash=NameClashRule.LINK_EXISTING
        )
    made = ledger.ensure_customer(
        Customer(psa_id="V1", name=vendor, identifier="NW"),
        on_name_clash=NameClashRule.DISAMBIGUATE,
    )
    assert (made.outcome, made.name) == ("created", f"{vendor} (NW)")
    again = QboLedger(make_client(CA_REALM)).ensure_customer(
        Customer(psa_id="V1", name=vendor, identifier="NW")
    )
    assert (again.outcome, again.ledger_id) == ("found", made.ledger_id)


def test_an_existing_customer_is_linked_once_and_found_after(make_client: Factory) -> None:
    ledger = QboLedger(make_client(CA_REALM))
    existing = ledger.client.query_page(select("Customer"))[0]
    psa = Customer(psa_id="PSA-1", name=existing["DisplayName"])
    linked = ledger.ensure_customer(psa)
    assert (linked.outcome, linked.ledger_id) == ("linked", existing["Id"])
    found = QboLedger(make_client(CA_REALM)).ensure_customer(psa)
    assert (found.outcome, found.ledger_id) == ("found", existing["Id"])


# -- acceptance (2): 30 invoices, 3 invalid ------------------------------------------------


def test_a_batch_of_30_with_3_invalid_creates_27_and_maps_3_errors(
    make_client: Factory, sim: Simulator
) -> None:
    ledger = QboLedger(make_client(CA_REALM))
    company = Company(ledger)
    documents = [company.invoice(n) for n in range(30)]
    documents[4] = company.invoice(4, customer_ledger_id="424242")  # no such customer
    documents[11] = company.invoice(11, number=documents[3].number)  # number already used
    documents[20] = company.invoice(20, issued_on=date(2026, 6, 30))  # before closing date
    ledger.client.update(
        "Preferences",
        {
            **{k: v for k, v in ledger.client.preferences().items() if k in ("Id", "SyncToken")},
            "AccountingInfoPrefs": {"BookCloseDate": "2026-06-30"},
        },
        request_key="test:close-books",
    )
    results = ledger.post_documents(documents)
    failed = {i: r.error for i, r in enumerate(results) if r.error is not None}
    # (the three refusals: 610 missing customer, 6140 number taken, 6000 closing date)
    assert set(failed) == {4, 11, 20}
    assert sum(1 for r in results if r.outcome == "created") == 27
    assert len(stored_invoices(sim, CA_REALM)) == 27
    assert all(e.kind == ErrorKind.VALIDATION for e in failed.values())
    assert "deleted or made inactive in QuickBooks" in failed[4].hint
    assert "different document numbered" in failed[11].message
    assert "closing date" in failed[20].message
    assert [p for p in qbo_requests(sim, "/batch")] == [
        ("POST", f"/qbo/v3/company/{CA_REALM}/batch", 200)
    ]


# -- acceptance (3): commit-then-drop on 10% of batch writes --------------------------------


@pytest.mark.parametrize("attempts", [5, 1], ids=["replayed-by-requestid", "resolved-by-lookup"])
def test_1000_invoices_through_dropped_answers_land_exactly_once(
    make_client: Factory, sim: Simulator, attempts: int
) -> None:
    sim.settings["qbo"]["throttling"] = False  # pacing is test (4)'s subject, not this one's
    ledger = QboLedger(make_client(CA_REALM, retry=RetryPolicy(max_attempts=attempts)))
    company = Company(ledger, customers=10)
    documents = [company.invoice(n) for n in range(1000)]
    sim.add_fault(
        Fault(system="qbo", method="POST", path="/batch", drop_after_commit=True, probability=0.1)
    )
    results = push(ledger, documents)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    numbers = Counter(row["DocNumber"] for row in stored_invoices(sim, CA_REALM))
    assert len(numbers) == 1000 and set(numbers.values()) == {1}
    assert sim.faults[0].hits >= 1
    if attempts == 5:
        # Each dropped batch was sent again with its requestid and QuickBooks replayed it.
        assert all(r.outcome == "created" for r in results)
    if attempts == 1:
        # Every dropped batch was found by a DocNumber lookup, not sent blind.
        assert sum(1 for r in results if r.outcome == "already_existed") >= 30


# -- acceptance (4): 3,000 invoices under the real limits ----------------------------------


@pytest.mark.django_db
def test_3000_invoices_under_real_limits_are_paced_by_the_budget(
    make_client: Factory, sim: Simulator, sim_clocks: Clocks
) -> None:
    configure_rate_budget("qbo:test")
    ledger = QboLedger(make_client(CA_REALM, budget="qbo:test"))
    company = Company(ledger, customers=20)
    results = push(ledger, [company.invoice(n) for n in range(3000)])
    assert all(r.ok for r in results)
    assert len(stored_invoices(sim, CA_REALM)) == 3000
    throttled = sum(1 for *_, status in qbo_requests(sim) if status == 429)
    batches = len(qbo_requests(sim, "/batch"))
    assert batches == 100
    # 40 batch calls a minute: 100 need at least two and a half minutes of (virtual) time.
    assert sim.clock.now() - NOW >= timedelta(minutes=2)
    assert throttled <= 3, throttled
    per_minute = Counter(
        int((r.at - NOW).total_seconds() // 60) for r in sim.requests if r.path.endswith("/batch")
    )
    assert max(per_minute.values()) <= 40


# -- US automated sales tax, lookups, payments, locks --------------------------------------


def test_us_lines_go_taxable_and_quickbooks_total_is_reported(
    make_client: Factory, sim: Simulator
) -> None:
    ledger = QboLedger(make_client(US_REALM))
    company = Company(ledger, customers=1)
    document = company.invoice(
        1,
        lines=(
            PostableLine(
                description="Seats",
                quantity=Decimal(2),
                unit_price=Decimal("50.00"),
                line_amount=Decimal("100.00"),
                item_code=company.item,
                tax_code="TAX",
                tax_amount=Decimal("0.00"),
            ),
        ),
        total=Decimal("100.00"),
    )
    (result,) = ledger.post_documents([document])
    assert result.document is not None
    (stored,) = stored_invoices(sim, US_REALM)
    assert stored["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"]["value"] == "TAX"
    # QuickBooks computed tax from the address; the engine sees the difference in the total.
    assert result.document.total == Decimal(str(stored["TotalAmt"]))
    assert result.document.total > document.total
    found = ledger.find_document(InvoiceKind.INVOICE, number=document.number)
    assert found is not None and found.ledger_id == result.document.ledger_id


def test_payments_since_and_lock_dates(make_client: Factory, sim: Simulator) -> None:
    from ledgerbridge_sim.qbo import app as qbo

    qbo.generate(sim, invoices=40, seed=3)
    ledger = QboLedger(make_client(US_REALM))
    payments = list(ledger.payments_since(None))
    assert payments
    assert all(p.amount > 0 and ":" in p.ledger_id for p in payments)
    assert [p.updated_at for p in payments] == sorted(p.updated_at for p in payments)  # type: ignore[type-var]
    latest = payments[-1].updated_at
    assert list(ledger.payments_since(latest)) == []
    assert ledger.lock_dates().period_lock is None
