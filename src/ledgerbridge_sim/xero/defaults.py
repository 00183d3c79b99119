"""What a new Xero organisation holds before anyone writes to it, made on first use.

Each listed tenant gets an `Organisation` record, a small chart of accounts (demo-company codes:
090 bank, 200 sales, 610 receivables, 800 payables, …), the tax rates of its country (AU GST 10 %,
NZ GST 15 %, UK VAT 20 %/5 %, US sales tax as a custom `TAX001`), two tracking categories and a
few items and contacts an MSP would have.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from ledgerbridge_sim.organisations import Organisation
from ledgerbridge_sim.xero.store import Book, system

ACCOUNT_CLASS: Final = {
    "BANK": "ASSET",
    "CURRENT": "ASSET",
    "FIXED": "ASSET",
    "INVENTORY": "ASSET",
    "NONCURRENT": "ASSET",
    "PREPAYMENT": "ASSET",
    "CURRLIAB": "LIABILITY",
    "LIABILITY": "LIABILITY",
    "TERMLIAB": "LIABILITY",
    "PAYG": "LIABILITY",
    "EQUITY": "EQUITY",
    "DEPRECIATN": "EXPENSE",
    "DIRECTCOSTS": "EXPENSE",
    "EXPENSE": "EXPENSE",
    "OVERHEADS": "EXPENSE",
    "OTHERINCOME": "REVENUE",
    "REVENUE": "REVENUE",
    "SALES": "REVENUE",
}


@dataclass(frozen=True)
class CountryTax:
    version: str  # Organisation.Version
    sales: str  # the usual tax type on sales lines
    purchases: str
    exempt: str  # for balance-sheet accounts
    tax_account_name: str
    timezone: str
    year_end: tuple[int, int]  # (day, month)
    rates: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...]
    # (TaxType, Name, ReportTaxType, ((component name, rate), ...))


COUNTRIES: Final = {
    "AU": CountryTax(
        "AU",
        "OUTPUT",
        "INPUT",
        "BASEXCLUDED",
        "GST",
        "AUSEASTERNSTANDARDTIME",
        (30, 6),
        (
            ("OUTPUT", "GST on Income", "OUTPUT", (("GST", "10.0000"),)),
            ("INPUT", "GST on Expenses", "INPUT", (("GST", "10.0000"),)),
            ("EXEMPTOUTPUT", "GST Free Income", "EXEMPTOUTPUT", (("GST", "0.0000"),)),
            ("EXEMPTEXPENSES", "GST Free Expenses", "EXEMPTEXPENSES", (("GST", "0.0000"),)),
            ("BASEXCLUDED", "BAS Excluded", "BASEXCLUDED", (("GST", "0.0000"),)),
        ),
    ),
    "NZ": CountryTax(
        "NZ",
        "OUTPUT2",
        "INPUT2",
        "NONE",
        "GST",
        "NEWZEALANDSTANDARDTIME",
        (31, 3),
        (
            ("OUTPUT2", "15% GST on Income", "OUTPUT", (("GST", "15.0000"),)),
            ("INPUT2", "15% GST on Expenses", "INPUT", (("GST", "15.0000"),)),
            ("ZERORATED", "Zero Rated", "ZERORATEDOUTPUT", (("GST", "0.0000"),)),
            ("NONE", "No GST", "NONE", (("GST", "0.0000"),)),
        ),
    ),
    "GB": CountryTax(
        "UK",
        "OUTPUT2",
        "INPUT2",
        "NONE",
        "VAT",
        "GMTSTANDARDTIME",
        (31, 3),
        (
            ("OUTPUT2", "20% (VAT on Income)", "OUTPUT", (("VAT", "20.0000"),)),
            ("INPUT2", "20% (VAT on Expenses)", "INPUT", (("VAT", "20.0000"),)),
            ("RROUTPUT", "5% (VAT on Income)", "OUTPUT", (("VAT", "5.0000"),)),
            ("ZERORATEDOUTPUT", "Zero Rated Income", "ZERORATEDOUTPUT", (("VAT", "0.0000"),)),
            ("NONE", "No VAT", "NONE", (("VAT", "0.0000"),)),
        ),
    ),
    "US": CountryTax(
        "US",
        "TAX001",
        "INPUT",
        "NONE",
        "Sales Tax",
        "EASTERNSTANDARDTIME",
        (31, 12),
        (
            (
                "TAX001",
                "Sales Tax (NY)",
                "USSALESTAX",
                (("State", "4.0000"), ("City", "4.8750")),
            ),
            ("OUTPUT", "Tax on Sales", "OUTPUT", (("Sales Tax", "0.0000"),)),
            ("INPUT", "Tax on Purchases", "INPUT", (("Sales Tax", "0.0000"),)),
            ("NONE", "Tax Exempt", "NONE", (("Sales Tax", "0.0000"),)),
        ),
    ),
}

# (Code, Name, Type, extra fields)
CHART: Final[tuple[tuple[str, str, str, dict[str, Any]], ...]] = (
    ("090", "Business Bank Account", "BANK", {"BankAccountNumber": "0620001234567"}),
    ("091", "Business Savings Account", "BANK", {"BankAccountNumber": "0620007654321"}),
    ("200", "Sales", "REVENUE", {}),
    ("260", "Other Revenue", "REVENUE", {}),
    ("270", "Interest Income", "REVENUE", {}),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", {}),
    ("400", "Advertising", "OVERHEADS", {}),
    ("404", "Bank Fees", "OVERHEADS", {}),
    ("429", "General Expenses", "OVERHEADS", {}),
    ("453", "Office Expenses", "OVERHEADS", {}),
    ("610", "Accounts Receivable", "CURRENT", {"SystemAccount": "DEBTORS"}),
    ("620", "Prepayments", "PREPAYMENT", {}),
    ("630", "Inventory", "INVENTORY", {}),
    ("710", "Office Equipment", "FIXED", {}),
    ("800", "Accounts Payable", "CURRLIAB", {"SystemAccount": "CREDITORS"}),
    ("820", "{tax}", "CURRLIAB", {"SystemAccount": "GST"}),
    ("840", "Historical Adjustment", "CURRLIAB", {"SystemAccount": "HISTORICAL"}),
    ("855", "Payment Clearing", "CURRENT", {"EnablePaymentsToAccount": True}),
    ("860", "Rounding", "CURRLIAB", {"SystemAccount": "ROUNDING"}),
    ("877", "Tracking Transfers", "CURRENT", {"SystemAccount": "TRACKINGTRANSFERS"}),
    ("960", "Retained Earnings", "EQUITY", {"SystemAccount": "RETAINEDEARNINGS"}),
    ("970", "Owner A Funds Introduced", "EQUITY", {}),
)

TRACKING: Final = (
    ("Region", ("North", "South", "East", "West")),
    ("Service Line", ("Managed Services", "Projects", "Hardware")),
)

# (Code, Name, sale price, sales account, purchase price or None)
ITEMS: Final = (
    ("MS-SEAT", "Managed services seat", "55.00", "200", None),
    ("BACKUP-TB", "Cloud backup per TB", "120.00", "200", None),
    ("LABOUR-HR", "Engineer labour (hour)", "165.00", "200", None),
    ("HW-SWITCH-24", "24-port managed switch", "420.00", "200", "310.00"),
)

CONTACTS: Final = (
    ("Northwind Traders", "accounts@northwind.example", True, False),
    ("Contoso Dental Group", "billing@contoso-dental.example", True, False),
    ("Metro Hardware Supplies", "ar@metro-hardware.example", False, True),
)


def country(organisation: Organisation) -> CountryTax:
    return COUNTRIES.get(organisation.country, COUNTRIES["US"])


def ensure(book: Book) -> None:
    """Create the organisation's starting records once (callers hold `sim.lock`)."""
    ready: set[str] = system(book.sim).extra.setdefault("ready_tenants", set())
    if book.tenant_id in ready:
        return
    ready.add(book.tenant_id)
    org = book.organisation
    tax = country(org)
    _organisation(book, tax)
    _tax_rates(book, tax)
    _accounts(book, tax)
    for name, options in TRACKING:
        book.put(
            "TrackingCategories",
            {
                "TrackingCategoryID": book.new_guid(),
                "Name": name,
                "Status": "ACTIVE",
                "Options": [
                    {"TrackingOptionID": book.new_guid(), "Name": option, "Status": "ACTIVE"}
                    for option in options
                ],
            },
        )
    for code, name, price, account, cost in ITEMS:
        book.put("Items", item_record(book, code, name, price, account, cost, tax))
    for name, email, customer, supplier in CONTACTS:
        book.put("Contacts", contact_record(book, name, email, customer, supplier))


