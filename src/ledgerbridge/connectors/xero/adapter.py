"""`XeroLedger`: the `Ledger` protocol over one Xero organisation.

What it promises the engine, and how Xero makes that possible:

- **Customers** are Xero contacts. The PSA customer's id is kept in the contact's
  `ContactNumber` (an API-only field meant for other systems' keys), so a customer is found again
  by its id even after someone renamed the contact; a contact with the same name but another
  (or no) PSA id is a *name clash* that `NameClashRule` settles. A second contact for one PSA id
  is never created.
  Contacts are read once per adapter (paged, 1,000 a page, archived ones included) and kept
  in an index by `ContactNumber` and by name, updated as contacts are made or linked: one
  lookup per customer would cost a call each, and a run meets the same customers again and
  again. A contact someone made in Xero after the index was read is met as Xero's refusal of
  the duplicate, looked up then, and settled as usual.
- **Items** have a `Code` of at most 30 characters; longer PSA product ids go through
  `ProductIdPolicy`. Items are read once (`GET Items` is not paged) and indexed by code.
- **Documents** go out 50 to a `PUT Invoices` (or `PUT CreditNotes`) with
  `summarizeErrors=false`, so each comes back with its own outcome and one bad invoice never
  sinks the batch. An `Idempotency-Key` made from the documents' keys lets Xero replay its answer
  to a repeat. When the answer is lost (connection dropped after sending, a 5xx) nothing is sent
  again: each document is looked up by number, and only those not found are `uncertain`. An
  "Invoice # must be unique." refusal for a document Xero already holds with the same contact and
  total is an earlier post whose answer was lost: `already_existed`, not a failure.
- **Credit allocation.** A credit note that names its invoice (`applies_to_ledger_id`) is
  allocated to it once posted: `PUT CreditNotes/{CreditNoteID}/Allocations` with the smaller of
  the credit left and the invoice's `AmountDue`. Xero allocates only AUTHORISED documents and
  never more than is due, so a draft, a paid invoice or any refusal becomes a warning on the
  result ("posted, but …"), never a failure of the credit note. The allocation carries an
  `Idempotency-Key` made from the two ids, and a credit note found from an earlier post is read
  first: one already allocated to the invoice is not allocated again.
- **Updates** of a posted document (a re-post after it changed in the PSA) go to
  `POST Invoices/{InvoiceID}` (or CreditNotes). Xero lets a DRAFT, SUBMITTED or AUTHORISED
  document change while no payment or credit is applied to it; the lines sent (without their
  `LineItemID`s) replace the old ones. The document is read first: a paid, voided or allocated
  one is refused with what to do in Xero, and one that already holds the change is not written
  again; after a lost answer it is read back and compared, never sent blind.
"""

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal

from ledgerbridge.connectors.base import (
    ConnectivityFinding,
    ConnectivityReport,
    ConnectorError,
    Customer,
    ErrorKind,
    InvoiceKind,
    LedgerAccount,
    LedgerCustomer,
    LedgerDocument,
    LedgerItem,
    LedgerPayment,
    LedgerTaxRate,
    LedgerTerm,
    LineAmounts,
    LockDates,
    NameClashRule,
    PostableDocument,
    PostableLine,
    PostResult,
    Product,
    ProductIdPolicy,
    TermKind,
    TrackingCategory,
    TrackingOption,
)
from ledgerbridge.connectors.http import encode_json
from ledgerbridge.connectors.xero import hints, wire
from ledgerbridge.connectors.xero.client import MAX_PAGE_SIZE, XeroClient, idempotency_key

ITEM_CODE_LIMIT: Final = 30
ITEM_NAME_LIMIT: Final = 50
CONTACT_NAME_LIMIT: Final = 255
BATCH_SIZE: Final = 50
DEFAULT_WEB_URL: Final = "https://go.xero.com/"
# Hex digits of the SHA-256 that end a shortened item code: 4 billion values, stable forever.
_HASH_DIGITS: Final = 8
# Invoice numbers per `InvoiceNumbers=` lookup, well inside Xero's URL length limit.
_NUMBERS_PER_LOOKUP: Final = 25
_CENT: Final = Decimal("0.01")
_GONE_STATUSES: Final = frozenset({"DELETED", "VOIDED"})
_DRAFT_STATUSES: Final = frozenset({"DRAFT", "SUBMITTED"})
# What Xero answers an update of a document it will not let change (paid, allocated, voided).
_NOT_EDITABLE_TEXTS: Final = ("cannot be edited", "not of valid status for modification")

_LINE_AMOUNT_TYPES: Final = {
    LineAmounts.EXCLUSIVE: "Exclusive",
    LineAmounts.INCLUSIVE: "Inclusive",
    LineAmounts.NO_TAX: "NoTax",
}


@dataclass(frozen=True)
class _Resource:
    """What differs between posting invoices and credit notes."""

    kind: InvoiceKind
    collection: str  # "Invoices"
    type_code: str  # Xero's `Type`
    id_field: str
    number_field: str
    label: str  # as the admin says it
    view_path: str  # where a person opens one in Xero's web app


_RESOURCES: Final = {
    InvoiceKind.INVOICE: _Resource(
        InvoiceKind.INVOICE,
        "Invoices",
        "ACCREC",
        "InvoiceID",
        "InvoiceNumber",
        "invoice",
        "AccountsReceivable/View.aspx?InvoiceID=",
    ),
    InvoiceKind.CREDIT_NOTE: _Resource(
        InvoiceKind.CREDIT_NOTE,
        "CreditNotes",
        "ACCRECCREDIT",
        "CreditNoteID",
        "CreditNoteNumber",
        "credit note",
        "AccountsReceivable/ViewCreditNote.aspx?creditNoteID=",
    ),
}

# Connection-test probes: a read of each resource the sync needs, and the permission behind it.
_PROBES: Final = (
    ("Invoices", "invoices and credit notes", "accounting.invoices (accounting.transactions)"),
    ("Contacts", "contacts", "accounting.contacts"),
    ("Payments", "payments", "accounting.payments (accounting.transactions)"),
)

# Xero's due-date rules (`PaymentTerms.Sales.Type`), as LedgerBridge's term kinds.
XERO_DUE_DATE_TYPES: Final = (
    ("DAYSAFTERBILLDATE", "Days after the invoice date", TermKind.NET_DAYS),
    (
        "DAYSAFTERBILLMONTH",
        "Days after the end of the invoice month",
        TermKind.DAYS_AFTER_END_OF_MONTH,
    ),
    ("OFFOLLOWINGMONTH", "Day of the following month", TermKind.DAY_OF_FOLLOWING_MONTH),
    ("OFCURRENTMONTH", "Day of the current month", TermKind.DAY_OF_CURRENT_MONTH),
)


def shortened_item_code(identifier: str) -> str:
    """A code of 30 characters for a longer id: its start, "-", and a hash of the whole id.

    The same id always gives the same code, and ids that share their first 21 characters still
    get different codes.
    """
    digest = hashlib.sha256(identifier.encode()).hexdigest()[:_HASH_DIGITS].upper()
    head = identifier[: ITEM_CODE_LIMIT - _HASH_DIGITS - 1]
    return f"{head}-{digest}"


