"""Autotask as a `PsaSource`: invoices out as canonical documents, posted and paid marks back.

- **Postable invoices** are those with no `webServiceDate` (the field Autotask keeps for
  integrations to flag what they processed), not voided, dated within a look-back window up to
  a thru-date. Invoices have no modified-date field, so the window is on `invoiceDateTime`.
- **An invoice** is its header, its BillingItems (the lines), its company (the customer, with
  the primary contact's e-mail) and, per line, its billing code (GL account, tax category).
  The tax code of a line is the (company tax region, billing code tax category) pair Autotask
  itself uses to pick its Taxes rows.
- **Credit notes** are invoices with a negative total. The canonical document carries them as
  `kind=credit_note` with positive amounts (lines flipped too), as ledgers book credit notes.
- **Acknowledge** PATCHes `webServiceDate` on each invoice. Autotask has no batch entity;
  setting the same field again is harmless, so the write is idempotent and safely retried.
- **Payments**: Autotask has no payment entity, only the invoice's `paidDate` (a date, no
  amount). A payment that settles the invoice sets `paidDate`; a partial payment is not written
  back and raises `PartialPaymentNotRecordedError`, which the engine shows as a finding.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlsplit

from ledgerbridge.connectors.autotask import entities
from ledgerbridge.connectors.autotask import filters as f
from ledgerbridge.connectors.autotask.client import (
    AutotaskClient,
    entity_label,
    permission_hint,
)
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
)
from ledgerbridge.core import clock

DEFAULT_LOOK_BACK: Final = timedelta(days=90)

# What LedgerBridge reads, in the order a connection test tries them.
REQUIRED_ENTITIES: Final = (
    "Invoices",
    "BillingItems",
    "Companies",
    "Contacts",
    "BillingCodes",
    "Products",
    "Taxes",
    "TaxCategories",
    "TaxRegions",
    "PaymentTerms",
)

_LIST_FIELDS: Final = ("id", "invoiceNumber", "invoiceTotal", "batchID", "createDateTime")
_IN_CHUNK: Final = 500  # ids per `in` condition, the service's cap on a page and on ORs


class PartialPaymentNotRecordedError(ConnectorError):
    """Autotask can only say an invoice is paid in full; this payment was not written back."""

    def __init__(self, invoice_number: str, amount: Decimal, total: Decimal) -> None:
        super().__init__(
            ErrorKind.VALIDATION,
            f"Autotask records only that an invoice is paid in full, so the partial payment "
            f"of {amount} on invoice {invoice_number} (total {total}) was not written back.",
            hint="Autotask marks the invoice paid once the ledger shows it fully paid; "
            "nothing needs doing.",
        )
        self.invoice_number = invoice_number
        self.amount = amount
        self.total = total


class AutotaskSource:
    """One Autotask connection as the sync engine reads it."""

    label = "Autotask"
    tracks_payment_amounts = False  # only the invoice's paidDate

    def __init__(
        self,
        client: AutotaskClient,
        *,
        currency: str = "USD",
        currencies: Mapping[int, str] | None = None,
        look_back: timedelta = DEFAULT_LOOK_BACK,
        tenant_timezone: tzinfo = UTC,
    ) -> None:
        """`currency` is the tenant's internal currency; `currencies` maps Autotask currency ids
        to ISO codes for multi-currency tenants. `tenant_timezone` turns Autotask's invoice
        datetimes (local midnight, stored in UTC) back into the invoice date people see."""
        self.client = client
        self.currency = currency
        self.currencies = dict(currencies or {})
        self.look_back = look_back
        self.tenant_timezone = tenant_timezone
        # Many invoices share a customer and billing codes: read each once per source.
        self._customers: dict[int, Customer] = {}
        self._billing_codes: dict[int, entities.BillingCode | None] = {}
        # A company's tax region for its lines' tax codes; None when it is tax exempt.
        self._company_regions: dict[int, int | None] = {}

    # -- invoices --------------------------------------------------------------------------

    def list_postable_invoices(
        self, *, since: datetime | None = None, thru: datetime | None = None
    ) -> Iterator[InvoiceRef]:
        rows = self.client.query(
            "Invoices", self._postable(since, thru), include_fields=_LIST_FIELDS
        )
        for record in rows:
            row = entities.Row(record, "Invoice")
            total = row.amount("invoiceTotal")
            batch = row.integer("batchID")
            ids = SourceIds(invoice_batch_id=str(batch)) if batch is not None else SourceIds()
            yield InvoiceRef(
                psa_id=str(row.required_integer("id")),
                number=row.text("invoiceNumber"),
                kind=InvoiceKind.CREDIT_NOTE if total < 0 else InvoiceKind.INVOICE,
                updated_at=row.timestamp("createDateTime"),
                source_ids=ids,
            )

    def count_postable_invoices(
        self, *, since: datetime | None = None, thru: datetime | None = None
    ) -> int:
        """How many `list_postable_invoices` would list now, in one call (`query/count`)."""
        return self.client.count("Invoices", self._postable(since, thru))

    def _postable(self, since: datetime | None, thru: datetime | None) -> list[f.Filter]:
        """Invoices not yet marked (no `webServiceDate`), not voided, dated in the window."""
        thru = thru or clock.now()
        since = since or thru - self.look_back
        return [
            f.not_exist("webServiceDate"),
            f.eq("isVoided", False),
            f.gte("invoiceDateTime", since),
            f.lte("invoiceDateTime", thru),
        ]

    def get_invoice(self, ref: InvoiceRef) -> Invoice:
        header = self._invoice_header(ref)
        if header.is_voided:
            raise ConnectorError(
                ErrorKind.VALIDATION,
                f"Autotask invoice {header.invoice_number} was voided after it was listed.",
                hint="A voided invoice is not posted. Nothing needs doing.",
            )
        customer = self._customer(header.company_id)
        company_region = self._company_tax_region(header.company_id)
        items = [
            entities.parse_billing_item(record)
            for record in self.client.query("BillingItems", [f.eq("invoiceID", header.id)])
        ]
        credit = header.is_credit
        sign = Decimal(-1) if credit else Decimal(1)
        lines = tuple(self._line(item, company_region, sign) for item in items)
        issued = header.invoice_date or header.created_at
        if issued is None:
            raise ConnectorError(
                ErrorKind.VALIDATION,
                f"Autotask invoice {header.invoice_number} has no invoice date.",
                hint="Check the invoice in Autotask (Contracts → Invoices).",
            )
        ids = SourceIds()
        if header.batch_id is not None:
            ids["invoice_batch_id"] = str(header.batch_id)
        return Invoice(
            psa_id=str(header.id),
            number=header.invoice_number,
            kind=InvoiceKind.CREDIT_NOTE if credit else InvoiceKind.INVOICE,
            customer=customer,
            issued_on=issued.astimezone(self.tenant_timezone).date(),
            due_on=header.due_date,
            currency=customer.currency or self.currency,
            lines=lines,
            subtotal=sign * (header.total - header.total_tax),
            tax_total=sign * header.total_tax,
            total=sign * header.total,
            reference=header.order_number,
            po_number=header.order_number,
            description=header.comments,
            payment_term_psa_id=_id(header.payment_term_id),
            updated_at=header.created_at,
            source_ids=ids,
        )

    def _invoice_header(self, ref: InvoiceRef) -> entities.Invoice:
        record = self.client.get("Invoices", _int_id(ref.psa_id))
        if record is None:
            raise ConnectorError(
                ErrorKind.NOT_FOUND,
                f"Autotask invoice {ref.number or ref.psa_id} no longer exists.",
                hint="It may have been deleted or re-processed in Autotask.",
            )
        return entities.parse_invoice(record)

    def _line(self, item: entities.BillingItem, region: int | None, sign: Decimal) -> InvoiceLine:
        code = self._billing_code(item.billing_code_id)
        quantity, unit_price = item.quantity, item.rate
        line_amount, tax = item.extended_price, item.tax_dollars
        if item.non_billable:
            # "No charge" items show on the invoice but are not billed [U: amounts may be set].
            unit_price = line_amount = tax = Decimal(0)
        if sign < 0:
            # Flip the negative side so quantity x price still gives the (now positive) amount.
            if quantity < 0:
                quantity = -quantity
            else:
                unit_price = -unit_price
            line_amount, tax = -line_amount, -tax
        tax_code = ""
        if region is not None and code is not None and code.tax_category_id is not None:
            tax_code = _tax_code_id(region, code.tax_category_id)
        description = " - ".join(
            dict.fromkeys(part for part in (item.item_name, item.description) if part)
        )
        tracking: dict[str, str] = {}
        item_type = self._label("BillingItems", "billingItemType", item.billing_item_type)
        if item_type:
            tracking["Billing item type"] = item_type
        return InvoiceLine(
            psa_line_id=str(item.id),
            description=description,
            quantity=quantity,
            unit_price=unit_price,
            line_amount=line_amount,
            product_psa_id="",  # billing items name a billing code, not a product
            product_identifier=code.name if code is not None else item.item_name,
            tax_code_psa_id=tax_code,
            tax_amount=tax,
            taxable=tax != 0,
            gl_account=self._gl_account(code),
            tracking=tracking,
        )

    def _billing_code(self, code_id: int | None) -> entities.BillingCode | None:
        if code_id is None:
            return None
        if code_id not in self._billing_codes:
            record = self.client.get("BillingCodes", code_id)
            self._billing_codes[code_id] = (
                entities.parse_billing_code(record) if record is not None else None
            )
        return self._billing_codes[code_id]

    def _gl_account(self, code: entities.BillingCode | None) -> str:
        if code is None or code.general_ledger_account is None:
            return ""
        label = self._label("BillingCodes", "generalLedgerAccount", code.general_ledger_account)
        return _account_number(label) if label else str(code.general_ledger_account)

    def _label(self, entity: str, field: str, value: int | None) -> str:
        if value is None:
            return ""
        described = self.client.entity_fields(entity).get(field.lower())
        return (described.label_for(value) if described else None) or ""

    # -- customers and the mapping lists ---------------------------------------------------

    def _customer(self, company_id: int) -> Customer:
        if company_id not in self._customers:
            record = self.client.get("Companies", company_id)
            if record is None:
                raise ConnectorError(
                    ErrorKind.NOT_FOUND,
                    f"The Autotask company {company_id} billed on this invoice no longer exists.",
                    hint="Check the company in Autotask (CRM → Companies).",
                )
            company = entities.parse_company(record)
            region = None if company.is_tax_exempt else company.tax_region_id
            self._company_regions[company_id] = region
            self._customers[company_id] = self._as_customer(company, self._billing_email(company))
        return self._customers[company_id]

    def _company_tax_region(self, company_id: int) -> int | None:
        self._customer(company_id)
        return self._company_regions.get(company_id)

    def _billing_email(self, company: entities.Company) -> str:
        contacts = self.client.query(
            "Contacts",
            [f.eq("companyID", company.id), f.eq("primaryContact", True), f.eq("isActive", 1)],
            include_fields=("id", "emailAddress"),
            page_size=1,
        )
        first = next(contacts, None)
        return entities.Row(first).text("emailAddress") if first is not None else ""

    def _as_customer(self, company: entities.Company, email: str = "") -> Customer:
        lines = company.address_lines
        return Customer(
            psa_id=str(company.id),
            name=company.name,
            identifier=company.number,
            account_number=company.number,
            address=Address(
                line1=lines[0] if lines else "",
                line2=", ".join(lines[1:]),
                city=company.city,
                region=company.state,
                postal_code=company.postal_code,
            ),
            tax_id=company.tax_id,
            email=email,
            phone=company.phone,
            currency=self.currencies.get(company.currency_id or -1, ""),
            active=company.is_active,
        )

    def list_customers(self) -> Iterator[Customer]:
        for record in self.client.query("Companies", [f.every_row()]):
            yield self._as_customer(entities.parse_company(record))

    def list_contacts(self) -> Iterator[Contact]:
        for record in self.client.query("Contacts", [f.every_row()]):
            contact = entities.parse_contact(record)
            yield Contact(
                psa_id=str(contact.id),
                customer_psa_id=_id(contact.company_id),
                first_name=contact.first_name,
                last_name=contact.last_name,
                email=contact.email,
                phone=contact.phone,
                is_billing_contact=contact.is_primary,
                active=contact.is_active,
            )

    def list_products(self) -> Iterator[Product]:
        for record in self.client.query("Products", [f.every_row()]):
            product = entities.parse_product(record)
            category_id = entities.Row(record).integer("productCategory")
            category = self._label("Products", "productCategory", category_id)
            yield Product(
                psa_id=str(product.id),
                identifier=product.sku or product.name,
                description=product.description or product.name,
                unit_price=product.unit_price,
                unit_cost=product.unit_cost,
                kind=category,
                active=product.is_active,
            )

    def list_tax_codes(self) -> Iterator[TaxCode]:
        """One code per (tax region, tax category) that has taxes: Autotask's own pairing."""
        regions = {r.id: r for r in self._all("TaxRegions", entities.parse_tax_region)}
        categories = {c.id: c for c in self._all("TaxCategories", entities.parse_tax_category)}
        pairs: dict[tuple[int, int], list[entities.Tax]] = {}
        for tax in self._all("Taxes", entities.parse_tax):
            if tax.tax_region_id is not None and tax.tax_category_id is not None:
                pairs.setdefault((tax.tax_region_id, tax.tax_category_id), []).append(tax)
        for (region_id, category_id), taxes in sorted(pairs.items()):
            region, category = regions.get(region_id), categories.get(category_id)
            region_name = region.name if region else f"Region {region_id}"
            category_name = category.name if category else f"Category {category_id}"
            yield TaxCode(
                psa_id=_tax_code_id(region_id, category_id),
                identifier=f"{region_name} / {category_name}",
                description=" + ".join(f"{t.name} {t.rate_percent}%" for t in taxes),
                # Compounded taxes make the effective rate slightly higher than the sum.
                rate=sum((t.rate_percent for t in taxes), Decimal(0)),
                active=(region.is_active if region else True)
                and (category.is_active if category else True),
            )

    def list_payment_terms(self) -> Iterator[PaymentTerm]:
        for term in self._all("PaymentTerms", entities.parse_payment_term):
            yield PaymentTerm(
                psa_id=str(term.id),
                name=term.name,
                due_days=term.due_in_days,
                active=term.is_active,
            )

    def list_gl_accounts(self) -> Iterator[GLAccount]:
        """The GL accounts billing codes point at: a picklist, numbered per tenant."""
        described = self.client.entity_fields("BillingCodes").get("generalledgeraccount")
        for value in described.picklist if described else ():
            number = _account_number(value.label)
            yield GLAccount(
                psa_id=value.value,
                account_number=number,
                name=value.label[len(number) :].strip(" -") or value.label,
                active=value.is_active,
            )

    def _all[T](self, entity: str, parse: Callable[[Mapping[str, Any]], T]) -> Iterator[T]:
        for record in self.client.query(entity, [f.every_row()]):
            yield parse(record)

    # -- writes back -----------------------------------------------------------------------

    def acknowledge(self, refs: Sequence[InvoiceRef], batch_identifier: str) -> AckResult:
        """Set `webServiceDate` on each invoice not yet marked. Autotask keeps no batch, so
        `batch_identifier` is only reported back; a second run finds the marks and skips."""
        wanted = {_int_id(ref.psa_id): ref for ref in refs}
        current = self._web_service_dates(wanted)
        stamp = f.encode_value(clock.now())
        acknowledged: list[str] = []
        skipped: list[str] = []
        wrote = False
        for invoice_id, ref in wanted.items():
            if invoice_id not in current:
                skipped.append(ref.psa_id)  # deleted in Autotask: nothing to mark
                continue
            if current[invoice_id] is not None:
                # Marked already: by our own earlier, interrupted attempt, as the list of
                # postable invoices had it unmarked.
                acknowledged.append(ref.psa_id)
                continue
            try:
                # Idempotent: PATCHing the same field again changes nothing that matters, so
                # the transport may retry it after a timeout instead of calling it uncertain.
                self.client.update(
                    "Invoices", invoice_id, {"webServiceDate": stamp}, idempotent=True
                )
            except ConnectorError as error:
                if error.kind == ErrorKind.NOT_FOUND:
                    skipped.append(ref.psa_id)
                    continue
                raise
            wrote = True
            acknowledged.append(ref.psa_id)
        return AckResult(
            batch_identifier=batch_identifier,
            # Autotask keeps no batch to find again: marks already there mean nothing to do.
            outcome="created" if wrote else "nothing_to_do",
            acknowledged=tuple(acknowledged),
            skipped=tuple(skipped),
        )

    def _web_service_dates(self, ids: Iterable[int]) -> dict[int, datetime | None]:
        """Each existing invoice's current `webServiceDate`, a page of ids per query."""
        found: dict[int, datetime | None] = {}
        chunk: list[int] = []
        pending = list(ids)
        for start in range(0, len(pending), _IN_CHUNK):
            chunk = pending[start : start + _IN_CHUNK]
            for record in self.client.query(
                "Invoices", [f.in_("id", chunk)], include_fields=("id", "webServiceDate")
            ):
                row = entities.Row(record, "Invoice")
                found[row.required_integer("id")] = row.timestamp("webServiceDate")
        return found

    def record_payment(
        self,
        invoice: InvoiceRef,
        payment: Payment,
        idempotency_key: str,
        *,
        paid_in_full: bool | None = None,
        recorded_ids: Sequence[str] = (),
    ) -> PaymentResult:
        """Set `paidDate` when the invoice is settled. Autotask stores no payment amounts.

        `paid_in_full` is the ledger's word that the invoice has nothing left to pay (after
        several instalments, say); without it, a payment covering the total settles it. A
        `paidDate` already set is left alone, as Datto's own ledger integrations do, so a
        retry with the same key — or a second payment — never changes it.
        """
        header = self._invoice_header(invoice)
        if header.paid_date is not None:
            return PaymentResult(outcome="already_existed", balance=Decimal(0))
        settled = paid_in_full if paid_in_full is not None else payment.amount >= abs(header.total)
        if not settled:
            raise PartialPaymentNotRecordedError(
                header.invoice_number or str(header.id), payment.amount, abs(header.total)
            )
        # Idempotent: setting the same paid date again is harmless (see acknowledge).
        self.client.update(
            "Invoices", header.id, {"paidDate": payment.paid_on.isoformat()}, idempotent=True
        )
        return PaymentResult(outcome="created", balance=Decimal(0))

    # -- connection test -------------------------------------------------------------------

    def test_connectivity(self) -> ConnectivityReport:
        """Zone, credentials, then read access to every entity LedgerBridge needs."""
        findings: list[ConnectivityFinding] = []
        details: dict[str, str] = {}
        credentials = self.client.credentials
        missing = [
            name
            for name, value in (
                ("API user name", credentials.username),
                ("secret", credentials.secret),
                ("API integration code", credentials.integration_code),
            )
            if not value.strip()
        ]
        if missing:
            return ConnectivityReport(
                ok=False,
                findings=(
                    ConnectivityFinding(
                        kind=ErrorKind.AUTH,
                        message=f"No Autotask {' or '.join(missing)} is saved.",
                        hint="Enter the API-only user's user name and secret and the "
                        "integration's tracking identifier under Company → Connections.",
                    ),
                ),
            )
        try:
            zone = self.client.zone()
        except ConnectorError as error:
            return ConnectivityReport(ok=False, findings=(self._zone_finding(error),))
        details.update(zone=zone.zone_name, api_url=zone.url)
        if zone.web_url:
            details["web_url"] = zone.web_url
        try:
            threshold = entities.Row(self.client.threshold_information())
        except ConnectorError as error:
            return ConnectivityReport(
                ok=False,
                findings=(
                    ConnectivityFinding(kind=error.kind, message=error.message, hint=error.hint),
                ),
                details=details,
            )
        used, limit = (
            threshold.integer("currentTimeframeRequestCount"),
            threshold.integer("externalRequestThreshold"),
        )
        if used is not None and limit:
            details["requests_this_hour"] = f"{used} of {limit}"
            if used >= limit * 3 // 4:
                findings.append(
                    ConnectivityFinding(
                        kind="warning",
                        message=f"This Autotask database has used {used} of its {limit} API "
                        "requests this hour; Autotask slows calls down past 50 % and refuses "
                        "them at 100 %.",
                        hint="Another integration may be using most of the hourly allowance.",
                    )
                )
        for entity in REQUIRED_ENTITIES:
            finding = self._probe(entity)
            if finding is not None:
                findings.append(finding)
                if finding.kind == ErrorKind.AUTH:
                    break
        if not any(finding.kind == ErrorKind.PERMISSION for finding in findings):
            finding = self._probe_invoice_updates()
            if finding is not None:
                findings.append(finding)
        ok = not any(finding.kind not in ("ok", "warning") for finding in findings)
        if ok:
            findings.insert(
                0,
                ConnectivityFinding(
                    kind="ok",
                    message=f"Connected to Autotask ({zone.zone_name}) as {credentials.username}.",
                ),
            )
        return ConnectivityReport(ok=ok, findings=tuple(findings), details=details)

    def _zone_finding(self, error: ConnectorError) -> ConnectivityFinding:
        user = self.client.credentials.username
        if error.kind == ErrorKind.AUTH:
            return ConnectivityFinding(kind=error.kind, message=error.message, hint=error.hint)
        if error.kind == ErrorKind.TRANSIENT and error.status is None:
            host = _host(self.client.zone_lookup_url)
            return ConnectivityFinding(
                kind=ErrorKind.TRANSIENT,
                message=f"LedgerBridge could not reach Autotask's zone lookup at {host} to "
                f"find the zone of '{user}'.",
                hint="Check the server's internet access (outbound HTTPS to *.autotask.net) "
                "and any firewall or proxy; if it is right, Autotask may be down.",
            )
        return ConnectivityFinding(
            kind=error.kind,
            message=f"Autotask's zone lookup for '{user}' failed: {error.message}",
            hint=error.hint,
        )

    def _probe(self, entity: str) -> ConnectivityFinding | None:
        try:
            next(
                self.client.query(entity, [f.every_row()], include_fields=("id",), page_size=1),
                None,
            )
        except ConnectorError as error:
            if error.kind == ErrorKind.PERMISSION:
                return ConnectivityFinding(
                    kind=ErrorKind.PERMISSION,
                    message=f"The API user cannot read {entity_label(entity)} in Autotask.",
                    hint=permission_hint(entity),
                )
            return ConnectivityFinding(kind=error.kind, message=error.message, hint=error.hint)
        return None

    def _probe_invoice_updates(self) -> ConnectivityFinding | None:
        """Marking invoices posted and paid needs edit rights on Invoices."""
        try:
            info = entities.Row(self.client.entity_information("Invoices"), "entity information")
        except ConnectorError as error:
            return ConnectivityFinding(kind=error.kind, message=error.message, hint=error.hint)
        access = info.text("userAccessForUpdate")
        if info.flag("canUpdate") is False or access.lower() == "none":
            return ConnectivityFinding(
                kind=ErrorKind.PERMISSION,
                message="The API user may read Invoices but not edit them, so LedgerBridge "
                "cannot mark invoices as posted (webServiceDate) or paid (paidDate).",
                hint="Give the API user's security level edit rights on Contracts → Invoices.",
            )
        return None


def _id(value: int | None) -> str:
    return "" if value is None else str(value)


def _int_id(psa_id: str) -> int:
    try:
        return int(psa_id)
    except ValueError as error:
        raise ConnectorError(
            ErrorKind.NOT_FOUND,
            f"'{psa_id}' is not an Autotask invoice id.",
            hint="Autotask ids are whole numbers; this record did not come from Autotask.",
        ) from error


def _tax_code_id(region_id: int, category_id: int) -> str:
    return f"{region_id}:{category_id}"


def _account_number(label: str) -> str:
    """A GL picklist label's account number ("4020 Project Revenue" → "4020")."""
    first = label.strip().split(" ", 1)[0] if label.strip() else ""
    return first if any(ch.isdigit() for ch in first) else label.strip()


def _host(url: str) -> str:
    return urlsplit(url).netloc or url
