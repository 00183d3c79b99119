"""ConnectWise as a `PsaSource`: vendor JSON in, canonical documents out.

How the accounting interface is used (psa-apis §1.8 and §1.9):

- Postable invoices are the *unposted invoices*: closed, never batched. An MSP that runs one
  ledger per office limits them to its GL owner levels (`locationId in (…)`).
- An invoice's lines, revenue accounts and GL entry ids come from the GL export
  (`POST finance/accounting/export`, which changes nothing); its reference, PO number and
  balance from `finance/invoices/{id}`; the customer from `company/companies/{id}`.
- Acknowledging is an accounting batch naming the invoices' GL entry ids. Its unique
  `batchIdentifier` makes it idempotent: an earlier attempt that went through is found, not
  repeated.
- A payment is `POST finance/invoices/{id}/payments`. ConnectWise payments carry no reference
  field, so an existing payment of the same amount on the same day is taken as ours: it is
  looked for before sending and after an uncertain outcome, so a retry never pays twice.

A credit memo comes from ConnectWise with negative amounts; canonical credit notes are positive.
"""

from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from ledgerbridge.connectors.base import (
    AckResult,
    Address,
    ConnectivityFinding,
    ConnectivityReport,
    ConnectorError,
    Contact,
    Customer,
    ErrorKind,
    GLAccount,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceRef,
    Payment,
    PaymentResult,
    PaymentTerm,
    Product,
    SourceIds,
    TaxCode,
    as_str,
)
from ledgerbridge.connectors.connectwise import conditions as cq
from ledgerbridge.connectors.connectwise.client import (
    READ_ENDPOINTS,
    WRITE_PERMISSIONS,
    ConnectWiseClient,
    Record,
    client_id_error,
)
from ledgerbridge.core import clock

CENT: Final = Decimal("0.01")
LEVEL_WORDS: Final = ("One", "Two", "Three", "Four", "Five", "Six")
# The export's batch identifier is required but only echoed; it names nothing in ConnectWise.
PREVIEW_IDENTIFIER: Final = "LedgerBridge preview"


class VendorDataError(ConnectorError):
    """A ConnectWise record lacks something we need or holds a value we cannot read."""

    def __init__(self, message: str) -> None:
        super().__init__(
            ErrorKind.VALIDATION,
            message,
            hint="Open the record in ConnectWise and check it; if it looks right, report this.",
        )