def item_code_for(product: Product, policy: ProductIdPolicy, mapped_code: str = "") -> str:
    """The Xero item code for a PSA product, or a `validation` error saying what to do."""
    identifier = product.identifier.strip()
    mapped = mapped_code.strip()
    if mapped:
        if len(mapped) > ITEM_CODE_LIMIT:
            raise ConnectorError(
                ErrorKind.VALIDATION,
                f"The Xero item code '{mapped}' mapped to product '{identifier}' has "
                f"{len(mapped)} characters; Xero allows {ITEM_CODE_LIMIT}.",
                hint="Map the product to an existing Xero item code under Company → Products.",
            )
        return mapped
    if not identifier:
        raise ConnectorError(
            ErrorKind.VALIDATION,
            f"The PSA product {product.psa_id} has no product id to use as a Xero item code.",
            hint="Give the product an id in the PSA, or map it under Company → Products.",
        )
    if len(identifier) <= ITEM_CODE_LIMIT:
        return identifier
    if policy == ProductIdPolicy.TRUNCATE_HASH:
        return shortened_item_code(identifier)
    if policy == ProductIdPolicy.MAPPING:
        raise ConnectorError(
            ErrorKind.VALIDATION,
            f"The product id '{identifier}' ({len(identifier)} characters) is not mapped to a "
            "Xero item.",
            hint="Map it to a Xero item code (30 characters at most) under Company → Products.",
        )
    raise ConnectorError(
        ErrorKind.VALIDATION,
        f"The product id '{identifier}' has {len(identifier)} characters; Xero item codes "
        f"allow {ITEM_CODE_LIMIT}.",
        hint="Shorten the product id in the PSA, map it to a Xero item under Company → "
        "Products, or let LedgerBridge shorten long ids with a hash (Company → Settings → "
        "Products).",
    )


def expected_total(document: PostableDocument) -> Decimal | None:
    """What the lines add up to, when that can be known before Xero works out the tax."""
    if any(line.discount_rate for line in document.lines):
        return None  # Xero applies the discount; the engine's line amounts may precede it
    net = sum((line.line_amount for line in document.lines), Decimal(0))
    if document.line_amounts != LineAmounts.EXCLUSIVE:
        return net
    taxes = [line.tax_amount for line in document.lines]
    if any(tax is None for tax in taxes):
        return None
    return net + sum((tax for tax in taxes if tax is not None), Decimal(0))


@dataclass(frozen=True)
class _Found:
    """A document found in Xero, with the contact it belongs to (to tell ours from another)."""

    document: LedgerDocument
    contact_id: str


class _NamesakeAppearedError(Exception):
    """A contact of the wanted name turned up after the index was read (and is in it now)."""


class _ContactIndex:
    """The organisation's contacts by PSA id (`ContactNumber`) and by name.

    A live contact wins over an archived twin for a PSA id; names count among active contacts
    only, as Xero keeps them unique there.
    """

    def __init__(self) -> None:
        self.by_psa_id: dict[str, Mapping[str, Any]] = {}
        self._by_name: dict[str, Mapping[str, Any]] = {}

    def add(self, row: Mapping[str, Any]) -> None:
        active = _is_active_contact(row)
        psa_id = wire.text(row.get("ContactNumber"))
        if psa_id:
            held = self.by_psa_id.get(psa_id)
            if held is None or active or not _is_active_contact(held) or _same_contact(held, row):
                self.by_psa_id[psa_id] = row
        key = _name_key(wire.text(row.get("Name")))
        if active:
            self._by_name[key] = row
        elif key in self._by_name and _same_contact(self._by_name[key], row):
            del self._by_name[key]  # archived since: its name is free again

    def named(self, name: str) -> Mapping[str, Any] | None:
        return self._by_name.get(_name_key(name))


def _is_active_contact(row: Mapping[str, Any]) -> bool:
    return wire.text(row.get("ContactStatus") or "ACTIVE") == "ACTIVE"


