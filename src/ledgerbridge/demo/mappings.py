"""Mappings as a finance admin sets them up on a new company, from what both sides list.

GL accounts: the ledger account with the PSA account's number, else with its name, else the
revenue account for what the PSA account sells (hardware and licences to product income, the
rest to services). Tax codes: the ledger rate with the PSA code's name, else with its
percentage, else the highest sales rate; exempt codes go to the ledger's exempt rate. A US
QuickBooks company on automated sales tax knows only "taxable" (TAX) and "non-taxable" (NON).

`leave_unmapped` keeps a PSA value out on purpose, so the demo shows the error and hint a
finance admin gets for a value nobody mapped yet.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from ledgerbridge.companies.actions import MappingChange
from ledgerbridge.companies.models import MappingKind
from ledgerbridge.connectors.base import GLAccount, Ledger, LedgerAccount, LedgerTaxRate, PsaSource

PRODUCT_WORDS = ("hardware", "product", "software", "licen", "material")
SERVICE_WORDS = ("service", "sales", "revenue", "income")
EXEMPT_WORDS = ("non-taxable", "exempt", "free", "zero", "no vat", "out of scope", "no gst")
US_TAXABLE, US_NON_TAXABLE = "TAX", "NON"


@dataclass
class MappingPlan:
    changes: list[MappingChange] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    left_unmapped: list[str] = field(default_factory=list)  # "GL account 4400", …


def plan_mappings(
    source: PsaSource,
    ledger: Ledger,
    *,
    leave_unmapped_account: str = "",
    leave_unmapped_tax_code: str = "",
) -> MappingPlan:
    plan = MappingPlan()
    accounts = [a for a in ledger.list_accounts() if a.active]
    rates = [r for r in ledger.list_tax_rates() if r.active and r.for_sales]
    services = _revenue_account(accounts, SERVICE_WORDS)
    products = _revenue_account(accounts, PRODUCT_WORDS) or services
    for gl in source.list_gl_accounts():
        if not gl.active:
            continue
        if gl.account_number == leave_unmapped_account:
            plan.left_unmapped.append(f"GL account {gl.account_number} ({gl.name})")
            continue
        code = _account_for(gl, accounts, services, products)
        plan.changes.append(
            MappingChange(
                kind=MappingKind.ACCOUNT,
                psa_value=gl.account_number,
                psa_label=gl.name,
                ledger_value=code,
                ledger_label=next((a.name for a in accounts if a.code == code), ""),
            )
        )
    exempt = _exempt_rate(rates)
    for tax_code in source.list_tax_codes():
        if not tax_code.active:
            continue
        if leave_unmapped_tax_code and leave_unmapped_tax_code in (
            tax_code.identifier,
            tax_code.psa_id,
        ):
            plan.left_unmapped.append(f"tax code {tax_code.identifier}")
            continue
        found = _tax_rate_for(tax_code.identifier, tax_code.rate, rates, exempt)
        if found:
            plan.changes.append(
                MappingChange(
                    kind=MappingKind.TAX_CODE,
                    psa_value=tax_code.psa_id,
                    psa_label=tax_code.identifier,
                    ledger_value=found,
                    ledger_label=next((r.name for r in rates if r.ledger_id == found), ""),
                )
            )
    plan.settings = {
        "exempt_tax_code": exempt,
        "default_account_code": services,
        "adjustment_account_code": services,
        "adjustment_tax_code": exempt,
    }
    return plan


def _revenue_account(accounts: Iterable[LedgerAccount], words: tuple[str, ...]) -> str:
    for word in words:
        for account in accounts:
            name = account.name.casefold()
            if word in name and "discount" not in name and "cost" not in name:
                return account.code
    return ""


def _account_for(gl: GLAccount, accounts: list[LedgerAccount], services: str, products: str) -> str:
    for account in accounts:
        if account.code == gl.account_number:
            return account.code
    for account in accounts:
        if account.name.casefold() == gl.name.casefold():
            return account.code
    if any(word in gl.name.casefold() for word in PRODUCT_WORDS):
        return products
    return services


def _exempt_rate(rates: list[LedgerTaxRate]) -> str:
    if any(r.ledger_id == US_NON_TAXABLE for r in rates):
        return US_NON_TAXABLE
    for rate in rates:
        if any(word in rate.name.casefold() for word in EXEMPT_WORDS) and not rate.rate:
            return rate.ledger_id
    zero = next((r for r in rates if r.rate == 0), None)
    return zero.ledger_id if zero else ""


def _tax_rate_for(
    identifier: str, percent: Decimal | None, rates: list[LedgerTaxRate], exempt: str
) -> str:
    taxed = percent is None or percent > 0
    if any(r.ledger_id == US_TAXABLE for r in rates):
        return US_TAXABLE if taxed else US_NON_TAXABLE
    if not taxed:
        return exempt
    for rate in rates:
        if rate.name.casefold() == identifier.casefold():
            return rate.ledger_id
    for rate in rates:
        if rate.rate is not None and rate.rate == percent:
            return rate.ledger_id
    # The PSA's own tax amounts are posted either way; the highest sales rate keeps an
    # unmatched code from being reported as untaxed.
    taxed_rates = [r for r in rates if r.rate and r.rate > 0]
    return max(taxed_rates, key=lambda r: r.rate or Decimal(0)).ledger_id if taxed_rates else ""