class ConnectWiseSource:
    """One ConnectWise connection as the sync engine reads it."""

    label = "ConnectWise"
    tracks_payment_amounts = True

    def __init__(
        self,
        client: ConnectWiseClient,
        *,
        location_ids: Sequence[int] = (),
        default_currency: str = "USD",
        payment_type: str = "Payment",
        gl_interface_identifier: str = "LedgerBridge",
        customer_cache_size: int = 256,
        summarize_invoices: str = "Detailed",
    ) -> None:
        """`summarize_invoices` is ConnectWise's own GL-export option (`Default`, `Condensed`,
        `Detailed`): how finely service revenue is broken into lines."""
        if summarize_invoices not in ("Default", "Condensed", "Detailed"):
            raise ValueError(f"summarize_invoices {summarize_invoices!r} is not a CW option")
        self.summarize_invoices = summarize_invoices
        self.client = client
        self.location_ids = tuple(location_ids)
        self.default_currency = default_currency
        self.payment_type = payment_type
        self.gl_interface_identifier = gl_interface_identifier
        self._companies: OrderedDict[int, Record] = OrderedDict()
        self._cache_size = customer_cache_size

    # -- invoices --------------------------------------------------------------------------

    def list_postable_invoices(
        self, *, since: datetime | None = None, thru: datetime | None = None
    ) -> Iterator[InvoiceRef]:
        """Unposted invoices dated `since` … `thru`, in this connection's locations."""
        for row in self.client.iter_unposted_invoices(self._postable(since, thru)):
            yield unposted_ref(row)

    def count_postable_invoices(
        self, *, since: datetime | None = None, thru: datetime | None = None
    ) -> int:
        """How many `list_postable_invoices` would list now, in one call (`…/count`)."""
        return self.client.count("finance/accounting/unpostedinvoices", self._postable(since, thru))

    def _postable(self, since: datetime | None, thru: datetime | None) -> cq.Condition | None:
        wanted = [
            cq.field("invoiceDate").ge(since) if since else None,
            cq.field("invoiceDate").le(thru) if thru else None,
            cq.field("locationId").is_in(self.location_ids) if self.location_ids else None,
        ]
        filters = [item for item in wanted if item is not None]
        return cq.all_of(*filters) if filters else None

    def get_invoice(self, ref: InvoiceRef) -> Invoice:
        unposted_id = _int_id(ref.source_ids.get("unposted_id") or ref.psa_id, "invoice")
        export = self._export([unposted_id])
        transaction = _transaction_for(export, ref, unposted_id)
        if transaction is None:
            raise ConnectorError(
                ErrorKind.NOT_FOUND,
                f"ConnectWise no longer lists invoice {ref.number or ref.psa_id} as unposted; "
                "it may have been posted in another batch, or reopened.",
                hint="Refresh the invoices to post; reopened invoices come back once closed again.",
            )
        invoice_id = _int_id(ref.psa_id, "invoice")
        invoice = self.client.get_invoice(invoice_id)
        bill_to = invoice.get("billToCompany") or invoice.get("company") or {}
        company = self._company(_int_id(_ref_id(bill_to), "company")) if _ref_id(bill_to) else {}
        customer_row = _customer_row(export, _ref_id(bill_to))
        return invoice_from_records(
            invoice,
            transaction,
            company=company or bill_to,
            customer_row=customer_row,
            default_currency=self.default_currency,
            source_ids=ref.source_ids,
        )

    def _export(self, unposted_ids: Sequence[int]) -> Record:
        return self.client.export_accounting(
            {
                "batchIdentifier": PREVIEW_IDENTIFIER,
                "summarizeInvoices": self.summarize_invoices,
                "exportInvoicesFlag": True,
                "exportExpensesFlag": False,
                "exportProductsFlag": False,
                "glInterfaceIdentifier": self.gl_interface_identifier,
                "includedInvoiceIds": list(unposted_ids),
                "excludedInvoiceIds": [],
                "includedExpenseIds": [],
                "excludedExpenseIds": [],
                "includedProductIds": [],
                "excludedProductIds": [],
            }
        )

    def _company(self, company_id: int) -> Record:
        cached = self._companies.get(company_id)
        if cached is not None:
            self._companies.move_to_end(company_id)
            return cached
        company = self.client.get_company(company_id)
        self._companies[company_id] = company
        if len(self._companies) > self._cache_size:
            self._companies.popitem(last=False)
        return company

    # -- mapping lists ---------------------------------------------------------------------

    def list_customers(self) -> Iterator[Customer]:
        for row in self.client.iter_companies():
            yield customer_from_company(row)

    def list_contacts(self) -> Iterator[Contact]:
        for row in self.client.iter_contacts():
            yield contact_from_record(row)

    def list_products(self) -> Iterator[Product]:
        for row in self.client.iter_catalog():
            yield product_from_catalog(row)

    def list_tax_codes(self) -> Iterator[TaxCode]:
        today = clock.now().date()
        for row in self.client.iter_tax_codes():
            yield tax_code_from_record(row, today)

    def list_payment_terms(self) -> Iterator[PaymentTerm]:
        for row in self.client.iter_billing_terms():
            yield payment_term_from_record(row)

    def list_gl_accounts(self) -> Iterator[GLAccount]:
        for row in self.client.iter_gl_accounts():
            yield gl_account_from_record(row)

    # -- acknowledge -----------------------------------------------------------------------

    def acknowledge(self, refs: Sequence[InvoiceRef], batch_identifier: str) -> AckResult:
        """One accounting batch marks these invoices posted. The same identifier twice is
        harmless: the second call finds the first batch and says which invoices it holds."""
        if not refs:
            raise ValueError("acknowledge needs at least one invoice")
        existing = self.client.find_batch(batch_identifier)
        if existing is not None:
            return self._found_batch(existing, refs, batch_identifier)
        entries = self._gl_entries(refs)
        ids = [entry for ref in refs for entry in entries.get(ref.psa_id, ())]
        if not ids:
            return AckResult(
                batch_identifier=batch_identifier,
                outcome="nothing_to_do",
                skipped=tuple(ref.psa_id for ref in refs),
            )
        try:
            outcome = self.client.create_batch_resolving_uncertainty(
                batch_identifier,
                ids,
                gl_interface_identifier=self.gl_interface_identifier,
            )
        except ConnectorError as error:
            if error.kind is not ErrorKind.VALIDATION:
                raise
            # Someone batched some of these in ConnectWise meanwhile: post the rest.
            still = self._still_unbatched(refs)
            if len(still) == len(refs) or not still:
                raise
            entries = {ref.psa_id: entries.get(ref.psa_id, ()) for ref in still}
            ids = [entry for ref in still for entry in entries[ref.psa_id]]
            outcome = self.client.create_batch_resolving_uncertainty(
                batch_identifier, ids, gl_interface_identifier=self.gl_interface_identifier
            )
        if outcome.outcome == "already_existed":
            return self._found_batch(outcome.batch, refs, batch_identifier)
        marked = tuple(ref.psa_id for ref in refs if entries.get(ref.psa_id))
        return AckResult(
            batch_identifier=batch_identifier,
            outcome="created",
            psa_batch_id=as_str(outcome.batch.get("id")),
            acknowledged=marked,
            skipped=tuple(ref.psa_id for ref in refs if ref.psa_id not in marked),
        )

    def _gl_entries(self, refs: Sequence[InvoiceRef]) -> dict[str, tuple[int, ...]]:
        """Each invoice's GL entry ids: from its ref, or from one export for those without."""
        entries: dict[str, tuple[int, ...]] = {}
        missing: list[InvoiceRef] = []
        for ref in refs:
            known = ref.source_ids.get("gl_entry_ids")
            if known:
                entries[ref.psa_id] = tuple(_int_id(entry, "GL entry") for entry in known)
            else:
                missing.append(ref)
        if missing:
            unposted = [
                _int_id(ref.source_ids.get("unposted_id") or ref.psa_id, "invoice")
                for ref in missing
            ]
            export = self._export(unposted)
            for ref, unposted_id in zip(missing, unposted, strict=True):
                transaction = _transaction_for(export, ref, unposted_id)
                if transaction is not None:
                    entries[ref.psa_id] = _entry_ids(transaction)
        return entries

    def _still_unbatched(self, refs: Sequence[InvoiceRef]) -> list[InvoiceRef]:
        return [
            ref
            for ref in refs
            if not self.client.get_invoice(_int_id(ref.psa_id, "invoice")).get("glBatch")
        ]

    def _found_batch(
        self, batch: Record, refs: Sequence[InvoiceRef], batch_identifier: str
    ) -> AckResult:
        batch_id = _int_id(batch.get("id"), "accounting batch")
        in_batch = set()
        for entry in self.client.iter_batch_entries(batch_id):
            invoice = entry.get("invoice")
            if isinstance(invoice, dict) and invoice.get("id") is not None:
                in_batch.add(as_str(invoice["id"]))
        held = {
            ref.psa_id
            for ref in refs
            if {ref.psa_id, as_str(ref.source_ids.get("unposted_id"))} & in_batch
        }
        return AckResult(
            batch_identifier=batch_identifier,
            outcome="already_existed",
            psa_batch_id=as_str(batch_id),
            acknowledged=tuple(ref.psa_id for ref in refs if ref.psa_id in held),
            skipped=tuple(ref.psa_id for ref in refs if ref.psa_id not in held),
        )

    # -- payments --------------------------------------------------------------------------

    def record_payment(
        self,
        invoice: InvoiceRef,
        payment: Payment,
        idempotency_key: str,
        *,
        paid_in_full: bool | None = None,
        recorded_ids: Sequence[str] = (),
    ) -> PaymentResult:
        """Apply a payment to the invoice, once.

        ConnectWise keeps no reference on a payment, so `idempotency_key` cannot travel with
        it; the same amount on the same day identifies it instead.
        """
        invoice_id = _int_id(invoice.psa_id, "invoice")
        amount = payment.amount
        if amount <= 0 or amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
            raise ConnectorError(
                ErrorKind.VALIDATION,
                f"A payment of {amount} cannot be recorded on ConnectWise invoice "
                f"{invoice.number or invoice.psa_id}: it must be positive, in whole cents.",
                hint="Check the payment in the ledger.",
            )
        found = self._matching_payment(invoice_id, payment, exclude=frozenset(recorded_ids))
        if found is not None:
            return _payment_result("already_existed", found)
        body = {
            "type": self.payment_type,
            "amount": amount,
            "paymentDate": f"{payment.paid_on:%Y-%m-%d}T00:00:00Z",
            "invoice": {"id": invoice_id},
        }
        try:
            created = self.client.create_invoice_payment(invoice_id, body)
        except ConnectorError as error:
            if error.kind is not ErrorKind.UNCERTAIN:
                raise
            found = self._matching_payment(invoice_id, payment)
            if found is not None:
                return _payment_result("created", found)
            raise ConnectorError(
                ErrorKind.TRANSIENT,
                f"ConnectWise did not save the payment of {amount} on invoice "
                f"{invoice.number or invoice.psa_id} (the connection broke and the payment "
                "is not there).",
                hint="Nothing was recorded; the next run tries again.",
                vendor_detail=error.vendor_detail,
            ) from error
        return _payment_result("created", created)

    def _matching_payment(
        self, invoice_id: int, payment: Payment, *, exclude: frozenset[str] = frozenset()
    ) -> Record | None:
        day = payment.paid_on.isoformat()
        for row in self.client.iter_invoice_payments(invoice_id):
            if row.get("credit"):
                continue  # a credit memo applied, not money received
            if as_str(row.get("id")) in exclude:
                continue  # recorded for another ledger payment

            same_amount = _opt_money(row.get("amount")) == payment.amount
            if same_amount and str(row.get("paymentDate") or "")[:10] == day:
                return row
        return None

    # -- connectivity ----------------------------------------------------------------------

    def test_connectivity(self) -> ConnectivityReport:
        """Check the site, company, keys, clientId and every read permission, and say what
        to fix in ConnectWise's own words."""
        client = self.client
        details: dict[str, str] = {"site": client.site, "company": client.company_id}
        if not client.client_id:
            return _failed(details, _finding(client_id_error("")))
        try:
            info = client.company_info()
        except ConnectorError as error:
            return _failed(details, self._site_finding(error))
        if info is None:
            return _failed(
                details,
                ConnectivityFinding(
                    kind=ErrorKind.AUTH,
                    message=f"ConnectWise does not know the company '{client.company_id}'.",
                    hint="Check the company ID: it is what you type in the Company box when "
                    "you sign in to ConnectWise.",
                ),
            )
        try:
            client.discover_codebase()
            system = client.system_info()
        except ConnectorError as error:
            if error.kind is ErrorKind.NOT_FOUND:
                # ConnectWise Cloud answers 404 for keys it does not accept.
                return _failed(
                    details,
                    ConnectivityFinding(
                        kind=ErrorKind.AUTH,
                        message=f"ConnectWise rejected the API keys for company "
                        f"'{client.company_id}'. Check the public and private key of the API "
                        "member.",
                        hint="ConnectWise Cloud answers 'not found' when it does not accept "
                        "the keys; if they are right, check the site address.",
                    ),
                )
            return _failed(details, _finding(error))
        details["codebase"] = client.codebase
        details["version"] = as_str(system.get("version") or info.get("VersionCode"))
        findings: list[ConnectivityFinding] = []
        for endpoint in READ_ENDPOINTS:
            try:
                client.request("GET", endpoint.path, params={"pageSize": 1})
            except ConnectorError as error:
                findings.append(_finding(error))
                if error.kind in (ErrorKind.AUTH, ErrorKind.RATE_LIMITED, ErrorKind.TRANSIENT):
                    break  # the rest would fail the same way
        if findings:
            return ConnectivityReport(ok=False, findings=tuple(findings), details=details)
        writes = "; ".join(
            f"{permission} to {purpose}" for permission, purpose in WRITE_PERMISSIONS
        )
        return ConnectivityReport(
            ok=True,
            findings=(
                ConnectivityFinding(
                    kind="ok",
                    message=f"Connected to ConnectWise {details['version']} as company "
                    f"'{client.company_id}'; every list LedgerBridge reads is readable.",
                    hint=f"LedgerBridge also needs {writes}. These are checked the first time "
                    "it writes.",
                ),
            ),
            details=details,
        )

    def _site_finding(self, error: ConnectorError) -> ConnectivityFinding:
        site = self.client.site
        if error.kind is ErrorKind.TRANSIENT and "could not reach" in error.message:
            return ConnectivityFinding(
                kind=ErrorKind.TRANSIENT,
                message=f"LedgerBridge could not reach ConnectWise at {site}.",
                hint="Check the site address: for ConnectWise Cloud it is na.myconnectwise.net, "
                "eu.myconnectwise.net or au.myconnectwise.net; for your own server, its "
                "address as your browser shows it.",
            )
        if error.kind in (ErrorKind.NOT_FOUND, ErrorKind.TRANSIENT, ErrorKind.VALIDATION):
            return ConnectivityFinding(
                kind=error.kind,
                message=f"{site} does not answer like a ConnectWise site.",
                hint="Check the site address: it is the address you sign in to ConnectWise "
                f"at, without any path. ({error.message})",
            )
        return _finding(error)