def _same_contact(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    return wire.text(one.get("ContactID")) == wire.text(other.get("ContactID"))


def _name_key(name: str) -> str:
    return name.strip().casefold()


class XeroLedger:
    label = "Xero"
    batch_size = BATCH_SIZE

    def __init__(self, client: XeroClient, *, web_url: str = DEFAULT_WEB_URL) -> None:
        self.client = client
        self.web_url = web_url if web_url.endswith("/") else web_url + "/"
        self._contacts: _ContactIndex | None = None
        self._items: dict[str, LedgerItem] | None = None  # casefolded code → item

    # -- lists -----------------------------------------------------------------------------

    def list_accounts(self) -> Iterator[LedgerAccount]:
        for row in self.client.get_records("Accounts"):
            yield LedgerAccount(
                ledger_id=wire.text(row.get("AccountID")),
                code=wire.text(row.get("Code")),
                name=wire.text(row.get("Name")),
                account_type=wire.text(row.get("Type")),
                tax_code=wire.text(row.get("TaxType")),
                active=wire.text(row.get("Status") or "ACTIVE") == "ACTIVE",
            )

    def list_tax_rates(self) -> Iterator[LedgerTaxRate]:
        for row in self.client.get_records("TaxRates"):
            rate = wire.money(row.get("EffectiveRate"))
            if rate is None:
                rate = wire.money(row.get("DisplayTaxRate"))
            yield LedgerTaxRate(
                ledger_id=wire.text(row.get("TaxType")),
                name=wire.text(row.get("Name")),
                rate=rate,
                for_sales=row.get("CanApplyToRevenue") is not False,
                for_purchases=row.get("CanApplyToExpenses") is not False,
                active=wire.text(row.get("Status") or "ACTIVE") == "ACTIVE",
            )

    def list_tracking_categories(self) -> Iterator[TrackingCategory]:
        for row in self.client.get_records("TrackingCategories"):
            options = row.get("Options")
            yield TrackingCategory(
                ledger_id=wire.text(row.get("TrackingCategoryID")),
                name=wire.text(row.get("Name")),
                options=tuple(
                    TrackingOption(
                        ledger_id=wire.text(option.get("TrackingOptionID")),
                        name=wire.text(option.get("Name")),
                        active=wire.text(option.get("Status") or "ACTIVE") == "ACTIVE",
                    )
                    for option in (options if isinstance(options, list) else [])
                    if isinstance(option, Mapping)
                ),
                active=wire.text(row.get("Status") or "ACTIVE") == "ACTIVE",
            )

    def list_terms(self) -> Iterator[LedgerTerm]:
        """Xero's due-date rules, as synthetic terms.

        Xero keeps no payment-term records: a contact (or the organisation) has a due-date rule,
        a day count and one of four types, and every invoice carries its own `DueDate`. So
        there is nothing to map a PSA term *to* except the kind of rule; LedgerBridge computes
        the due date from the PSA term and sends it on each invoice. These four terms (ledger
        id = Xero's type name, `days` 0 because the count comes from the PSA term) let the
        mapping screen show what Xero supports.
        """
        for type_name, name, kind in XERO_DUE_DATE_TYPES:
            yield LedgerTerm(ledger_id=type_name, name=name, kind=kind, days=0)

    def list_items(self) -> Iterator[LedgerItem]:
        for row in self.client.get_records("Items"):
            yield _item(row)

    # -- customers -------------------------------------------------------------------------

    def ensure_customer(
        self, customer: Customer, *, on_name_clash: NameClashRule = NameClashRule.FAIL
    ) -> LedgerCustomer:
        """The contact for this PSA customer: by PSA id (`ContactNumber`), then by exact name,
        else a new one. Never a second contact for one PSA id."""
        try:
            return self._ensure_customer(customer, on_name_clash)
        except _NamesakeAppearedError:
            # Someone made a contact of that name after the index was read; it is in the
            # index now, so the rules settle it like any other namesake.
            return self._ensure_customer(customer, on_name_clash, last_try=True)

    def _ensure_customer(
        self, customer: Customer, on_name_clash: NameClashRule, *, last_try: bool = False
    ) -> LedgerCustomer:
        index = self._contact_index()
        linked = index.by_psa_id.get(customer.psa_id)
        if linked is not None:
            return _customer(linked, "found")
        name = customer.name.strip()[:CONTACT_NAME_LIMIT]
        namesake = index.named(name)
        if namesake is None:
            return self._create_contact(customer, name, last_try=last_try)
        other_id = wire.text(namesake.get("ContactNumber"))
        if on_name_clash == NameClashRule.LINK_EXISTING and not other_id:
            return self._link_contact(namesake, customer)
        if on_name_clash == NameClashRule.DISAMBIGUATE:
            tag = customer.identifier.strip() or customer.psa_id
            distinct = f"{customer.name.strip()} ({tag})"[:CONTACT_NAME_LIMIT]
            clash = index.named(distinct)
            if clash is None:
                return self._create_contact(customer, distinct, last_try=last_try)
            namesake, name = clash, distinct
            other_id = wire.text(clash.get("ContactNumber"))
        raise self._name_clash(customer, namesake, name, other_id, on_name_clash)

    def _contact_index(self) -> "_ContactIndex":
        """Every contact of the organisation, read once: 1,000 a page, archived ones too (an
        archived contact still holds its PSA id)."""
        if self._contacts is None:
            index = _ContactIndex()
            for row in self.client.pages(
                "Contacts", params={"includeArchived": "true"}, page_size=MAX_PAGE_SIZE
            ):
                index.add(row)
            self._contacts = index
        return self._contacts

    def _contact_by_psa_id(self, psa_id: str) -> Mapping[str, Any] | None:
        rows = self.client.get_records(
            "Contacts",
            params={"where": f"ContactNumber=={wire.quoted(psa_id)}", "includeArchived": "true"},
        )
        matches = [row for row in rows if wire.text(row.get("ContactNumber")) == psa_id]
        # Xero keeps contact numbers unique, but an archived twin must not win over a live one.
        matches.sort(key=lambda row: wire.text(row.get("ContactStatus") or "ACTIVE") != "ACTIVE")
        return matches[0] if matches else None

    def _active_contact_named(self, name: str) -> Mapping[str, Any] | None:
        rows = self.client.get_records("Contacts", params={"where": f"Name=={wire.quoted(name)}"})
        wanted = name.casefold()
        for row in rows:
            if wire.text(row.get("ContactStatus") or "ACTIVE") != "ACTIVE":
                continue  # Xero's names are unique among active contacts only
            if wire.text(row.get("Name")).strip().casefold() == wanted:
                return row
        return None

    def _create_contact(
        self, customer: Customer, name: str, *, last_try: bool = False
    ) -> LedgerCustomer:
        contact: dict[str, Any] = {"Name": name, "ContactNumber": customer.psa_id}
        optional = {
            "AccountNumber": customer.account_number,
            "EmailAddress": customer.email,
            "TaxNumber": customer.tax_id,
            "DefaultCurrency": customer.currency,
        }
        contact.update({key: value for key, value in optional.items() if value})
        address = customer.address
        if any(vars(address).values()):
            contact["Addresses"] = [
                {
                    "AddressType": "POBOX",  # Xero's postal (billing) address
                    "AddressLine1": address.line1,
                    "AddressLine2": address.line2,
                    "City": address.city,
                    "Region": address.region,
                    "PostalCode": address.postal_code,
                    "Country": address.country,
                }
            ]
        if customer.phone:
            contact["Phones"] = [{"PhoneType": "DEFAULT", "PhoneNumber": customer.phone}]
        key = idempotency_key([customer.psa_id, name], prefix="lb-contact")
        try:
            created = self.client.put_one("Contacts", contact, idempotency_key=key)
        except ConnectorError as error:
            said = error.message.lower()
            if (
                error.kind == ErrorKind.VALIDATION
                and hints.CONTACT_NAME_TAKEN.matches(said)
                and not last_try
            ):
                namesake = self._active_contact_named(name)
                if namesake is not None:
                    self._contact_index().add(namesake)
                    raise _NamesakeAppearedError from error
            # The answer was lost, or another worker made the contact a moment ago: it carries
            # the PSA id, so look before anything else.
            raced = error.kind == ErrorKind.VALIDATION and hints.CONTACT_NUMBER_TAKEN.matches(said)
            if error.kind != ErrorKind.UNCERTAIN and not raced:
                raise
            found = self._contact_by_psa_id(customer.psa_id)
            if found is None:
                raise
            self._contact_index().add(found)
            return _customer(found, "found" if raced else "created", psa_id=customer.psa_id)
        self._contact_index().add(created)
        return _customer(created, "created", psa_id=customer.psa_id)

    def _link_contact(self, contact: Mapping[str, Any], customer: Customer) -> LedgerCustomer:
        contact_id = wire.text(contact.get("ContactID"))
        # Writing the same contact number twice is harmless, so the transport may retry.
        body = self.client.request(
            "POST",
            f"Contacts/{contact_id}",
            json={"Contacts": [{"ContactID": contact_id, "ContactNumber": customer.psa_id}]},
            idempotent=True,
        )
        rows = self.client.records_of(body, "Contacts")
        messages = wire.validation_messages(rows[0]) if rows else []
        if messages:
            raise ConnectorError(
                ErrorKind.VALIDATION,
                f"Xero refused to link the contact '{wire.text(contact.get('Name'))}': "
                + " ".join(messages),
                hint=hints.hint_for(messages),
                vendor_detail=" ".join(messages)[:2000],
            )
        linked = {**contact, **(rows[0] if rows else {}), "ContactNumber": customer.psa_id}
        self._contact_index().add(linked)
        return _customer(linked, "linked", psa_id=customer.psa_id)

    def _name_clash(
        self,
        customer: Customer,
        namesake: Mapping[str, Any],
        name: str,
        other_id: str,
        rule: NameClashRule,
    ) -> ConnectorError:
        holder = (
            f"linked to another PSA customer (id {other_id})"
            if other_id
            else "not linked to any PSA customer"
        )
        message = (
            f"The PSA customer '{customer.name}' (id {customer.psa_id}) has the same name as "
            f"the Xero contact '{wire.text(namesake.get('Name')) or name}', which is {holder}."
        )
        if rule == NameClashRule.LINK_EXISTING:
            hint = (
                "LedgerBridge links a same-named contact only if no other PSA customer uses it. "
                "Rename one of the two customers in the PSA, or choose 'add the PSA identifier "
                "to the name' for name clashes under Company → Settings → Customers."
            )
        elif rule == NameClashRule.DISAMBIGUATE:
            hint = (
                "Even the name with the PSA identifier added is taken in Xero. Rename the "
                "customer in the PSA or the contact in Xero, then sync again."
            )
        else:
            hint = (
                "If they are the same customer, link them under Company → Customers (or choose "
                "'link the existing contact' for name clashes under Company → Settings → "
                "Customers). If not, rename one of them, or choose 'add the PSA identifier to "
                "the name'."
            )
        return ConnectorError(
            ErrorKind.VALIDATION,
            message,
            hint=hint,
            vendor_detail=f"ContactID {wire.text(namesake.get('ContactID'))}",
        )

    # -- items -----------------------------------------------------------------------------

    def ensure_item(
        self,
        product: Product,
        *,
        policy: ProductIdPolicy = ProductIdPolicy.FAIL,
        mapped_code: str = "",
        income_account_code: str = "",
    ) -> LedgerItem:
        code = item_code_for(product, policy, mapped_code)
        existing = self._item_index().get(code.casefold())
        if existing is not None:
            return existing
        name = (product.description.strip() or product.identifier.strip())[:ITEM_NAME_LIMIT]
        item: dict[str, Any] = {"Code": code, "Name": name or code, "IsSold": True}
        if product.description:
            item["Description"] = product.description[:4000]
        sales: dict[str, Any] = {}
        if product.unit_price is not None:
            sales["UnitPrice"] = product.unit_price
        if income_account_code:
            sales["AccountCode"] = income_account_code
        if sales:
            item["SalesDetails"] = sales
        key = idempotency_key([code, product.psa_id], prefix="lb-item")
        try:
            made = _item(self.client.put_one("Items", item, idempotency_key=key))
        except ConnectorError as error:
            if error.kind != ErrorKind.UNCERTAIN:
                raise
            found = self._item_with_code(code)
            if found is None:
                raise
            made = found
        self._item_index()[made.code.casefold()] = made
        return made

    def _item_index(self) -> dict[str, LedgerItem]:
        """Every item by its code (Xero's codes are unique ignoring case), read once."""
        if self._items is None:
            self._items = {}
            for row in self.client.get_records("Items"):
                found = _item(row)
                self._items.setdefault(found.code.casefold(), found)
        return self._items

    def _item_with_code(self, code: str) -> LedgerItem | None:
        rows = self.client.get_records("Items", params={"where": f"Code=={wire.quoted(code)}"})
        wanted = code.casefold()
        for row in rows:
            if wire.text(row.get("Code")).casefold() == wanted:
                return _item(row)
        return None

    # -- documents -------------------------------------------------------------------------

    def post_documents(self, documents: Sequence[PostableDocument]) -> list[PostResult]:
        results: list[PostResult | None] = [None] * len(documents)
        numbers_seen: set[tuple[InvoiceKind, str]] = set()
        groups: dict[InvoiceKind, list[int]] = {}
        for index, document in enumerate(documents):
            refusal = self._refuse_before_sending(document, numbers_seen)
            if refusal is not None:
                results[index] = PostResult(key=document.key, error=refusal)
                continue
            groups.setdefault(document.kind, []).append(index)
        for kind, indexes in groups.items():
            for start in range(0, len(indexes), self.batch_size):
                chunk = indexes[start : start + self.batch_size]
                outcomes = self._post_batch(_RESOURCES[kind], [documents[i] for i in chunk])
                for index, outcome in zip(chunk, outcomes, strict=True):
                    results[index] = outcome
        posted = [result for result in results if result is not None]
        return self._allocate_credits(documents, posted)

    def _refuse_before_sending(
        self, document: PostableDocument, numbers_seen: set[tuple[InvoiceKind, str]]
    ) -> ConnectorError | None:
        label = _RESOURCES[document.kind].label
        if document.number:
            if (document.kind, document.number) in numbers_seen:
                return ConnectorError(
                    ErrorKind.VALIDATION,
                    f"Two documents in one batch share the {label} number {document.number}.",
                    hint=hints.INVOICE_NUMBER_TAKEN.hint,
                )
            numbers_seen.add((document.kind, document.number))
        expected = expected_total(document)
        if expected is not None and _cents(expected) != _cents(document.total):
            return ConnectorError(
                ErrorKind.VALIDATION,
                f"The lines of {label} {document.number} add up to {_cents(expected)}, but the "
                f"PSA's total is {_cents(document.total)}.",
                hint=hints.LINE_TOTAL_MISMATCH.hint,
            )
        return None

    def _post_batch(
        self, resource: _Resource, documents: Sequence[PostableDocument]
    ) -> list[PostResult]:
        payload = [_document_payload(resource, document) for document in documents]
        # The documents' keys, attempts and what is sent for each: a document re-sent after a
        # fix (its mapping, or the contact in Xero) is a new request to Xero, not a replay of
        # the old refusal or a clash ("…used with a different request").
        key = idempotency_key(
            [
                f"{document.key}#{document.attempt}:"
                f"{hashlib.sha256(encode_json(element)).hexdigest()}"
                for document, element in zip(documents, payload, strict=True)
            ],
            prefix="lb-post",
        )
        try:
            answers = self.client.put_batch(
                resource.collection, payload, idempotency_key=key, params={"unitdp": 4}
            )
        except ConnectorError as error:
            if error.kind == ErrorKind.UNCERTAIN:
                return self._resolve_by_lookup(resource, documents, error)
            return [PostResult(key=document.key, error=error) for document in documents]
        if len(answers) != len(documents):
            lost = ConnectorError(
                ErrorKind.UNCERTAIN,
                f"Xero answered {len(answers)} results for {len(documents)} {resource.label}s.",
                hint="LedgerBridge looks each document up before trying again.",
            )
            return self._resolve_by_lookup(resource, documents, lost)

        results: list[PostResult | None] = [None] * len(documents)
        taken: list[int] = []
        for index, (document, answer) in enumerate(zip(documents, answers, strict=True)):
            messages = wire.validation_messages(answer)
            failed = (
                bool(messages)
                or answer.get("HasErrors") is True
                or wire.text(answer.get("StatusAttributeString")).upper() == "ERROR"
            )
            if not failed:
                results[index] = PostResult(
                    key=document.key,
                    document=self._ledger_document(resource, answer),
                    outcome="created",
                )
            elif hints.mentions(messages, hints.INVOICE_NUMBER_TAKEN) and document.number:
                taken.append(index)
            else:
                results[index] = PostResult(
                    key=document.key, error=_refusal(resource, document, messages)
                )
        if taken:
            found = self._lookup_numbers(resource, [documents[i].number for i in taken])
            for index in taken:
                document = documents[index]
                results[index] = self._settle_taken_number(
                    resource, document, found, wire.validation_messages(answers[index])
                )
        return [result for result in results if result is not None]

    def _settle_taken_number(
        self,
        resource: _Resource,
        document: PostableDocument,
        found: Mapping[str, _Found] | ConnectorError,
        messages: Sequence[str],
    ) -> PostResult:
        """An earlier post of this very document is success; another document's number is not."""
        if isinstance(found, Mapping):
            earlier = found.get(document.number)
            if earlier is not None and _same_document(earlier, document):
                return PostResult(
                    key=document.key, document=earlier.document, outcome="already_existed"
                )
        return PostResult(key=document.key, error=_refusal(resource, document, messages))

    def _resolve_by_lookup(
        self, resource: _Resource, documents: Sequence[PostableDocument], cause: ConnectorError
    ) -> list[PostResult]:
        """After a lost answer: what Xero holds is posted, the rest stays `uncertain`."""
        numbered = [document.number for document in documents if document.number]
        found = self._lookup_numbers(resource, numbered)
        results: list[PostResult] = []
        for document in documents:
            earlier = found.get(document.number) if isinstance(found, Mapping) else None
            if earlier is None:
                results.append(PostResult(key=document.key, error=_uncertain(cause, found)))
            elif _same_document(earlier, document):
                results.append(
                    PostResult(
                        key=document.key, document=earlier.document, outcome="already_existed"
                    )
                )
            else:
                results.append(
                    PostResult(
                        key=document.key,
                        error=_refusal(resource, document, ["Invoice # must be unique."]),
                    )
                )
        return results

    # -- allocating credit notes to their invoices -------------------------------------------

    def _allocate_credits(
        self, documents: Sequence[PostableDocument], results: Sequence[PostResult]
    ) -> list[PostResult]:
        """Each posted credit note that names its invoice, allocated to it where Xero allows;
        what it will not allow is a warning on the credit note's result."""
        settled = list(results)
        wanted = [
            index
            for index, (document, result) in enumerate(zip(documents, results, strict=True))
            if document.kind == InvoiceKind.CREDIT_NOTE
            and document.applies_to_ledger_id
            and result.document is not None
        ]
        if not wanted:
            return settled
        try:
            invoices = self._invoices_by_id([documents[i].applies_to_ledger_id for i in wanted])
        except ConnectorError as error:
            for index in wanted:
                settled[index] = _with_warning(
                    settled[index],
                    _not_allocated(
                        documents[index], "", f"Xero could not be asked: {error}", by_hand=True
                    ),
                )
            return settled
        for index in wanted:
            document = documents[index]
            settled[index] = self._allocate_credit(
                document, settled[index], invoices.get(document.applies_to_ledger_id.lower())
            )
        return settled

    def _invoices_by_id(self, invoice_ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """Invoices by id (lower-cased), `IDs=` a few at a time (Xero caps the URL's length)."""
        wanted = sorted(set(invoice_ids))
        found: dict[str, Mapping[str, Any]] = {}
        for start in range(0, len(wanted), _NUMBERS_PER_LOOKUP):
            chunk = wanted[start : start + _NUMBERS_PER_LOOKUP]
            for row in self.client.get_records("Invoices", params={"IDs": ",".join(chunk)}):
                found[wire.text(row.get("InvoiceID")).lower()] = row
        return found

    def _allocate_credit(
        self, document: PostableDocument, result: PostResult, invoice: Mapping[str, Any] | None
    ) -> PostResult:
        credit = result.document
        assert credit is not None
        invoice_id = document.applies_to_ledger_id
        if invoice is None:
            return _with_warning(
                result,
                _not_allocated(
                    document,
                    invoice_id,
                    "Xero no longer has that invoice (deleted there?)",
                    by_hand=True,
                ),
            )
        invoice_number = wire.text(invoice.get("InvoiceNumber")) or invoice_id
        # A new credit note's credit is all left (its answer's RemainingCredit says so too).
        remaining: Decimal | None = credit.balance if credit.balance is not None else credit.total
        status = credit.status.upper()
        if result.outcome != "created":
            # Posted before: its credit may be allocated already, by an earlier try of this.
            try:
                current = self._read_document(_RESOURCES[InvoiceKind.CREDIT_NOTE], credit.ledger_id)
            except ConnectorError as error:
                why = f"Xero could not be asked: {error}"
                return _with_warning(
                    result, _not_allocated(document, invoice_number, why, by_hand=True)
                )
            if current is None:
                return result  # gone since; the engine's own checks deal with that
            if _allocated_to(current, invoice_id):
                return result
            remaining = wire.money(current.get("RemainingCredit"))
            status = wire.text(current.get("Status")).upper()
        why = _allocation_blocked(status, invoice, remaining)
        if why:
            return _with_warning(result, _not_allocated(document, invoice_number, why))
        assert remaining is not None
        due = wire.money(invoice.get("AmountDue")) or Decimal(0)
        amount = min(remaining, due)
        invoice_day = wire.parse_date(invoice.get("Date"))
        # Dated on the later of the two documents: an allocation cannot come before either.
        day = max(document.issued_on, invoice_day) if invoice_day else document.issued_on
        element = {
            "Invoice": {"InvoiceID": invoice_id},
            "Amount": amount,
            "Date": wire.format_date(day),
        }
        refusal = self._send_allocation(credit.ledger_id, invoice_id, element)
        if refusal:
            return _with_warning(
                result, _not_allocated(document, invoice_number, refusal, by_hand=True)
            )
        left = remaining - amount
        allocated = replace(credit, balance=left, status="PAID" if left == 0 else credit.status)
        notes = result.warnings
        if left > 0:
            notes = (
                *notes,
                f"Credit note {credit.number or document.number} is allocated to invoice "
                f"{invoice_number} for {amount}, all that was due on it; the other {left} "
                "stays as credit on the customer's account in Xero (refund it or allocate it "
                "to another invoice there).",
            )
        return replace(result, document=allocated, warnings=notes)

    def _send_allocation(
        self, credit_note_id: str, invoice_id: str, element: Mapping[str, Any]
    ) -> str:
        """Allocate; "" when Xero did, else why not. After a lost answer the credit note is read
        back, and the allocation sent again only when it is not there."""
        # The same two documents, the same key: a repeat replays rather than allocating twice.
        key = idempotency_key([credit_note_id, invoice_id], prefix="lb-alloc")
        for attempt in (1, 2):
            try:
                body = self.client.request(
                    "PUT",
                    f"CreditNotes/{credit_note_id}/Allocations",
                    params={"summarizeErrors": "false"},
                    json={"Allocations": [dict(element)]},
                    headers={"Idempotency-Key": key},
                    idempotent=False,
                )
                answers = self.client.records_of(body, "Allocations")
            except ConnectorError as error:
                if error.kind not in (ErrorKind.UNCERTAIN, ErrorKind.TRANSIENT):
                    return error.message
                try:
                    current = self._read_document(
                        _RESOURCES[InvoiceKind.CREDIT_NOTE], credit_note_id
                    )
                except ConnectorError:
                    current = None
                if current is not None and _allocated_to(current, invoice_id):
                    return ""
                if attempt == 2:
                    return f"Xero did not confirm the allocation ({error.message})."
                continue
            messages = wire.validation_messages(answers[0]) if answers else []
            if messages or (
                answers and wire.text(answers[0].get("StatusAttributeString")).upper() == "ERROR"
            ):
                return " ".join(messages) or "Xero refused it without a reason."
            return ""
        return "Xero did not confirm the allocation."

    # -- updating a posted document ----------------------------------------------------------

    def update_document(self, ledger_id: str, document: PostableDocument) -> PostResult:
        """`POST Invoices/{InvoiceID}` (or CreditNotes) with the document's fields and lines.

        Read first: a document Xero will not let change is refused with the instruction, and
        one that already holds the change (an earlier update whose answer was lost) is
        `already_existed` without a write. A credit note that names its invoice is allocated
        afterwards, as a new one is (Xero lets only an unallocated credit note change).
        """
        result = self._update_document(ledger_id, document)
        return self._allocate_credits([document], [result])[0]

    def _update_document(self, ledger_id: str, document: PostableDocument) -> PostResult:
        resource = _RESOURCES[document.kind]
        refusal = self._refuse_before_sending(document, set())
        if refusal is not None:
            return PostResult(key=document.key, error=refusal)
        current = self._read_document(resource, ledger_id)
        if current is None:
            return PostResult(key=document.key, error=_gone(resource, document, ledger_id))
        blocked = _not_editable(resource, document, current)
        if blocked is not None:
            return PostResult(key=document.key, error=blocked)
        if _holds(current, document):
            return PostResult(
                key=document.key,
                document=self._ledger_document(resource, current),
                outcome="already_existed",
            )
        payload = _document_payload(resource, document)
        payload[resource.id_field] = ledger_id
        status = wire.text(current.get("Status")).upper()
        if status not in _DRAFT_STATUSES:
            payload["Status"] = status  # Xero never takes an approved document back to draft
        key = idempotency_key(
            [
                f"{document.key}#{document.attempt}:{hashlib.sha256(encode_json(payload)).hexdigest()}"
            ],
            prefix="lb-update",
        )
        try:
            body = self.client.request(
                "POST",
                f"{resource.collection}/{ledger_id}",
                params={"unitdp": 4, "summarizeErrors": "false"},
                json={resource.collection: [payload]},
                headers={"Idempotency-Key": key},
                idempotent=False,
            )
            answers = self.client.records_of(body, resource.collection)
        except ConnectorError as error:
            if error.kind in (ErrorKind.AUTH, ErrorKind.PERMISSION):
                raise
            if error.kind not in (ErrorKind.UNCERTAIN, ErrorKind.TRANSIENT):
                return PostResult(
                    key=document.key, error=_update_refusal(resource, document, error)
                )
            return self._settle_unclear_update(resource, ledger_id, document, error)
        if not answers:
            lost = ConnectorError(
                ErrorKind.UNCERTAIN,
                f"Xero answered the update of {resource.label} {document.number} without it.",
                hint="LedgerBridge reads the document back before trying again.",
            )
            return self._settle_unclear_update(resource, ledger_id, document, lost)
        answer = answers[0]
        messages = wire.validation_messages(answer)
        if (
            messages
            or answer.get("HasErrors") is True
            or wire.text(answer.get("StatusAttributeString")).upper() == "ERROR"
        ):
            refused = _refusal(resource, document, messages)
            return PostResult(key=document.key, error=_update_refusal(resource, document, refused))
        return PostResult(
            key=document.key, document=self._ledger_document(resource, answer), outcome="created"
        )

    def _read_document(self, resource: _Resource, ledger_id: str) -> Mapping[str, Any] | None:
        try:
            rows = self.client.get_records(
                f"{resource.collection}/{ledger_id}",
                params={"unitdp": 4},
                key=resource.collection,
            )
        except ConnectorError as error:
            if error.kind == ErrorKind.NOT_FOUND:
                return None
            raise
        return rows[0] if rows else None

    def _settle_unclear_update(
        self,
        resource: _Resource,
        ledger_id: str,
        document: PostableDocument,
        cause: ConnectorError,
    ) -> PostResult:
        """After a lost answer: read the document back; it holds the change, or stays unclear."""
        try:
            current = self._read_document(resource, ledger_id)
        except ConnectorError as error:
            return PostResult(key=document.key, error=_uncertain(cause, error))
        if current is not None and _holds(current, document):
            return PostResult(
                key=document.key,
                document=self._ledger_document(resource, current),
                outcome="created",
            )
        return PostResult(key=document.key, error=_uncertain(cause, current))

    def _lookup_numbers(
        self, resource: _Resource, numbers: Sequence[str]
    ) -> dict[str, _Found] | ConnectorError:
        """Documents Xero holds under these numbers (the live one where there are several)."""
        found: dict[str, _Found] = {}
        try:
            for row in self._rows_numbered(resource, [n for n in numbers if n]):
                number = wire.text(row.get(resource.number_field))
                if number not in numbers or wire.text(row.get("Type")) not in (
                    "",
                    resource.type_code,
                ):
                    continue
                candidate = self._found(resource, row)
                held = found.get(number)
                if held is None or held.document.status in _GONE_STATUSES:
                    found[number] = candidate
        except ConnectorError as error:
            return error
        return found

    def _rows_numbered(
        self, resource: _Resource, numbers: Sequence[str]
    ) -> Iterator[Mapping[str, Any]]:
        if resource.kind == InvoiceKind.INVOICE:
            # `InvoiceNumbers=` takes a comma-separated list; a number with a comma goes alone.
            listable = [n for n in numbers if "," not in n]
            for start in range(0, len(listable), _NUMBERS_PER_LOOKUP):
                chunk = listable[start : start + _NUMBERS_PER_LOOKUP]
                yield from self.client.pages("Invoices", params={"InvoiceNumbers": ",".join(chunk)})
            numbers = [n for n in numbers if "," in n]
        for number in numbers:
            where = f"{resource.number_field}=={wire.quoted(number)}"
            yield from self.client.get_records(resource.collection, params={"where": where})

    def find_document(
        self, kind: InvoiceKind, *, number: str = "", reference: str = ""
    ) -> LedgerDocument | None:
        resource = _RESOURCES[kind]
        if number:
            found = self._lookup_numbers(resource, [number])
            if isinstance(found, ConnectorError):
                raise found
            held = found.get(number)
            return held.document if held is not None else None
        if not reference:
            return None
        where = f'Type=="{resource.type_code}" AND Reference=={wire.quoted(reference)}'
        rows = [
            row
            for row in self.client.get_records(resource.collection, params={"where": where})
            if wire.text(row.get("Reference")) == reference
        ]
        rows.sort(key=lambda row: wire.text(row.get("Status")) in _GONE_STATUSES)
        return self._ledger_document(resource, rows[0]) if rows else None

    def _found(self, resource: _Resource, row: Mapping[str, Any]) -> _Found:
        contact = row.get("Contact")
        contact_id = wire.text(contact.get("ContactID")) if isinstance(contact, Mapping) else ""
        return _Found(self._ledger_document(resource, row), contact_id)

    def _ledger_document(self, resource: _Resource, row: Mapping[str, Any]) -> LedgerDocument:
        ledger_id = wire.text(row.get(resource.id_field))
        balance_field = "AmountDue" if resource.kind == InvoiceKind.INVOICE else "RemainingCredit"
        return LedgerDocument(
            ledger_id=ledger_id,
            kind=resource.kind,
            number=wire.text(row.get(resource.number_field)),
            total=wire.money(row.get("Total")) or Decimal(0),
            status=wire.text(row.get("Status")),
            reference=wire.text(row.get("Reference")),
            balance=wire.money(row.get(balance_field)),
            url=f"{self.web_url}{resource.view_path}{ledger_id}" if ledger_id else "",
            updated_at=wire.parse_datetime(row.get("UpdatedDateUTC")),
        )

    # -- payments, lock dates, connectivity ------------------------------------------------

    def payments_since(self, cursor: datetime | None) -> Iterator[LedgerPayment]:
        """Payments on sales invoices created or changed since `cursor`, oldest change first.

        Xero's `If-Modified-Since` is inclusive and to the second, so a payment changed at the
        cursor itself comes again; the engine's payment keys make that harmless. Deleted
        payments (a payment is deleted, never edited, in Xero) come back flagged `reversed`.
        """
        rows = list(
            self.client.pages(
                "Payments",
                params={"order": "UpdatedDateUTC ASC"},
                modified_since=cursor,
                page_size=MAX_PAGE_SIZE,
            )
        )
        for row in wire.ordered_by_change(rows):
            payment = _payment(row)
            if payment is not None:
                yield payment

    def lock_dates(self) -> LockDates:
        organisation = self._organisation()
        return LockDates(
            period_lock=wire.parse_date(organisation.get("PeriodLockDate")),
            end_of_year_lock=wire.parse_date(organisation.get("EndOfYearLockDate")),
        )

    def _organisation(self) -> Mapping[str, Any]:
        rows = self.client.get_records("Organisation", key="Organisations")
        if not rows:
            raise ConnectorError(
                ErrorKind.TRANSIENT,
                "Xero answered without the organisation's details.",
                hint="This is usually a passing fault; the next run tries again.",
            )
        return rows[0]

    def test_connectivity(self) -> ConnectivityReport:
        """The organisation (sign-in and tenant), then a read of each resource the sync needs."""
        findings: list[ConnectivityFinding] = []
        try:
            organisation = self._organisation()
        except ConnectorError as error:
            return ConnectivityReport(ok=False, findings=(_organisation_finding(error),))
        details = {
            key: wire.text(organisation.get(field))
            for key, field in (
                ("organisation", "Name"),
                ("country", "CountryCode"),
                ("base_currency", "BaseCurrency"),
                ("version", "Version"),
                ("short_code", "ShortCode"),
            )
            if organisation.get(field)
        }
        details["tenant_id"] = self.client.tenant_id
        findings.append(
            ConnectivityFinding(
                kind="ok",
                message=f"Connected to the Xero organisation '{details.get('organisation', '')}'.",
            )
        )
        for resource, label, scope in _PROBES:
            try:
                self.client.get_records(resource, params={"page": 1, "pageSize": 1})
            except ConnectorError as error:
                if error.kind == ErrorKind.PERMISSION:
                    findings.append(
                        ConnectivityFinding(
                            kind=ErrorKind.PERMISSION,
                            message=f"LedgerBridge may not read {label} in this Xero "
                            f"organisation: the connection lacks the {scope} permission.",
                            hint="Reconnect Xero under Company → Connections and approve every "
                            "permission Xero asks for.",
                        )
                    )
                else:
                    findings.append(
                        ConnectivityFinding(kind=error.kind, message=error.message, hint=error.hint)
                    )
        lock = LockDates(
            period_lock=wire.parse_date(organisation.get("PeriodLockDate")),
            end_of_year_lock=wire.parse_date(organisation.get("EndOfYearLockDate")),
        )
        latest = max((d for d in (lock.period_lock, lock.end_of_year_lock) if d), default=None)
        if latest is not None:
            findings.append(
                ConnectivityFinding(
                    kind="warning",
                    message=f"Xero refuses documents dated on or before {latest:%d %B %Y} "
                    "(its lock date).",
                    hint="Invoices dated in the locked period fail until the lock date moves.",
                )
            )
        report = ConnectivityReport(ok=True, findings=tuple(findings), details=details)
        if report.problems:
            return ConnectivityReport(ok=False, findings=report.findings, details=details)
        return report


# -- payloads ------------------------------------------------------------------------------


def _document_payload(resource: _Resource, document: PostableDocument) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "Type": resource.type_code,
        "Contact": {"ContactID": document.customer_ledger_id},  # only the id: never edit it
        "Date": wire.format_date(document.issued_on),
        "LineAmountTypes": _LINE_AMOUNT_TYPES[document.line_amounts],
        "Status": "AUTHORISED" if document.approve else "DRAFT",
        "LineItems": [_line_payload(line) for line in document.lines],
    }
    if document.number:
        payload[resource.number_field] = document.number
    if document.due_on is not None:
        payload["DueDate"] = wire.format_date(document.due_on)
    if document.reference:
        payload["Reference"] = document.reference
    if document.currency:
        payload["CurrencyCode"] = document.currency
    if document.mark_sent:
        payload["SentToContact"] = True
    return payload


def _line_payload(line: PostableLine) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "Description": line.description,
        "Quantity": line.quantity,
        "UnitAmount": line.unit_price,
        "LineAmount": line.line_amount,
    }
    optional: dict[str, Any] = {
        "AccountCode": line.account_code,
        "TaxType": line.tax_code,
        "TaxAmount": line.tax_amount,
        "ItemCode": line.item_code,
        "DiscountRate": line.discount_rate,
    }
    payload.update({key: value for key, value in optional.items() if value not in (None, "")})
    if line.tracking:
        payload["Tracking"] = [
            {"Name": name, "Option": option} for name, option in line.tracking.items()
        ]
    return payload


