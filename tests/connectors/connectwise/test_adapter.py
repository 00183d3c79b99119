"""ConnectWiseSource: documented payloads become canonical documents; writes happen once."""

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest

from ledgerbridge.connectors.base import (
    ConnectorError,
    ErrorKind,
    InvoiceKind,
    InvoiceRef,
    Payment,
    PsaSource,
)
from ledgerbridge.connectors.connectwise import adapter
from ledgerbridge.connectors.connectwise.adapter import ConnectWiseSource
from ledgerbridge.connectors.connectwise.client import SEP, ConnectWiseClient
from tests.connectors.connectwise.conftest import FakeConnectWise, load, payload

type MakeClient = Callable[..., ConnectWiseClient]


@pytest.fixture
def source(make_client: MakeClient) -> ConnectWiseSource:
    return ConnectWiseSource(make_client(), location_ids=[2, 3])


def _query(request: httpx.Request) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}


# Parsing the documented payloads


def test_the_documented_invoice_becomes_a_canonical_invoice() -> None:
    invoice = adapter.invoice_from_records(
        load("invoice_1201.json"),
        load("gl_export_1201.json")["transactions"][0],
        company=load("company_250.json"),
        customer_row=load("gl_export_1201.json")["customers"][0],
    )
    assert (invoice.psa_id, invoice.number, invoice.kind) == ("1201", "1201", InvoiceKind.INVOICE)
    assert (invoice.issued_on, invoice.due_on) == (date(2024, 1, 31), date(2024, 3, 1))
    assert invoice.currency == "USD"
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (
        Decimal("200.0"),
        Decimal("14.0"),
        Decimal("214.0"),
    )
    assert invoice.balance == Decimal("214.0")
    assert (invoice.reference, invoice.po_number) == ("Managed services Jan", "PO-4471")
    assert (invoice.payment_term_psa_id, invoice.tax_code_psa_id) == ("1", "11")
    assert (invoice.location, invoice.department) == ("2", "10")
    assert invoice.updated_at == datetime(2024, 1, 31, 18, 2, 11, tzinfo=UTC)
    assert invoice.source_ids["gl_entry_ids"] == ("88231", "88232")

    first, second = invoice.lines
    assert (first.psa_line_id, first.description) == ("88231", "Managed Services Standard")
    assert (first.quantity, first.unit_price, first.line_amount) == (
        Decimal(10),
        Decimal("18.0"),
        Decimal("180.0"),
    )
    assert (first.product_psa_id, first.product_identifier) == ("55", "MS-STD")
    assert (first.gl_account, first.tax_code_psa_id, first.taxable) == ("4000", "11", True)
    assert first.tracking == {"sales_code": "MS"}
    assert second.quantity == Decimal("0.3548387")
    assert second.product_identifier == "M365-BUSINESS-PREMIUM-ANNUAL-COMMITMENT-MONTHLY-BILLING"
    assert all(isinstance(v, Decimal) for v in (second.unit_price, second.line_amount))

    customer = invoice.customer
    assert (customer.psa_id, customer.name, customer.identifier) == ("250", "Acme Co", "AcmeCo")
    assert (customer.account_number, customer.tax_id) == ("ACME01", "59-1234567")
    assert customer.email == "ap@acme.example"
    assert customer.address.line1 == "1 Main Street" and customer.address.line2 == "Suite 4"
    assert (customer.address.region, customer.address.postal_code) == ("FL", "33602")
    assert customer.address.country == "United States"


def test_a_credit_memo_becomes_a_positive_credit_note() -> None:
    note = adapter.invoice_from_records(
        load("invoice_1202_credit_memo.json"),
        load("gl_export_1202.json")["transactions"][0],
        company={"id": 250, "identifier": "AcmeCo", "name": "Acme Co"},
    )
    assert note.kind is InvoiceKind.CREDIT_NOTE
    assert (note.subtotal, note.tax_total, note.total, note.balance) == (
        Decimal("50.0"),
        Decimal("3.5"),
        Decimal("53.5"),
        Decimal("53.5"),
    )
    (line,) = note.lines
    assert (line.quantity, line.unit_price, line.line_amount) == (
        Decimal(1),
        Decimal("50.0"),
        Decimal(50),
    )
    assert note.applies_to_psa_id == "1201"


