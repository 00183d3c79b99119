"""The real client and source against the ConnectWise simulator, in-process (no ports, no sleep).

The client only waits through the injected sleep, which moves the simulator's virtual clock (and
`core.clock`, for the rate budget), so limits and `Retry-After` play out in virtual time.
"""

import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledgerbridge.connectors.base import ConnectorError, ErrorKind, InvoiceKind, Payment
from ledgerbridge.connectors.connectwise import conditions as cq
from ledgerbridge.connectors.connectwise.adapter import ConnectWiseSource
from ledgerbridge.connectors.connectwise.client import SEP, ConnectWiseClient
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.core import clock, ratebudget
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.connectwise.app import generate, seed
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.state import Fault, Simulator

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
CLIENT_ID = "00000000-0000-4000-8000-000000000001"  # the simulator's documented demo clientId


class VirtualSleep(list[float]):
    """Moves the simulator's clock and LedgerBridge's clock together."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__()
        self.sim = sim

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.sim.clock.advance(timedelta(seconds=seconds))
        clock.advance(timedelta(seconds=seconds))


@pytest.fixture
def sim() -> Simulator:
    sim = Simulator()
    sim.clock.set(T0)
    clock.set_now(T0)
    return sim


@pytest.fixture
def transport(sim: Simulator) -> Iterator[InProcessTransport]:
    transport = InProcessTransport(build_app(sim))
    yield transport
    transport.close()


@pytest.fixture
def sleep(sim: Simulator) -> VirtualSleep:
    return VirtualSleep(sim)


@pytest.fixture
def connect(transport: InProcessTransport, sleep: VirtualSleep) -> Callable[..., ConnectWiseClient]:
    def make(**overrides: Any) -> ConnectWiseClient:
        options: dict[str, Any] = {
            "site": "http://sim.test/connectwise",
            "company_id": "demo",
            "public_key": "demo-public",
            "private_key": "demo-private",
            "client_id": CLIENT_ID,
            "transport": transport,
            "sleep": sleep,
        }
        return ConnectWiseClient(**{**options, **overrides})

    return make


def _companies(count: int, first: int = 1) -> list[dict[str, Any]]:
    return [
        {"id": n, "identifier": f"Cust{n:05d}", "name": f"Customer {n}"}
        for n in range(first, first + count)
    ]


def _api_calls(sim: Simulator, fragment: str) -> int:
    return sum(1 for r in sim.requests if r.system == "connectwise" and fragment in r.path.lower())


# Paging boundaries


@pytest.mark.parametrize("count", [0, 1, 4, 5, 6, 11])
@pytest.mark.parametrize("forward_only", [False, True], ids=["navigable", "forward-only"])
def test_every_record_once_at_page_boundaries(
    sim: Simulator, connect: Callable[..., ConnectWiseClient], count: int, forward_only: bool
) -> None:
    seed(sim, {"companies": _companies(count)})
    client = connect(page_size=5)
    rows = list(client.iter_list("company/companies", forward_only=forward_only))
    assert [row["id"] for row in rows] == list(range(1, count + 1))
    # One request per page. CW sends no Link header when everything fits on one page, which
    # reads the same as a server that sends none, so one exactly full page costs one more
    # (empty) request rather than risking a silently cut list.
    extra = 1 if not forward_only and count == 5 else 0
    assert _api_calls(sim, "company/companies") == max(1, -(-count // 5)) + extra


def test_forward_only_reading_of_unposted_invoices_misses_none_while_posting(
    sim: Simulator, connect: Callable[..., ConnectWiseClient]
) -> None:
    sim.settings["connectwise"]["open_share"] = 0.0
    generate(sim, invoices=23, seed=5)
    source = ConnectWiseSource(connect(page_size=5))
    expected = [
        int(r["id"]) for r in sim.system("connectwise").collection("unpostedInvoices").values()
    ]
    seen = []
    for number, ref in enumerate(source.list_postable_invoices(), start=1):
        seen.append(int(ref.psa_id))
        # Posting as we go takes rows out of the list the pages are cut from.
        source.acknowledge([ref], f"LB-{number}")
    assert sorted(seen) == sorted(expected)
    assert sim.system("connectwise").collection("unpostedInvoices") == {}


def test_paging_through_ten_times_the_invoices_takes_no_more_memory(
    sim: Simulator, connect: Callable[..., ConnectWiseClient]
) -> None:
    def peak(invoices: int) -> int:
        generate(sim, invoices=invoices, seed=2)
        client = connect(page_size=100)
        client.system_info()
        tracemalloc.start()
        try:
            assert sum(1 for _ in client.iter_invoices()) == invoices
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(300), peak(3000)
    assert large < small * 1.5, (small, large)


# Reading real-looking books


def test_every_generated_invoice_reads_as_a_consistent_canonical_invoice(
    sim: Simulator, connect: Callable[..., ConnectWiseClient]
) -> None:
    generate(sim, invoices=60, seed=11)
    source = ConnectWiseSource(connect(page_size=7))
    refs = list(source.list_postable_invoices())
    assert len(refs) > 40
    kinds = set()
    for ref in refs:
        invoice = source.get_invoice(ref)
        kinds.add(invoice.kind)
        assert invoice.lines, invoice.number
        assert sum(line.line_amount for line in invoice.lines) == invoice.subtotal
        assert invoice.subtotal + invoice.tax_total == invoice.total
        assert invoice.total > 0  # credit notes too: canonical amounts are positive
        assert invoice.currency == "USD"
        assert all(isinstance(line.quantity, Decimal) for line in invoice.lines)
        assert invoice.source_ids["gl_entry_ids"]
    assert kinds == {InvoiceKind.INVOICE, InvoiceKind.CREDIT_NOTE}
    assert sum(1 for _ in source.list_customers()) >= 8
    assert all(term.due_days is not None for term in source.list_payment_terms())
    assert any(code.rate for code in source.list_tax_codes())
    assert all(account.account_number for account in source.list_gl_accounts())
    assert sum(1 for _ in source.list_products()) > 0
    assert sum(1 for _ in source.list_contacts()) > 0


def test_conditions_built_here_select_the_same_records_in_the_simulator(
    sim: Simulator, connect: Callable[..., ConnectWiseClient]
) -> None:
    tricky: list[dict[str, Any]] = [
        {"id": 1, "identifier": "Bob", "name": 'Bob "the" Builder'},
        {"id": 2, "identifier": "Share", "name": "C:\\share\\"},
        {"id": 3, "identifier": "Plain", "name": "Plain Co"},
    ]
    seed(sim, {"companies": tricky})
    client = connect()
    for row in tricky:
        found = list(client.iter_companies(cq.field("name").eq(str(row["name"]))))
        assert [f["id"] for f in found] == [row["id"]]
    either = cq.any_of(cq.field("id").eq(1), cq.field("identifier").like("Pla%"))
    assert [f["id"] for f in client.iter_companies(either)] == [1, 3]


def test_a_malformed_condition_comes_back_as_the_vendors_validation_error(
    sim: Simulator, connect: Callable[..., ConnectWiseClient]
) -> None:
    seed(sim, {"companies": _companies(1)})
    with pytest.raises(ConnectorError) as caught:
        list(connect().iter_companies('name = "unclosed'))
    assert caught.value.kind is ErrorKind.VALIDATION
    assert caught.value.status == 400
    assert "conditions" in caught.value.message


def test_a_moved_codebase_is_followed(
    sim: Simulator, connect: Callable[..., ConnectWiseClient]
) -> None:
    client = connect()
    client.system_info()
    before = client.codebase
    sim.system("connectwise").extra["codebase"] = "v2026_1/"
    client.system_info()
    assert (before, client.codebase) == ("v2025_1/", "v2026_1/")


# Limits


def test_a_429_storm_is_waited_out(
    sim: Simulator, connect: Callable[..., ConnectWiseClient], sleep: VirtualSleep
) -> None:
    seed(sim, {"companies": _companies(12)})
    storm = Fault(
        system="connectwise",
        path="company/companies",
        status=429,
        headers={"Retry-After": "3"},
        body={"code": "TooManyRequests", "message": "Request rate exceeds capacity."},
        times=4,
    )
    sim.add_fault(storm)
    client = connect(page_size=5, retry=RetryPolicy(max_attempts=5))
    assert len(list(client.iter_companies())) == 12
    assert sleep == [3.0] * 4


def _busiest_window(sim: Simulator, seconds: int) -> int:
    served = sorted(
        r.at for r in sim.requests if r.status == 200 and "/apis/3.0/" in r.path.lower()
    )
    window = timedelta(seconds=seconds)
    return max(
        (sum(1 for t in served if start <= t < start + window) for start in served), default=0
    )


def test_over_capacity_the_client_finishes_within_the_limit(
    sim: Simulator, connect: Callable[..., ConnectWiseClient], sleep: VirtualSleep
) -> None:
    sim.settings["connectwise"].update(capacity_per_minute=5, window_seconds=60)
    seed(sim, {"companies": _companies(30)})
    client = connect(page_size=2)
    assert len(list(client.iter_companies())) == 30
    assert _busiest_window(sim, 60) <= 5
    assert sleep, "the simulator's 429s were waited out"
    assert all(r.status in (200, 429) for r in sim.requests)


@pytest.mark.django_db
def test_a_budget_matching_the_limit_never_meets_a_429(
    sim: Simulator, connect: Callable[..., ConnectWiseClient]
) -> None:
    sim.settings["connectwise"].update(capacity_per_minute=5, window_seconds=60)
    seed(sim, {"companies": _companies(30)})
    ratebudget.configure(
        "connectwise:demo",
        label="ConnectWise",
        calls_per_window=5,
        window=timedelta(minutes=1),
        max_concurrent=1,
    )
    client = connect(page_size=2, budget="connectwise:demo")
    assert len(list(client.iter_companies())) == 30
    assert [r.status for r in sim.requests if r.status == 429] == []
    assert _busiest_window(sim, 60) <= 5


# Writes whose answer is lost


def _postable(sim: Simulator, connect: Callable[..., ConnectWiseClient]) -> ConnectWiseSource:
    sim.settings["connectwise"]["open_share"] = 0.0
    generate(sim, invoices=12, seed=3)
    return ConnectWiseSource(connect())


def test_a_batch_committed_then_dropped_is_uncertain_and_found_by_lookup(
    sim: Simulator, connect: Callable[..., ConnectWiseClient]
) -> None:
    source = _postable(sim, connect)
    invoice = source.get_invoice(next(iter(source.list_postable_invoices())))
    sim.add_fault(Fault(method="POST", path="accounting/batches$", drop_after_commit=True, times=1))
    entries = [int(entry) for entry in invoice.source_ids["gl_entry_ids"]]
    with pytest.raises(ConnectorError) as caught:
        source.client.create_batch(
            {
                "batchIdentifier": "LB-DROP",
                "exportInvoicesFlag": True,
                "processedRecordIds": entries,
            }
        )
    assert caught.value.kind is ErrorKind.UNCERTAIN
    found = source.client.find_batch("LB-DROP")
    assert found is not None and found["batchIdentifier"] == "LB-DROP"


def test_acknowledge_through_a_dropped_response_posts_exactly_once(
    sim: Simulator, connect: Callable[..., ConnectWiseClient]
) -> None:
    source = _postable(sim, connect)
    refs = [source.get_invoice(ref).ref() for ref in list(source.list_postable_invoices())[:3]]
    sim.add_fault(Fault(method="POST", path="accounting/batches$", drop_after_commit=True, times=1))
    result = source.acknowledge(refs, "LB-20260202-I")
    assert result.outcome == "created"
    assert set(result.acknowledged) == {ref.psa_id for ref in refs}
    batches = sim.system("connectwise").collection("batches")
    assert [b["batchIdentifier"] for b in batches.values()] == ["LB-20260202-I"]
    posts = [r for r in sim.requests if r.method == "POST" and r.path.endswith("batches")]
    assert len(posts) == 1
    again = source.acknowledge(refs, "LB-20260202-I")
    assert again.outcome == "already_existed"
    assert set(again.acknowledged) == {ref.psa_id for ref in refs}
    assert len(batches) == 1
    unposted = sim.system("connectwise").collection("unpostedInvoices")
    assert not {int(ref.psa_id) for ref in refs} & set(unposted)


def test_a_payment_through_a_dropped_response_is_paid_once(
    sim: Simulator, connect: Callable[..., ConnectWiseClient]
) -> None:
    source = _postable(sim, connect)
    invoices = sim.system("connectwise").collection("invoices")
    target = next(i for i in invoices.values() if i["balance"] > 0 and i["type"] != "CreditMemo")
    ref = source.get_invoice(
        next(r for r in source.list_postable_invoices() if r.psa_id == str(target["id"]))
    ).ref()
    paid = Payment(amount=target["balance"], paid_on=T0.date(), reference="XERO-1")
    sim.add_fault(Fault(method="POST", path="payments$", drop_after_commit=True, times=1))
    result = source.record_payment(ref, paid, "pay:1")
    assert result.outcome == "created"
    assert invoices[target["id"]]["balance"] == 0
    again = source.record_payment(ref, paid, "pay:1")
    assert (again.outcome, again.psa_payment_id) == ("already_existed", result.psa_payment_id)
    ours = [
        p
        for p in sim.system("connectwise").collection("payments").values()
        if p["invoice"]["id"] == target["id"] and p["paymentDate"].startswith("2026-02-02")
    ]
    assert len(ours) == 1


# Test connectivity, one failure kind at a time


def _messages(client: ConnectWiseClient) -> list[str]:
    report = ConnectWiseSource(client).test_connectivity()
    assert not report.ok
    return [f"{finding.kind}: {finding.message}" for finding in report.findings]


def test_connectivity_all_good(connect: Callable[..., ConnectWiseClient]) -> None:
    report = ConnectWiseSource(connect()).test_connectivity()
    assert report.ok, report.findings
    assert report.details["codebase"] == "v2025_1/"


def test_connectivity_wrong_keys(connect: Callable[..., ConnectWiseClient]) -> None:
    assert _messages(connect(private_key="not-the-key")) == [
        "auth: ConnectWise rejected the API keys for company 'demo'. Check the public and "
        "private key of the API member."
    ]


def test_connectivity_unknown_company(connect: Callable[..., ConnectWiseClient]) -> None:
    assert _messages(connect(company_id="nosuchmsp")) == [
        "auth: ConnectWise does not know the company 'nosuchmsp'."
    ]


def test_connectivity_unregistered_client_id(connect: Callable[..., ConnectWiseClient]) -> None:
    assert _messages(connect(client_id="11111111-2222-4333-8444-555555555555")) == [
        "auth: ConnectWise does not accept the clientId '11111111-2222-4333-8444-555555555555'."
    ]


def test_missing_client_id(connect: Callable[..., ConnectWiseClient]) -> None:
    client = connect(client_id="")
    assert _messages(client) == ["auth: No ConnectWise clientId is set for this connection."]
    # Sent anyway, the simulator's refusal reads the same.
    with pytest.raises(ConnectorError) as caught:
        client.system_info()
    assert caught.value.message == "No ConnectWise clientId is set for this connection."


def test_connectivity_names_the_missing_permission(
    sim: Simulator, connect: Callable[..., ConnectWiseClient]
) -> None:
    sim.system("connectwise").extra["denied_permissions"] = {
        "apiuser": ["Finance/Accounting Interface"]
    }
    messages = _messages(connect())
    assert (
        messages
        == [
            f"permission: The ConnectWise API member lacks the permission Finance {SEP} "
            f"Accounting Interface {SEP} Inquire, which LedgerBridge needs to work with the "
            "accounting interface.",
        ]
        * 2
    )  # unposted invoices and batches both need it


def test_setup_tables_permission_covers_gl_accounts_tax_codes_and_terms(
    sim: Simulator, connect: Callable[..., ConnectWiseClient]
) -> None:
    # The client and the simulator must agree on which permission guards GL accounts: the
    # admin is told to grant exactly the one the PSA checks.
    sim.system("connectwise").extra["denied_permissions"] = {"apiuser": ["System/Table Setup"]}
    messages = _messages(connect())
    # Tax codes, billing terms and GL accounts: three refused probes, one permission named.
    assert len(messages) == 3
    assert all(f"System {SEP} Table Setup {SEP} Inquire" in message for message in messages)
