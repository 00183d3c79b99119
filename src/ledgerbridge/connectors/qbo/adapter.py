"""`QboLedger`: the `Ledger` protocol over one QuickBooks Online company.

What QuickBooks asks of an adapter, and how this one answers:

- **Lists** (accounts, tax codes, classes, departments, terms, items) are read with paged
  queries. Lists a document needs resolved (item names → ids, class names → ids, tax code →
  its rates) are read once per adapter and kept, as a sync run uses the same few again and again.
- **Customers.** QuickBooks has no external-id field on Customer, so the PSA id goes on a line
  of the customer's `Notes` (`LedgerBridge PSA id: 174`, see `records.PSA_MARKER`). Notes
  cannot be queried, so the first `ensure_customer` reads every customer once and indexes them
  by PSA id and by name. DisplayName is unique across customers, suppliers (Vendor) and
  employees: a name held by a supplier, an employee or a customer linked to another PSA
  customer is a clash, settled by `NameClashRule`.
- **Items** are matched by full name ("Category:Item"), by leaf name when unique, or by Sku; a
  PSA product id longer than QuickBooks' 100-character Name follows `ProductIdPolicy`.
- **Documents** go 30 to a `batch` call, each with its own result. A refused item becomes a
  `validation` error with a hint (or `rate_limited` for a throttled one); a duplicate number
  that turns out to be this very document counts as `already_existed`. When the whole call's
  outcome is unclear the documents are looked up by number and only the missing ones are
  reported `uncertain`.
- **Credit memos** that name their invoice (`applies_to_ledger_id`) are applied to it once
  posted, the way QuickBooks applies credit: a Payment of `TotalAmt` 0 whose lines link the
  Invoice and the CreditMemo for the same amount (the smaller of the credit left and the
  invoice's `Balance`). The payments already linked to the two are read first, so a credit
  memo applied before (an earlier try) is not applied again, and the payment goes with a
  `requestid` made from the two ids. What QuickBooks will not do (a paid invoice, another
  customer's, a closed period) is a warning on the result, never a failure of the credit memo.
  Such payments move no money, so `payments_since` reports only what was received.
- **Updates** of a posted document (a re-post after it changed in the PSA) are full updates:
  the document's fields as a create would send them, with `Id` and the `SyncToken` read just
  before (a plain update replaces every writable field, so nothing stale, such as an earlier tax
  detail, survives). A stale token (5010) is read again and tried once more. A document with a
  payment applied is refused with the instruction to remove it first, and one that already
  holds the change is not written; after a lost answer it is read back and compared.
- **Tax.** Outside the US, each line carries its TaxCode and, when every line has the PSA's
  tax, `TxnTaxDetail` states it per rate so the totals agree: a combined code's tax (GST + PST)
  is split over its rates in proportion to them, exact to the cent. A US
  company with automated sales tax takes lines marked `TAX` or `NON` and computes the tax
  itself; the result's `document.total` is QuickBooks' total, and the engine compares it with
  the PSA's (`override_automated_tax=True` sends the PSA's tax as `TxnTaxDetail.TotalTax`
  instead, which QuickBooks honours and spreads over its rates).
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

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
    LockDates,
    NameClashRule,
    PostableDocument,
    PostResult,
    Product,
    ProductIdPolicy,
    TrackingCategory,
    as_str,
)
from ledgerbridge.connectors.qbo import records
from ledgerbridge.connectors.qbo.client import (
    BATCH_LIMIT,
    QboClient,
    quote,
    quote_list,
    select,
)
from ledgerbridge.connectors.qbo.faults import (
    DUPLICATE_DOC_NUMBER,
    DUPLICATE_NAME,
    OBJECT_NOT_FOUND,
    STALE_OBJECT,
    VENDOR,
    fault_to_error,
    has_code,
    parse_fault,
)

# Both active and inactive records (name lists answer only active ones unless asked).
_ANY_ACTIVE: Final = "Active IN (true, false)"
_PRODUCTION_APP: Final = "https://app.qbo.intuit.com"
_SANDBOX_APP: Final = "https://app.sandbox.qbo.intuit.com"


class QboLedger:
    """One QuickBooks Online company, written by the sync engine."""

    label = VENDOR
    batch_size = BATCH_LIMIT

    def __init__(self, client: QboClient, *, override_automated_tax: bool = False) -> None:
        self.client = client
        self.override_automated_tax = override_automated_tax
        self._preferences: dict[str, Any] | None = None
        self._lookups: records.Lookups | None = None
        self._customers: _CustomerIndex | None = None
        self._items: dict[str, dict[str, Any]] | None = None  # Id → Item

    # -- lists -----------------------------------------------------------------------------

    def list_accounts(self) -> Iterator[LedgerAccount]:
        """Income accounts (Income and Other Income), which sales lines and items post to."""
        for record in self.client.query(select("Account", _ANY_ACTIVE, order_by="Id")):
            if as_str(record.get("AccountType")) in records.INCOME_ACCOUNT_TYPES:
                yield records.account(record)

    def list_tax_rates(self) -> Iterator[LedgerTaxRate]:
        rates = {
            as_str(rate.get("Id")): value
            for rate in self.client.query(select("TaxRate", _ANY_ACTIVE))
            if (value := records.money(rate.get("RateValue"))) is not None
        }
        seen: set[str] = set()
        for code in self.client.query(select("TaxCode", _ANY_ACTIVE)):
            found = records.tax_rate(code, rates)
            seen.add(found.ledger_id)
            yield found
        if self._automated_sales_tax():
            # Automated sales tax: lines say taxable or not; these two are all a line needs.
            for ledger_id, name in (
                (records.US_TAXABLE, "Taxable"),
                (records.US_NON_TAXABLE, "Non-taxable"),
            ):
                if ledger_id not in seen:
                    yield LedgerTaxRate(ledger_id=ledger_id, name=name, for_purchases=False)

    def list_tracking_categories(self) -> Iterator[TrackingCategory]:
        for entity in ("Class", "Department"):
            found = list(self.client.query(select(entity, _ANY_ACTIVE)))
            if found:
                yield records.tracking_category(entity, found)

    def list_terms(self) -> Iterator[LedgerTerm]:
        for record in self.client.query(select("Term", _ANY_ACTIVE)):
            yield records.term(record)

    def list_items(self) -> Iterator[LedgerItem]:
        """Products and services; category items are skipped (they cannot be sold)."""
        accounts = {a.ledger_id: a.code for a in self.list_accounts()}
        for record in self.client.query(select("Item", _ANY_ACTIVE, order_by="Id")):
            if not records.is_category(record):
                yield records.item(record, accounts)

    # -- customers -------------------------------------------------------------------------

    def ensure_customer(
        self, customer: Customer, *, on_name_clash: NameClashRule = NameClashRule.FAIL
    ) -> LedgerCustomer:
        index = self._customer_index()
        linked = index.by_psa_id.get(customer.psa_id)
        if linked is not None:
            if not records.is_active(linked):
                raise ConnectorError(
                    ErrorKind.VALIDATION,
                    f"The QuickBooks customer '{_name(linked)}' linked to "
                    f"'{customer.name}' is inactive.",
                    hint="Make the customer active again in QuickBooks (Sales → Customers, "
                    "include inactive), then retry.",
                )
            return _ledger_customer(linked, customer.psa_id, "found")

        display = records.display_name(customer.name)
        same_name = index.by_name.get(display.casefold())
        if same_name is not None:
            others = records.psa_ids_of(same_name)
            if not others and records.is_active(same_name) and _name(same_name) == display:
                # An existing customer of that exact name, not yet linked: this is it.
                return self._link(same_name, customer, "linked")
            return self._name_clash(customer, display, same_name, "Customer", on_name_clash)
        return self._create_customer(customer, display, on_name_clash)

    def _create_customer(
        self, customer: Customer, display: str, rule: NameClashRule, *, disambiguated: bool = False
    ) -> LedgerCustomer:
        fields = records.customer_fields(customer, display)
        try:
            created = self.client.create(
                "Customer", fields, request_key=f"customer:{customer.psa_id}:{display}"
            )
        except ConnectorError as error:
            if not has_code(error, DUPLICATE_NAME) or disambiguated:
                raise
            holder, kind = self._name_holder(display)
            if holder is None:
                raise
            if kind == "Customer" and customer.psa_id in records.psa_ids_of(holder):
                return _ledger_customer(holder, customer.psa_id, "found")  # made concurrently
            return self._name_clash(customer, display, holder, kind, rule)
        self._customer_index().add(created)
        return _ledger_customer(created, customer.psa_id, "created")

    def _name_holder(self, display: str) -> tuple[dict[str, Any] | None, str]:
        """Who holds a DisplayName: a customer, a supplier or an employee (active or not)."""
        for entity in ("Customer", "Vendor", "Employee"):
            found = self.client.query_page(
                select(entity, f"DisplayName = {quote(display)}", _ANY_ACTIVE)
            )
            if found:
                return found[0], entity
        return None, ""

    def _name_clash(
        self,
        customer: Customer,
        display: str,
        holder: Mapping[str, Any],
        holder_kind: str,
        rule: NameClashRule,
    ) -> LedgerCustomer:
        who = {"Vendor": "a supplier", "Employee": "an employee"}.get(holder_kind, "a customer")
        linked_elsewhere = records.psa_ids_of(holder) if holder_kind == "Customer" else ()
        why = f"{who} named '{_name(holder)}'"
        if linked_elsewhere:
            why += f" (linked to PSA customer {', '.join(linked_elsewhere)})"
        elif holder_kind == "Customer" and not records.is_active(holder):
            why += " (inactive)"
        if rule == NameClashRule.LINK_EXISTING and holder_kind == "Customer":
            return self._link(holder, customer, "linked")
        if rule == NameClashRule.DISAMBIGUATE:
            alternative = records.display_name(
                f"{display} ({customer.identifier or customer.psa_id})"
            )
            index = self._customer_index()
            taken = index.by_name.get(alternative.casefold())
            if taken is not None and customer.psa_id in records.psa_ids_of(taken):
                return _ledger_customer(taken, customer.psa_id, "found")
            if taken is None:
                try:
                    return self._create_customer(customer, alternative, rule, disambiguated=True)
                except ConnectorError as error:
                    if not has_code(error, DUPLICATE_NAME):
                        raise
            why += f", and '{alternative}' is taken too"
        hint = (
            "QuickBooks names are unique across customers, suppliers and employees. Rename "
            "one of them, or under Company → Settings choose to add the PSA identifier to "
            "the name"
        )
        if holder_kind == "Customer":
            hint += " or to link the existing QuickBooks customer"
        elif rule == NameClashRule.LINK_EXISTING:
            hint = (
                f"Only a customer can be linked, and this name belongs to {who}. "
                + hint.split(". ", 1)[1]
            )
        raise ConnectorError(
            ErrorKind.VALIDATION,
            f"'{customer.name}' cannot be added to QuickBooks: {why} already exists.",
            hint=hint + ".",
        )

    def _link(self, record: Mapping[str, Any], customer: Customer, outcome: str) -> LedgerCustomer:
        """Record the PSA id on an existing customer (a marker line in its Notes)."""
        notes = records.notes_with_marker(as_str(record.get("Notes")), customer.psa_id)
        updated = self.client.update(
            "Customer",
            {
                "Id": as_str(record.get("Id")),
                "SyncToken": as_str(record.get("SyncToken")),
                "Notes": notes,
            },
            request_key=f"customer-link:{record.get('Id')}:{customer.psa_id}",
        )
        self._customer_index().add(updated)
        return _ledger_customer(updated, customer.psa_id, outcome)

    def _customer_index(self) -> "_CustomerIndex":
        if self._customers is None:
            index = _CustomerIndex()
            for record in self.client.query(select("Customer", _ANY_ACTIVE, order_by="Id")):
                index.add(record)
            self._customers = index
        return self._customers

    # -- items -----------------------------------------------------------------------------

    def ensure_item(
        self,
        product: Product,
        *,
        policy: ProductIdPolicy = ProductIdPolicy.FAIL,
        mapped_code: str = "",
        income_account_code: str = "",
    ) -> LedgerItem:
        identifier = product.identifier.strip()
        if policy == ProductIdPolicy.MAPPING:
            if not mapped_code:
                raise ConnectorError(
                    ErrorKind.VALIDATION,
                    f"Product '{identifier}' has no QuickBooks product/service mapped to it.",
                    hint="Map it under Company → Mappings → Products, then retry.",
                )
            found = self._find_item(mapped_code)
            if found is None:
                raise ConnectorError(
                    ErrorKind.VALIDATION,
                    f"Product '{identifier}' is mapped to '{mapped_code}', which QuickBooks "
                    "does not have.",
                    hint="Create that product/service in QuickBooks or correct the mapping.",
                )
            return self._item(found)
        existing = self._find_item(identifier)
        if existing is not None:
            return self._item(existing)
        name = identifier.replace(":", "-")
        if len(name) > records.ITEM_NAME_MAX:
            if policy == ProductIdPolicy.FAIL:
                raise ConnectorError(
                    ErrorKind.VALIDATION,
                    f"Product id '{identifier[:40]}…' is {len(identifier)} characters; "
                    f"QuickBooks product/service names allow {records.ITEM_NAME_MAX}.",
                    hint="Shorten the product id in the PSA, or under Company → Settings "
                    "choose to shorten long ids with a hash or to map them to QuickBooks "
                    "products.",
                )
            name = records.truncated_with_hash(name, records.ITEM_NAME_MAX)
            existing = self._find_item(name)
            if existing is not None:
                return self._item(existing)
        return self._create_item(product, name, income_account_code)

    def _create_item(self, product: Product, name: str, income_account_code: str) -> LedgerItem:
        account_id = self._lookup().account_ids.get(income_account_code)
        if account_id is None:
            raise ConnectorError(
                ErrorKind.VALIDATION,
                f"Product '{product.identifier}' is not in QuickBooks and LedgerBridge needs "
                "an income account to create it"
                + (f"; '{income_account_code}' is not one." if income_account_code else "."),
                hint="Choose the sales account for new products under Company → Settings.",
            )
        fields: dict[str, Any] = {
            "Name": name,
            "Type": records.item_type(product.kind),
            "IncomeAccountRef": {"value": account_id},
            "Active": True,
        }
        sku = records.truncated_with_hash(product.identifier, records.ITEM_SKU_MAX)
        if sku != name:
            fields["Sku"] = sku
        if product.description:
            fields["Description"] = product.description[: records.ITEM_DESCRIPTION_MAX]
        if product.unit_price is not None:
            fields["UnitPrice"] = product.unit_price
        if self._automated_sales_tax():
            fields["Taxable"] = product.taxable
        try:
            created = self.client.create("Item", fields, request_key=f"item:{name}")
        except ConnectorError as error:
            if not has_code(error, DUPLICATE_NAME):
                raise
            # Made meanwhile by another run, or an inactive item keeps the name.
            self._items = None
            found = self._find_item(name)
            if found is None or not records.is_active(found):
                raise ConnectorError(
                    ErrorKind.VALIDATION,
                    f"QuickBooks already has an inactive product/service named '{name}'.",
                    hint="Make it active again in QuickBooks (Sales → Products and services), "
                    "then retry.",
                    vendor_detail=error.vendor_detail,
                ) from error
            return self._item(found)
        self._item_index()[as_str(created.get("Id"))] = created
        if self._lookups is not None:
            self._lookups = replace(self._lookups, item_ids=_item_ids(self._item_index().values()))
        return self._item(created)

    def _item(self, record: Mapping[str, Any]) -> LedgerItem:
        found = records.item(record)
        account_codes = {v: k for k, v in self._lookup().account_ids.items() if k != v}
        return replace(
            found,
            income_account_code=account_codes.get(
                found.income_account_code, found.income_account_code
            ),
        )

    def _find_item(self, code: str) -> dict[str, Any] | None:
        item_id = _item_ids(self._item_index().values()).get(code)
        return self._item_index().get(item_id) if item_id else None

    def _item_index(self) -> dict[str, dict[str, Any]]:
        if self._items is None:
            self._items = {
                as_str(record.get("Id")): record
                for record in self.client.query(select("Item", order_by="Id"))
                if not records.is_category(record)
            }
        return self._items

    # -- documents -------------------------------------------------------------------------

    def post_documents(self, documents: Sequence[PostableDocument]) -> list[PostResult]:
        if len(documents) > self.batch_size:
            raise ValueError(f"QuickBooks takes at most {self.batch_size} documents a call")
        results: dict[int, PostResult] = {}
        items: list[dict[str, Any]] = []
        sent: dict[str, int] = {}  # bId → index in documents
        lookups = self._lookup()
        for index, document in enumerate(documents):
            try:
                fields = records.document_fields(document, lookups)
            except ConnectorError as error:
                results[index] = PostResult(key=document.key, error=error)
                continue
            bid = str(index + 1)
            sent[bid] = index
            items.append(
                {"bId": bid, "operation": "create", records.ENTITY_OF[document.kind]: fields}
            )
        if items:
            chosen = [documents[i] for i in sent.values()]
            try:
                answers = self.client.batch(items, request_key=_batch_key(chosen))
            except ConnectorError as error:
                if error.kind != ErrorKind.UNCERTAIN:
                    raise
                results.update(self._resolve_uncertain(chosen, list(sent.values()), error))
            else:
                results.update(self._read_answers(documents, sent, answers))
        return self._apply_credits(documents, [results[index] for index in range(len(documents))])

    def _read_answers(
        self,
        documents: Sequence[PostableDocument],
        sent: Mapping[str, int],
        answers: Sequence[Mapping[str, Any]],
    ) -> dict[int, PostResult]:
        results: dict[int, PostResult] = {}
        duplicates: list[int] = []
        for answer in answers:
            index = sent.get(as_str(answer.get("bId")))
            if index is None:
                continue
            document = documents[index]
            entity = records.ENTITY_OF[document.kind]
            record = answer.get(entity)
            if isinstance(record, Mapping):
                results[index] = PostResult(
                    key=document.key,
                    document=self._document(record, document.kind),
                    outcome="created",
                )
                continue
            fault = parse_fault(answer)
            if fault is not None and DUPLICATE_DOC_NUMBER in fault.codes:
                duplicates.append(index)
            what = records.document_label(document).lower()
            error = (
                fault_to_error(fault, what=what)
                if fault is not None
                else _uncertain(f"{VENDOR} gave no result for {what}.")
            )
            if error.kind == ErrorKind.TRANSIENT:
                # A system fault on one item: it may or may not have been saved.
                error = _uncertain(error.message, error.vendor_detail)
            results[index] = PostResult(key=document.key, error=error)
        # Unanswered or unclear items: look them up, as after an unclear call.
        unclear = [
            i for i in sent.values() if i not in results or _kind(results[i]) == ErrorKind.UNCERTAIN
        ]
        if unclear:
            results.update(self._resolve_uncertain([documents[i] for i in unclear], unclear, None))
        if duplicates:
            found = self._lookup_numbers([documents[i] for i in duplicates])
            for index in duplicates:
                document = documents[index]
                record = found.get((document.kind, document.number))
                if record is not None and self._same_document(record, document):
                    results[index] = PostResult(
                        key=document.key,
                        document=self._document(record, document.kind),
                        outcome="already_existed",
                    )
                elif record is not None:
                    refusal = results[index].error
                    assert refusal is not None
                    results[index] = PostResult(
                        key=document.key,
                        error=ConnectorError(
                            ErrorKind.VALIDATION,
                            f"{records.document_label(document)}: QuickBooks already has a "
                            f"different document numbered {document.number} (customer "
                            f"{records.ref_value(record.get('CustomerRef'))}, total "
                            f"{records.money(record.get('TotalAmt'))}).",
                            hint="Renumber one of them, or if the QuickBooks one is this "
                            "invoice edited there, mark it as posted.",
                            vendor_detail=refusal.vendor_detail,
                        ),
                    )
        return results

    def update_document(self, ledger_id: str, document: PostableDocument) -> PostResult:
        """A full update of the Invoice (or CreditMemo) `ledger_id`, read first.

        QuickBooks itself lets an invoice with payments change as long as its total stays above
        them, but the payments would then settle a document other than the one the customer
        paid; like Xero, such a document is refused with the instruction to remove the payment.
        A credit memo that names its invoice is applied afterwards, as a new one is.
        """
        result = self._update_document(ledger_id, document)
        return self._apply_credits([document], [result])[0]

    def _update_document(self, ledger_id: str, document: PostableDocument) -> PostResult:
        entity = records.ENTITY_OF[document.kind]
        try:
            fields = records.document_fields(document, self._lookup())
        except ConnectorError as error:
            return PostResult(key=document.key, error=error)
        for attempt in (1, 2):
            current = self._read_document(entity, ledger_id)
            if current is None:
                return PostResult(key=document.key, error=_gone(document, ledger_id))
            blocked = _not_editable(document, current)
            if blocked is not None:
                return PostResult(key=document.key, error=blocked)
            if _holds(current, fields):
                return PostResult(
                    key=document.key,
                    document=self._document(current, document.kind),
                    outcome="already_existed",
                )
            token = as_str(current.get("SyncToken"))
            try:
                answer = self.client.call(
                    "POST",
                    entity.lower(),
                    json={**fields, "Id": ledger_id, "SyncToken": token},
                    # Per attempt and token: a repeat replays, a re-read token is heard afresh.
                    request_key=f"update:{document.key}#{document.attempt}:{token}",
                )
            except ConnectorError as error:
                if has_code(error, STALE_OBJECT) and attempt == 1:
                    continue  # changed in QuickBooks meanwhile: read it again, once
                if error.kind == ErrorKind.UNCERTAIN:
                    return self._settle_unclear_update(entity, ledger_id, document, fields, error)
                if error.kind in (ErrorKind.AUTH, ErrorKind.PERMISSION):
                    raise
                return PostResult(key=document.key, error=error)
            record = answer.get(entity) if isinstance(answer, Mapping) else None
            if not isinstance(record, Mapping):
                lost = _uncertain(f"{VENDOR} answered the update without the document.")
                return self._settle_unclear_update(entity, ledger_id, document, fields, lost)
            return PostResult(
                key=document.key,
                document=self._document(record, document.kind),
                outcome="created",
            )
        raise AssertionError("unreachable: the second attempt always returns")

    # -- applying credit memos to their invoices --------------------------------------------

    def _apply_credits(
        self, documents: Sequence[PostableDocument], results: Sequence[PostResult]
    ) -> list[PostResult]:
        """Each posted credit memo that names its invoice, applied to it where QuickBooks
        allows; what it will not allow is a warning on the credit memo's result."""
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
            invoices = self._records_by_id(
                "Invoice", [documents[i].applies_to_ledger_id for i in wanted]
            )
            credits = self._records_by_id(
                "CreditMemo",
                [r.document.ledger_id for i in wanted if (r := results[i]).document is not None],
            )
            applied = self._credit_applications(credits.values())
        except ConnectorError as error:
            for index in wanted:
                settled[index] = _with_warning(
                    settled[index],
                    _not_applied(documents[index], "", f"{VENDOR} could not be asked: {error}"),
                )
            return settled
        for index in wanted:
            document, result = documents[index], settled[index]
            assert result.document is not None
            settled[index] = self._apply_credit(
                document,
                result,
                credits.get(result.document.ledger_id),
                invoices.get(document.applies_to_ledger_id),
                applied,
            )
        return settled

    def _records_by_id(self, entity: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        return {
            as_str(record.get("Id")): record
            for record in self.client.query(select(entity, f"Id IN {quote_list(wanted)}"))
        }

    def _credit_applications(
        self, credit_memos: Iterable[Mapping[str, Any]]
    ) -> set[tuple[str, str]]:
        """(credit memo Id, invoice Id) pairs a payment linked to these credit memos applies."""
        payment_ids = {
            as_str(link.get("TxnId"))
            for credit in credit_memos
            for link in credit.get("LinkedTxn") or []
            if isinstance(link, Mapping) and as_str(link.get("TxnType")) == "Payment"
        }
        pairs: set[tuple[str, str]] = set()
        for payment in self._records_by_id("Payment", sorted(payment_ids)).values():
            pairs |= records.credit_applications(payment)
        return pairs

    def _apply_credit(
        self,
        document: PostableDocument,
        result: PostResult,
        credit: Mapping[str, Any] | None,
        invoice: Mapping[str, Any] | None,
        applied: set[tuple[str, str]],
    ) -> PostResult:
        posted = result.document
        assert posted is not None
        invoice_id = document.applies_to_ledger_id
        if (posted.ledger_id, invoice_id) in applied:
            return result  # applied by an earlier try
        if credit is None:
            return result  # gone since; the engine's own checks deal with that
        if invoice is None:
            why = f"{VENDOR} no longer has that invoice (deleted there?)"
            return _with_warning(result, _not_applied(document, invoice_id, why, by_hand=True))
        invoice_number = as_str(invoice.get("DocNumber")) or invoice_id
        remaining = records.money(credit.get("RemainingCredit")) or Decimal(0)
        balance = records.money(invoice.get("Balance")) or Decimal(0)
        why = ""
        if remaining <= 0:
            why = "none of its credit is left (it was applied or refunded in QuickBooks)."
        elif balance <= 0:
            why = (
                "the invoice is already paid in full. The credit stays on the customer's "
                "account in QuickBooks: refund it or apply it to another invoice there."
            )
        elif records.ref_value(invoice.get("CustomerRef")) != records.ref_value(
            credit.get("CustomerRef")
        ):
            why = (
                "the invoice belongs to another QuickBooks customer, and QuickBooks applies "
                "credit only to the same customer's invoices."
            )
        if why:
            return _with_warning(result, _not_applied(document, invoice_number, why))
        amount = min(remaining, balance)
        days = [
            day
            for day in (
                records.parse_date(credit.get("TxnDate")),
                records.parse_date(invoice.get("TxnDate")),
            )
            if day is not None
        ]
        fields: dict[str, Any] = {
            "CustomerRef": {"value": records.ref_value(credit.get("CustomerRef"))},
            "TotalAmt": Decimal(0),  # no money moves: the credit pays the invoice
            # On the later of the two: credit cannot be applied before either document exists.
            "TxnDate": max(days, default=document.issued_on).isoformat(),
            "Line": [
                {"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]},
                {
                    "Amount": amount,
                    "LinkedTxn": [{"TxnId": posted.ledger_id, "TxnType": "CreditMemo"}],
                },
            ],
            "PrivateNote": f"LedgerBridge: credit memo {posted.number or document.number} "
            f"applied to invoice {invoice_number}",
        }
        currency = records.ref_value(credit.get("CurrencyRef"))
        if currency:
            fields["CurrencyRef"] = {"value": currency}
        refusal = self._send_application(posted.ledger_id, invoice_id, fields)
        if refusal:
            return _with_warning(
                result, _not_applied(document, invoice_number, refusal, by_hand=True)
            )
        left = remaining - amount
        notes = result.warnings
        if left > 0:
            notes = (
                *notes,
                f"Credit memo {posted.number or document.number} is applied to invoice "
                f"{invoice_number} for {amount}, all that was open on it; the other {left} "
                "stays as credit on the customer's account in QuickBooks.",
            )
        applied_document = replace(
            posted, balance=left, status="Applied" if left == 0 else posted.status
        )
        return replace(result, document=applied_document, warnings=notes)

    def _send_application(
        self, credit_memo_id: str, invoice_id: str, fields: Mapping[str, Any]
    ) -> str:
        """Create the linking payment; "" when QuickBooks did, else why not. After a lost
        answer the payments on the credit memo are read, and it is sent again (same
        `requestid`, so QuickBooks replays rather than repeats) only when none applies it."""
        key = f"apply-credit:{credit_memo_id}:{invoice_id}"
        for attempt in (1, 2):
            try:
                self.client.create("Payment", fields, request_key=key)
            except ConnectorError as error:
                if error.kind not in (ErrorKind.UNCERTAIN, ErrorKind.TRANSIENT):
                    return error.message
                try:
                    credits = self._records_by_id("CreditMemo", [credit_memo_id])
                    found = (credit_memo_id, invoice_id) in self._credit_applications(
                        credits.values()
                    )
                except ConnectorError:
                    found = False
                if found:
                    return ""
                if attempt == 2:
                    return f"{VENDOR} did not confirm it ({error.message})"
                continue
            return ""
        return f"{VENDOR} did not confirm it"

    def _read_document(self, entity: str, ledger_id: str) -> dict[str, Any] | None:
        """The document, or None when QuickBooks has none (it answers 610 for a missing id)."""
        try:
            return self.client.read(entity, ledger_id)
        except ConnectorError as error:
            if has_code(error, OBJECT_NOT_FOUND):
                return None
            raise

    def _settle_unclear_update(
        self,
        entity: str,
        ledger_id: str,
        document: PostableDocument,
        fields: Mapping[str, Any],
        cause: ConnectorError,
    ) -> PostResult:
        """After a lost answer: read the document back; it holds the change, or stays unclear."""
        try:
            current = self._read_document(entity, ledger_id)
        except ConnectorError:
            current = None
        if current is not None and _holds(current, fields):
            return PostResult(
                key=document.key,
                document=self._document(current, document.kind),
                outcome="created",
            )
        return PostResult(key=document.key, error=cause)

    def _resolve_uncertain(
        self,
        documents: Sequence[PostableDocument],
        indexes: Sequence[int],
        cause: ConnectorError | None,
    ) -> dict[int, PostResult]:
        """Look up documents whose write is unclear; only those not found stay `uncertain`."""
        try:
            found = self._lookup_numbers(documents)
        except ConnectorError:
            found = {}
        results: dict[int, PostResult] = {}
        for index, document in zip(indexes, documents, strict=True):
            record = found.get((document.kind, document.number)) if document.number else None
            if record is not None and self._same_document(record, document):
                results[index] = PostResult(
                    key=document.key,
                    document=self._document(record, document.kind),
                    outcome="already_existed",
                )
            else:
                results[index] = PostResult(
                    key=document.key,
                    error=cause
                    or _uncertain(
                        f"{VENDOR} did not confirm {records.document_label(document).lower()}."
                    ),
                )
        return results

    def _lookup_numbers(
        self, documents: Sequence[PostableDocument]
    ) -> dict[tuple[InvoiceKind, str], dict[str, Any]]:
        """Documents QuickBooks holds under these numbers: one query per kind."""
        found: dict[tuple[InvoiceKind, str], dict[str, Any]] = {}
        for kind, entity in records.ENTITY_OF.items():
            numbers = sorted({d.number for d in documents if d.kind == kind and d.number})
            if not numbers:
                continue
            statement = select(entity, f"DocNumber IN {quote_list(numbers)}")
            for record in self.client.query(statement):
                found.setdefault((kind, as_str(record.get("DocNumber"))), record)
        return found

    def _same_document(self, record: Mapping[str, Any], document: PostableDocument) -> bool:
        if records.same_document(record, document):
            return True
        if not self._automated_sales_tax():
            return False
        # QuickBooks computed its own tax: compare the customer and the lines before tax.
        lines = [
            records.money(line.get("Amount")) or Decimal(0)
            for line in record.get("Line") or []
            if isinstance(line, Mapping) and line.get("DetailType") == "SalesItemLineDetail"
        ]
        return records.ref_value(record.get("CustomerRef")) == document.customer_ledger_id and sum(
            lines, Decimal(0)
        ) == sum((line.line_amount for line in document.lines), Decimal(0))

    def find_document(
        self, kind: InvoiceKind, *, number: str = "", reference: str = ""
    ) -> LedgerDocument | None:
        """By number (`DocNumber`); QuickBooks cannot search the private note a reference
        goes to, so a reference alone finds nothing."""
        if not number:
            return None
        entity = records.ENTITY_OF[kind]
        found = self.client.query_page(select(entity, f"DocNumber = {quote(number)}"))
        return self._document(found[0], kind) if found else None

    def _document(self, record: Mapping[str, Any], kind: InvoiceKind) -> LedgerDocument:
        return records.ledger_document(record, kind, app_url=self._app_url())

    # -- payments, locks, connectivity -----------------------------------------------------

    def payments_since(self, cursor: datetime | None) -> Iterator[LedgerPayment]:
        """Payments changed after `cursor`, oldest change first, one per invoice they pay.

        Deleted payments are not reported: the change feed names only their id, not what they
        paid, and it looks back 30 days at most.
        """
        conditions = []
        if cursor is not None:
            moment = cursor if cursor.tzinfo else cursor.replace(tzinfo=UTC)
            conditions.append(f"MetaData.LastUpdatedTime > {quote(moment.isoformat())}")
        statement = select("Payment", *conditions, order_by="MetaData.LastUpdatedTime")
        for record in self.client.query(statement):
            yield from records.payments(record)

    def lock_dates(self) -> LockDates:
        """The closing date (Preferences → AccountingInfoPrefs.BookCloseDate), read fresh."""
        self._preferences = self.client.preferences()
        accounting = self._preferences.get("AccountingInfoPrefs") or {}
        return LockDates(period_lock=records.parse_date(accounting.get("BookCloseDate")))

    def test_connectivity(self) -> ConnectivityReport:
        findings: list[ConnectivityFinding] = []
        details: dict[str, str] = {"realm_id": self.client.realm_id}
        try:
            info = self.client.company_info()
            details["company"] = as_str(info.get("CompanyName"))
            details["country"] = as_str(info.get("Country"))
            preferences = self._preferences = self.client.preferences()
            self.client.count("Invoice")
        except ConnectorError as error:
            findings.append(_connectivity_problem(error, self.client.realm_id))
            return ConnectivityReport(ok=False, findings=tuple(findings), details=details)
        currency = preferences.get("CurrencyPrefs") or {}
        details["home_currency"] = records.ref_value(currency.get("HomeCurrency"))
        details["multicurrency"] = "yes" if currency.get("MultiCurrencyEnabled") else "no"
        details["automated_sales_tax"] = "yes" if self._automated_sales_tax() else "no"
        closing = records.parse_date(
            (preferences.get("AccountingInfoPrefs") or {}).get("BookCloseDate")
        )
        if closing is not None:
            details["closing_date"] = closing.isoformat()
        findings.append(
            ConnectivityFinding(
                kind="ok",
                message=f"Connected to QuickBooks Online company '{details['company']}'.",
            )
        )
        if closing is not None:
            findings.append(
                ConnectivityFinding(
                    kind="warning",
                    message=f"The books are closed up to {closing:%d %b %Y}: QuickBooks refuses "
                    "documents dated on or before then.",
                )
            )
        return ConnectivityReport(ok=True, findings=tuple(findings), details=details)

    # -- cached company facts --------------------------------------------------------------

    def _preferences_now(self) -> dict[str, Any]:
        if self._preferences is None:
            self._preferences = self.client.preferences()
        return self._preferences

    def _automated_sales_tax(self) -> bool:
        tax = self._preferences_now().get("TaxPrefs") or {}
        return bool(tax.get("PartnerTaxEnabled"))

    def _lookup(self) -> records.Lookups:
        if self._lookups is None:
            account_ids: dict[str, str] = {}
            for record in self.client.query(select("Account", order_by="Id")):
                found = records.account(record)
                for key in (found.ledger_id, found.name, found.code):
                    account_ids.setdefault(key, found.ledger_id)
            tax_rate_ids: dict[str, tuple[str, ...]] = {}
            tax_rate_values: dict[str, Decimal] = {}
            automated = self._automated_sales_tax()
            if not automated:
                tax_rate_ids = {
                    as_str(code.get("Id")): records.sales_rate_ids(code)
                    for code in self.client.query(select("TaxCode"))
                }
                if any(len(rates) > 1 for rates in tax_rate_ids.values()):
                    # Combined codes split the PSA's tax by their rates' percentages.
                    tax_rate_values = {
                        as_str(rate.get("Id")): value
                        for rate in self.client.query(select("TaxRate", _ANY_ACTIVE))
                        if (value := records.money(rate.get("RateValue"))) is not None
                    }
            self._lookups = records.Lookups(
                item_ids=_item_ids(self._item_index().values()),
                account_ids=account_ids,
                class_ids=_name_ids(self.client.query(select("Class"))),
                department_ids=_name_ids(self.client.query(select("Department"))),
                tax_rate_ids=tax_rate_ids,
                tax_rate_values=tax_rate_values,
                automated_sales_tax=automated,
                override_automated_tax=self.override_automated_tax,
            )
        return self._lookups

    def _app_url(self) -> str:
        """Where a person opens a document: QuickBooks' web app for a real API, none else."""
        if "sandbox-quickbooks.api.intuit.com" in self.client.api_url:
            return _SANDBOX_APP
        if "quickbooks.api.intuit.com" in self.client.api_url:
            return _PRODUCTION_APP
        return ""


class _CustomerIndex:
    """Every customer once, by the PSA ids in their Notes and by DisplayName (casefolded)."""

    def __init__(self) -> None:
        self.by_psa_id: dict[str, dict[str, Any]] = {}
        self.by_name: dict[str, dict[str, Any]] = {}

    def add(self, record: Mapping[str, Any]) -> None:
        stored = dict(record)
        for psa_id in records.psa_ids_of(stored):
            self.by_psa_id[psa_id] = stored
        name = _name(stored).casefold()
        if name:
            self.by_name[name] = stored


def _name(record: Mapping[str, Any]) -> str:
    return as_str(record.get("DisplayName"))


def _ledger_customer(record: Mapping[str, Any], psa_id: str, outcome: Any) -> LedgerCustomer:
    return LedgerCustomer(
        ledger_id=as_str(record.get("Id")), name=_name(record), psa_id=psa_id, outcome=outcome
    )


def _item_ids(items: Any) -> dict[str, str]:
    """Code → Id: full name first, then Sku, then a leaf name that only one item has."""
    ids: dict[str, str] = {}
    leaves: dict[str, list[str]] = {}
    active_first = sorted(items, key=lambda r: not records.is_active(r))
    for record in active_first:
        item_id = as_str(record.get("Id"))
        full = as_str(record.get("FullyQualifiedName")) or as_str(record.get("Name"))
        ids.setdefault(full, item_id)
        leaves.setdefault(as_str(record.get("Name")), []).append(item_id)
    for record in active_first:
        sku = as_str(record.get("Sku"))
        if sku:
            ids.setdefault(sku, as_str(record.get("Id")))
    for leaf, found in leaves.items():
        if len(found) == 1:
            ids.setdefault(leaf, found[0])
    return ids


def _name_ids(found: Iterator[dict[str, Any]]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for record in found:
        item_id = as_str(record.get("Id"))
        for key in (as_str(record.get("FullyQualifiedName")), as_str(record.get("Name"))):
            if key:
                ids.setdefault(key, item_id)
    return ids


def _batch_key(documents: Sequence[PostableDocument]) -> str:
    """The batch's requestid key: its documents' keys and attempts, so the same batch replays
    within one attempt, and a new one (another mix, another version, a new attempt after a fix)
    is heard afresh."""
    return "batch:" + "|".join(f"{document.key}#{document.attempt}" for document in documents)


def _uncertain(message: str, detail: str = "") -> ConnectorError:
    return ConnectorError(
        ErrorKind.UNCERTAIN,
        message,
        hint="LedgerBridge looks the document up before trying again, so nothing is posted twice.",
        vendor_detail=detail,
    )


def _holds(current: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    """QuickBooks' document already says what `fields` (a create's body) says: customer,
    number, date, the sales lines (text, quantity, amount, product) and any stated tax."""
    for name in ("CustomerRef", "DepartmentRef"):
        if records.ref_value(current.get(name)) != records.ref_value(fields.get(name)):
            return False
    if as_str(current.get("DocNumber")) != as_str(fields.get("DocNumber")):
        return False
    if as_str(current.get("TxnDate")) != as_str(fields.get("TxnDate")):
        return False
    held = [line for line in current.get("Line") or [] if _is_sale(line)]
    wanted = [line for line in fields.get("Line") or [] if _is_sale(line)]
    if len(held) != len(wanted) or not all(map(_same_line, held, wanted)):
        return False
    stated = fields.get("TxnTaxDetail")
    if isinstance(stated, Mapping) and "TotalTax" in stated:
        tax = current.get("TxnTaxDetail")
        total_tax = records.money(tax.get("TotalTax")) if isinstance(tax, Mapping) else None
        return total_tax == records.money(stated["TotalTax"])
    return True


def _is_sale(line: Any) -> bool:
    return isinstance(line, Mapping) and line.get("DetailType") == "SalesItemLineDetail"


def _same_line(held: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """A stored sales line says what a line of the body says: text, quantity, amount, and
    each reference the body sets (product, account, class, a tax code QuickBooks keeps)."""
    if as_str(held.get("Description")).strip() != as_str(wanted.get("Description")).strip():
        return False
    if _cents(held.get("Amount")) != _cents(wanted.get("Amount")):
        return False
    held_detail, wanted_detail = _detail(held), _detail(wanted)
    if records.money(held_detail.get("Qty")) != records.money(wanted_detail.get("Qty")):
        return False
    for name in ("ItemRef", "ItemAccountRef", "ClassRef", "TaxCodeRef"):
        stated = records.ref_value(wanted_detail.get(name))
        if name == "TaxCodeRef" and stated in (records.US_TAXABLE, records.US_NON_TAXABLE):
            continue  # automated sales tax may turn TAX into NON for an exempt customer
        if stated and records.ref_value(held_detail.get(name)) != stated:
            return False
    return True


def _detail(line: Mapping[str, Any]) -> Mapping[str, Any]:
    detail = line.get("SalesItemLineDetail")
    return detail if isinstance(detail, Mapping) else {}


def _cents(value: Any) -> Decimal | None:
    amount = records.money(value)
    return amount.quantize(Decimal("0.01")) if amount is not None else None


def _not_editable(document: PostableDocument, current: Mapping[str, Any]) -> ConnectorError | None:
    """A document with money applied: changing it would leave the payments on another sum."""
    total = records.money(current.get("TotalAmt")) or Decimal(0)
    remaining = records.money(current.get("Balance"))
    if document.kind == InvoiceKind.CREDIT_NOTE:
        remaining = records.money(current.get("RemainingCredit"))
        if remaining is None:
            remaining = records.money(current.get("Balance"))
    applied = total - remaining if remaining is not None else Decimal(0)
    payments = [
        as_str(link.get("TxnId"))
        for link in current.get("LinkedTxn") or []
        if isinstance(link, Mapping) and as_str(link.get("TxnType")) == "Payment"
    ]
    if applied <= 0 and not payments:
        return None
    what = "credit memo" if document.kind == InvoiceKind.CREDIT_NOTE else "invoice"
    number = as_str(current.get("DocNumber")) or document.number
    said = f" (payment {', '.join(payments)})" if payments else ""
    return ConnectorError(
        ErrorKind.VALIDATION,
        f"QuickBooks {what} {number} has {applied} applied to it{said}, so LedgerBridge will "
        "not change it.",
        hint=f"Remove the payment from the {what} in QuickBooks first (open the payment and "
        f"untick the {what}, or delete the payment), retry this record, then apply the "
        "payment again in QuickBooks and run the payment sync.",
        vendor_detail=f"Balance {remaining} of {total}",
    )


def _gone(document: PostableDocument, ledger_id: str) -> ConnectorError:
    what = "credit memo" if document.kind == InvoiceKind.CREDIT_NOTE else "invoice"
    return ConnectorError(
        ErrorKind.VALIDATION,
        f"QuickBooks no longer has {what} {document.number or ledger_id} to update; it may "
        "have been deleted there.",
        hint=f"Enter the corrected {what} in QuickBooks by hand, then use 'Mark posted' on "
        "this record.",
        vendor_detail=f"Id {ledger_id}",
    )


def _not_applied(
    document: PostableDocument, invoice_number: str, why: str, *, by_hand: bool = False
) -> str:
    """The warning: the credit memo is posted, not applied, and why (with what to do)."""
    what = f" to invoice {invoice_number}" if invoice_number else " to its invoice"
    text = f"Credit memo {document.number or document.psa_id} is in {VENDOR}, but not applied{what}"
    if not by_hand:
        return f"{text}: {why}"
    return (
        f"{text}: {why.rstrip('. ')}. Apply it by hand in QuickBooks (receive a payment of 0 "
        "for the customer, ticking the invoice and the credit memo) if it should settle the "
        "invoice."
    )


def _with_warning(result: PostResult, warning: str) -> PostResult:
    return replace(result, warnings=(*result.warnings, warning))


def _kind(result: PostResult) -> ErrorKind | None:
    return result.error.kind if result.error is not None else None


def _connectivity_problem(error: ConnectorError, realm_id: str) -> ConnectivityFinding:
    if error.kind == ErrorKind.AUTH:
        if error.status is None:  # the refresh itself failed: the connection is dead
            message = (
                "The QuickBooks Online sign-in has expired and could not be renewed: "
                f"{error.message}"
            )
        elif "expired" in error.message.lower():
            message = "QuickBooks Online still reports LedgerBridge's access token as expired."
        else:
            message = (
                "QuickBooks Online did not accept LedgerBridge's access token (invalid or revoked)."
            )
        return ConnectivityFinding(
            kind=ErrorKind.AUTH,
            message=message,
            hint="Reconnect QuickBooks under Company → Connections; the connection may have "
            "been revoked in QuickBooks or left unused for over 100 days.",
        )
    if error.kind == ErrorKind.PERMISSION:
        return ConnectivityFinding(
            kind=ErrorKind.PERMISSION,
            message=f"QuickBooks Online company {realm_id} has not authorised LedgerBridge.",
            hint="Reconnect under Company → Connections as an admin of that company and "
            "choose it when QuickBooks asks which company to connect.",
        )
    if error.kind == ErrorKind.RATE_LIMITED:
        return ConnectivityFinding(
            kind=ErrorKind.RATE_LIMITED,
            message="QuickBooks Online is refusing calls for this company as over its limit "
            "(500 a minute, shared with every other app connected to it).",
            hint="Try again in a minute; if it keeps happening, another connected app may be "
            "using the company's allowance.",
        )
    return ConnectivityFinding(kind=error.kind, message=error.message, hint=error.hint)