# -- allocations ---------------------------------------------------------------------------


def _allocated_to(credit_note: Mapping[str, Any], invoice_id: str) -> bool:
    """The credit note already holds a (live) allocation to this invoice."""
    rows = credit_note.get("Allocations")
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, Mapping) or row.get("IsDeleted") is True:
            continue
        invoice = row.get("Invoice")
        if isinstance(invoice, Mapping) and (
            wire.text(invoice.get("InvoiceID")).lower() == invoice_id.lower()
        ):
            return True
    return False


def _allocation_blocked(
    credit_status: str, invoice: Mapping[str, Any], remaining: Decimal | None
) -> str:
    """Why Xero would refuse the allocation, said for the admin; "" when it can go."""
    if credit_status in _DRAFT_STATUSES:
        return (
            "it went to Xero as a draft, and Xero allocates only approved credit notes. "
            "Approve it in Xero, then allocate it there (Allocate credit on the credit note)."
        )
    if credit_status in _GONE_STATUSES:
        return f"it is {credit_status.lower()} in Xero."
    if remaining is None or remaining <= 0 or credit_status == "PAID":
        return "none of its credit is left to allocate (it was allocated or refunded in Xero)."
    invoice_status = wire.text(invoice.get("Status")).upper()
    if invoice_status == "PAID" or (wire.money(invoice.get("AmountDue")) or Decimal(0)) <= 0:
        return (
            "the invoice is already paid in full. The credit stays on the customer's account "
            "in Xero: refund it or allocate it to another invoice there."
        )
    if invoice_status in _DRAFT_STATUSES:
        return (
            "the invoice is a draft in Xero. Approve it, then allocate the credit note there "
            "(Allocate credit on the credit note)."
        )
    if invoice_status != "AUTHORISED":
        return f"the invoice is {invoice_status.lower() or 'not approved'} in Xero."
    return ""


