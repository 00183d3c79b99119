"""AutotaskClient and AutotaskSource against the Autotask simulator, in-process."""

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge.connectors.autotask import filters as f
from ledgerbridge.connectors.autotask.adapter import (
    AutotaskSource,
    PartialPaymentNotRecordedError,
)
from ledgerbridge.connectors.autotask.client import (
    AutotaskClient,
    AutotaskCredentials,
    configure_rate_budget,
)
from ledgerbridge.connectors.base import (
    ConnectorError,
    ErrorKind,
    InvoiceKind,
    Payment,
    PsaSource,
)
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.autotask import app as autotask
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.state import Fault, Simulator
from tests.connectors.autotask.conftest import DEMO, NOW, ClientFactory, Clocks

SIZE = 5


def api_requests(sim: Simulator, *, path: str = "") -> list[tuple[str, str, int]]:
    return [
        (r.method, r.path, r.status)
        for r in sim.requests
        if r.system == "autotask" and "zoneinformation" not in r.path.lower() and path in r.path
    ]


def zone_lookups(sim: Simulator) -> int:
    return sum(1 for r in sim.requests if "zoneinformation" in r.path.lower())


def seed_companies(sim: Simulator, count: int) -> list[int]:
    autotask.seed(
        sim,
        {
            "Companies": [
                {"companyName": f"Customer {n}", "companyType": 1, "isActive": n % 3 != 0}
                for n in range(count)
            ]
        },
    )
    return sorted(sim.system("autotask").collection("Companies"))


# -- zone discovery ------------------------------------------------------------------------


def test_zone_discovery_points_every_call_at_the_zone(
    client: AutotaskClient, sim: Simulator
) -> None:
    seed_companies(sim, 2)
    zone = client.zone()
    assert zone.url == "http://sim.test/autotask/zone1/ATServicesRest/"
    assert zone.zone_name == "Simulator Zone 1"
    assert len(list(client.query("Companies", [f.every_row()]))) == 2
    assert client.get("Companies", 174) is None
    assert zone_lookups(sim) == 1
    assert all("/autotask/zone1/ATServicesRest/V1.0/" in path for _, path, _ in api_requests(sim))


def test_a_zone_move_is_followed(client: AutotaskClient, sim: Simulator) -> None:
    (first, *_) = seed_companies(sim, 1)
    assert client.get("Companies", first) is not None
    sim.settings["autotask"]["zone"] = "zone7"  # the tenant moves; the old zone answers 401
    assert client.get("Companies", first) is not None
    assert client.zone().url == "http://sim.test/autotask/zone7/ATServicesRest/"
    assert zone_lookups(sim) == 2
    assert [status for *_, status in api_requests(sim)] == [200, 401, 200]


# -- queries -------------------------------------------------------------------------------


def test_nested_filters(client: AutotaskClient, sim: Simulator) -> None:
    ids = seed_companies(sim, 9)
    names = {
        row["id"]: row["companyName"]
        for row in client.query(
            "Companies",
            [
                f.or_(
                    f.and_(f.eq("isActive", True), f.begins_with("companyName", "customer 1")),
                    f.and_(f.eq("isActive", False), f.or_(f.eq("id", ids[0]), f.eq("id", ids[6]))),
                ),
                f.noteq("companyName", "Customer 7"),
            ],
            include_fields=["companyName"],
        )
    }
    assert names == {ids[0]: "Customer 0", ids[1]: "Customer 1", ids[6]: "Customer 6"}