# --- vendor records → canonical documents ------------------------------------------------------


def unposted_ref(row: Mapping[str, Any]) -> InvoiceRef:
    unposted_id = as_str(row.get("id"))
    invoice_id = as_str(row.get("billingLogId")) or unposted_id
    if not invoice_id:
        raise VendorDataError("ConnectWise listed an unposted invoice without an id.")
    source: SourceIds = {"unposted_id": unposted_id, "billing_log_id": invoice_id}
    if row.get("locationId") is not None:
        source["location_id"] = as_str(row["locationId"])
    if row.get("departmentId") is not None:
        source["department_id"] = as_str(row["departmentId"])
    return InvoiceRef(
        psa_id=invoice_id,
        number=as_str(row.get("invoiceNumber")),
        kind=_kind(row.get("invoiceType")),
        updated_at=_info_time(row),
        source_ids=source,
    )


def invoice_from_records(
    invoice: Mapping[str, Any],
    transaction: Mapping[str, Any],
    *,
    company: Mapping[str, Any],
    customer_row: Mapping[str, Any] | None = None,
    default_currency: str = "USD",
    source_ids: SourceIds | None = None,
) -> Invoice:
    """An invoice from `finance/invoices/{id}`, its GL export transaction and its customer."""
    number = as_str(invoice.get("invoiceNumber") or transaction.get("documentNumber"))
    where = f"ConnectWise invoice {number or as_str(invoice.get('id'))}"
    kind = _kind(invoice.get("type") or transaction.get("billingType"))
    total = _money(transaction.get("total", invoice.get("total")), f"{where}: total")
    # CW credit memos are negative; canonical credit notes are positive.
    sign = Decimal(-1) if kind is InvoiceKind.CREDIT_NOTE and total < 0 else Decimal(1)
    tax_total = _money(
        transaction.get("salesTax", invoice.get("salesTax", 0)), f"{where}: sales tax"
    )
    subtotal = (
        _money(invoice["subtotal"], f"{where}: subtotal")
        if invoice.get("subtotal") is not None
        else total - tax_total
    )
    location = as_str(invoice.get("locationId"))
    department = as_str(invoice.get("departmentId"))
    invoice_tax_code = _ref_id(transaction.get("taxCode") or invoice.get("taxCode"))
    lines = tuple(
        _line(detail, sign, where, invoice_tax_code, location, department)
        for detail in transaction.get("detail") or []
    )
    ids: SourceIds = {**(source_ids or {})}
    ids["gl_entry_ids"] = tuple(str(entry) for entry in _entry_ids(transaction))
    ids.setdefault("unposted_id", as_str(transaction.get("id")))
    ids.setdefault("billing_log_id", as_str(invoice.get("id")))
    balance = invoice.get("balance")
    currency = (
        _currency(transaction.get("currency"))
        or _currency(invoice.get("currency"))
        or _currency((customer_row or {}).get("currency"))
        or default_currency
    )
    issued = _date(invoice.get("date") or transaction.get("documentDate"))
    if issued is None:
        raise VendorDataError(f"{where} has no invoice date.")
    return Invoice(
        psa_id=as_str(invoice.get("id")),
        number=number,
        kind=kind,
        customer=customer_from_company(company, customer_row),
        issued_on=issued,
        due_on=_date(invoice.get("dueDate") or transaction.get("dueDate")),
        currency=currency,
        lines=lines,
        subtotal=subtotal * sign,
        tax_total=tax_total * sign,
        total=total * sign,
        balance=_money(balance, f"{where}: balance") * sign if balance is not None else None,
        reference=as_str(invoice.get("reference") or transaction.get("memo")),
        po_number=as_str(invoice.get("customerPO")),
        description=as_str(transaction.get("description")),
        payment_term_psa_id=_ref_id(invoice.get("billingTerms")),
        tax_code_psa_id=invoice_tax_code,
        location=location,
        department=department,
        applies_to_psa_id=_credited_invoice(invoice) if kind is InvoiceKind.CREDIT_NOTE else "",
        updated_at=_info_time(invoice),
        source_ids=ids,
    )