def _not_allocated(
    document: PostableDocument, invoice_number: str, why: str, *, by_hand: bool = False
) -> str:
    """The warning: the credit note is posted, not allocated, and why (with what to do)."""
    what = f" to invoice {invoice_number}" if invoice_number else " to its invoice"
    text = f"Credit note {document.number or document.psa_id} is in Xero, but not allocated{what}"
    if not by_hand:
        return f"{text}: {why}"
    return (
        f"{text}: {why.rstrip('. ')}. Allocate it by hand in Xero (Allocate credit on the "
        "credit note) if it should settle the invoice."
    )


def _with_warning(result: PostResult, warning: str) -> PostResult:
    return replace(result, warnings=(*result.warnings, warning))


# -- reading -------------------------------------------------------------------------------


def _customer(
    contact: Mapping[str, Any],
    outcome: Literal["found", "linked", "created", "updated"],
    *,
    psa_id: str = "",
) -> LedgerCustomer:
    return LedgerCustomer(
        ledger_id=wire.text(contact.get("ContactID")),
        name=wire.text(contact.get("Name")),
        psa_id=psa_id or wire.text(contact.get("ContactNumber")),
        outcome=outcome,
    )


def _item(row: Mapping[str, Any]) -> LedgerItem:
    sales = row.get("SalesDetails")
    sales = sales if isinstance(sales, Mapping) else {}
    return LedgerItem(
        ledger_id=wire.text(row.get("ItemID")),
        code=wire.text(row.get("Code")),
        name=wire.text(row.get("Name")),
        description=wire.text(row.get("Description")),
        unit_price=wire.money(sales.get("UnitPrice")),
        income_account_code=wire.text(sales.get("AccountCode")),
        active=row.get("IsSold") is not False,
    )


