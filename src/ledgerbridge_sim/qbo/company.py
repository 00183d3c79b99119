"""Each realm's starting data, made the first time the realm is used.

A new QuickBooks company comes with a chart of accounts, tax set-up for its country, terms and
the odd list entry. The simulator gives each registered realm the same kind of start:

- **US**: automated sales tax (`Preferences.TaxPrefs.PartnerTaxEnabled`). Lines carry the
  pseudo tax codes `TAX` / `NON`; the rate comes from the customer's shipping (else billing)
  state, else the company's own state, using `AST_RATES` (round numbers in the region of the
  states' combined rates, not a tax table). Each state has a TaxCode and TaxRate of its name.
- **CA, GB, AU**: per-line `TaxCodeRef` to real TaxCode ids whose `SalesTaxRateList` names
  TaxRates (GST/HST/PST, VAT, GST).

Every realm also gets CompanyInfo, Preferences (class and location tracking on, discounts
allowed, automatic numbering, no closing date, duplicate document numbers refused), terms, a
class, a location (Department), items under a Category, customers, a vendor and an employee.
"""

from decimal import Decimal
from typing import Any, Final

from ledgerbridge_sim import organisations
from ledgerbridge_sim.qbo import faults
from ledgerbridge_sim.qbo.store import REALM_FIELD, Realm, state
from ledgerbridge_sim.state import Simulator

# state → (name, combined rate %) for the US realm's automated sales tax.
AST_RATES: Final = {
    "CA": ("California", Decimal("7.25")),
    "NY": ("New York", Decimal("8.875")),
    "TX": ("Texas", Decimal("8.25")),
    "FL": ("Florida", Decimal("7")),
    "WA": ("Washington", Decimal("10.25")),
}
# The name QBO gives per-country taxes in its "every line needs a rate" message.
TAX_NAMES: Final = {"CA": "GST/HST", "GB": "VAT", "AU": "GST", "US": "sales tax"}
CURRENCY_NAMES: Final = {
    "USD": "United States Dollar",
    "CAD": "Canadian Dollar",
    "GBP": "British Pound Sterling",
    "AUD": "Australian Dollar",
}
# Each country's tax codes: name → (description, [(rate name, rate %)]); an empty list is a
# non-taxable code.
COUNTRY_TAX: Final[dict[str, dict[str, tuple[str, list[tuple[str, Decimal]]]]]] = {
    "CA": {
        "HST ON": ("Harmonised sales tax, Ontario", [("HST ON", Decimal("13"))]),
        "GST": ("Goods and services tax", [("GST", Decimal("5"))]),
        "GST/PST BC": (
            "GST and British Columbia PST",
            [("GST", Decimal("5")), ("PST BC", Decimal("7"))],
        ),
        "Zero-rated": ("Zero-rated supplies", [("Zero-rated", Decimal("0"))]),
        "Exempt": ("Exempt supplies", [("Exempt", Decimal("0"))]),
        "Out of Scope": ("Not subject to GST/HST", []),
    },
    "GB": {
        "20.0% S": ("Standard rate", [("20.0% S", Decimal("20"))]),
        "5.0% R": ("Reduced rate", [("5.0% R", Decimal("5"))]),
        "0.0% Z": ("Zero rate", [("0.0% Z", Decimal("0"))]),
        "Exempt": ("Exempt", [("Exempt", Decimal("0"))]),
        "No VAT": ("Outside the scope of VAT", []),
    },
    "AU": {
        "GST": ("GST on sales", [("GST (sales)", Decimal("10"))]),
        "GST free": ("GST free sales", [("GST free (sales)", Decimal("0"))]),
        "Input taxed": ("Input taxed sales", [("Input taxed (sales)", Decimal("0"))]),
        "Out of scope": ("Out of scope", []),
    },
}
STANDARD_TAX_CODE: Final = {"CA": "HST ON", "GB": "20.0% S", "AU": "GST"}
COMPANY_ADDRESS: Final = {
    "US": {
        "Line1": "100 Market Street",
        "City": "San Francisco",
        "CountrySubDivisionCode": "CA",
        "PostalCode": "94105",
        "Country": "US",
    },
    "CA": {
        "Line1": "200 King Street West",
        "City": "Toronto",
        "CountrySubDivisionCode": "ON",
        "PostalCode": "M5H 3T4",
        "Country": "CA",
    },
    "GB": {"Line1": "10 Queen Street", "City": "Leeds", "PostalCode": "LS1 2TW", "Country": "GB"},
    "AU": {
        "Line1": "1 Collins Street",
        "City": "Melbourne",
        "CountrySubDivisionCode": "VIC",
        "PostalCode": "3000",
        "Country": "AU",
    },
}
CUSTOMER_STATES: Final[dict[str, list[str | None]]] = {
    "US": ["CA", "NY", "TX"],
    "CA": ["ON", "BC", "ON"],
    "GB": [None] * 3,
    "AU": ["VIC", "NSW", "QLD"],
}
ACCOUNT_CLASSIFICATION: Final = {
    "Bank": "Asset",
    "Accounts Receivable": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Other Current Liability": "Liability",
    "Long Term Liability": "Liability",
    "Equity": "Equity",
    "Income": "Revenue",
    "Other Income": "Revenue",
    "Cost of Goods Sold": "Expense",
    "Expense": "Expense",
    "Other Expense": "Expense",
}
SALES_TAX_ACCOUNT: Final = {
    "US": "Sales Tax Payable",
    "CA": "GST/HST Payable",
    "GB": "VAT Control",
    "AU": "GST Liabilities Payable",
}


