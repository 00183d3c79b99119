"""Autotask records as typed values: vendor JSON is read here and nowhere else.

The service emits camelCase keys while its Swagger spells them PascalCase, and it treats names
case-insensitively on input, so every reader here looks keys up case-insensitively. Money is read
as Decimal (responses are decoded with `parse_float=Decimal`); a float reaching these functions
is a bug and is refused. Datetimes come back like `2024-01-31T05:00:00.000Z`; one without a zone
is read as UTC. Date-only fields (`paidDate`) keep just the date.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ledgerbridge.core import money


class VendorDataError(ValueError):
    """A record from Autotask lacks a field we need or holds a value we cannot read."""


def decode(content: bytes | str) -> Any:
    """A JSON response body, numbers with fractions as exact Decimals."""
    return json.loads(content, parse_float=Decimal)


class Row:
    """One vendor record, read case-insensitively (`companyID`, `CompanyID`, `companyid`)."""

    __slots__ = ("_entity", "_values")

    def __init__(self, record: Mapping[str, Any], entity: str = "record") -> None:
        if not isinstance(record, Mapping):
            raise VendorDataError(f"Autotask sent a {entity} that is not an object: {record!r}")
        self._values = {str(key).lower(): value for key, value in record.items()}
        self._entity = entity

    def raw(self, key: str) -> Any:
        return self._values.get(key.lower())

    def _where(self, key: str) -> str:
        ident = self._values.get("id")
        return f"{self._entity} {ident}" if ident is not None else self._entity

    def integer(self, key: str) -> int | None:
        value = self.raw(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise VendorDataError(f"{self._where(key)}: {key} should be a whole number, got {value!r}")

    def required_integer(self, key: str) -> int:
        value = self.integer(key)
        if value is None:
            raise VendorDataError(f"{self._where(key)} has no {key}")
        return value

    def text(self, key: str) -> str:
        value = self.raw(key)
        return "" if value is None else str(value)

    def decimal(self, key: str) -> Decimal | None:
        value = self.raw(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise VendorDataError(f"{self._where(key)}: {key} should be a number, got {value!r}")
        try:
            return money.to_decimal(value)
        except (TypeError, ValueError, ArithmeticError) as error:
            raise VendorDataError(
                f"{self._where(key)}: {key} should be a number, got {value!r}"
            ) from error

    def amount(self, key: str) -> Decimal:
        """A money or quantity field; missing means zero (Autotask omits zero totals at times)."""
        value = self.decimal(key)
        return Decimal(0) if value is None else value

    def flag(self, key: str) -> bool | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        # Contacts.isActive and BillingItems.nonBillable are 1/0 integers on the wire.
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise VendorDataError(f"{self._where(key)}: {key} should be true/false, got {value!r}")

    def timestamp(self, key: str) -> datetime | None:
        value = self.raw(key)
        if value is None or value == "":
            return None
        try:
            return parse_datetime(str(value))
        except ValueError as error:
            raise VendorDataError(
                f"{self._where(key)}: {key} is not a date and time: {value!r}"
            ) from error

    def date_only(self, key: str) -> date | None:
        """A date-only field; Autotask may still send it with a midnight time part."""
        value = self.raw(key)
        if value is None or value == "":
            return None
        text = str(value)
        try:
            return date.fromisoformat(text[:10])
        except ValueError as error:
            raise VendorDataError(f"{self._where(key)}: {key} is not a date: {value!r}") from error


def parse_datetime(text: str) -> datetime:
    """An Autotask timestamp as an aware UTC datetime."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def user_defined_fields(row: Row) -> dict[str, str]:
    """`userDefinedFields: [{"name", "value"}]` as a plain mapping (values as text)."""
    fields = row.raw("userDefinedFields") or []
    result: dict[str, str] = {}
    for field in fields:
        if isinstance(field, Mapping):
            entry = Row(field, "user-defined field")
            name = entry.text("name")
            if name:
                result[name] = entry.text("value")
    return result


@dataclass(frozen=True)
class ZoneInformation:
    """Where a tenant's data lives: `url` is the zone's REST root (…/ATServicesRest/)."""

    zone_name: str
    url: str
    web_url: str
    ci: int | None


