"""Mappings as a finance admin would set them up, from what the PSA and the ledger list.

GL accounts match by account code, then by name; what is left goes to a revenue account picked
by what the PSA account sells (hardware and licences to the product income account, the rest
to services). Tax codes match a ledger rate of the same name, then of the same percentage; a
US QuickBooks company on automated sales tax only knows "taxable" and "non-taxable", so every
taxed PSA code goes to the first and every exempt one to the second.
"""

from collections.abc import Iterable
from decimal import Decimal

from ledgerbridge.connectors.base import (
    GLAccount,
    Ledger,
    LedgerAccount,
    LedgerTaxRate,
    PsaSource,
    TaxCode,
)
from ledgerbridge.sync.policy import Mappings, SyncPolicy

PRODUCT_WORDS = ("hardware", "product", "software", "licen", "material")
SERVICE_WORDS = ("service", "sales", "revenue", "income")
EXEMPT_WORDS = ("non-taxable", "exempt", "free", "zero", "no vat", "out of scope")
US_TAXABLE, US_NON_TAXABLE = "TAX", "NON"


def auto_mappings(
    source: PsaSource, ledger: Ledger, **policy_options: object
) -> tuple[SyncPolicy, Mappings]:
    """The policy and mappings for this pair; `policy_options` override the policy's fields."""
    accounts = [a for a in ledger.list_accounts() if a.active]
    rates = [r for r in ledger.list_tax_rates() if r.active and r.for_sales]
    services = _revenue_account(accounts, SERVICE_WORDS)
    products = _revenue_account(accounts, PRODUCT_WORDS) or services
    account_map = {
        gl.account_number: _account_for(gl, accounts, services, products)
        for gl in source.list_gl_accounts()
        if gl.active
    }
    exempt = _exempt_rate(rates)
    tax_map = {
        code.psa_id: found
        for code in source.list_tax_codes()
        if (found := _tax_rate_for(code, rates, exempt))
    }
    policy = SyncPolicy(
        locale="US",
        exempt_tax_code=exempt,
        adjustment_account_code=services,
        adjustment_tax_code=exempt,
        **policy_options,  # type: ignore[arg-type]
    )
    return policy, Mappings(accounts=account_map, tax_codes=tax_map, default_account=services)


def _revenue_account(accounts: Iterable[LedgerAccount], words: tuple[str, ...]) -> str:
    for word in words:
        for account in accounts:
            if word in account.name.casefold() and "discount" not in account.name.casefold():
                return account.code
    return ""


def _account_for(gl: GLAccount, accounts: list[LedgerAccount], services: str, products: str) -> str:
    for account in accounts:
        if account.code == gl.account_number:
            return account.code
    for account in accounts:
        if account.name.casefold() == gl.name.casefold():
            return account.code
    # Explicit fallback: what the PSA account sells decides the revenue account.
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


def _tax_rate_for(code: TaxCode, rates: list[LedgerTaxRate], exempt: str) -> str:
    taxed = code.rate is None or code.rate > 0
    if any(r.ledger_id == US_TAXABLE for r in rates):
        return US_TAXABLE if taxed else US_NON_TAXABLE
    if not taxed:
        return exempt
    for rate in rates:
        if rate.name.casefold() == code.identifier.casefold():
            return rate.ledger_id
    same = [
        r for r in rates if r.rate is not None and code.rate is not None and r.rate == code.rate
    ]
    if same:
        return same[0].ledger_id
    # Explicit fallback: the highest sales rate, so an unmatched code is never posted untaxed.
    taxed_rates = [r for r in rates if r.rate and r.rate > Decimal(0)]
    return max(taxed_rates, key=lambda r: r.rate or Decimal(0)).ledger_id if taxed_rates else ""