def _line(
    detail: Mapping[str, Any],
    sign: Decimal,
    where: str,
    invoice_tax_code: str,
    location: str,
    department: str,
) -> InvoiceLine:
    line_id = as_str(detail.get("id"))
    here = f"{where}, line {line_id}"
    quantity = _money(detail.get("quantity", 1), f"{here}: quantity")
    item = detail.get("item") if isinstance(detail.get("item"), dict) else {}
    tracking = {"sales_code": as_str(detail["salesCode"])} if detail.get("salesCode") else {}
    return InvoiceLine(
        psa_line_id=line_id,
        description=as_str(detail.get("itemDescription") or detail.get("description")),
        quantity=quantity * sign,
        unit_price=_money(detail.get("itemPrice", 0), f"{here}: price"),
        line_amount=_money(detail.get("total"), f"{here}: total") * sign,
        product_psa_id=_ref_id(item),
        product_identifier=as_str((item or {}).get("identifier")),
        tax_code_psa_id=_ref_id(detail.get("taxCode")) or invoice_tax_code,
        tax_amount=None,  # CW taxes the invoice level by level, not each line
        taxable=bool(detail.get("taxableFlag", True)),
        gl_account=as_str(detail.get("accountNumber")),
        location=location,
        department=department,
        tracking=tracking,
    )