def test_unposted_rows_become_refs() -> None:
    standard, credit = (adapter.unposted_ref(row) for row in load("unposted_invoices.json"))
    assert (standard.psa_id, standard.number, standard.kind) == (
        "1201",
        "1201",
        InvoiceKind.INVOICE,
    )
    assert standard.source_ids == {
        "unposted_id": "1201",
        "billing_log_id": "1201",
        "location_id": "2",
        "department_id": "10",
    }
    assert (credit.number, credit.kind) == ("CM-1202", InvoiceKind.CREDIT_NOTE)


def test_setup_records_become_mapping_entries() -> None:
    tables = load("setup_tables.json")
    tax = adapter.tax_code_from_record(tables["tax_code"], date(2026, 1, 1))
    # Percentage levels add up; an amount level is not a rate.
    assert (tax.psa_id, tax.identifier, tax.rate, tax.active) == (
        "11",
        "State",
        Decimal("7.5"),
        True,
    )
    expired = adapter.tax_code_from_record(
        {**tables["tax_code"], "cancelDate": "2025-06-30T00:00:00Z"}, date(2026, 1, 1)
    )
    assert not expired.active
    terms = adapter.payment_term_from_record(tables["billing_terms"])
    assert (terms.psa_id, terms.name, terms.due_days, terms.xref) == ("1", "Net 30", 30, "30")
    account = adapter.gl_account_from_record(tables["gl_account"])
    assert (account.account_number, account.name, account.gl_type) == (
        "400010",
        "Managed Services",
        "IT",
    )
    product = adapter.product_from_catalog(tables["catalog_item"])
    assert (product.identifier, product.unit_price, product.unit_cost, product.kind) == (
        "MS-STD",
        Decimal("18.0"),
        Decimal("8.0"),
        "Service",
    )
    contact = adapter.contact_from_record(tables["contact"])
    assert (contact.name, contact.email, contact.phone) == (
        "Dana Diaz",
        "dana@acme.example",
        "813-555-0199",
    )
    assert contact.customer_psa_id == "250" and contact.is_billing_contact


def test_a_float_or_garbage_amount_is_refused() -> None:
    transaction = {**load("gl_export_1201.json")["transactions"][0], "total": 214.0}
    with pytest.raises(adapter.VendorDataError, match="total should be a number"):
        adapter.invoice_from_records(load("invoice_1201.json"), transaction, company={"id": 250})
    transaction = {**load("gl_export_1201.json")["transactions"][0], "total": "lots"}
    with pytest.raises(adapter.VendorDataError):
        adapter.invoice_from_records(load("invoice_1201.json"), transaction, company={"id": 250})


# Reading through the client


def test_it_is_a_psa_source(source: ConnectWiseSource) -> None:
    assert isinstance(source, PsaSource)


def test_postable_invoices_are_unposted_ones_in_our_locations(
    fake: FakeConnectWise, source: ConnectWiseSource
) -> None:
    fake.json("GET", "finance/accounting/unpostedinvoices", payload("unposted_invoices.json"))
    refs = list(
        source.list_postable_invoices(
            since=datetime(2024, 1, 1, tzinfo=UTC),
            thru=datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),
        )
    )
    assert [ref.psa_id for ref in refs] == ["1201", "1202"]
    (request,) = fake.sent("GET", "finance/accounting/unpostedinvoices")
    assert _query(request)["conditions"] == (
        "invoiceDate >= [2024-01-01T00:00:00Z] and invoiceDate <= [2024-02-29T23:59:59Z] "
        "and locationId in (2,3)"
    )
    assert request.headers["pagination-type"] == "forward-only"


