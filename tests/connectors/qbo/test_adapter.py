"""QboLedger against documented QuickBooks answers (fixtures/) and a small fake company."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge.connectors.base import (
    Address,
    ConnectorError,
    Customer,
    ErrorKind,
    InvoiceKind,
    Ledger,
    LedgerTerm,
    NameClashRule,
    PostableDocument,
    PostableLine,
    Product,
    ProductIdPolicy,
    TermKind,
)
from ledgerbridge.connectors.qbo import records
from ledgerbridge.connectors.qbo.adapter import QboLedger
from ledgerbridge.connectors.qbo.client import QboClient
from tests.connectors.qbo.conftest import (
    FakeQbo,
    fault_body,
    fault_response,
    raw_fixture,
)

ACME = Customer(
    psa_id="174",
    name="Acme Co",
    identifier="AcmeCo",
    email="ap@acme.example, boss@acme.example",
    address=Address(line1="1 Main St", city="Denver", region="CO", postal_code="80202"),
)


def load_lists(fake: FakeQbo) -> None:
    lists = raw_fixture("lists.json", "accounts")["QueryResponse"]["Account"]
    fake.tables["Account"] = lists
    for entity, key in (
        ("TaxCode", "tax_codes"),
        ("TaxRate", "tax_rates"),
        ("Term", "terms"),
        ("Item", "items"),
        ("Class", "classes"),
        ("Department", "departments"),
    ):
        fake.tables[entity] = raw_fixture("lists.json", key)["QueryResponse"][entity]


def non_us(fake: FakeQbo) -> None:
    preferences = raw_fixture("documents.json", "preferences")
    preferences["Preferences"]["TaxPrefs"] = {"UsingSalesTax": True, "PartnerTaxEnabled": False}
    fake.fixed[("GET", "preferences")] = preferences


def invoice(number: str, *, total: str = "110.00", **changes: Any) -> PostableDocument:
    fields: dict[str, Any] = {
        "key": f"co1:invoice:{number}:v1",
        "kind": InvoiceKind.INVOICE,
        "psa_id": number,
        "number": number,
        "customer_ledger_id": "58",
        "issued_on": date(2026, 11, 2),
        "due_on": date(2026, 12, 2),
        "currency": "USD",
        "lines": (
            PostableLine(
                description="Managed services",
                quantity=Decimal(2),
                unit_price=Decimal("50.00"),
                line_amount=Decimal("100.00"),
                item_code="MS-SEAT",
                tax_code="5",
                tax_amount=Decimal("10.00"),
            ),
        ),
        "total": Decimal(total),
    }
    fields.update(changes)
    return PostableDocument(**fields)


def posted(fake: FakeQbo, resource: str) -> dict[str, Any]:
    (request,) = [r for r in fake.requests if r.method == "POST" and r.url.path.endswith(resource)]
    body: dict[str, Any] = json.loads(request.content)
    return body


def batch_body(fake: FakeQbo) -> list[dict[str, Any]]:
    (request,) = [r for r in fake.requests if r.url.path.endswith("/batch")]
    items: list[dict[str, Any]] = json.loads(request.content)["BatchItemRequest"]
    return items


def test_it_is_a_ledger(ledger: QboLedger) -> None:
    assert isinstance(ledger, Ledger)
    assert (ledger.label, ledger.batch_size) == ("QuickBooks Online", 30)


# -- lists ---------------------------------------------------------------------------------


def test_income_accounts_only_with_numbers_as_codes(ledger: QboLedger, fake: FakeQbo) -> None:
    load_lists(fake)
    accounts = {a.name: a for a in ledger.list_accounts()}
    assert set(accounts) == {"Sales of Product Income", "Services", "Interest Earned"}
    assert accounts["Sales of Product Income"].code == "4010"
    assert accounts["Services"].code == "Services"  # no account number: its name
    assert accounts["Interest Earned"].active is False


def test_tax_codes_carry_their_sales_rate(ledger: QboLedger, fake: FakeQbo) -> None:
    load_lists(fake)
    non_us(fake)
    rates = {r.name: r for r in ledger.list_tax_rates()}
    assert rates["GST"].rate == Decimal(5)
    assert rates["GST/PST BC"].rate == Decimal(12)  # GST 5 + PST 7
    assert rates["GST/PST BC"].for_purchases is False
    assert rates["Exempt"].rate == Decimal(0)
    assert "TAX" not in {r.ledger_id for r in rates.values()}


def test_a_us_automated_tax_company_offers_taxable_and_non_taxable(
    ledger: QboLedger, fake: FakeQbo
) -> None:
    ids = {r.ledger_id for r in ledger.list_tax_rates()}
    assert {"TAX", "NON"} <= ids


def test_classes_and_departments_are_tracking_categories(ledger: QboLedger, fake: FakeQbo) -> None:
    load_lists(fake)
    categories = {c.name: c for c in ledger.list_tracking_categories()}
    assert [o.name for o in categories["Class"].options] == [
        "Managed Services",
        "Managed Services:Security",
    ]
    assert [o.ledger_id for o in categories["Department"].options] == ["2"]


def test_terms_standard_and_date_driven(ledger: QboLedger, fake: FakeQbo) -> None:
    load_lists(fake)
    terms = {t.name: t for t in ledger.list_terms()}
    assert terms["Net 30"] == LedgerTerm(ledger_id="3", name="Net 30", days=30)
    assert terms["15th of next month"].kind == TermKind.DAY_OF_FOLLOWING_MONTH
    assert terms["15th of next month"].days == 15
    late = terms["20th, next month within 5 days"]
    assert (late.kind, late.days, late.active) == (TermKind.DAY_OF_CURRENT_MONTH, 20, False)


def test_items_skip_categories_and_keep_the_parent_in_the_code(
    ledger: QboLedger, fake: FakeQbo
) -> None:
    load_lists(fake)
    items = {i.code: i for i in ledger.list_items()}
    assert set(items) == {"Hardware:Laptop", "MS-SEAT"}
    assert items["Hardware:Laptop"].name == "Laptop"
    assert items["Hardware:Laptop"].unit_price == Decimal("1249.5")
    assert items["Hardware:Laptop"].income_account_code == "4010"


# -- customers -----------------------------------------------------------------------------


def test_a_new_customer_is_created_with_its_psa_id_in_notes(
    ledger: QboLedger, fake: FakeQbo
) -> None:
    made = ledger.ensure_customer(ACME)
    assert made.outcome == "created" and made.name == "Acme Co" and made.psa_id == "174"
    (stored,) = fake.tables["Customer"]
    assert stored["Notes"] == "LedgerBridge PSA id: 174"
    assert stored["PrimaryEmailAddr"] == {"Address": "ap@acme.example"}
    assert stored["BillAddr"]["CountrySubDivisionCode"] == "CO"
    again = QboLedger(ledger.client).ensure_customer(ACME)
    assert (again.outcome, again.ledger_id) == ("found", made.ledger_id)
    assert len(fake.tables["Customer"]) == 1


def test_the_psa_id_wins_over_a_renamed_customer(ledger: QboLedger, fake: FakeQbo) -> None:
    linked = fake.add(
        "Customer", DisplayName="Acme Corporation", Notes="Key account\nLedgerBridge PSA id: 174"
    )
    fake.add("Customer", DisplayName="Acme Co")
    found = ledger.ensure_customer(ACME)
    assert (found.outcome, found.ledger_id) == ("found", linked["Id"])


def test_an_unlinked_customer_of_that_exact_name_is_linked(
    ledger: QboLedger, fake: FakeQbo
) -> None:
    existing = fake.add("Customer", DisplayName="Acme Co", Notes="Pays by EFT")

    def sparse_update(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["sparse"] is True and body["SyncToken"] == "0"
        return httpx.Response(200, json={"Customer": {**existing, **body, "SyncToken": "1"}})

    fake.script[("POST", "customer")] = [sparse_update]
    found = ledger.ensure_customer(ACME)
    assert (found.outcome, found.ledger_id) == ("linked", existing["Id"])
    update = json.loads(fake.requests[-1].content)
    assert update["Notes"] == "Pays by EFT\nLedgerBridge PSA id: 174"


def test_a_supplier_with_the_name_fails_by_default_naming_the_clash(
    ledger: QboLedger, fake: FakeQbo
) -> None:
    fake.add("Vendor", DisplayName="Acme Co")
    with pytest.raises(ConnectorError) as raised:
        ledger.ensure_customer(ACME)
    assert raised.value.kind == ErrorKind.VALIDATION
    assert "a supplier named 'Acme Co' already exists" in raised.value.message
    assert "add the PSA identifier" in raised.value.hint
    assert "Customer" not in fake.tables


def test_an_employee_with_the_name_cannot_be_linked(ledger: QboLedger, fake: FakeQbo) -> None:
    fake.add("Employee", DisplayName="Acme Co")
    with pytest.raises(ConnectorError) as raised:
        ledger.ensure_customer(ACME, on_name_clash=NameClashRule.LINK_EXISTING)
    assert "an employee named" in raised.value.message
    assert "Only a customer can be linked" in raised.value.hint


def test_disambiguate_adds_the_psa_identifier(ledger: QboLedger, fake: FakeQbo) -> None:
    fake.add("Employee", DisplayName="Acme Co")
    made = ledger.ensure_customer(ACME, on_name_clash=NameClashRule.DISAMBIGUATE)
    assert (made.outcome, made.name) == ("created", "Acme Co (AcmeCo)")
    again = QboLedger(ledger.client).ensure_customer(ACME, on_name_clash=NameClashRule.DISAMBIGUATE)
    assert (again.outcome, again.ledger_id) == ("found", made.ledger_id)


def test_a_customer_linked_to_another_psa_customer_is_a_clash(
    ledger: QboLedger, fake: FakeQbo
) -> None:
    other = fake.add("Customer", DisplayName="Acme Co", Notes="LedgerBridge PSA id: 999")
    with pytest.raises(ConnectorError, match="linked to PSA customer 999"):
        ledger.ensure_customer(ACME)
    fake.script[("POST", "customer")] = [
        lambda request: httpx.Response(
            200, json={"Customer": {**other, **json.loads(request.content)}}
        )
    ]
    linked = ledger.ensure_customer(ACME, on_name_clash=NameClashRule.LINK_EXISTING)
    assert (linked.outcome, linked.ledger_id) == ("linked", other["Id"])
    notes = json.loads(fake.requests[-1].content)["Notes"]
    assert records.psa_ids_of({"Notes": notes}) == ("999", "174")


def test_an_inactive_linked_customer_is_reported(ledger: QboLedger, fake: FakeQbo) -> None:
    fake.add(
        "Customer", DisplayName="Acme Co (deleted)", Active=False, Notes="LedgerBridge PSA id: 174"
    )
    with pytest.raises(ConnectorError, match="inactive") as raised:
        ledger.ensure_customer(ACME)
    assert "active again" in raised.value.hint


def test_a_colon_never_reaches_a_customer_name(ledger: QboLedger, fake: FakeQbo) -> None:
    made = ledger.ensure_customer(Customer(psa_id="9", name="Acme: West"))
    assert made.name == "Acme- West"


# -- items ---------------------------------------------------------------------------------

LONG_ID = "LIC-" + "X" * 120


def test_an_existing_item_is_found_by_full_name_leaf_or_sku(
    ledger: QboLedger, fake: FakeQbo
) -> None:
    load_lists(fake)
    for code in ("Hardware:Laptop", "Laptop", "HW-LAPTOP-14"):
        found = ledger.ensure_item(Product(psa_id="1", identifier=code))
        assert found.ledger_id == "31"
    assert not any(r.method == "POST" for r in fake.requests)


def test_a_new_item_is_created_under_the_income_account(ledger: QboLedger, fake: FakeQbo) -> None:
    load_lists(fake)
    made = ledger.ensure_item(
        Product(
            psa_id="7",
            identifier="BACKUP-TB",
            description="Backup per TB",
            kind="Service",
            unit_price=Decimal("12.50"),
        ),
        income_account_code="4010",
    )
    assert made.code == "BACKUP-TB" and made.income_account_code == "4010"
    body = posted(fake, "/item")
    assert body["IncomeAccountRef"] == {"value": "79"}
    assert (body["Type"], body["UnitPrice"], body["Taxable"]) == ("Service", 12.50, True)


def test_a_new_item_needs_an_income_account(ledger: QboLedger, fake: FakeQbo) -> None:
    load_lists(fake)
    with pytest.raises(ConnectorError, match="income account") as raised:
        ledger.ensure_item(Product(psa_id="7", identifier="BACKUP-TB"))
    assert "sales account" in raised.value.hint


def test_a_long_product_id_fails_by_default(ledger: QboLedger, fake: FakeQbo) -> None:
    load_lists(fake)
    with pytest.raises(ConnectorError) as raised:
        ledger.ensure_item(Product(psa_id="8", identifier=LONG_ID), income_account_code="4010")
    assert raised.value.kind == ErrorKind.VALIDATION
    assert "124 characters" in raised.value.message and "allow 100" in raised.value.message
    assert "hash" in raised.value.hint


def test_truncate_hash_is_stable_and_fits(ledger: QboLedger, fake: FakeQbo) -> None:
    load_lists(fake)
    product = Product(psa_id="8", identifier=LONG_ID)
    made = ledger.ensure_item(
        product, policy=ProductIdPolicy.TRUNCATE_HASH, income_account_code="4010"
    )
    assert len(made.code) == 100 and made.code.startswith("LIC-XXX")
    assert made.code != LONG_ID[:100]
    other = records.truncated_with_hash(LONG_ID + "2", 100)
    assert other != made.code and other[:91] == made.code[:91]
    again = QboLedger(ledger.client).ensure_item(
        product, policy=ProductIdPolicy.TRUNCATE_HASH, income_account_code="4010"
    )
    assert again.ledger_id == made.ledger_id
    assert len(fake.tables["Item"]) == 4  # created once


def test_mapping_uses_the_mapped_item_and_never_creates(ledger: QboLedger, fake: FakeQbo) -> None:
    load_lists(fake)
    product = Product(psa_id="8", identifier=LONG_ID)
    found = ledger.ensure_item(product, policy=ProductIdPolicy.MAPPING, mapped_code="MS-SEAT")
    assert found.ledger_id == "21"
    with pytest.raises(ConnectorError, match="no QuickBooks product/service mapped"):
        ledger.ensure_item(product, policy=ProductIdPolicy.MAPPING)
    with pytest.raises(ConnectorError, match="does not have"):
        ledger.ensure_item(product, policy=ProductIdPolicy.MAPPING, mapped_code="NOPE")
    assert not any(r.method == "POST" for r in fake.requests)


# -- documents -----------------------------------------------------------------------------


def test_a_batch_reports_each_document_and_maps_each_fault(
    ledger: QboLedger, fake: FakeQbo
) -> None:
    load_lists(fake)
    fake.script[("POST", "batch")] = [
        httpx.Response(200, json=raw_fixture("documents.json", "batch_mixed"))
    ]
    # INV-3 was posted before (same customer and total); INV-4's number belongs to another.
    fake.add("Invoice", DocNumber="INV-3", CustomerRef={"value": "58"}, TotalAmt=110.00)
    fake.add("Invoice", DocNumber="INV-4", CustomerRef={"value": "77"}, TotalAmt=99.00)
    documents = [invoice(f"INV-{n}") for n in range(1, 6)]
    results = ledger.post_documents(documents)
    assert [r.key for r in results] == [d.key for d in documents]
    created, gone, posted_before, taken, throttled = results
    assert created.outcome == "created" and created.document is not None
    assert created.document.ledger_id == "1305" and created.document.total == Decimal("110.00")
    assert gone.error is not None and gone.error.kind == ErrorKind.VALIDATION
    assert "deleted or made inactive" in gone.error.hint
    assert posted_before.outcome == "already_existed" and posted_before.ok
    assert taken.error is not None and "different document numbered INV-4" in taken.error.message
    assert throttled.error is not None and throttled.error.kind == ErrorKind.RATE_LIMITED


def test_batch_items_carry_bids_lines_and_us_tax_flags(ledger: QboLedger, fake: FakeQbo) -> None:
    load_lists(fake)
    fake.script[("POST", "batch")] = [httpx.Response(200, json={"BatchItemResponse": []})]
    document = invoice(
        "INV-9",
        lines=(
            PostableLine(
                description="Seats",
                quantity=Decimal(2),
                unit_price=Decimal("50.00"),
                line_amount=Decimal("100.00"),
                item_code="Laptop",
                tax_code="TAX",
                tracking={"Class": "Managed Services:Security", "Department": "Denver"},
            ),
            PostableLine(
                description="Labour",
                quantity=Decimal(1),
                unit_price=Decimal("10.00"),
                line_amount=Decimal("10.00"),
                item_code="MS-SEAT",
            ),
        ),
        term_ledger_id="3",
        reference="CW 1201",
    )
    ledger.post_documents([document])
    (item,) = batch_body(fake)
    assert (item["bId"], item["operation"]) == ("1", "create")
    body = item["Invoice"]
    assert body["DocNumber"] == "INV-9" and body["CustomerRef"] == {"value": "58"}
    assert body["SalesTermRef"] == {"value": "3"} and body["DepartmentRef"] == {"value": "2"}
    assert body["PrivateNote"] == "CW 1201"
    first, second = body["Line"]
    assert first["SalesItemLineDetail"]["ItemRef"] == {"value": "31"}
    assert first["SalesItemLineDetail"]["ClassRef"] == {"value": "5000000000000012346"}
    assert first["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "TAX"}
    assert second["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "NON"}
    assert "GlobalTaxCalculation" not in body and "TxnTaxDetail" not in body


def test_non_us_lines_carry_tax_codes_and_the_psa_tax(ledger: QboLedger, fake: FakeQbo) -> None:
    load_lists(fake)
    non_us(fake)
    fake.script[("POST", "batch")] = [httpx.Response(200, json={"BatchItemResponse": []})]
    ledger.post_documents([invoice("INV-9", currency="CAD")])
    body = batch_body(fake)[0]["Invoice"]
    assert body["GlobalTaxCalculation"] == "TaxExcluded"
    assert body["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "5"}
    assert body["TxnTaxDetail"] == {
        "TotalTax": 10.0,
        "TaxLine": [
            {
                "DetailType": "TaxLineDetail",
                "Amount": 10.0,
                "TaxLineDetail": {"TaxRateRef": {"value": "3"}, "NetAmountTaxable": 100.0},
            }
        ],
    }


def test_what_quickbooks_lacks_is_refused_before_sending(ledger: QboLedger, fake: FakeQbo) -> None:
    load_lists(fake)
    fake.script[("POST", "batch")] = [
        httpx.Response(
            200,
            json={
                "BatchItemResponse": [
                    {"bId": "2", "Invoice": {"Id": "9", "DocNumber": "OK-1", "TotalAmt": 110.00}}
                ]
            },
        )
    ]
    missing_item = invoice(
        "INV-1",
        lines=(
            PostableLine(
                description="x",
                quantity=Decimal(1),
                unit_price=Decimal(1),
                line_amount=Decimal(1),
                item_code="NO-SUCH",
                tracking={"Class": "Nope"},
            ),
        ),
    )
    long_number = invoice("INV-" + "9" * 20)
    results = ledger.post_documents([missing_item, invoice("OK-1"), long_number])
    assert results[0].error is not None
    assert "'NO-SUCH'" in results[0].error.message and "class 'Nope'" in results[0].error.message
    assert results[1].ok
    assert results[2].error is not None and "QuickBooks allows 21" in results[2].error.message
    assert [i["bId"] for i in batch_body(fake)] == ["2"]


def test_an_unclear_batch_is_looked_up_and_only_the_missing_are_uncertain(
    ledger: QboLedger, fake: FakeQbo
) -> None:
    load_lists(fake)

    def dropped(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("connection closed", request=request)

    fake.script[("POST", "batch")] = [dropped] * 3
    fake.add("Invoice", DocNumber="INV-1", CustomerRef={"value": "58"}, TotalAmt=110.00)
    results = ledger.post_documents([invoice("INV-1"), invoice("INV-2")])
    assert results[0].outcome == "already_existed" and results[0].ok
    assert results[1].error is not None and results[1].error.kind == ErrorKind.UNCERTAIN
    assert fake.queries()[-1] == (
        "SELECT * FROM Invoice WHERE DocNumber IN ('INV-1', 'INV-2') "
        "STARTPOSITION 1 MAXRESULTS 1000"
    )


def test_a_refused_whole_call_raises(ledger: QboLedger, fake: FakeQbo) -> None:
    load_lists(fake)
    fake.script[("POST", "batch")] = [fault_response(fault_body("throttled"), 429)] * 3
    with pytest.raises(ConnectorError) as raised:
        ledger.post_documents([invoice("INV-1")])
    assert raised.value.kind == ErrorKind.RATE_LIMITED


def test_find_document_by_number(ledger: QboLedger, fake: FakeQbo) -> None:
    record = raw_fixture("documents.json", "invoice_created")["Invoice"]
    fake.tables["Invoice"] = [record]
    found = ledger.find_document(InvoiceKind.INVOICE, number="MSP-26-000123")
    assert found is not None
    assert (found.ledger_id, found.total, found.balance) == (
        "1304",
        Decimal("2210.00"),
        Decimal("2210.00"),
    )
    assert found.updated_at == datetime(2026, 11, 2, 9, 2, 3, tzinfo=UTC)
    assert ledger.find_document(InvoiceKind.INVOICE, number="NOPE") is None
    assert ledger.find_document(InvoiceKind.CREDIT_NOTE, number="MSP-26-000123") is None


# -- payments, locks, connectivity ---------------------------------------------------------


def test_a_payment_becomes_one_ledger_payment_per_invoice(ledger: QboLedger, fake: FakeQbo) -> None:
    fake.tables["Payment"] = [raw_fixture("documents.json", "payment_two_invoices")["Payment"]]
    cursor = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    found = list(ledger.payments_since(cursor))
    assert [(p.ledger_id, p.document_ledger_id, p.amount) for p in found] == [
        ("2001:1304", "1304", Decimal("2210.00")),
        ("2001:1299", "1299", Decimal("190.00")),
    ]
    assert found[0].paid_on == date(2026, 11, 20)
    assert (found[0].reference, found[0].method) == ("EFT77812", "EFT")
    (statement,) = fake.queries()
    assert statement.startswith(
        "SELECT * FROM Payment WHERE MetaData.LastUpdatedTime > '2026-11-01T08:00:00+00:00' "
        "ORDERBY MetaData.LastUpdatedTime"
    )


def test_lock_dates_come_from_the_closing_date(ledger: QboLedger) -> None:
    locks = ledger.lock_dates()
    assert locks.period_lock == date(2026, 9, 30)
    assert locks.locked(date(2026, 9, 30)) and not locks.locked(date(2026, 10, 1))


def test_connectivity_reports_the_company_and_its_closing_date(
    ledger: QboLedger, fake: FakeQbo
) -> None:
    fake.fixed[("GET", f"companyinfo/{ledger.client.realm_id}")] = raw_fixture(
        "documents.json", "company_info"
    )
    fake.script[("GET", "query")] = [
        httpx.Response(200, json={"QueryResponse": {"totalCount": 42}})
    ]
    report = ledger.test_connectivity()
    assert report.ok
    assert report.details["company"] == "Demo MSP LLC"
    assert report.details["automated_sales_tax"] == "yes"
    assert any("closed up to 30 Sep 2026" in f.message for f in report.findings)


@pytest.mark.parametrize(
    ("status", "fault", "kind", "words"),
    [
        (401, "token_expired", ErrorKind.AUTH, "could not be renewed"),
        (403, "authorization", ErrorKind.PERMISSION, "has not authorised"),
        (429, "throttled", ErrorKind.RATE_LIMITED, "over its limit"),
    ],
)
def test_connectivity_says_what_is_wrong(
    client: QboClient, fake: FakeQbo, status: int, fault: str, kind: ErrorKind, words: str
) -> None:
    key = ("GET", f"companyinfo/{client.realm_id}")
    fake.script[key] = [fault_response(fault_body(fault), status)] * 3
    if status == 401:
        client.tokens = type(client.tokens)("dead")  # type: ignore[call-arg]
    report = QboLedger(client).test_connectivity()
    assert not report.ok
    (problem,) = report.problems
    assert problem.kind == kind and words in problem.message
    assert problem.hint