def parse_zone_information(body: Mapping[str, Any]) -> ZoneInformation:
    row = Row(body, "zone information")
    url = row.text("url")
    if not url:
        raise VendorDataError("Autotask's zone information has no url")
    return ZoneInformation(row.text("zoneName"), url, row.text("webUrl"), row.integer("ci"))


@dataclass(frozen=True)
class PageDetails:
    count: int
    request_count: int
    next_page_url: str | None
    prev_page_url: str | None


def parse_page_details(body: Mapping[str, Any]) -> PageDetails:
    details = Row(body.get("pageDetails") or {}, "page details")
    return PageDetails(
        count=details.integer("count") or 0,
        request_count=details.integer("requestCount") or 0,
        next_page_url=details.text("nextPageUrl") or None,
        prev_page_url=details.text("prevPageUrl") or None,
    )


@dataclass(frozen=True)
class Invoice:
    """An Autotask invoice header. Only invoiceNumber, paidDate and webServiceDate are writable."""

    id: int
    invoice_number: str
    company_id: int
    invoice_date: datetime | None
    created_at: datetime | None
    due_date: date | None
    from_date: date | None
    to_date: date | None
    total: Decimal  # tax included, in the customer's currency
    total_tax: Decimal
    is_voided: bool
    paid_date: date | None
    web_service_date: datetime | None
    payment_term_id: int | None
    tax_region_name: str
    batch_id: int | None
    order_number: str
    comments: str

    @property
    def is_credit(self) -> bool:
        return self.total < 0


def parse_invoice(record: Mapping[str, Any]) -> Invoice:
    row = Row(record, "Invoice")
    return Invoice(
        id=row.required_integer("id"),
        invoice_number=row.text("invoiceNumber"),
        company_id=row.required_integer("companyID"),
        invoice_date=row.timestamp("invoiceDateTime"),
        created_at=row.timestamp("createDateTime"),
        due_date=row.date_only("dueDate"),
        from_date=row.date_only("fromDate"),
        to_date=row.date_only("toDate"),
        total=row.amount("invoiceTotal"),
        total_tax=row.amount("totalTaxValue"),
        is_voided=bool(row.flag("isVoided")),
        paid_date=row.date_only("paidDate"),
        web_service_date=row.timestamp("webServiceDate"),
        payment_term_id=row.integer("paymentTerm"),
        tax_region_name=row.text("taxRegionName"),
        batch_id=row.integer("batchID"),
        order_number=row.text("orderNumber"),
        comments=row.text("comments"),
    )


@dataclass(frozen=True)
class BillingItem:
    """One posted charge on an invoice (labour, product, expense, recurring service, …)."""

    id: int
    invoice_id: int | None
    company_id: int | None
    billing_item_type: int | None
    sub_type: int | None
    billing_code_id: int | None
    item_name: str
    description: str
    item_date: datetime | None
    quantity: Decimal
    rate: Decimal
    extended_price: Decimal  # quantity x rate, before tax
    tax_dollars: Decimal
    total_amount: Decimal  # extended price + tax
    non_billable: bool
    line_item_id: int | None
    purchase_order_number: str
    ticket_id: int | None
    project_id: int | None
    contract_id: int | None


def parse_billing_item(record: Mapping[str, Any]) -> BillingItem:
    row = Row(record, "BillingItem")
    return BillingItem(
        id=row.required_integer("id"),
        invoice_id=row.integer("invoiceID"),
        company_id=row.integer("companyID"),
        billing_item_type=row.integer("billingItemType"),
        sub_type=row.integer("subType"),
        billing_code_id=row.integer("billingCodeID"),
        item_name=row.text("itemName"),
        description=row.text("description"),
        item_date=row.timestamp("itemDate"),
        quantity=row.amount("quantity"),
        rate=row.amount("rate"),
        extended_price=row.amount("extendedPrice"),
        tax_dollars=row.amount("taxDollars"),
        total_amount=row.amount("totalAmount"),
        non_billable=bool(row.flag("nonBillable")),
        line_item_id=row.integer("lineItemID"),
        purchase_order_number=row.text("purchaseOrderNumber"),
        ticket_id=row.integer("ticketID"),
        project_id=row.integer("projectID"),
        contract_id=row.integer("contractID"),
    )