# Payment types that are money received against a sales invoice.
_SALES_PAYMENT_TYPES: Final = frozenset({"ACCRECPAYMENT"})


def _payment(row: Mapping[str, Any]) -> LedgerPayment | None:
    invoice = row.get("Invoice")
    invoice = invoice if isinstance(invoice, Mapping) else {}
    payment_type = wire.text(row.get("PaymentType"))
    invoice_type = wire.text(invoice.get("Type"))
    if payment_type not in _SALES_PAYMENT_TYPES and not (
        not payment_type and invoice_type == "ACCREC"
    ):
        return None  # bills, refunds of credit notes, prepayments and the like
    amount = wire.money(row.get("Amount"))
    paid_on = wire.parse_date(row.get("Date"))
    if amount is None or paid_on is None:
        return None
    return LedgerPayment(
        ledger_id=wire.text(row.get("PaymentID")),
        document_ledger_id=wire.text(invoice.get("InvoiceID")),
        document_number=wire.text(invoice.get("InvoiceNumber")),
        amount=amount,
        paid_on=paid_on,
        reference=wire.text(row.get("Reference")),
        updated_at=wire.parse_datetime(row.get("UpdatedDateUTC")),
        reversed=wire.text(row.get("Status")).upper() in _GONE_STATUSES,
    )