def customer_from_company(
    company: Mapping[str, Any], customer_row: Mapping[str, Any] | None = None
) -> Customer:
    """A customer from a `company/companies` record (or just a company reference), with the
    GL export's customer row filling what the company record lacks."""
    row = customer_row or {}
    psa_id = as_str(company.get("id"))
    if not psa_id:
        raise VendorDataError("ConnectWise sent a company without an id.")
    country = company.get("country")
    if isinstance(country, dict):
        country = country.get("identifier") or country.get("name")
    return Customer(
        psa_id=psa_id,
        name=as_str(company.get("name") or company.get("identifier")),
        identifier=as_str(company.get("identifier")),
        account_number=as_str(company.get("accountNumber") or row.get("accountNumber")),
        address=Address(
            line1=as_str(company.get("addressLine1") or row.get("addressLine1")),
            line2=as_str(company.get("addressLine2")),
            city=as_str(company.get("city") or row.get("city")),
            region=as_str(company.get("state") or row.get("state")),
            postal_code=as_str(company.get("zip") or row.get("zip")),
            country=as_str(country),
        ),
        tax_id=as_str(company.get("taxIdentifier")),
        email=as_str(company.get("invoiceToEmailAddress")),
        phone=as_str(company.get("phoneNumber")),
        currency=_currency(company.get("currency")) or _currency(row.get("currency")),
        payment_term_psa_id=_ref_id(company.get("billingTerms") or row.get("billingTerms")),
        tax_code_psa_id=_ref_id(company.get("taxCode") or row.get("taxCode")),
        active=not company.get("deletedFlag", False),
    )