def item_record(
    book: Book,
    code: str,
    name: str,
    price: str,
    account: str,
    cost: str | None,
    tax: CountryTax,
) -> dict[str, Any]:
    purchase = (
        {"UnitPrice": Decimal(cost), "AccountCode": "310", "TaxType": tax.purchases} if cost else {}
    )
    return {
        "ItemID": book.new_guid(),
        "Code": code,
        "Name": name,
        "Description": name,
        "PurchaseDescription": name if cost else None,
        "IsSold": True,
        "IsPurchased": cost is not None,
        "IsTrackedAsInventory": False,
        "SalesDetails": {"UnitPrice": Decimal(price), "AccountCode": account, "TaxType": tax.sales},
        "PurchaseDetails": purchase,
    }


def contact_record(
    book: Book, name: str, email: str, customer: bool, supplier: bool
) -> dict[str, Any]:
    return {
        "ContactID": book.new_guid(),
        "ContactStatus": "ACTIVE",
        "Name": name,
        "EmailAddress": email,
        "Addresses": [],
        "Phones": [],
        "ContactGroups": [],
        "ContactPersons": [],
        "IsSupplier": supplier,
        "IsCustomer": customer,
        "DefaultCurrency": book.organisation.currency,
        "HasAttachments": False,
        "HasValidationErrors": False,
    }


