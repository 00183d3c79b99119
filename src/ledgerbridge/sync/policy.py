"""What the engine needs to know about a company, as plain values (no database here).

`SyncPolicy` is the company's settings and `Mappings` its PSA → ledger translation tables, both
read once per run from the company's models. Keeping them as frozen values lets the mapping and
validation steps be pure functions, tested without a database or a vendor.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from ledgerbridge.connectors.base import NameClashRule, ProductIdPolicy


class ErrorClass(StrEnum):
    """Why a record did not post, as the results screen groups failures."""

    MAPPING = "mapping"  # a PSA value has no ledger counterpart yet: map it, then retry
    VALIDATION = "validation"  # the document cannot be posted as it is (dates, amounts, text)
    LEDGER_REJECTED = "ledger_rejected"  # the ledger refused it; its words are in the message
    TRANSIENT = "transient"  # a passing fault; the next run retries on its own
    UNCERTAIN = "uncertain"  # a write whose outcome is being resolved by lookup


class TaxCodeSource(StrEnum):
    PSA_CODE = "psa_code"  # map each PSA tax code to a ledger tax code
    FIXED = "fixed"  # one ledger code for taxable sales, one for exempt


class MissingTracking(StrEnum):
    HALT = "halt"  # fail the record until the value is mapped
    WARN = "warn"  # post without that tracking and say so


class ReferenceSource(StrEnum):
    PO_NUMBER = "po_number"  # "Your: <customer PO>" (the reference product's default)
    PSA_REFERENCE = "psa_reference"  # the PSA's own reference / summary field
    NONE = "none"


class DetailLevel(StrEnum):
    STANDARD = "standard"
    SUMMARY = "summary"
    DETAIL = "detail"


@dataclass(frozen=True)
class ExclusionRule:
    """Invoices whose number starts with `prefix` are acknowledged in the PSA but not posted."""

    prefix: str
    record_type: str = "invoice"
    mark_paid: bool = False  # also record a full payment in the PSA

    def matches(self, number: str) -> bool:
        return bool(self.prefix) and number.upper().startswith(self.prefix.upper())


@dataclass(frozen=True)
class SyncPolicy:
    locale: str = "AU"  # AU, NZ, UK, CA, US
    timezone: str = "UTC"
    post_as_draft: bool = False  # Xero: DRAFT rather than AUTHORISED
    mark_as_sent: bool = False  # Xero: SentToContact
    detail_level: DetailLevel = DetailLevel.DETAIL
    tax_source: TaxCodeSource = TaxCodeSource.PSA_CODE
    taxable_tax_code: str = ""  # FIXED: the ledger code for taxable lines
    exempt_tax_code: str = ""  # the ledger code for tax-exempt lines (both sources)
    tracking_enabled: bool = False
    missing_tracking: MissingTracking = MissingTracking.HALT
    reference_source: ReferenceSource = ReferenceSource.PO_NUMBER
    adjustment_item_code: str = ""
    adjustment_account_code: str = ""
    adjustment_tax_code: str = ""
    max_minor_adjustment: Decimal = Decimal("10.00")  # 0 = unlimited
    unit_decimals: int = 4  # what the ledger keeps for quantity and unit price (Xero: 4)
    product_id_policy: ProductIdPolicy = ProductIdPolicy.FAIL
    name_clash: NameClashRule = NameClashRule.FAIL
    post_zero_invoices: bool = False
    onboarding_date: date | None = None  # records dated before it are marked synced unposted
    payment_cutoff: date | None = None  # payments dated before it are not brought back
    number_override_until: date | None = None  # before it, match payments by reference
    exclusions: tuple[ExclusionRule, ...] = ()


@dataclass(frozen=True)
class TermTarget:
    """Where a PSA billing term leads: a ledger term record, or a due-date rule (Terms XRef)."""

    ledger_term_id: str = ""
    xref: str = ""


@dataclass(frozen=True)
class Mappings:
    """PSA value → ledger value, per kind. Keys are the PSA's ids or codes as text."""

    accounts: Mapping[str, str] = field(default_factory=dict)  # GL account number → code
    tax_codes: Mapping[str, str] = field(default_factory=dict)  # PSA tax code id → ledger code
    items: Mapping[str, str] = field(default_factory=dict)  # PSA product id → ledger item code
    # (PSA dimension, value) → (ledger category, option); dimensions: "location", "department",
    # or a name from the line's own tracking.
    tracking: Mapping[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    terms: Mapping[str, TermTarget] = field(default_factory=dict)  # PSA term id → target
    default_account: str = ""  # the revenue account for lines the PSA gives no account
    # (kind, PSA value) → the name the admin knows it by ("NY-NYC" for tax code id 3), for
    # messages; kinds as in `companies.models.MappingKind`.
    labels: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def name_of(self, kind: str, psa_value: str) -> str:
        label = self.labels.get((kind, psa_value), "")
        return f"{label} (id {psa_value})" if label and label != psa_value else psa_value