@pytest.mark.parametrize("count", [0, 1, SIZE - 1, SIZE, SIZE + 1, 2 * SIZE + 1])
def test_page_boundaries_follow_next_page_url_by_post(
    client: AutotaskClient, sim: Simulator, count: int
) -> None:
    expected = seed_companies(sim, count)
    rows = list(client.query("Companies", [f.every_row()], page_size=SIZE))
    assert [row["id"] for row in rows] == expected
    calls = api_requests(sim)
    assert len(calls) == max(1, -(-count // SIZE))
    assert all(method == "POST" and status == 200 for method, _, status in calls)
    assert sum(1 for _, path, _ in calls if path.endswith("/query/next")) == len(calls) - 1


def test_the_simulator_refuses_a_get_on_next_page_url(
    client: AutotaskClient, sim: Simulator
) -> None:
    # What the client must avoid: following a POST query's page link with GET answers 405.
    expected = seed_companies(sim, SIZE + 1)
    body = f.query_body([f.every_row()], max_records=SIZE)
    base = client.zone().url + "V1.0/"
    raw = httpx.Client(transport=InProcessTransport(build_app(sim)), headers=_demo_headers())
    first = raw.post(base + "Companies/query", json=body).json()
    assert raw.get(first["pageDetails"]["nextPageUrl"]).status_code == 405
    raw.close()
    assert [row["id"] for row in client.query("Companies", [f.every_row()], page_size=SIZE)] == (
        expected
    )


def _demo_headers() -> dict[str, str]:
    return {
        "UserName": DEMO.username,
        "Secret": DEMO.secret,
        "ApiIntegrationCode": DEMO.integration_code,
    }


def test_count_and_field_metadata(client: AutotaskClient, sim: Simulator) -> None:
    seed_companies(sim, 7)
    assert client.count("Companies", [f.eq("isActive", True)]) == 4
    fields = client.entity_fields("Invoices")
    assert fields["paidDate".lower()].data_type == "datetime"
    assert not fields["duedate"].is_queryable
    assert client.entity_fields("Companies")["companytype"].label_for(1) == "Customer"


# -- limits --------------------------------------------------------------------------------


def test_thread_limit_429s_are_waited_out(
    client: AutotaskClient, sim: Simulator, clocks: Clocks
) -> None:
    expected = seed_companies(sim, 3)
    # Three requests of another worker of this integration are in flight on Companies…
    in_flight = sim.system("autotask").extra.setdefault("threads_in_flight", Counter())
    key = (DEMO.integration_code.upper(), "companies")
    in_flight[key] = 3

    # …and end while the client backs off for the second time.
    def other_worker_finishes() -> None:
        if len(clocks.slept) >= 2:
            in_flight.pop(key, None)

    clocks.on_sleep.append(other_worker_finishes)
    assert [row["id"] for row in client.query("Companies", [f.every_row()])] == expected
    statuses = [status for *_, status in api_requests(sim)]
    assert statuses == [429, 429, 200]
    assert all(seconds > 0 for seconds in clocks.slept)


def test_a_429_storm_on_a_write_is_retried_until_it_lands(
    client: AutotaskClient, sim: Simulator, documented_tenant: Simulator
) -> None:
    sim.add_fault(
        Fault(
            system="autotask",
            method="PATCH",
            path=r"/V1\.0/Invoices$",
            status=429,
            body={"errors": ["Thread Threshold Exceeded — The Autotask API thread threshold "
                             "of 3 threads has been exceeded."]},
            times=3,
        )
    )  # fmt: skip
    # A 429 means the service did nothing, so even a write is safe to send again.
    assert client.update("Invoices", 29684512, {"invoiceNumber": "INV-1"}) == 29684512
    assert sim.system("autotask").collection("Invoices")[29684512]["invoiceNumber"] == "INV-1"


@pytest.mark.django_db
def test_the_rate_budget_keeps_the_client_under_the_hourly_threshold(
    make_client: ClientFactory, sim: Simulator
) -> None:
    sim.settings["autotask"]["requests_per_hour"] = 600
    configure_rate_budget("autotask:test", requests_per_hour=600)
    expected = seed_companies(sim, 24)
    client = make_client(budget="autotask:test")
    rows = list(client.query("Companies", [f.every_row()], page_size=1))
    assert [row["id"] for row in rows] == expected
    # 10 calls a minute: 25 calls need the clock to pass the second full minute, without a 429.
    assert all(status == 200 for *_, status in api_requests(sim))
    assert sim.clock.now() - NOW >= timedelta(minutes=2)
    per_minute = Counter(
        int((r.at - NOW).total_seconds() // 60) for r in sim.requests if "V1.0/" in r.path
    )
    assert max(per_minute.values()) <= 10


@pytest.mark.django_db
def test_hourly_threshold_429s_are_waited_out(
    make_client: ClientFactory, sim: Simulator, clocks: Clocks, sim_transport: Any
) -> None:
    sim.settings["autotask"]["requests_per_hour"] = 5
    expected = seed_companies(sim, 3)
    # Another integration used this hour's allowance 58 minutes ago.
    other = make_client()
    for _ in range(5):
        other.get("Companies", expected[0])
    clocks.advance(timedelta(minutes=58))
    configure_rate_budget("autotask:hourly", requests_per_hour=600)
    client = make_client(budget="autotask:hourly")
    before = len(api_requests(sim))
    assert [row["id"] for row in client.query("Companies", [f.every_row()])] == expected
    statuses = [status for *_, status in api_requests(sim)[before:]]
    assert statuses[0] == 429 and statuses[-1] == 200


# -- the source ----------------------------------------------------------------------------


def test_source_implements_the_protocol(source: AutotaskSource) -> None:
    assert isinstance(source, PsaSource)


def test_postable_invoices_and_one_invoice(
    source: AutotaskSource, documented_tenant: Simulator
) -> None:
    refs = list(source.list_postable_invoices())
    assert [(r.psa_id, r.kind) for r in refs] == [
        ("29684512", InvoiceKind.INVOICE),
        ("29684513", InvoiceKind.CREDIT_NOTE),
    ]
    assert refs[0].source_ids == {"invoice_batch_id": "4021"}

    invoice = source.get_invoice(refs[0])
    assert invoice.number == "T20240131.0001"
    assert invoice.issued_on == date(2024, 1, 31)
    assert invoice.due_on == date(2024, 3, 1)
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (
        Decimal("1000.00"),
        Decimal("82.50"),
        Decimal("1082.50"),
    )
    assert sum(line.line_amount for line in invoice.lines) == invoice.subtotal
    assert sum(line.tax_amount or 0 for line in invoice.lines) == invoice.tax_total
    support, licences = invoice.lines
    assert support.quantity == Decimal("2.5") and support.unit_price == Decimal("150.00")
    assert support.gl_account == "4010" and support.product_identifier == "Remote Support"
    assert support.tax_code_psa_id == "3:2"
    assert support.tracking == {"Billing item type": "Labor"}
    assert licences.quantity == Decimal("12.0000125")
    assert invoice.customer.name == "Riverside Dental Group"
    assert invoice.customer.email == "accounts@riverside.example"
    assert invoice.customer.address.line1 == "PO Box 88"
    assert invoice.po_number == "PO-7781"
    assert invoice.payment_term_psa_id == "1"

    credit = source.get_invoice(refs[1])
    assert credit.kind == InvoiceKind.CREDIT_NOTE
    assert (credit.subtotal, credit.tax_total, credit.total) == (
        Decimal("100.00"),
        Decimal("8.25"),
        Decimal("108.25"),
    )
    (line,) = credit.lines
    assert (line.quantity, line.unit_price, line.line_amount, line.tax_amount) == (
        Decimal(1),
        Decimal("100.00"),
        Decimal("100.00"),
        Decimal("8.25"),
    )


def test_the_look_back_window(client: AutotaskClient, documented_tenant: Simulator) -> None:
    narrow = AutotaskSource(client, look_back=timedelta(days=10))
    assert list(narrow.list_postable_invoices()) == []
    thru_before = list(
        AutotaskSource(client).list_postable_invoices(thru=NOW.replace(month=1, day=30))
    )
    assert thru_before == []


def test_acknowledge_sets_web_service_date_once(
    source: AutotaskSource, sim: Simulator, documented_tenant: Simulator
) -> None:
    refs = list(source.list_postable_invoices())
    result = source.acknowledge(refs, "LB-2024-02-20-1")
    assert result.outcome == "created"
    assert result.acknowledged == ("29684512", "29684513")
    stored = sim.system("autotask").collection("Invoices")
    assert stored[29684512]["webServiceDate"] == "2024-02-20T15:00:00.000Z"
    assert list(source.list_postable_invoices()) == []

    patches = len(api_requests(sim, path="/Invoices"))
    again = source.acknowledge(refs, "LB-2024-02-20-1")
    assert again.outcome == "nothing_to_do"
    assert again.acknowledged == ("29684512", "29684513")
    assert [m for m, *_ in api_requests(sim)[-1:]] == ["POST"]  # looked, did not PATCH
    assert len(api_requests(sim, path="/Invoices")) == patches + 1


def test_acknowledge_survives_a_dropped_response(
    source: AutotaskSource, sim: Simulator, documented_tenant: Simulator
) -> None:
    sim.add_fault(
        Fault(
            system="autotask", method="PATCH", path=r"/Invoices$", drop_after_commit=True, times=1
        )
    )
    refs = list(source.list_postable_invoices())
    result = source.acknowledge(refs[:1], "LB-1")
    # The PATCH is idempotent, so the transport sent it again instead of reporting "uncertain".
    assert result.acknowledged == ("29684512",)
    assert [m for m, p, _ in api_requests(sim) if p.endswith("/Invoices")] == ["PATCH", "PATCH"]


def test_validation_500_is_validation_with_the_vendors_message(
    client: AutotaskClient, documented_tenant: Simulator
) -> None:
    with pytest.raises(ConnectorError) as caught:
        client.update("Invoices", 29684512, {"paidDate": "the fifteenth"}, idempotent=True)
    assert caught.value.kind == ErrorKind.VALIDATION
    assert caught.value.status == 500
    assert "paidDate" in caught.value.message
    with pytest.raises(ConnectorError) as caught:
        client.update("Invoices", 29684512, {"invoiceTotal": "1.00"})
    assert caught.value.kind == ErrorKind.VALIDATION


def test_record_payment_sets_paid_date_when_fully_paid(
    source: AutotaskSource, sim: Simulator, documented_tenant: Simulator
) -> None:
    ref = next(source.list_postable_invoices())
    with pytest.raises(PartialPaymentNotRecordedError) as caught:
        source.record_payment(ref, Payment(amount=Decimal("500.00"), paid_on=date(2024, 2, 1)), "k")
    assert caught.value.kind == ErrorKind.VALIDATION
    assert "partial payment of 500.00" in caught.value.message
    assert sim.system("autotask").collection("Invoices")[29684512]["paidDate"] is None

    paid = Payment(amount=Decimal("582.50"), paid_on=date(2024, 2, 15))
    result = source.record_payment(ref, paid, "k2", paid_in_full=True)
    assert result.outcome == "created"
    assert (
        sim.system("autotask").collection("Invoices")[29684512]["paidDate"].startswith("2024-02-15")
    )
    again = source.record_payment(ref, paid, "k2", paid_in_full=True)
    assert again.outcome == "already_existed"


def test_mapping_lists(source: AutotaskSource, documented_tenant: Simulator) -> None:
    customers = {c.psa_id: c for c in source.list_customers()}
    assert customers["174"].identifier == "RDG-001" and customers["250"].tax_id == ""
    contacts = list(source.list_contacts())
    assert [c.active for c in contacts] == [True, False]
    (product,) = source.list_products()
    assert product.unit_price == Decimal("1149.99") and product.identifier.startswith("DELL-")
    (tax,) = source.list_tax_codes()
    assert (tax.psa_id, tax.identifier, tax.rate) == (
        "3:2",
        "Texas / Taxable Services",
        Decimal("8.25"),
    )
    terms = {t.name: t.due_days for t in source.list_payment_terms()}
    assert terms == {"Net 30": 30, "Due on receipt": 0}
    accounts = {a.account_number: a.name for a in source.list_gl_accounts()}
    assert accounts["4020"] == "Project Revenue"


def test_generated_tenant_invoices_add_up(
    source: AutotaskSource, sim: Simulator, clocks: Clocks
) -> None:
    autotask.generate(sim, invoices=60, seed=1)
    refs = list(source.list_postable_invoices(since=NOW - timedelta(days=400)))
    assert refs
    for ref in refs:
        invoice = source.get_invoice(ref)
        assert invoice.total >= 0  # credit notes carry positive amounts
        assert sum(line.line_amount for line in invoice.lines) == invoice.subtotal
        assert sum((line.tax_amount or 0) for line in invoice.lines) == invoice.tax_total
        assert invoice.subtotal + invoice.tax_total == invoice.total
        assert all(isinstance(line.quantity, Decimal) for line in invoice.lines)
    assert any(ref.kind == InvoiceKind.CREDIT_NOTE for ref in refs)


# -- test connectivity ---------------------------------------------------------------------


def test_connectivity_ok(source: AutotaskSource, documented_tenant: Simulator) -> None:
    report = source.test_connectivity()
    assert report.ok, report.findings
    assert report.findings[0].message.startswith("Connected to Autotask (Simulator Zone 1)")
    assert report.details["zone"] == "Simulator Zone 1"
    assert report.details["requests_this_hour"].endswith("of 10000")


def _report(make_client: ClientFactory, **changes: Any) -> Any:
    credentials = AutotaskCredentials(**{**vars(DEMO), **changes})
    return AutotaskSource(make_client(credentials)).test_connectivity()


def test_connectivity_unknown_user(make_client: ClientFactory) -> None:
    report = _report(make_client, username="nobody@demo.example")
    assert not report.ok
    (finding,) = report.problems
    assert finding.kind == ErrorKind.AUTH
    assert "could not find a zone for the API user 'nobody@demo.example'" in finding.message


def test_connectivity_wrong_secret(make_client: ClientFactory) -> None:
    (finding,) = _report(make_client, secret="wrong").problems
    assert finding.kind == ErrorKind.AUTH
    assert finding.message == (
        f"Autotask did not accept the secret for the API user '{DEMO.username}'."
    )


def test_connectivity_wrong_integration_code(make_client: ClientFactory) -> None:
    (finding,) = _report(make_client, integration_code="NOTOURS").problems
    assert finding.kind == ErrorKind.AUTH
    assert "integration code" in finding.message
    assert "API Tracking Identifier" in finding.hint


def test_connectivity_missing_integration_code(make_client: ClientFactory, sim: Simulator) -> None:
    (finding,) = _report(make_client, integration_code=" ").problems
    assert finding.message == "No Autotask API integration code is saved."
    assert sim.requests == []  # nothing sent with half the credentials


def test_connectivity_names_the_entity_the_user_cannot_read(
    make_client: ClientFactory, sim: Simulator
) -> None:
    sim.add_fault(
        Fault(
            system="autotask",
            path=r"/BillingCodes/query",
            status=500,
            body={"errors": ["The logged in Resource does not have the adequate permissions "
                             "to query this entity type."]},
        )
    )  # fmt: skip
    report = _report(make_client)
    assert not report.ok
    (finding,) = report.problems
    assert finding.kind == ErrorKind.PERMISSION
    assert "Billing Codes" in finding.message
    assert "admin-level security level" in finding.hint


def test_connectivity_cannot_edit_invoices(make_client: ClientFactory, sim: Simulator) -> None:
    sim.add_fault(
        Fault(
            system="autotask",
            path=r"/Invoices/entityInformation$",
            status=200,
            body={"info": {"name": "Invoices", "canUpdate": True, "userAccessForUpdate": "None"}},
        )
    )
    (finding,) = _report(make_client).problems
    assert finding.kind == ErrorKind.PERMISSION
    assert "webServiceDate" in finding.message


def test_connectivity_unreachable_host() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Name or service not known", request=request)

    client = AutotaskClient(
        DEMO,
        zone_lookup_url="https://webservices.autotask.invalid/atservicesrest/v1.0/zoneInformation",
        transport=httpx.MockTransport(refuse),
        retry=RetryPolicy(max_attempts=2),
        sleep=lambda seconds: None,
    )
    (finding,) = AutotaskSource(client).test_connectivity().problems
    assert finding.kind == ErrorKind.TRANSIENT
    assert "could not reach Autotask's zone lookup at webservices.autotask.invalid" in (
        finding.message
    )
    assert "firewall" in finding.hint