def test_get_invoice_reads_export_invoice_and_customer_once(
    fake: FakeConnectWise, source: ConnectWiseSource
) -> None:
    fake.json("POST", "finance/accounting/export", payload("gl_export_1201.json"))
    fake.json("GET", "finance/invoices/1201", payload("invoice_1201.json"))
    fake.json("GET", "company/companies/250", payload("company_250.json"))
    ref = adapter.unposted_ref(load("unposted_invoices.json")[0])
    invoice = source.get_invoice(ref)
    again = source.get_invoice(ref)
    assert invoice == again
    assert invoice.source_ids["location_id"] == "2"
    (export, _) = fake.sent("POST", "finance/accounting/export")
    body = json.loads(export.content)
    assert body["includedInvoiceIds"] == [1201]
    assert body["summarizeInvoices"] == "Detailed" and body["exportInvoicesFlag"] is True
    assert len(fake.sent("GET", "company/companies/250")) == 1  # cached


def test_an_invoice_posted_meanwhile_is_not_found(
    fake: FakeConnectWise, source: ConnectWiseSource
) -> None:
    fake.json("POST", "finance/accounting/export", {"transactions": [], "customers": []})
    with pytest.raises(ConnectorError) as caught:
        source.get_invoice(InvoiceRef(psa_id="1201", number="1201"))
    assert caught.value.kind is ErrorKind.NOT_FOUND
    assert "no longer lists invoice 1201 as unposted" in caught.value.message


# Acknowledging


REF = InvoiceRef(psa_id="1201", number="1201", source_ids={"gl_entry_ids": ("88231", "88232")})
BATCH = payload("accounting_batch.json")


def test_acknowledge_creates_one_batch_of_the_gl_entries(
    fake: FakeConnectWise, source: ConnectWiseSource
) -> None:
    fake.on(
        "GET",
        "finance/accounting/batches",
        httpx.Response(200, json=[]),
        httpx.Response(200, json=[]),
        httpx.Response(200, json=[BATCH]),
    )
    fake.json("POST", "finance/accounting/batches", payload("gl_export_1201.json"), status=201)
    result = source.acknowledge([REF], "20240131-INV")
    assert (result.outcome, result.psa_batch_id, result.acknowledged) == (
        "created",
        "77",
        ("1201",),
    )
    (post,) = fake.sent("POST", "finance/accounting/batches")
    assert json.loads(post.content)["processedRecordIds"] == [88231, 88232]


def test_acknowledge_again_finds_the_batch_and_what_it_holds(
    fake: FakeConnectWise, source: ConnectWiseSource
) -> None:
    fake.json("GET", "finance/accounting/batches", [BATCH])
    fake.json("GET", "finance/accounting/batches/77/entries", payload("batch_entries_77.json"))
    other = InvoiceRef(psa_id="1300", source_ids={"gl_entry_ids": ("99",)})
    result = source.acknowledge([REF, other], "20240131-INV")
    assert result.outcome == "already_existed"
    assert (result.acknowledged, result.skipped) == (("1201",), ("1300",))
    assert fake.sent("POST", "finance/accounting/batches") == []


def test_acknowledge_reads_gl_entries_when_the_ref_lacks_them(
    fake: FakeConnectWise, source: ConnectWiseSource
) -> None:
    fake.on(
        "GET",
        "finance/accounting/batches",
        httpx.Response(200, json=[]),
        httpx.Response(200, json=[]),
        httpx.Response(200, json=[BATCH]),
    )
    fake.json("POST", "finance/accounting/export", payload("gl_export_1201.json"))
    fake.json("POST", "finance/accounting/batches", {}, status=201)
    gone = InvoiceRef(psa_id="1500")  # not in the export: posted by someone else
    result = source.acknowledge([InvoiceRef(psa_id="1201"), gone], "20240131-INV")
    assert (result.acknowledged, result.skipped) == (("1201",), ("1500",))
    (post,) = fake.sent("POST", "finance/accounting/batches")
    assert json.loads(post.content)["processedRecordIds"] == [88231, 88232]


def test_acknowledge_with_nothing_left_to_mark(
    fake: FakeConnectWise, source: ConnectWiseSource
) -> None:
    fake.json("GET", "finance/accounting/batches", [])
    fake.json("POST", "finance/accounting/export", {"transactions": []})
    result = source.acknowledge([InvoiceRef(psa_id="1201")], "20240131-INV")
    assert (result.outcome, result.skipped) == ("nothing_to_do", ("1201",))