@dataclass(frozen=True)
class Company:
    id: int
    name: str
    number: str
    company_type: int | None
    is_active: bool
    is_tax_exempt: bool
    tax_id: str
    tax_region_id: int | None
    currency_id: int | None
    parent_company_id: int | None
    invoice_template_id: int | None
    phone: str
    web_address: str
    # The bill-to address when one is set, else the company's own address.
    address_lines: tuple[str, ...]
    city: str
    state: str
    postal_code: str
    country_id: int | None


def parse_company(record: Mapping[str, Any]) -> Company:
    row = Row(record, "Company")
    bill_to = [row.text("billingAddress1"), row.text("billingAddress2")]
    if any(bill_to) or row.text("billToCity"):
        lines, city, state = bill_to, row.text("billToCity"), row.text("billToState")
        postal, country = row.text("billToZipCode"), row.integer("billToCountryID")
    else:
        lines = [row.text("address1"), row.text("address2")]
        city, state = row.text("city"), row.text("state")
        postal, country = row.text("postalCode"), row.integer("countryID")
    return Company(
        id=row.required_integer("id"),
        name=row.text("companyName"),
        number=row.text("companyNumber"),
        company_type=row.integer("companyType"),
        is_active=row.flag("isActive") is not False,
        is_tax_exempt=bool(row.flag("isTaxExempt")),
        tax_id=row.text("taxID"),
        tax_region_id=row.integer("taxRegionID"),
        currency_id=row.integer("currencyID"),
        parent_company_id=row.integer("parentCompanyID"),
        invoice_template_id=row.integer("invoiceTemplateID"),
        phone=row.text("phone"),
        web_address=row.text("webAddress"),
        address_lines=tuple(line for line in lines if line),
        city=city,
        state=state,
        postal_code=postal,
        country_id=country,
    )


@dataclass(frozen=True)
class Contact:
    id: int
    company_id: int | None
    first_name: str
    last_name: str
    email: str
    phone: str
    is_active: bool
    is_primary: bool

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


def parse_contact(record: Mapping[str, Any]) -> Contact:
    row = Row(record, "Contact")
    return Contact(
        id=row.required_integer("id"),
        company_id=row.integer("companyID"),
        first_name=row.text("firstName"),
        last_name=row.text("lastName"),
        email=row.text("emailAddress"),
        phone=row.text("phone") or row.text("mobilePhone"),
        is_active=row.flag("isActive") is not False,
        is_primary=bool(row.flag("primaryContact")),
    )


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    description: str
    sku: str
    unit_price: Decimal | None
    unit_cost: Decimal | None
    is_active: bool
    billing_code_id: int | None
    external_product_id: str


def parse_product(record: Mapping[str, Any]) -> Product:
    row = Row(record, "Product")
    return Product(
        id=row.required_integer("id"),
        name=row.text("name"),
        description=row.text("description"),
        sku=row.text("sku"),
        unit_price=row.decimal("unitPrice"),
        unit_cost=row.decimal("unitCost"),
        is_active=row.flag("isActive") is not False,
        billing_code_id=row.integer("productBillingCodeID"),
        external_product_id=row.text("externalProductID"),
    )


@dataclass(frozen=True)
class BillingCode:
    """A work type / material code; GL account and tax category live here."""

    id: int
    name: str
    description: str
    external_number: str
    general_ledger_account: int | None
    tax_category_id: int | None
    is_active: bool


def parse_billing_code(record: Mapping[str, Any]) -> BillingCode:
    row = Row(record, "BillingCode")
    return BillingCode(
        id=row.required_integer("id"),
        name=row.text("name"),
        description=row.text("description"),
        external_number=row.text("externalNumber"),
        general_ledger_account=row.integer("generalLedgerAccount"),
        tax_category_id=row.integer("taxCategoryID"),
        is_active=row.flag("isActive") is not False,
    )


@dataclass(frozen=True)
class Tax:
    """One tax in a region for a category; the rate is a percentage (8.25 means 8.25 %)."""

    id: int
    tax_region_id: int | None
    tax_category_id: int | None
    name: str
    rate_percent: Decimal
    is_compounded: bool