def realm_for(sim: Simulator, realm_id: str) -> Realm | None:
    """The realm behind an id from a path, with its defaults made on first use; None if unlisted."""
    organisation = organisations.get(sim, "qbo", realm_id)
    if organisation is None:
        return None
    realm = Realm(sim, organisation)
    ready: set[str] = state(sim).extra.setdefault("realms_ready", set())
    if realm_id not in ready:
        ready.add(realm_id)
        _make_defaults(realm)
    return realm


def first_realm_id(sim: Simulator) -> str:
    return organisations.listed(sim, "qbo")[0].id


def ref(record: dict[str, Any], name_field: str = "Name") -> dict[str, Any]:
    return {"value": record["Id"], "name": record.get(name_field, "")}


def _singleton(realm: Realm, entity: str, record: dict[str, Any]) -> None:
    stamp = realm.stamp()
    record.update(
        Id="1",
        SyncToken="0",
        MetaData={"CreateTime": stamp, "LastUpdatedTime": stamp},
        domain="QBO",
        sparse=False,
    )
    record[REALM_FIELD] = realm.id
    realm.system.collection(entity)[int(realm.id)] = record


def _make_defaults(realm: Realm) -> None:
    organisation = realm.organisation
    country = organisation.country
    us = country == "US"
    address = dict(COMPANY_ADDRESS.get(country, COMPANY_ADDRESS["US"]))
    _singleton(
        realm,
        "CompanyInfo",
        {
            "CompanyName": organisation.name,
            "LegalName": f"{organisation.name} Ltd" if not us else f"{organisation.name} LLC",
            "CompanyAddr": address,
            "CustomerCommunicationAddr": address,
            "LegalAddr": address,
            "PrimaryPhone": {"FreeFormNumber": "555-0100"},
            "CompanyStartDate": "2024-01-01",
            "FiscalYearStartMonth": "July" if country == "AU" else "January",
            "Country": country,
            "Email": {"Address": "accounts@demo-msp.example"},
            "SupportedLanguages": "en",
            "NameValue": [{"Name": "NeoEnabled", "Value": "true"}],
        },
    )
    accounts = _make_accounts(realm)
    terms = {
        days: realm.insert(
            "Term",
            {
                "Name": name,
                "Active": True,
                "Type": "STANDARD",
                "DueDays": days,
                "DiscountPercent": Decimal("0"),
                "DiscountDays": 0,
            },
        )
        for name, days in (("Due on receipt", 0), ("Net 15", 15), ("Net 30", 30), ("Net 60", 60))
    }
    _singleton(
        realm,
        "Preferences",
        {
            "AccountingInfoPrefs": {
                "TrackDepartments": True,
                "DepartmentTerminology": "Location",
                "ClassTrackingPerTxn": True,
                "ClassTrackingPerTxnLine": False,
                "CustomerTerminology": "Customers",
                "FirstMonthOfFiscalYear": "July" if country == "AU" else "January",
                "UseAccountNumbers": False,
            },
            "ProductAndServicesPrefs": {
                "ForSales": True,
                "ForPurchase": True,
                "QuantityWithPriceAndRate": True,
                "QuantityOnHand": True,
            },
            "SalesFormsPrefs": {
                "CustomTxnNumbers": False,
                "AllowDeposit": False,
                "AllowDiscount": True,
                "AllowEstimates": True,
                "AllowServiceDate": True,
                "AllowShipping": False,
                "DefaultTerms": ref(terms[30]),
                "AutoApplyCredit": False,
                "AutoApplyPayments": False,
                "ETransactionEnabledStatus": "NotApplicable",
            },
            "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": us},
            "CurrencyPrefs": {
                "MultiCurrencyEnabled": False,
                "HomeCurrency": {"value": organisation.currency},
            },
            "OtherPrefs": {
                "NameValue": [
                    # Refuse a DocNumber already used on the same kind of sales form (6140).
                    {"Name": "WarnDuplicateInvoiceNumber", "Value": "true"},
                    {"Name": "WarnDuplicateCheckNumber", "Value": "true"},
                    {
                        "Name": "DateFormatMnemonic",
                        "Value": "MMDDYYYY_SEP_SLASH" if us else "DDMMYYYY_SEP_SLASH",
                    },
                ]
            },
        },
    )
    tax_codes = _make_tax(realm, accounts[SALES_TAX_ACCOUNT.get(country, "Sales Tax Payable")])
    realm.insert(
        "Class",
        {
            "Name": "Managed Services",
            "SubClass": False,
            "FullyQualifiedName": "Managed Services",
            "Active": True,
        },
    )
    realm.insert(
        "Department",
        {
            "Name": "Head Office",
            "SubDepartment": False,
            "FullyQualifiedName": "Head Office",
            "Active": True,
        },
    )
    _make_items(realm, accounts, tax_codes)
    _make_names(realm, terms)