# Payments


PAID = Payment(amount=Decimal("214.00"), paid_on=date(2024, 2, 15), reference="XERO-PMT-1")


def test_a_payment_is_posted_with_exact_money(
    fake: FakeConnectWise, source: ConnectWiseSource
) -> None:
    fake.json("GET", "finance/invoices/1201/payments", [])
    fake.json("POST", "finance/invoices/1201/payments", payload("payment_created.json"), status=201)
    result = source.record_payment(REF, PAID, "pay:1201:XERO-PMT-1")
    assert (result.outcome, result.psa_payment_id) == ("created", "901")
    assert result.balance == Decimal(0)
    (post,) = fake.sent("POST", "finance/invoices/1201/payments")
    assert post.content == (
        b'{"type":"Payment","amount":214.00,"paymentDate":"2024-02-15T00:00:00Z",'
        b'"invoice":{"id":1201}}'
    )


def test_a_payment_already_there_is_not_paid_twice(
    fake: FakeConnectWise, source: ConnectWiseSource
) -> None:
    fake.json("GET", "finance/invoices/1201/payments", [payload("payment_created.json")])
    result = source.record_payment(REF, PAID, "pay:1201:XERO-PMT-1")
    assert (result.outcome, result.psa_payment_id) == ("already_existed", "901")
    assert fake.sent("POST", "finance/invoices/1201/payments") == []


def test_a_dropped_payment_post_is_resolved_by_lookup(
    fake: FakeConnectWise, source: ConnectWiseSource
) -> None:
    fake.on(
        "GET",
        "finance/invoices/1201/payments",
        httpx.Response(200, json=[]),
        httpx.Response(200, json=[payload("payment_created.json")]),
    )
    fake.on("POST", "finance/invoices/1201/payments", httpx.ReadTimeout("no answer"))
    result = source.record_payment(REF, PAID, "pay:1201:XERO-PMT-1")
    assert (result.outcome, result.psa_payment_id) == ("created", "901")
    assert len(fake.sent("POST", "finance/invoices/1201/payments")) == 1


def test_a_dropped_payment_post_that_did_not_land_is_transient(
    fake: FakeConnectWise, source: ConnectWiseSource
) -> None:
    fake.json("GET", "finance/invoices/1201/payments", [])
    fake.on("POST", "finance/invoices/1201/payments", httpx.Response(500))
    with pytest.raises(ConnectorError) as caught:
        source.record_payment(REF, PAID, "pay:1201:XERO-PMT-1")
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert len(fake.sent("POST", "finance/invoices/1201/payments")) == 1


def test_a_payment_in_fractions_of_a_cent_is_refused(source: ConnectWiseSource) -> None:
    odd = Payment(amount=Decimal("10.005"), paid_on=date(2024, 2, 15))
    with pytest.raises(ConnectorError) as caught:
        source.record_payment(REF, odd, "k")
    assert caught.value.kind is ErrorKind.VALIDATION


# Test connectivity


def _report_of(fake: FakeConnectWise, make_client: MakeClient, **client: object) -> list[str]:
    report = ConnectWiseSource(make_client(**client)).test_connectivity()
    assert not report.ok
    return [f"{finding.kind}: {finding.message}" for finding in report.findings]


def test_connectivity_missing_client_id(fake: FakeConnectWise, make_client: MakeClient) -> None:
    assert _report_of(fake, make_client, client_id="") == [
        "auth: No ConnectWise clientId is set for this connection."
    ]
    assert fake.requests == []


def test_connectivity_unreachable_host(fake: FakeConnectWise, make_client: MakeClient) -> None:
    fake.on("GET", "login/companyinfo/acmemsp", httpx.ConnectError("Name or service not known"))
    report = ConnectWiseSource(make_client()).test_connectivity()
    (finding,) = report.findings
    assert finding.message == (
        "LedgerBridge could not reach ConnectWise at http://127.0.0.1:8900/connectwise."
    )
    assert "na.myconnectwise.net" in finding.hint