def contact_from_record(row: Mapping[str, Any]) -> Contact:
    email = phone = ""
    for item in row.get("communicationItems") or []:
        if not isinstance(item, dict):
            continue
        kind = as_str(item.get("communicationType")).lower()
        value = as_str(item.get("value"))
        if kind == "email" and (not email or item.get("defaultFlag")):
            email = value
        elif kind == "phone" and (not phone or item.get("defaultFlag")):
            phone = value
    return Contact(
        psa_id=as_str(row.get("id")),
        customer_psa_id=_ref_id(row.get("company")),
        first_name=as_str(row.get("firstName")),
        last_name=as_str(row.get("lastName")),
        email=email,
        phone=phone,
        is_billing_contact=bool(row.get("defaultBillingFlag")),
        active=not row.get("inactiveFlag", False),
    )


def product_from_catalog(row: Mapping[str, Any]) -> Product:
    where = f"ConnectWise product {as_str(row.get('identifier') or row.get('id'))}"
    return Product(
        psa_id=as_str(row.get("id")),
        identifier=as_str(row.get("identifier")),
        description=as_str(row.get("description") or row.get("customerDescription")),
        unit_price=_opt_money(row.get("price"), f"{where}: price"),
        unit_cost=_opt_money(row.get("cost"), f"{where}: cost"),
        taxable=bool(row.get("taxableFlag", True)),
        kind=as_str(row.get("productClass")),
        active=not row.get("inactiveFlag", False),
    )