def parse_tax(record: Mapping[str, Any]) -> Tax:
    row = Row(record, "Tax")
    return Tax(
        id=row.required_integer("id"),
        tax_region_id=row.integer("taxRegionID"),
        tax_category_id=row.integer("taxCategoryID"),
        name=row.text("taxName"),
        rate_percent=row.amount("taxRate"),
        is_compounded=bool(row.flag("isCompounded")),
    )


@dataclass(frozen=True)
class TaxCategory:
    id: int
    name: str
    description: str
    is_active: bool


def parse_tax_category(record: Mapping[str, Any]) -> TaxCategory:
    row = Row(record, "TaxCategory")
    return TaxCategory(
        id=row.required_integer("id"),
        name=row.text("name"),
        description=row.text("description"),
        is_active=row.flag("isActive") is not False,
    )


@dataclass(frozen=True)
class TaxRegion:
    id: int
    name: str
    is_active: bool


def parse_tax_region(record: Mapping[str, Any]) -> TaxRegion:
    row = Row(record, "TaxRegion")
    return TaxRegion(
        id=row.required_integer("id"),
        name=row.text("name"),
        is_active=row.flag("isActive") is not False,
    )


@dataclass(frozen=True)
class PaymentTerm:
    id: int
    name: str
    description: str
    due_in_days: int | None
    is_active: bool


def parse_payment_term(record: Mapping[str, Any]) -> PaymentTerm:
    row = Row(record, "PaymentTerm")
    return PaymentTerm(
        id=row.required_integer("id"),
        name=row.text("name"),
        description=row.text("description"),
        due_in_days=row.integer("paymentDueInDays"),
        is_active=row.flag("isActive") is not False,
    )


@dataclass(frozen=True)
class PicklistValue:
    value: str
    label: str
    is_active: bool
    is_default: bool


@dataclass(frozen=True)
class EntityField:
    """One field from `GET /{Entity}/entityInformation/fields`."""

    name: str
    data_type: str
    is_required: bool
    is_read_only: bool
    is_queryable: bool
    is_reference: bool
    reference_entity_type: str
    is_pick_list: bool
    picklist: tuple[PicklistValue, ...]

    def label_for(self, value: object) -> str | None:
        """The label of a picklist value (tenant-specific numbers, so always look them up)."""
        wanted = str(value)
        for item in self.picklist:
            if item.value == wanted:
                return item.label
        return None


def parse_entity_fields(body: Mapping[str, Any]) -> dict[str, EntityField]:
    """Fields by lower-cased name (the service treats field names case-insensitively)."""
    result: dict[str, EntityField] = {}
    for record in body.get("fields") or []:
        row = Row(record, "field")
        picklist = tuple(
            PicklistValue(
                value=entry.text("value"),
                label=entry.text("label"),
                is_active=entry.flag("isActive") is not False,
                is_default=bool(entry.flag("isDefaultValue")),
            )
            for entry in (Row(item, "picklist value") for item in row.raw("picklistValues") or [])
        )
        field = EntityField(
            name=row.text("name"),
            data_type=row.text("dataType"),
            is_required=bool(row.flag("isRequired")),
            is_read_only=bool(row.flag("isReadOnly")),
            is_queryable=row.flag("isQueryable") is not False,
            is_reference=bool(row.flag("isReference")),
            reference_entity_type=row.text("referenceEntityType"),
            is_pick_list=bool(row.flag("isPickList")),
            picklist=picklist,
        )
        result[field.name.lower()] = field
    return result


def error_messages(body: object) -> list[str]:
    """The messages of an error body: `{"errors": [...]}`, or ASP.NET's `{"Message": ...}`."""
    if isinstance(body, Mapping):
        row = Row(body, "error")
        errors = row.raw("errors")
        if isinstance(errors, list):
            return [_error_text(item) for item in errors if _error_text(item)]
        if isinstance(errors, str) and errors:
            return [errors]
        message = row.text("message")
        if message:
            return [message]
    return []


def _error_text(item: object) -> str:
    # Usually plain strings; some tenants send {"message": "..."} objects.
    if isinstance(item, Mapping):
        return Row(item, "error").text("message")
    return "" if item is None else str(item)