def _make_accounts(realm: Realm) -> dict[str, dict[str, Any]]:
    chart = [
        ("Checking", "Bank", "Checking"),
        ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
        ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
        ("Inventory Asset", "Other Current Asset", "Inventory"),
        ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable"),
        (
            SALES_TAX_ACCOUNT.get(realm.country, "Sales Tax Payable"),
            "Other Current Liability",
            "GlobalTaxPayable" if realm.country != "US" else "SalesTaxPayable",
        ),
        ("Services", "Income", "ServiceFeeIncome"),
        ("Sales of Product Income", "Income", "SalesOfProductIncome"),
        ("Discounts given", "Income", "DiscountsRefundsGiven"),
        ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
        ("Subcontractors", "Expense", "OtherMiscellaneousServiceCost"),
    ]
    currency = {
        "value": realm.organisation.currency,
        "name": CURRENCY_NAMES.get(realm.organisation.currency, ""),
    }
    made = {}
    for name, account_type, sub_type in chart:
        made[name] = realm.insert(
            "Account",
            {
                "Name": name,
                "SubAccount": False,
                "FullyQualifiedName": name,
                "Active": True,
                "Classification": ACCOUNT_CLASSIFICATION[account_type],
                "AccountType": account_type,
                "AccountSubType": sub_type,
                "CurrentBalance": Decimal("0"),
                "CurrentBalanceWithSubAccounts": Decimal("0"),
                "CurrencyRef": currency,
            },
        )
    return made