def test_connectivity_not_a_connectwise_site(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    fake.on("GET", "login/companyinfo/acmemsp", httpx.Response(200, text="<html>hello</html>"))
    assert _report_of(fake, make_client) == [
        "transient: http://127.0.0.1:8900/connectwise does not answer like a ConnectWise site."
    ]


def test_connectivity_unknown_company(fake: FakeConnectWise, make_client: MakeClient) -> None:
    fake.on("GET", "login/companyinfo/acmemsp", httpx.Response(200, content=b"null"))
    assert _report_of(fake, make_client) == [
        "auth: ConnectWise does not know the company 'acmemsp'."
    ]


def test_connectivity_wrong_keys(fake: FakeConnectWise, make_client: MakeClient) -> None:
    fake.json("GET", "system/info", payload("errors.json")["unauthorized"], status=401)
    assert _report_of(fake, make_client) == [
        "auth: ConnectWise rejected the API keys for company 'acmemsp'. Check the public and "
        "private key of the API member."
    ]


def test_connectivity_cloud_404_for_wrong_keys(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    fake.json("GET", "system/info", {"code": "NotFound", "message": ""}, status=404)
    (message,) = _report_of(fake, make_client)
    assert message.startswith("auth: ConnectWise rejected the API keys for company 'acmemsp'.")


def test_connectivity_rejected_client_id(fake: FakeConnectWise, make_client: MakeClient) -> None:
    refusal = {"code": "Unauthorized", "message": "The clientId 'abc' is not registered."}
    fake.json("GET", "system/info", refusal, status=401)
    assert _report_of(fake, make_client, client_id="abc") == [
        "auth: ConnectWise does not accept the clientId 'abc'."
    ]


def _all_readable(fake: FakeConnectWise) -> None:
    fake.json("GET", "system/info", payload("system_info.json"))
    for path in (
        "finance/accounting/unpostedinvoices",
        "finance/accounting/batches",
        "finance/invoices",
        "company/companies",
        "company/contacts",
        "procurement/catalog",
        "finance/taxcodes",
        "finance/billingterms",
        "finance/glaccounts",
    ):
        fake.json("GET", path, [])


def test_connectivity_names_each_missing_permission(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    _all_readable(fake)
    security = {"code": "Security", "message": "You do not have security permission."}
    fake.json("GET", "finance/accounting/unpostedinvoices", security, status=403)
    fake.json("GET", "procurement/catalog", security, status=403)
    report = ConnectWiseSource(make_client()).test_connectivity()
    assert not report.ok
    accounting, catalog = report.findings
    assert accounting.kind is ErrorKind.PERMISSION
    assert accounting.message == (
        f"The ConnectWise API member lacks the permission Finance {SEP} Accounting Interface "
        f"{SEP} Inquire, which LedgerBridge needs to work with the accounting interface."
    )
    assert f"System {SEP} Security Roles" in accounting.hint
    assert f"Procurement {SEP} Product Catalog {SEP} Inquire" in catalog.message


def test_connectivity_all_good(fake: FakeConnectWise, make_client: MakeClient) -> None:
    _all_readable(fake)
    report = ConnectWiseSource(make_client()).test_connectivity()
    assert report.ok and report.problems == ()
    (finding,) = report.findings
    assert finding.message == (
        "Connected to ConnectWise v2024.1.12345 as company 'acmemsp'; every list LedgerBridge "
        "reads is readable."
    )
    assert f"Finance {SEP} Accounting Interface {SEP} Add" in finding.hint
    assert report.details["codebase"] == "v2024_1/"


def test_a_credit_memo_applied_to_an_agreement_credits_no_particular_invoice() -> None:
    memo = {**load("invoice_1202_credit_memo.json"), "applyToType": "Agreement", "applyToId": 31}
    note = adapter.invoice_from_records(
        memo,
        load("gl_export_1202.json")["transactions"][0],
        company={"id": 250, "identifier": "AcmeCo", "name": "Acme Co"},
    )
    # 31 is the agreement's id: allocating the credit to invoice 31 would be wrong.
    assert note.applies_to_psa_id == ""
