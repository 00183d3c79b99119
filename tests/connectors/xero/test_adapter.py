"""XeroLedger's decisions, against documented payloads and a small in-memory Xero (fake.py)."""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge.connectors.base import (
    ConnectorError,
    Customer,
    ErrorKind,
    InvoiceKind,
    Ledger,
    LineAmounts,
    NameClashRule,
    PostableDocument,
    PostableLine,
    Product,
    ProductIdPolicy,
    TermKind,
)
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.xero import hints
from ledgerbridge.connectors.xero.adapter import XeroLedger, item_code_for, shortened_item_code
from ledgerbridge.connectors.xero.client import XeroClient

from .conftest import API_URL, TENANT_ID, StaticTokens, fixture, ok
from .fake import FakeXero

ACME = Customer(psa_id="250", name="Acme Dental", identifier="AcmeDental", email="ap@acme.example")


@pytest.fixture
def xero() -> FakeXero:
    return FakeXero()


@pytest.fixture
def ledger(xero: FakeXero) -> Iterator[XeroLedger]:
    client = XeroClient(
        api_url=API_URL,
        tenant_id=TENANT_ID,
        tokens=StaticTokens("token"),
        transport=httpx.MockTransport(xero),
        sleep=lambda seconds: None,
        retry=RetryPolicy(max_attempts=2, base_delay=0.01),
    )
    yield XeroLedger(client)
    client.close()