def _same_document(found: _Found, document: PostableDocument) -> bool:
    """The document Xero holds is this one (same contact and total), not another's number."""
    same_contact = not found.contact_id or found.contact_id == document.customer_ledger_id
    return same_contact and _cents(found.document.total) == _cents(document.total)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT)


def _holds(current: Mapping[str, Any], document: PostableDocument) -> bool:
    """Xero's document already says what `document` says: contact, number, date, lines (and
    the total, where the document's tax is known)."""
    contact = current.get("Contact")
    contact_id = wire.text(contact.get("ContactID")) if isinstance(contact, Mapping) else ""
    if contact_id != document.customer_ledger_id:
        return False
    resource = _RESOURCES[document.kind]
    if document.number and wire.text(current.get(resource.number_field)) != document.number:
        return False
    if wire.parse_date(current.get("Date")) != document.issued_on:
        return False
    rows = current.get("LineItems")
    lines = [row for row in rows if isinstance(row, Mapping)] if isinstance(rows, list) else []
    if len(lines) != len(document.lines):
        return False
    for row, line in zip(lines, document.lines, strict=True):
        amount = wire.money(row.get("LineAmount"))
        if (
            wire.text(row.get("Description")).strip() != line.description.strip()
            or wire.money(row.get("Quantity")) != line.quantity
            or amount is None
            # A discounted line's amount is Xero's to work out; its quantity and text still say.
            or (not line.discount_rate and _cents(amount) != _cents(line.line_amount))
            or (line.account_code and wire.text(row.get("AccountCode")) != line.account_code)
            or (line.tax_code and wire.text(row.get("TaxType")) != line.tax_code)
        ):
            return False
    total = wire.money(current.get("Total"))
    if expected_total(document) is not None:
        return total is not None and _cents(total) == _cents(document.total)
    return True