def _organisation(book: Book, tax: CountryTax) -> None:
    org = book.organisation
    day, month = tax.year_end
    book.put(
        "Organisations",
        {
            "OrganisationID": org.id,
            "Name": org.name,
            "LegalName": f"{org.name} Ltd",
            "PaysTax": True,
            "Version": tax.version,
            "OrganisationType": "COMPANY",
            "BaseCurrency": org.currency,
            "CountryCode": org.country,
            "IsDemoCompany": False,
            "OrganisationStatus": "ACTIVE",
            "FinancialYearEndDay": day,
            "FinancialYearEndMonth": month,
            "SalesTaxBasis": "ACCRUALS" if org.country == "AU" else "INVOICE",
            "SalesTaxPeriod": "QUARTERLY1",
            "DefaultSalesTax": "Tax Exclusive",
            "DefaultPurchasesTax": "Tax Exclusive",
            "CreatedDateUTC": book.now(),
            "Timezone": tax.timezone,
            "OrganisationEntityType": "COMPANY",
            "ShortCode": "!" + org.id[-5:],
            "Class": "PREMIUM",
            "Edition": "BUSINESS",
            "LineOfBusiness": "IT managed services",
            "Addresses": [],
            "Phones": [],
            "ExternalLinks": [],
            "PaymentTerms": {"Sales": {"Day": 30, "Type": "DAYSAFTERBILLDATE"}},
        },
        touch=False,
    )


def _tax_rates(book: Book, tax: CountryTax) -> None:
    for tax_type, name, report, components in tax.rates:
        book.put("TaxRates", tax_rate_record(tax_type, name, report, components))


def tax_rate_record(
    tax_type: str,
    name: str,
    report: str | None,
    components: tuple[tuple[str, str], ...],
    *,
    status: str = "ACTIVE",
) -> dict[str, Any]:
    effective = sum((Decimal(rate) for _, rate in components), Decimal(0))
    sales_only = report in ("OUTPUT", "USSALESTAX")
    purchases_only = report == "INPUT"
    return {
        "Name": name,
        "TaxType": tax_type,
        "ReportTaxType": report,
        "CanApplyToAssets": True,
        "CanApplyToEquity": True,
        "CanApplyToExpenses": not sales_only,
        "CanApplyToLiabilities": True,
        "CanApplyToRevenue": not purchases_only,
        "DisplayTaxRate": effective,
        "EffectiveRate": effective,
        "Status": status,
        "TaxComponents": [
            {"Name": part, "Rate": Decimal(rate), "IsCompound": False, "IsNonRecoverable": False}
            for part, rate in components
        ],
    }


def _accounts(book: Book, tax: CountryTax) -> None:
    for code, name, kind, extra in CHART:
        book.put(
            "Accounts",
            account_record(book, code, name.format(tax=tax.tax_account_name), kind, extra, tax),
        )


def account_record(
    book: Book, code: str, name: str, kind: str, extra: dict[str, Any], tax: CountryTax
) -> dict[str, Any]:
    account_class = ACCOUNT_CLASS.get(kind, "ASSET")
    tax_type = (
        tax.sales
        if account_class == "REVENUE"
        else tax.purchases
        if account_class == "EXPENSE"
        else tax.exempt
    )
    record: dict[str, Any] = {
        "AccountID": book.new_guid(),
        "Code": code,
        "Name": name,
        "Status": "ACTIVE",
        "Type": kind,
        "TaxType": tax_type,
        "Class": account_class,
        "EnablePaymentsToAccount": False,
        "ShowInExpenseClaims": account_class == "EXPENSE",
        "ReportingCode": "",
        "HasAttachments": False,
        "AddToWatchlist": False,
    }
    if kind == "BANK":
        record.update(BankAccountType="BANK", CurrencyCode=book.organisation.currency)
    record.update(extra)
    return record