def tax_code_from_record(row: Mapping[str, Any], today: date) -> TaxCode:
    """The total rate is the sum of the percentage levels; amount levels are left out."""
    where = f"ConnectWise tax code {as_str(row.get('identifier') or row.get('id'))}"
    rate = Decimal(0)
    for word in LEVEL_WORDS:
        level_rate = row.get(f"level{word}Rate")
        if level_rate is None or as_str(row.get(f"level{word}RateType") or "Percent") != "Percent":
            continue
        rate += _money(level_rate, f"{where}: level {word} rate")
    cancelled = _date(row.get("cancelDate"))
    return TaxCode(
        psa_id=as_str(row.get("id")),
        identifier=as_str(row.get("identifier")),
        description=as_str(row.get("description") or row.get("invoiceCaption")),
        rate=rate,
        active=cancelled is None or cancelled > today,
    )


def payment_term_from_record(row: Mapping[str, Any]) -> PaymentTerm:
    due_days = row.get("dueDays")
    return PaymentTerm(
        psa_id=as_str(row.get("id")),
        name=as_str(row.get("name")),
        due_days=int(as_str(due_days)) if as_str(due_days).strip().isdigit() else None,
        xref=as_str(row.get("termsXref")),
        active=not row.get("inactiveFlag", False),
    )


def gl_account_from_record(row: Mapping[str, Any]) -> GLAccount:
    number = as_str(row.get("accountNumber")) or "".join(
        as_str(row.get(f"segment{n}")) for n in range(1, 11)
    )
    mapped = row.get("mappedRecord")
    return GLAccount(
        psa_id=as_str(row.get("id")),
        account_number=number,
        name=as_str(row.get("description") or (mapped or {}).get("name")),
        gl_type=as_str(row.get("glType")),
        active=not row.get("inactiveFlag", False),
    )


# --- helpers -----------------------------------------------------------------------------------