def _money_applied(resource: _Resource, current: Mapping[str, Any]) -> Decimal:
    """Payments and credits Xero holds against the document (what stops an edit)."""
    if resource.kind == InvoiceKind.CREDIT_NOTE:
        total = wire.money(current.get("Total")) or Decimal(0)
        remaining = wire.money(current.get("RemainingCredit"))
        return total - remaining if remaining is not None else Decimal(0)
    paid = wire.money(current.get("AmountPaid")) or Decimal(0)
    credited = wire.money(current.get("AmountCredited")) or Decimal(0)
    return paid + credited


def _instruction(resource: _Resource) -> str:
    label = resource.label
    return (
        "Xero does not let a document with a payment or credit applied change. Remove the "
        f"payment in Xero first (open the payment on the {label} and choose 'Remove and "
        "Redo'; unallocate any credit note), retry this record, then apply the payment again "
        "in Xero and run the payment sync. If the payment must stay, void the "
        f"{label} in Xero, enter the corrected one there by hand and use 'Mark posted' here."
    )


def _not_editable(
    resource: _Resource, document: PostableDocument, current: Mapping[str, Any]
) -> ConnectorError | None:
    """Why Xero will not let this document change, with what to do; None when it will."""
    status = wire.text(current.get("Status")).upper()
    number = wire.text(current.get(resource.number_field)) or document.number
    if status in _GONE_STATUSES:
        return ConnectorError(
            ErrorKind.VALIDATION,
            f"Xero {resource.label} {number} is {status.lower()}, so Xero will not let it change.",
            hint=f"Xero keeps {status.lower()} documents as they are. Enter the corrected "
            f"{resource.label} in Xero by hand, then use 'Mark posted' on this record.",
        )
    applied = _money_applied(resource, current)
    if status == "PAID" or applied > 0:
        said = f"is paid ({applied} applied)" if status == "PAID" else f"has {applied} applied"
        return ConnectorError(
            ErrorKind.VALIDATION,
            f"Xero {resource.label} {number} {said}, so Xero will not let it change.",
            hint=_instruction(resource),
        )
    return None


def _update_refusal(
    resource: _Resource, document: PostableDocument, error: ConnectorError
) -> ConnectorError:
    """Xero's refusal of an update; one saying the document cannot change (paid or voided
    since it was read) gets the instruction as its hint."""
    said = f"{error.message} {error.vendor_detail}".lower()
    if any(text in said for text in _NOT_EDITABLE_TEXTS):
        return ConnectorError(
            ErrorKind.VALIDATION,
            error.message,
            hint=_instruction(resource),
            status=error.status,
            vendor_detail=error.vendor_detail,
        )
    return error


def _gone(resource: _Resource, document: PostableDocument, ledger_id: str) -> ConnectorError:
    return ConnectorError(
        ErrorKind.VALIDATION,
        f"Xero no longer has {resource.label} {document.number or ledger_id} to update; it "
        "may have been deleted there.",
        hint=f"Enter the corrected {resource.label} in Xero by hand, then use 'Mark posted' "
        "on this record.",
        vendor_detail=f"{resource.id_field} {ledger_id}",
    )


def _refusal(
    resource: _Resource, document: PostableDocument, messages: Sequence[str]
) -> ConnectorError:
    text = " ".join(messages) or "no reason given"
    number = f" {document.number}" if document.number else ""
    return ConnectorError(
        ErrorKind.VALIDATION,
        f"Xero refused {resource.label}{number}: {text}",
        hint=hints.hint_for(messages),
        status=400,
        vendor_detail=text[:2000],
    )


def _uncertain(cause: ConnectorError, lookup: object) -> ConnectorError:
    if isinstance(lookup, ConnectorError):
        why = " LedgerBridge could not look it up either; it looks again before resending."
    else:
        why = " Xero does not hold it, so the next run sends it again."
    return ConnectorError(
        ErrorKind.UNCERTAIN,
        cause.message + why,
        hint=cause.hint,
        status=cause.status,
        vendor_detail=cause.vendor_detail,
    )


def _organisation_finding(error: ConnectorError) -> ConnectivityFinding:
    if error.kind == ErrorKind.AUTH:
        return ConnectivityFinding(
            kind=ErrorKind.AUTH,
            message="Xero's sign-in for this organisation has expired or was revoked: "
            + error.message,
            hint="Reconnect Xero under Company → Connections.",
        )
    if error.kind == ErrorKind.PERMISSION:
        return ConnectivityFinding(
            kind=ErrorKind.PERMISSION,
            message="This Xero organisation is no longer connected to LedgerBridge (or the "
            "connection lacks the accounting.settings permission).",
            hint="Reconnect Xero under Company → Connections, choose this organisation and "
            "approve every permission Xero asks for.",
        )
    return ConnectivityFinding(kind=error.kind, message=error.message, hint=error.hint)