def _make_tax(realm: Realm, liability: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """TaxRates and TaxCodes for the realm's country; returns codes by name."""
    rates: dict[str, dict[str, Any]] = {}

    def rate(name: str, value: Decimal) -> dict[str, Any]:
        if name not in rates:
            rates[name] = realm.insert(
                "TaxRate",
                {
                    "Name": name,
                    "Description": name,
                    "Active": True,
                    "RateValue": value,
                    "AgencyRef": {"value": "1"},
                    "SpecialTaxType": "NONE" if value else "ZERO_RATE",
                    "DisplayType": "ReadOnly",
                    "EffectiveTaxRate": [
                        {"RateValue": value, "EffectiveDate": "2020-01-01T00:00:00-08:00"}
                    ],
                },
            )
        return rates[name]

    if realm.country == "US":
        table: dict[str, tuple[str, list[tuple[str, Decimal]]]] = {
            name: (f"{name} sales tax (automated)", [(name, value)])
            for name, value in AST_RATES.values()
        }
    else:
        table = COUNTRY_TAX.get(realm.country, COUNTRY_TAX["GB"])
    codes = {}
    for code_name, (description, parts) in table.items():
        details = [
            {
                "TaxRateRef": {"value": rate(name, value)["Id"], "name": name},
                "TaxTypeApplicable": "TaxOnAmount",
                "TaxOrder": 0,
            }
            for name, value in parts
        ]
        codes[code_name] = realm.insert(
            "TaxCode",
            {
                "Name": code_name,
                "Description": description,
                "Active": True,
                "Hidden": False,
                "Taxable": bool(parts),
                "TaxGroup": len(parts) > 1,
                "SalesTaxRateList": {"TaxRateDetail": details},
                "PurchaseTaxRateList": {"TaxRateDetail": []},
            },
        )
    del liability  # the liability account is where QBO posts the tax; kept for the chart only
    return codes


def _make_items(
    realm: Realm, accounts: dict[str, dict[str, Any]], tax_codes: dict[str, dict[str, Any]]
) -> None:
    services, products = ref(accounts["Services"]), ref(accounts["Sales of Product Income"])
    sales_code = None
    if realm.country in STANDARD_TAX_CODE:
        sales_code = ref(tax_codes[STANDARD_TAX_CODE[realm.country]])
    category = realm.insert(
        "Item",
        {
            "Name": "Managed Services",
            "FullyQualifiedName": "Managed Services",
            "Type": "Category",
            "Active": True,
            "SubItem": False,
            "Level": 0,
        },
    )
    catalogue = [
        ("Services", "Service", Decimal("0"), services, None),
        ("Per Seat", "Service", Decimal("55"), services, category),
        ("Per Device", "Service", Decimal("12.50"), services, category),
        ("Labour", "Service", Decimal("150"), services, None),
        ("Hardware", "NonInventory", Decimal("0"), products, None),
    ]
    for name, item_type, price, income, parent in catalogue:
        record: dict[str, Any] = {
            "Name": name,
            "FullyQualifiedName": f"{parent['Name']}:{name}" if parent else name,
            "Type": item_type,
            "Active": True,
            "Taxable": True,
            "UnitPrice": price,
            "IncomeAccountRef": income,
            "SubItem": parent is not None,
            "Level": 1 if parent else 0,
        }
        if parent:
            record["ParentRef"] = ref(parent)
        if sales_code:
            record["SalesTaxCodeRef"] = sales_code
        realm.insert("Item", record)


def _make_names(realm: Realm, terms: dict[int, dict[str, Any]]) -> None:
    states = CUSTOMER_STATES.get(realm.country, [None] * 3)
    currency = {
        "value": realm.organisation.currency,
        "name": CURRENCY_NAMES.get(realm.organisation.currency, ""),
    }
    for index, (name, email) in enumerate(
        (
            ("Acme Dental", "ap@acme-dental.example"),
            ("Birch Legal", "accounts@birch-legal.example"),
            ("Cedar Logistics", "finance@cedar.example"),
        )
    ):
        address: dict[str, Any] = {
            "Line1": f"{10 + index} High Street",
            "City": "Springfield",
            "Country": realm.country,
        }
        if states[index]:
            address["CountrySubDivisionCode"] = states[index]
        realm.insert(
            "Customer",
            {
                "DisplayName": name,
                "CompanyName": name,
                "FullyQualifiedName": name,
                "PrintOnCheckName": name,
                "Active": True,
                "Taxable": True,
                "Job": False,
                "BillWithParent": False,
                "PrimaryEmailAddr": {"Address": email},
                "BillAddr": address,
                "SalesTermRef": ref(terms[30]),
                "CurrencyRef": currency,
                "Balance": faults.money(Decimal(0)),
                "BalanceWithJobs": faults.money(Decimal(0)),
                "PreferredDeliveryMethod": "Email",
            },
        )
    realm.insert(
        "Vendor",
        {
            "DisplayName": "Northwind Distribution",
            "CompanyName": "Northwind Distribution",
            "PrintOnCheckName": "Northwind Distribution",
            "Active": True,
            "Balance": Decimal("0.00"),
            "TermRef": ref(terms[30]),
            "CurrencyRef": currency,
        },
    )
    realm.insert(
        "Employee",
        {
            "GivenName": "Dana",
            "FamilyName": "Whitfield",
            "DisplayName": "Dana Whitfield",
            "PrintOnCheckName": "Dana Whitfield",
            "Active": True,
        },
    )