def _payment_result(outcome: Any, row: Mapping[str, Any]) -> PaymentResult:
    balance = row.get("invoiceBalance", row.get("balance"))
    return PaymentResult(
        outcome=outcome,
        psa_payment_id=as_str(row.get("id")),
        balance=_opt_money(balance, "payment balance"),
    )


def _finding(error: ConnectorError) -> ConnectivityFinding:
    return ConnectivityFinding(kind=error.kind, message=error.message, hint=error.hint)


def _failed(details: Mapping[str, str], finding: ConnectivityFinding) -> ConnectivityReport:
    return ConnectivityReport(ok=False, findings=(finding,), details=dict(details))


def _transaction_for(
    export: Mapping[str, Any], ref: InvoiceRef, unposted_id: int
) -> Mapping[str, Any] | None:
    wanted = {as_str(unposted_id), ref.psa_id, as_str(ref.source_ids.get("billing_log_id"))}
    for transaction in export.get("transactions") or []:
        if isinstance(transaction, dict) and as_str(transaction.get("id")) in wanted:
            return transaction
    return None


def _customer_row(export: Mapping[str, Any], company_id: str) -> Mapping[str, Any] | None:
    for row in export.get("customers") or []:
        if isinstance(row, dict) and _ref_id(row.get("company")) == company_id:
            return row
    return None


def _entry_ids(transaction: Mapping[str, Any]) -> tuple[int, ...]:
    """`glEntryIds` is a comma list in the export ("88231,88232"); the detail ids are the same
    entries when it is missing."""
    text = as_str(transaction.get("glEntryIds"))
    if text.strip():
        return tuple(int(part) for part in text.split(",") if part.strip().isdigit())
    return tuple(
        int(detail["id"])
        for detail in transaction.get("detail") or []
        if isinstance(detail, dict) and isinstance(detail.get("id"), int)
    )


def _kind(invoice_type: object) -> InvoiceKind:
    return InvoiceKind.CREDIT_NOTE if invoice_type == "CreditMemo" else InvoiceKind.INVOICE


def _ref_id(reference: object) -> str:
    return as_str(reference.get("id")) if isinstance(reference, dict) else ""


def _currency(reference: object) -> str:
    if isinstance(reference, dict):
        return as_str(reference.get("currencyCode")).upper()
    return ""


def _int_id(value: object, what: str) -> int:
    text = as_str(value).strip()
    if not text.isdigit():
        raise VendorDataError(f"'{text}' is not a ConnectWise {what} id.")
    return int(text)


def _money(value: object, where: str) -> Decimal:
    """A JSON number as Decimal. Floats are refused: decoding gives Decimals, never floats."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise VendorDataError(f"{where} should be a number, got {value!r}.")
    if isinstance(value, Decimal | int):
        return Decimal(value)
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise VendorDataError(f"{where} should be a number, got {value!r}.") from None


def _opt_money(value: object, where: str = "amount") -> Decimal | None:
    return None if value is None or value == "" else _money(value, where)


def _date(value: object) -> date | None:
    """The date of a CW date-time (`2024-01-31T00:00:00Z`), read as written: CW keeps invoice
    dates at midnight, and shifting zones would move them a day."""
    text = as_str(value).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise VendorDataError(f"'{text}' is not a date ConnectWise would send.") from None


def _info_time(record: Mapping[str, Any]) -> datetime | None:
    info = record.get("_info")
    text = as_str(info.get("lastUpdated")) if isinstance(info, dict) else ""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# `applyToType` values whose `applyToId` names something other than an invoice.
_NOT_AN_INVOICE = frozenset({"agreement", "project", "projectphase", "salesorder", "ticket"})


def _credited_invoice(credit_memo: Mapping[str, Any]) -> str:
    """The invoice a credit memo credits, when `applyToId` names one (with `applyToType`
    Agreement, Project, Ticket, … it is that record's id, not an invoice's)."""
    if as_str(credit_memo.get("applyToType")).lower() in _NOT_AN_INVOICE:
        return ""
    return as_str(credit_memo.get("applyToId"))