def canned(*answers: tuple[str, Any]) -> XeroLedger:
    """A ledger whose client answers GETs of each resource with the given body."""
    bodies = dict(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        resource = request.url.path.split("/api.xro/2.0/", 1)[1]
        return ok(bodies[resource])

    client = XeroClient(
        api_url=API_URL,
        tenant_id=TENANT_ID,
        tokens=StaticTokens("token"),
        transport=httpx.MockTransport(handler),
    )
    return XeroLedger(client)


def document(
    number: str,
    contact: str,
    *,
    amount: str = "100.00",
    tax: str = "15.00",
    kind: InvoiceKind = InvoiceKind.INVOICE,
    total: str | None = None,
) -> PostableDocument:
    line = PostableLine(
        description="Managed services",
        quantity=Decimal(1),
        unit_price=Decimal(amount),
        line_amount=Decimal(amount),
        account_code="200",
        tax_code="OUTPUT2",
        tax_amount=Decimal(tax),
        tracking={"Region": "North"},
    )
    return PostableDocument(
        key=f"co1:{kind.value}:{number}:v1",
        kind=kind,
        psa_id=number,
        number=number,
        customer_ledger_id=contact,
        issued_on=date(2026, 11, 2),
        due_on=date(2026, 12, 2) if kind == InvoiceKind.INVOICE else None,
        currency="NZD",
        lines=(line,),
        total=Decimal(total) if total is not None else Decimal(amount) + Decimal(tax),
        reference=f"PSA {number}",
    )


def puts(xero: FakeXero) -> list[httpx.Request]:
    return [r for r in xero.requests if r.method == "PUT"]


# -- lists --------------------------------------------------------------------------------


def test_the_ledger_speaks_the_protocol(ledger: XeroLedger) -> None:
    assert isinstance(ledger, Ledger)
    assert (ledger.label, ledger.batch_size) == ("Xero", 50)


def test_lists_read_the_documented_payloads() -> None:
    ledger = canned(
        ("Accounts", fixture("accounts.json")),
        ("TaxRates", fixture("tax_rates.json")),
        ("TrackingCategories", fixture("tracking_categories.json")),
        ("Items", fixture("items.json")),
    )
    accounts = {a.code: a for a in ledger.list_accounts()}
    assert accounts["200"].account_type == "REVENUE" and accounts["200"].tax_code == "OUTPUT2"
    assert accounts["200"].ledger_id == "7d05a53d-613d-4eb2-a2fc-dcb6adb80b80"
    assert not accounts["205"].active

    rates = {r.ledger_id: r for r in ledger.list_tax_rates()}
    assert rates["OUTPUT2"].rate == Decimal("15.0") and rates["OUTPUT2"].for_sales
    assert not rates["OUTPUT2"].for_purchases and not rates["INPUT2"].for_sales
    assert not rates["TAX002"].active

    (region, service) = ledger.list_tracking_categories()
    assert region.name == "Region" and [o.name for o in region.options] == ["North", "South"]
    assert [o.active for o in region.options] == [True, False]
    assert service.options == ()

    items = {i.code: i for i in ledger.list_items()}
    assert items["MS-SEAT"].unit_price == Decimal("55.0000")
    assert items["MS-SEAT"].income_account_code == "200"
    assert items["BKP-2TB"].unit_price is None


def test_terms_are_xeros_due_date_rules(ledger: XeroLedger) -> None:
    terms = list(ledger.list_terms())
    assert [t.ledger_id for t in terms] == [
        "DAYSAFTERBILLDATE",
        "DAYSAFTERBILLMONTH",
        "OFFOLLOWINGMONTH",
        "OFCURRENTMONTH",
    ]
    assert {t.kind for t in terms} == set(TermKind)


# -- customers ----------------------------------------------------------------------------


def test_a_new_customer_becomes_a_contact_carrying_its_psa_id(
    ledger: XeroLedger, xero: FakeXero
) -> None:
    made = ledger.ensure_customer(ACME)
    assert made.outcome == "created" and made.psa_id == "250"
    (contact,) = xero.contacts
    assert contact["ContactNumber"] == "250" and contact["Name"] == "Acme Dental"
    assert contact["EmailAddress"] == "ap@acme.example"
    # Renamed in Xero since: still found by the PSA id, and never created twice.
    contact["Name"] = "Acme Dental Group"
    again = ledger.ensure_customer(ACME)
    assert (again.outcome, again.ledger_id) == ("found", made.ledger_id)
    assert len(xero.contacts) == 1


def test_a_same_named_contact_without_our_id_fails_naming_both(
    ledger: XeroLedger, xero: FakeXero
) -> None:
    xero.contacts.append({"ContactID": "c-1", "Name": "Acme Dental", "ContactStatus": "ACTIVE"})
    with pytest.raises(ConnectorError) as caught:
        ledger.ensure_customer(ACME)
    error = caught.value
    assert error.kind == ErrorKind.VALIDATION
    assert (
        "'Acme Dental' (id 250)" in error.message and "Xero contact 'Acme Dental'" in error.message
    )
    assert "not linked to any PSA customer" in error.message
    assert "link them under Company → Customers" in error.hint
    assert len(xero.contacts) == 1


def test_link_existing_records_the_psa_id_on_that_contact(
    ledger: XeroLedger, xero: FakeXero
) -> None:
    xero.contacts.append({"ContactID": "c-1", "Name": "Acme Dental", "ContactStatus": "ACTIVE"})
    linked = ledger.ensure_customer(ACME, on_name_clash=NameClashRule.LINK_EXISTING)
    assert (linked.outcome, linked.ledger_id, linked.psa_id) == ("linked", "c-1", "250")
    assert xero.contacts[0]["ContactNumber"] == "250"
    assert ledger.ensure_customer(ACME).outcome == "found"


def test_link_existing_never_takes_another_customers_contact(
    ledger: XeroLedger, xero: FakeXero
) -> None:
    xero.contacts.append(
        {
            "ContactID": "c-1",
            "Name": "Acme Dental",
            "ContactNumber": "991",
            "ContactStatus": "ACTIVE",
        }
    )
    with pytest.raises(ConnectorError) as caught:
        ledger.ensure_customer(ACME, on_name_clash=NameClashRule.LINK_EXISTING)
    assert "another PSA customer (id 991)" in caught.value.message
    assert xero.contacts[0]["ContactNumber"] == "991"


def test_disambiguate_creates_name_with_the_psa_identifier(
    ledger: XeroLedger, xero: FakeXero
) -> None:
    xero.contacts.append(
        {
            "ContactID": "c-1",
            "Name": "Acme Dental",
            "ContactNumber": "991",
            "ContactStatus": "ACTIVE",
        }
    )
    made = ledger.ensure_customer(ACME, on_name_clash=NameClashRule.DISAMBIGUATE)
    assert (made.outcome, made.name) == ("created", "Acme Dental (AcmeDental)")
    assert xero.contacts[1]["ContactNumber"] == "250"
    assert ledger.ensure_customer(ACME, on_name_clash=NameClashRule.DISAMBIGUATE).outcome == "found"
    assert len(xero.contacts) == 2


def test_an_archived_namesake_is_no_clash(ledger: XeroLedger, xero: FakeXero) -> None:
    xero.contacts.append({"ContactID": "c-1", "Name": "Acme Dental", "ContactStatus": "ARCHIVED"})
    assert ledger.ensure_customer(ACME).outcome == "created"


# -- items --------------------------------------------------------------------------------

LONG_ID = "MICROSOFT-365-BUSINESS-PREMIUM-ANNUAL-NCE"  # 41 characters


def test_fail_policy_names_the_id_and_its_length() -> None:
    with pytest.raises(ConnectorError) as caught:
        item_code_for(Product(psa_id="7", identifier=LONG_ID), ProductIdPolicy.FAIL)
    assert caught.value.kind == ErrorKind.VALIDATION
    assert LONG_ID in caught.value.message and "41 characters" in caught.value.message
    assert "Company → Products" in caught.value.hint


def test_truncate_hash_is_thirty_characters_stable_and_distinct() -> None:
    sibling = LONG_ID.replace("ANNUAL", "MONTHLY")
    first = item_code_for(Product(psa_id="7", identifier=LONG_ID), ProductIdPolicy.TRUNCATE_HASH)
    again = item_code_for(Product(psa_id="8", identifier=LONG_ID), ProductIdPolicy.TRUNCATE_HASH)
    other = shortened_item_code(sibling)
    assert len(first) == 30 and first.startswith("MICROSOFT-365-BUSINES")
    assert first == again
    assert other != first and other[:21] == first[:21]
    # Ids that fit are used as they are.
    assert (
        item_code_for(Product(psa_id="9", identifier="MS-SEAT"), ProductIdPolicy.TRUNCATE_HASH)
        == "MS-SEAT"
    )


def test_mapping_policy_uses_the_mapped_code_or_asks_for_one() -> None:
    product = Product(psa_id="7", identifier=LONG_ID)
    assert item_code_for(product, ProductIdPolicy.MAPPING, "M365-BP") == "M365-BP"
    with pytest.raises(ConnectorError) as caught:
        item_code_for(product, ProductIdPolicy.MAPPING)
    assert caught.value.kind == ErrorKind.VALIDATION
    assert "not mapped" in caught.value.message and "Map it" in caught.value.hint


def test_ensure_item_creates_once_then_finds(ledger: XeroLedger, xero: FakeXero) -> None:
    product = Product(
        psa_id="7",
        identifier=LONG_ID,
        description="M365 Business Premium",
        unit_price=Decimal("33.7500"),
    )
    made = ledger.ensure_item(
        product, policy=ProductIdPolicy.TRUNCATE_HASH, income_account_code="200"
    )
    assert len(made.code) == 30 and made.unit_price == Decimal("33.7500")
    assert xero.items[0]["SalesDetails"] == {"UnitPrice": Decimal("33.7500"), "AccountCode": "200"}
    again = ledger.ensure_item(product, policy=ProductIdPolicy.TRUNCATE_HASH)
    assert again.ledger_id == made.ledger_id and len(xero.items) == 1


# -- documents ----------------------------------------------------------------------------


def test_a_batch_posts_in_one_put_with_per_element_outcomes(
    ledger: XeroLedger, xero: FakeXero
) -> None:
    xero.refuse = lambda element: (
        ["The document date cannot be before the period lock date of 30 June 2026"]
        if element["InvoiceNumber"] == "INV-2"
        else []
    )
    results = ledger.post_documents(
        [document("INV-1", "c-1"), document("INV-2", "c-1"), document("INV-3", "c-1")]
    )
    assert [r.ok for r in results] == [True, False, True]
    assert [r.key for r in results] == [
        "co1:invoice:INV-1:v1",
        "co1:invoice:INV-2:v1",
        "co1:invoice:INV-3:v1",
    ]
    assert results[0].outcome == "created" and results[0].document is not None
    assert results[0].document.total == Decimal("115.00")
    error = results[1].error
    assert error is not None and error.kind == ErrorKind.VALIDATION
    assert "INV-2" in error.message and "locked period" in error.hint
    (put,) = puts(xero)
    assert put.url.params["summarizeErrors"] == "false" and put.url.params["unitdp"] == "4"
    assert put.headers["Idempotency-Key"].startswith("lb-post-")
    sent = json.loads(put.content)["Invoices"][0]
    assert sent["Contact"] == {"ContactID": "c-1"}
    assert sent["Type"] == "ACCREC" and sent["Status"] == "AUTHORISED"
    assert sent["Date"] == "2026-11-02" and sent["DueDate"] == "2026-12-02"
    assert sent["LineItems"][0]["Tracking"] == [{"Name": "Region", "Option": "North"}]
    assert '"UnitAmount":100.00' in put.content.decode()  # exact, never via float


def test_the_same_documents_get_the_same_idempotency_key(
    ledger: XeroLedger, xero: FakeXero
) -> None:
    ledger.post_documents([document("INV-1", "c-1"), document("INV-2", "c-1")])
    xero.documents["Invoices"].clear()
    ledger.post_documents([document("INV-1", "c-1"), document("INV-2", "c-1")])
    ledger.post_documents([document("INV-3", "c-1")])
    xero.documents["Invoices"].clear()
    # The same documents with a fixed mapping are a new request, not a replay.
    fixed = [document("INV-1", "c-1"), document("INV-2", "c-9")]
    ledger.post_documents(fixed)
    xero.documents["Invoices"].clear()
    # Another order is another request body, so another key.
    ledger.post_documents([document("INV-2", "c-1"), document("INV-1", "c-1")])
    keys = [r.headers["Idempotency-Key"] for r in puts(xero)]
    assert keys[0] == keys[1]
    assert len({keys[0], keys[2], keys[3], keys[4]}) == 4
    assert all(len(key) <= 128 for key in keys)


def test_invoices_and_credit_notes_go_to_their_own_endpoints_in_order(
    ledger: XeroLedger, xero: FakeXero
) -> None:
    results = ledger.post_documents(
        [
            document("INV-1", "c-1"),
            document("CN-1", "c-1", kind=InvoiceKind.CREDIT_NOTE),
            document("INV-2", "c-1"),
        ]
    )
    assert [r.document.kind if r.document else None for r in results] == [
        InvoiceKind.INVOICE,
        InvoiceKind.CREDIT_NOTE,
        InvoiceKind.INVOICE,
    ]
    assert [r.url.path.rsplit("/", 1)[1] for r in puts(xero)] == ["Invoices", "CreditNotes"]
    sent = json.loads(puts(xero)[1].content)["CreditNotes"][0]
    assert sent["Type"] == "ACCRECCREDIT" and sent["CreditNoteNumber"] == "CN-1"
    assert "DueDate" not in sent


def test_a_number_already_posted_by_us_is_already_existed(
    ledger: XeroLedger, xero: FakeXero
) -> None:
    (first,) = ledger.post_documents([document("INV-1", "c-1")])
    (again,) = ledger.post_documents([document("INV-1", "c-1")])
    assert again.ok and again.outcome == "already_existed"
    assert again.document is not None and first.document is not None
    assert again.document.ledger_id == first.document.ledger_id
    assert len(xero.documents["Invoices"]) == 1


def test_a_number_taken_by_another_document_is_a_failure_with_the_hint(
    ledger: XeroLedger, xero: FakeXero
) -> None:
    ledger.post_documents([document("INV-1", "c-other")])
    (result,) = ledger.post_documents([document("INV-1", "c-1")])
    assert not result.ok and result.error is not None
    assert result.error.kind == ErrorKind.VALIDATION
    assert "Invoice # must be unique." in result.error.message
    assert "already in Xero: mark the invoice posted" in result.error.hint


def test_a_lost_answer_is_resolved_by_lookup_and_never_resent(
    ledger: XeroLedger, xero: FakeXero
) -> None:
    xero.drop_puts = 1
    xero.refuse = lambda element: (
        ["Account code '476' has been archived, or deleted."]
        if element["InvoiceNumber"] == "INV-3"
        else []
    )
    results = ledger.post_documents([document(f"INV-{n}", "c-1") for n in (1, 2, 3)])
    assert [r.outcome for r in results[:2]] == ["already_existed", "already_existed"]
    # The refused one is not in Xero: LedgerBridge cannot know why, so it stays uncertain.
    error = results[2].error
    assert error is not None and error.kind == ErrorKind.UNCERTAIN
    assert len(puts(xero)) == 1
    lookups = [r for r in xero.requests if r.method == "GET"]
    assert [r.url.params["InvoiceNumbers"] for r in lookups] == ["INV-1,INV-2,INV-3"]


def test_lines_that_do_not_add_up_are_refused_before_sending(
    ledger: XeroLedger, xero: FakeXero
) -> None:
    results = ledger.post_documents(
        [document("INV-1", "c-1", total="120.00"), document("INV-2", "c-1")]
    )
    error = results[0].error
    assert error is not None and error.kind == ErrorKind.VALIDATION
    assert "115.00" in error.message and "120.00" in error.message
    assert error.hint == hints.LINE_TOTAL_MISMATCH.hint
    assert results[1].ok
    assert [d["InvoiceNumber"] for d in json.loads(puts(xero)[0].content)["Invoices"]] == ["INV-2"]


def test_tax_inclusive_and_no_tax_documents_add_up_without_tax_amounts(ledger: XeroLedger) -> None:
    doc = document("INV-1", "c-1", total="100.00")
    inclusive = PostableDocument(**{**vars(doc), "line_amounts": LineAmounts.INCLUSIVE})
    no_tax = PostableDocument(
        **{**vars(doc), "number": "INV-2", "line_amounts": LineAmounts.NO_TAX}
    )
    results = ledger.post_documents([inclusive, no_tax])
    assert [r.ok for r in results] == [True, True]


def test_two_documents_with_one_number_in_a_batch(ledger: XeroLedger) -> None:
    results = ledger.post_documents([document("INV-1", "c-1"), document("INV-1", "c-2")])
    assert results[0].ok
    assert results[1].error is not None and "share the invoice number" in results[1].error.message


def test_whole_call_refusals_reach_every_document(ledger: XeroLedger, xero: FakeXero) -> None:
    xero.forbid.add("Invoices")
    results = ledger.post_documents([document("INV-1", "c-1"), document("INV-2", "c-1")])
    assert [r.error.kind if r.error else None for r in results] == [ErrorKind.PERMISSION] * 2


def test_find_document_by_number_and_reference(ledger: XeroLedger, xero: FakeXero) -> None:
    ledger.post_documents(
        [document("INV-1", "c-1"), document("CN-1", "c-1", kind=InvoiceKind.CREDIT_NOTE)]
    )
    found = ledger.find_document(InvoiceKind.INVOICE, number="INV-1")
    assert found is not None and found.number == "INV-1" and found.total == Decimal("115.00")
    assert found.url.endswith(found.ledger_id)
    assert ledger.find_document(InvoiceKind.INVOICE, number="INV-9") is None
    by_reference = ledger.find_document(InvoiceKind.CREDIT_NOTE, reference="PSA CN-1")
    assert by_reference is not None and by_reference.number == "CN-1"


# -- payments, lock dates, connectivity ---------------------------------------------------


def test_payments_are_sales_payments_oldest_first_with_deletions_reversed(
    ledger: XeroLedger, xero: FakeXero
) -> None:
    cursor = datetime(2018, 1, 1, tzinfo=UTC)
    payments = list(ledger.payments_since(cursor))
    assert [p.document_number for p in payments] == ["INV-0002", "INV-0007"]
    first, deleted = payments
    assert first.amount == Decimal("46.00") and first.paid_on == date(2018, 11, 29)
    assert first.ledger_id == "99ea7f6b-c513-4066-bc27-b7c65dcd76c2" and not first.reversed
    assert deleted.reversed and deleted.amount == Decimal("120.50")
    assert deleted.reference == "EFT 77812"
    (request,) = xero.requests
    assert request.headers["If-Modified-Since"] == "2018-01-01T00:00:00"


def test_lock_dates_come_from_the_organisation(ledger: XeroLedger) -> None:
    dates = ledger.lock_dates()
    assert dates.period_lock == date(2018, 12, 31)
    assert dates.end_of_year_lock == date(2018, 3, 31)
    assert dates.locked(date(2018, 12, 31)) and not dates.locked(date(2019, 1, 1))


def test_connectivity_reports_the_organisation_and_the_lock_date(ledger: XeroLedger) -> None:
    report = ledger.test_connectivity()
    assert report.ok
    assert report.details["organisation"] == "Riverside MSP Ltd"
    assert report.details["tenant_id"] == TENANT_ID
    assert any(f.kind == "warning" and "31 December 2018" in f.message for f in report.findings)


def test_connectivity_a_disconnected_tenant(ledger: XeroLedger, xero: FakeXero) -> None:
    xero.forbid.add("Organisation")
    report = ledger.test_connectivity()
    assert not report.ok
    (problem,) = report.problems
    assert problem.kind == ErrorKind.PERMISSION
    assert "no longer connected" in problem.message and "Reconnect Xero" in problem.hint


def test_connectivity_a_missing_scope(ledger: XeroLedger, xero: FakeXero) -> None:
    xero.forbid.add("Payments")
    report = ledger.test_connectivity()
    assert not report.ok
    (problem,) = report.problems
    assert "may not read payments" in problem.message and "accounting.payments" in problem.message


def test_connectivity_a_revoked_connection(xero: FakeXero) -> None:
    client = XeroClient(
        api_url=API_URL,
        tenant_id=TENANT_ID,
        tokens=StaticTokens("revoked"),
        transport=httpx.MockTransport(
            lambda request: httpx.Response(
                401, json={"Title": "Unauthorized", "Detail": "AuthenticationUnsuccessful"}
            )
        ),
    )
    report = XeroLedger(client).test_connectivity()
    assert not report.ok
    (problem,) = report.problems
    assert problem.kind == ErrorKind.AUTH and "expired or was revoked" in problem.message
