"""A generated MSP tenant for the Autotask simulator: deterministic for a seed and a clock.

What an accounting sync meets in a real Autotask database, in plausible proportions:
customers and vendors with contacts, a product catalogue (long SKUs, four-decimal unit costs),
tax regions whose categories carry one or two taxes, payment terms, invoice templates, billing
codes with GL accounts, and invoices made by invoice processing from posted billing items:
labour (quarter hours and odd minutes such as 1.3333333 h), hardware charges, prorated
recurring services (seven-decimal quantities), metered cloud storage, mileage. Line amounts
are Decimal: extended = quantity * rate rounded half-up to the cent, each tax rounded per line,
and every invoice's `invoiceTotal` and `totalTaxValue` are the sums of its billing items.
About 4 % are credit notes (negative), 1 % voided; most invoices older than a month already
carry a `webServiceDate` (exported) and many of those a `paidDate`; some exported invoices were
renumbered by the ledger (`INV-…`). Recently posted billing items not yet invoiced, purchase
orders with items, inventory, expense reports with items, and a resource for the API user are
made too.

Dates are anchored on the simulator clock's current day, so a test that sets the clock gets the
same tenant every time; records are appended above any ids already present.
"""

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from ledgerbridge_sim.autotask.entities import ENTITIES, blank_record
from ledgerbridge_sim.autotask.records import store
from ledgerbridge_sim.autotask.wire import format_date, format_moment
from ledgerbridge_sim.state import Simulator, SystemState

CENT: Final = Decimal("0.01")
SEVEN_PLACES: Final = Decimal("0.0000001")

# Where each entity's ids start: Autotask ids are large integers; clients must not assume small.
_ID_BASES: Final = {
    "Resources": 29682885,
    "Companies": 174,
    "Contacts": 29682901,
    "TaxRegions": 1,
    "TaxCategories": 1,
    "Taxes": 1,
    "PaymentTerms": 1,
    "InvoiceTemplates": 101,
    "BillingCodes": 29682801,
    "Products": 29682860,
    "InventoryLocations": 1,
    "InventoryItems": 29683001,
    "Invoices": 29684501,
    "BillingItems": 29690001,
    "PurchaseOrders": 1001,
    "PurchaseOrderItems": 5001,
    "ExpenseReports": 301,
    "ExpenseItems": 3001,
}

_PREFIXES: Final = (
    "Harbor", "Summit", "Cedar", "Bluewater", "Granite", "Maple", "Riverside", "Pioneer",
    "Lakeshore", "Evergreen", "Ironwood", "Silver Creek", "Northgate", "Oakridge", "Brightpath",
    "Keystone", "Redwood", "Westfield", "Clearview", "Stonebridge", "Meridian", "Copper Hill",
    "Foxglove", "Prairie",
)  # fmt: skip
_TRADES: Final = (
    "Dental Group", "Family Medicine", "Law Offices", "Accounting", "Logistics", "Construction",
    "Veterinary Clinic", "Realty", "Insurance Agency", "Manufacturing", "Credit Union",
    "Architects", "Physical Therapy", "Auto Group", "Charter School", "Engineering",
    "Orthodontics", "Title Company",
)  # fmt: skip
_SUFFIXES: Final = ("", " LLC", " Inc.", " PC", " & Associates", " Ltd.")
_CITIES: Final = (
    ("Columbus", "OH", "43215"), ("Dublin", "OH", "43017"), ("Austin", "TX", "78701"),
    ("Round Rock", "TX", "78664"), ("Seattle", "WA", "98101"), ("Bellevue", "WA", "98004"),
    ("Portland", "OR", "97204"), ("Boise", "ID", "83702"),
)  # fmt: skip
_FIRST_NAMES: Final = (
    "Alex", "Jordan", "Priya", "Marcus", "Elena", "Sam", "Aisha", "Tom", "Grace", "Diego",
    "Hannah", "Kenji", "Olivia", "Ravi", "Sofia", "Will", "Zoe", "Noah", "Fatima", "Liam",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Nguyen", "Smith", "Patel", "Johnson", "Garcia", "Okafor", "Müller", "O'Brien", "Kowalski",
    "Chen", "Rossi", "Haddad", "Andersson", "Tanaka", "Murphy", "Silva", "Dubois", "Kim",
)  # fmt: skip
_VENDORS: Final = (
    "Ingram Micro",
    "Pax8",
    "TD SYNNEX",
    "Dell Technologies",
    "Amazon Business",
    "CDW",
)

# Tax regions: region → tax category name → [(tax name, rate in percent)].
_TAX_REGIONS: Final[Sequence[tuple[str, dict[str, list[tuple[str, Decimal]]]]]] = (
    (
        "Ohio - Franklin County",
        {
            "Materials": [
                ("Ohio State", Decimal("5.7500")),
                ("Franklin County", Decimal("1.2500")),
            ],
            "Recurring Services": [("Ohio State", Decimal("5.7500"))],
        },
    ),
    (
        "Texas - Austin",
        {
            "Materials": [("Texas State", Decimal("6.2500")), ("Austin City", Decimal("2.0000"))],
            "Recurring Services": [("Texas Data Processing", Decimal("5.0000"))],
        },
    ),
    (
        "Washington - Seattle",
        {
            "Materials": [("Washington State", Decimal("6.5000")), ("Seattle", Decimal("3.7500"))],
            "Recurring Services": [
                ("Washington State", Decimal("6.5000")),
                ("Seattle", Decimal("3.7500")),
            ],
            "Labor": [("Washington State", Decimal("6.5000")), ("Seattle", Decimal("3.7500"))],
        },
    ),
    ("Out of State (no tax)", {}),
)
_TAX_CATEGORIES: Final = (
    ("Labor", "Technician and engineering time"),
    ("Materials", "Hardware and boxed software"),
    ("Recurring Services", "Managed services and subscriptions"),
    ("Non-Taxable", "Reimbursed expenses and exempt items"),
)
_PAYMENT_TERMS: Final = (
    ("Due on Receipt", 0, True),
    ("Net 15", 15, True),
    ("Net 30", 30, True),
    ("Net 45", 45, True),
    ("Net 60", 60, False),
)
# name, useType, billingCodeType, GL account, tax category, unit price, unit cost
_BILLING_CODES: Final = (
    ("Remote Support", 1, 2, 4010, "Labor", "150.00", "48.00"),
    ("Onsite Support", 1, 2, 4010, "Labor", "175.00", "52.00"),
    ("After Hours Emergency", 1, 2, 4010, "Labor", "225.00", "65.00"),
    ("Project Labor", 1, 2, 4020, "Labor", "165.00", "55.00"),
    ("Hardware", 2, 3, 4100, "Materials", "0.00", "0.00"),
    ("Software Licensing", 2, 3, 4110, "Materials", "0.00", "0.00"),
    ("Cloud Subscriptions", 2, 3, 4110, "Recurring Services", "0.00", "0.00"),
    ("Managed Services Agreement", 4, 2, 4000, "Recurring Services", "125.00", "31.00"),
    ("Travel and Mileage", 3, 4, 4200, "Non-Taxable", "0.67", "0.67"),
)
# name, sku, category, billing code, unit price, unit cost, period type, serialized
_PRODUCTS: Final = (
    (
        "Dell Latitude 5550 Laptop",
        "DL-LAT5550-I7-16-512",
        1,
        "Hardware",
        "1489.00",
        "1212.35",
        1,
        True,
    ),
    ("Dell OptiPlex 7020 Micro", "DL-OPX7020M-I5", 1, "Hardware", "949.00", "781.10", 1, True),
    (
        "Ubiquiti UniFi Switch Pro 24 PoE",
        "USW-PRO-24-POE",
        1,
        "Hardware",
        "699.00",
        "549.00",
        1,
        True,
    ),
    ("Ubiquiti U7 Pro Access Point", "U7-PRO", 1, "Hardware", "189.00", "149.00", 1, True),
    ("Fortinet FortiGate 60F", "FG-60F", 1, "Hardware", "895.00", "702.40", 1, True),
    ("APC Back-UPS Pro 1500", "BR1500MS2", 1, "Hardware", "279.99", "214.50", 1, False),
    ("Cat6 Patch Cable 7ft (each)", "CAT6-7FT-BLU", 5, "Hardware", "6.50", "1.8725", 1, False),
    ("Logitech MK540 Keyboard and Mouse", "920-008673", 1, "Hardware", "59.99", "38.40", 1, False),
    (
        "Microsoft 365 Business Premium (NCE, annual commitment, monthly billing)",
        "CFQ7TTC0LCHC:0002:P1Y:MONTHLY-MICROSOFT-365-BUSINESS-PREMIUM-NCE-ANNUAL-COMMITMENT",
        3,
        "Software Licensing",
        "26.40",
        "22.00",
        2,
        False,
    ),
    (
        "Microsoft 365 E3 (NCE, monthly)",
        "CFQ7TTC0LFLZ:0002:P1M:MONTHLY",
        3,
        "Software Licensing",
        "43.20",
        "36.00",
        2,
        False,
    ),
    (
        "Datto SaaS Protection (per seat)",
        "DATTO-SAASP-M365-SEAT",
        4,
        "Cloud Subscriptions",
        "4.25",
        "2.1000",
        2,
        False,
    ),
    (
        "Wasabi Hot Cloud Storage (per GB)",
        "WAS-HCS-GB-MONTH",
        4,
        "Cloud Subscriptions",
        "0.0230",
        "0.0069",
        2,
        False,
    ),
    (
        "SentinelOne Complete (per endpoint)",
        "S1-COMPLETE-EP",
        3,
        "Software Licensing",
        "8.50",
        "5.3125",
        2,
        False,
    ),
    (
        "Adobe Acrobat Pro (annual)",
        "65324079BA01A12",
        2,
        "Software Licensing",
        "239.88",
        "203.90",
        5,
        False,
    ),
)


class _Tenant:
    """Builds one tenant's records; ids, names and dates come from one seeded generator."""

    def __init__(self, system: SystemState, rng: random.Random, today: date) -> None:
        self.system = system
        self.rng = rng
        self.today = today
        self.counts: dict[str, int] = {}
        self._next: dict[str, int] = {}
        self._templates = {name: blank_record(entity) for name, entity in ENTITIES.items()}
        self._dates: dict[date, str] = {}

    def new(self, entity: str, **values: Any) -> dict[str, Any]:
        if entity not in self._next:
            existing = self.system.extra.get("id_high_water", {}).get(entity, 0)
            existing = max(existing, max(self.system.collection(entity), default=0))
            self._next[entity] = max(_ID_BASES[entity], existing + 1)
        record = dict(self._templates[entity])
        record["userDefinedFields"] = []
        record["id"] = self._next[entity]
        self._next[entity] += 1
        record.update(values)
        store(self.system, entity, record)
        self.counts[entity] = self.counts.get(entity, 0) + 1
        return record

    def day(self, day: date) -> str:
        text = self._dates.get(day)
        if text is None:
            text = self._dates[day] = format_date(day)
        return text

    def moment(self, day: date, hour: int = 5, minute: int = 0) -> str:
        return format_moment(datetime.combine(day, time(hour, minute), tzinfo=UTC))


def generate(sim: Simulator, *, invoices: int, seed: int, api_user: str) -> dict[str, int]:
    """Add a generated tenant with `invoices` invoices; returns record counts per entity."""
    rng = random.Random(seed)
    tenant = _Tenant(sim.system("autotask"), rng, sim.clock.now().date())
    staff = _resources(tenant, api_user)
    regions, taxes_by = _taxes(tenant)
    terms = _payment_terms(tenant)
    templates = _invoice_templates(tenant, terms)
    codes = _billing_codes(tenant, regions)
    products = _products(tenant, codes)
    customers, vendors = _companies(tenant, invoices, staff, regions, templates)
    _invoices(
        tenant, invoices, customers, staff, regions, taxes_by, terms, templates, codes, products
    )
    _uninvoiced_items(tenant, max(1, invoices // 10), customers, taxes_by, codes, products, staff)
    locations = _inventory(tenant, products)
    _purchase_orders(
        tenant, max(3, invoices // 20), vendors, customers, products, locations, terms, staff
    )
    _expenses(tenant, max(2, invoices // 25), staff, customers)
    return dict(sorted(tenant.counts.items()))


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _resources(tenant: _Tenant, api_user: str) -> list[int]:
    api = tenant.new(
        "Resources",
        userName=api_user,
        email=api_user,
        firstName="LedgerBridge",
        lastName="API",
        resourceType="Employee",
        userType=6,
        licenseType=7,
        isActive=True,
        title="API user",
        dateFormat="MM/dd/yyyy",
        timeFormat="hh:mm a",
        numberFormat="X,XXX.XX",
        hireDate=tenant.day(tenant.today - timedelta(days=900)),
    )
    staff = [int(api["id"])]
    for index in range(6):
        first = _FIRST_NAMES[index * 3 % len(_FIRST_NAMES)]
        last = _LAST_NAMES[index * 5 % len(_LAST_NAMES)]
        person = tenant.new(
            "Resources",
            userName=f"{first}.{last}".lower().replace("'", ""),
            email=f"{first}.{last}@northwind-it.example".lower().replace("'", ""),
            firstName=first,
            lastName=last,
            resourceType="Employee",
            userType=1,
            licenseType=1,
            isActive=True,
            title=("Service Manager", "Technician", "Technician", "Engineer", "vCIO", "Finance")[
                index
            ],
            internalCost=Decimal(35 + index * 7),
            dateFormat="MM/dd/yyyy",
            timeFormat="hh:mm a",
            numberFormat="X,XXX.XX",
            hireDate=tenant.day(tenant.today - timedelta(days=400 + 90 * index)),
        )
        staff.append(int(person["id"]))
    return staff


def _taxes(
    tenant: _Tenant,
) -> tuple[list[dict[str, Any]], dict[tuple[int, int], list[Decimal]]]:
    categories = {
        name: tenant.new("TaxCategories", name=name, description=text, isActive=True)
        for name, text in _TAX_CATEGORIES
    }
    tenant.system.extra["tax_category_ids"] = {name: int(c["id"]) for name, c in categories.items()}
    regions = []
    rates: dict[tuple[int, int], list[Decimal]] = {}
    for region_name, by_category in _TAX_REGIONS:
        region = tenant.new("TaxRegions", name=region_name, isActive=True)
        regions.append(region)
        for category_name, taxes in by_category.items():
            category_id = int(categories[category_name]["id"])
            for tax_name, rate in taxes:
                tenant.new(
                    "Taxes",
                    taxRegionID=region["id"],
                    taxCategoryID=category_id,
                    taxName=tax_name,
                    taxRate=rate,
                    isCompounded=False,
                )
                rates.setdefault((int(region["id"]), category_id), []).append(rate)
    return regions, rates


def _payment_terms(tenant: _Tenant) -> list[dict[str, Any]]:
    return [
        tenant.new(
            "PaymentTerms",
            name=name,
            description=f"Payment due {days} days after the invoice date" if days else name,
            paymentDueInDays=days,
            isActive=active,
        )
        for name, days, active in _PAYMENT_TERMS
    ]


def _invoice_templates(tenant: _Tenant, terms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    net30, net15 = terms[2], terms[1]
    common = {
        "currencyPositiveFormat": "$X,XXX.XX",
        "currencyNegativeFormat": "($X,XXX.XX)",
        "dateFormat": 1,
        "numberFormat": 1,
        "timeFormat": 1,
        "pageLayout": 1,
        "pageNumberFormat": 1,
        "displayTaxCategory": True,
        "displaySeparateLineItemForEachTax": False,
        "displayTaxCategorySuperscripts": True,
        "displayFixedPriceContractLabor": False,
        "displayRecurringServiceContractLabor": False,
        "displayZeroAmountRecurringServicesAndBundles": False,
        "itemizeServicesAndBundles": True,
        "showGridHeader": True,
        "showVerticalGridLines": False,
        "nonBillableLaborLabel": "No Charge",
        "coveredByBlockRetainerContractLabel": "Covered by Block Hours",
        "coveredByRecurringServiceFixedPricePerTicketContractLabel": "Covered by Agreement",
        "rateCostExpression": "[rate]",
    }
    return [
        tenant.new(
            "InvoiceTemplates", name="Standard Invoice", paymentTerms=net30["id"], groupBy=1,
            itemizeItemsInEachGroup=1, sortBy=1, **common,
        ),
        tenant.new(
            "InvoiceTemplates", name="Managed Services Summary", paymentTerms=net15["id"],
            groupBy=2, itemizeItemsInEachGroup=0, sortBy=2, **common,
        ),
        tenant.new(
            "InvoiceTemplates", name="Project Detail", paymentTerms=net30["id"], groupBy=3,
            itemizeItemsInEachGroup=1, sortBy=1, **common,
        ),
    ]  # fmt: skip


def _billing_codes(tenant: _Tenant, regions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    category_ids: dict[str, int] = tenant.system.extra["tax_category_ids"]
    codes = {}
    for name, use_type, code_type, gl, category, price, cost in _BILLING_CODES:
        codes[name] = tenant.new(
            "BillingCodes",
            name=name,
            description=f"{name} ({gl})",
            useType=use_type,
            billingCodeType=code_type,
            generalLedgerAccount=gl,
            externalNumber=str(gl),
            taxCategoryID=category_ids[category],
            unitPrice=Decimal(price),
            unitCost=Decimal(cost),
            markupRate=None,
            isActive=True,
            isExcludedFromNewContracts=False,
        )
    return codes


def _products(tenant: _Tenant, codes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    products = []
    for name, sku, category, code, price, cost, period, serialized in _PRODUCTS:
        products.append(
            tenant.new(
                "Products",
                name=name,
                description=name,
                sku=sku,
                manufacturerProductName=sku,
                vendorProductNumber=sku,
                productCategory=category,
                productBillingCodeID=codes[code]["id"],
                chargeBillingCodeID=codes[code]["id"],
                unitPrice=Decimal(price),
                unitCost=Decimal(cost),
                msrp=_money(Decimal(price) * Decimal("1.08")),
                periodType=period,
                billingType=1,
                priceCostMethod=1,
                isActive=True,
                isSerialized=serialized,
                isEligibleForRma=serialized,
                doesNotRequireProcurement=category in (3, 4),
                manufacturerName=name.split()[0],
                externalProductID=f"EXT-{sku}"[:255],
            )
        )
    return products


def _companies(
    tenant: _Tenant,
    invoices: int,
    staff: list[int],
    regions: list[dict[str, Any]],
    templates: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = tenant.rng
    tenant.system.extra.setdefault("udf_definitions", {}).setdefault("Companies", [])
    definitions = tenant.system.extra["udf_definitions"]["Companies"]
    if not any(d["name"] == "Accounting Reference" for d in definitions):
        definitions.append({"name": "Accounting Reference", "dataType": "string", "length": 100})
    used: set[str] = {
        str(c.get("companyName")) for c in tenant.system.collection("Companies").values()
    }
    customers = []
    for index in range(max(5, min(2000, invoices // 6 + 5))):
        name = ""
        for _attempt in range(5):
            name = f"{rng.choice(_PREFIXES)} {rng.choice(_TRADES)}{rng.choice(_SUFFIXES)}"
            if name not in used:
                break
        if name in used:
            name = f"{name} ({rng.choice(_CITIES)[0]} {index})"
        used.add(name)
        city, state_code, postcode = rng.choice(_CITIES)
        region = _region_for(state_code, regions)
        since = tenant.today - timedelta(days=rng.randint(400, 3000))
        reference = f"XERO-{rng.randrange(16**8):08X}" if rng.random() < 0.3 else None
        customers.append(
            tenant.new(
                "Companies",
                companyName=name,
                companyNumber=f"C{10000 + index}",
                companyType=1,
                isActive=rng.random() > 0.03,
                isTaxExempt=rng.random() < 0.06,
                taxID=f"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}",
                taxRegionID=region["id"],
                currencyID=1,
                invoiceTemplateID=rng.choice(templates)["id"],
                invoiceMethod=1,
                invoiceNonContractItemsToParentCompany=False,
                isClientPortalActive=rng.random() < 0.5,
                isEnabledForComanaged=False,
                isTaskFireActive=False,
                ownerResourceID=rng.choice(staff[1:]),
                address1=f"{rng.randint(10, 9999)} {rng.choice(_PREFIXES)} Ave",
                city=city,
                state=state_code,
                postalCode=postcode,
                countryID=237,
                billToAddressToUse=1,
                phone=f"({rng.randint(200, 989)}) 555-{rng.randint(1000, 9999)}",
                webAddress=f"https://www.{name.split()[0].lower()}-{index}.example",
                createDate=tenant.moment(since, 14),
                lastActivityDate=tenant.moment(tenant.today - timedelta(days=rng.randint(0, 60))),
                lastTrackedModifiedDateTime=tenant.moment(
                    tenant.today - timedelta(days=rng.randint(0, 60)), 9
                ),
                userDefinedFields=[{"name": "Accounting Reference", "value": reference}],
            )
        )
        for contact_index in range(rng.randint(1, 3)):
            _contact(tenant, customers[-1], primary=contact_index == 0)
    vendors = []
    for index, vendor_name in enumerate(_VENDORS):
        city, state_code, postcode = _CITIES[index % len(_CITIES)]
        vendors.append(
            tenant.new(
                "Companies",
                companyName=vendor_name,
                companyNumber=f"V{200 + index}",
                companyType=7,
                isActive=True,
                isTaxExempt=True,
                currencyID=1,
                ownerResourceID=staff[-1],
                city=city,
                state=state_code,
                postalCode=postcode,
                countryID=237,
                phone=f"(800) 555-{1000 + index}",
                invoiceNonContractItemsToParentCompany=False,
                isClientPortalActive=False,
                isEnabledForComanaged=False,
                isTaskFireActive=False,
                createDate=tenant.moment(tenant.today - timedelta(days=3000), 14),
                userDefinedFields=[{"name": "Accounting Reference", "value": None}],
            )
        )
        _contact(tenant, vendors[-1], primary=True)
    return customers, vendors


def _region_for(state_code: str, regions: list[dict[str, Any]]) -> dict[str, Any]:
    by_state = {"OH": 0, "TX": 1, "WA": 2}
    return regions[by_state.get(state_code, 3)]


def _contact(tenant: _Tenant, company: dict[str, Any], *, primary: bool) -> None:
    rng = tenant.rng
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    domain = str(company["webAddress"] or "vendor.example").removeprefix("https://www.")
    tenant.new(
        "Contacts",
        companyID=company["id"],
        firstName=first,
        lastName=last,
        emailAddress=f"{first}.{last}@{domain}".lower().replace("'", ""),
        phone=company["phone"],
        title=rng.choice(("Office Manager", "Owner", "Controller", "IT Coordinator", "AP Clerk")),
        isActive=1 if rng.random() > 0.1 else 0,
        primaryContact=primary,
        city=company["city"],
        state=company["state"],
        zipCode=company["postalCode"],
        countryID=237,
        isOptedOutFromBulkEmail=False,
        receivesEmailNotifications=True,
        solicitationOptOut=False,
        surveyOptOut=False,
        createDate=company["createDate"],
        lastActivityDate=company["lastActivityDate"],
        lastModifiedDate=company["lastActivityDate"],
    )


class _Line:
    """One billing item before it is stored: what was sold and its Decimal amounts."""

    def __init__(
        self,
        *,
        item_type: int,
        sub_type: int,
        code: dict[str, Any],
        name: str,
        description: str,
        quantity: Decimal,
        rate: Decimal,
        cost: Decimal,
        group: str,
    ) -> None:
        self.item_type, self.sub_type, self.code = item_type, sub_type, code
        self.name, self.description, self.group = name, description, group
        self.quantity, self.rate = quantity, rate
        self.extended = _money(quantity * rate)
        self.cost = _money(quantity * cost)
        self.tax = Decimal("0.00")

    def apply_tax(self, rates: Sequence[Decimal]) -> None:
        # Each tax is rounded on its own, per line, as the PSA prints them.
        self.tax = sum((_money(self.extended * rate / 100) for rate in rates), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return self.extended + self.tax


def _invoice_lines(
    tenant: _Tenant,
    codes: dict[str, dict[str, Any]],
    products: list[dict[str, Any]],
    period_start: date,
    *,
    credit: bool,
) -> list[_Line]:
    rng = tenant.rng
    month = period_start.strftime("%B %Y")
    if credit:
        product = rng.choice(products[:8])
        reason = rng.choice(
            (
                _Line(
                    item_type=6, sub_type=3, code=codes["Managed Services Agreement"],
                    name="Service credit", description=f"SLA service credit - {month}",
                    quantity=Decimal(-1), rate=Decimal(rng.choice(("125.00", "250.00", "75.50"))),
                    cost=Decimal(0), group=f"Service credit - {month}",
                ),
                _Line(
                    item_type=4, sub_type=3, code=codes["Hardware"], name=str(product["name"]),
                    description=f"Return: {product['sku']} (RMA {rng.randint(100000, 999999)})",
                    quantity=Decimal(-rng.randint(1, 3)), rate=product["unitPrice"],
                    cost=product["unitCost"], group="Returned hardware",
                ),
            )
        )  # fmt: skip
        return [reason]
    lines: list[_Line] = []
    agreement = f"Managed Services Agreement - {month}"
    seats = rng.randint(3, 85)
    lines.append(
        _Line(
            item_type=7, sub_type=4, code=codes["Managed Services Agreement"],
            name="Managed Services - per user", description=f"{seats} users, {month}",
            quantity=Decimal(seats), rate=Decimal("125.00"), cost=Decimal("31.00"), group=agreement,
        )
    )  # fmt: skip
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3, 4, 6))):
        kind = rng.random()
        if kind < 0.4:
            code = codes[rng.choice(("Remote Support", "Onsite Support", "After Hours Emergency"))]
            minutes = rng.choice((15, 30, 45, 60, 80, 90, 100, 135, 200))
            hours = (Decimal(minutes) / 60).quantize(SEVEN_PLACES, rounding=ROUND_HALF_UP)
            ticket = f"T{period_start:%Y%m%d}.{rng.randint(1, 250):04d}"
            lines.append(
                _Line(
                    item_type=1, sub_type=1, code=code, name=str(code["name"]),
                    description=f"{ticket} - {rng.choice(_TICKETS)}", quantity=hours,
                    rate=code["unitPrice"], cost=code["unitCost"], group=f"Ticket {ticket}",
                )
            )  # fmt: skip
        elif kind < 0.65:
            product = rng.choice(products[:8])
            units = rng.randint(1, 5)
            lines.append(
                _Line(
                    item_type=4, sub_type=3, code=codes["Hardware"], name=str(product["name"]),
                    description=f"{product['sku']} x{units}", quantity=Decimal(units),
                    rate=product["unitPrice"], cost=product["unitCost"], group="Hardware",
                )
            )  # fmt: skip
        elif kind < 0.8:
            product = rng.choice(products[8:11] + products[12:])
            # A licence added mid-month is prorated to the day: seven decimal places.
            days_left, days_in_month = rng.randint(1, 30), 31
            quantity = (
                Decimal(rng.randint(1, 25)) * Decimal(days_left) / Decimal(days_in_month)
            ).quantize(SEVEN_PLACES, rounding=ROUND_HALF_UP)
            code = (
                codes["Software Licensing"]
                if product["productCategory"] != 4
                else codes["Cloud Subscriptions"]
            )
            lines.append(
                _Line(
                    item_type=9, sub_type=5, code=code, name=str(product["name"]),
                    description=f"{product['sku']} prorated {days_left}/{days_in_month} days",
                    quantity=quantity, rate=product["unitPrice"], cost=product["unitCost"],
                    group=agreement,
                )
            )  # fmt: skip
        elif kind < 0.9:
            storage = products[11]
            gigabytes = Decimal(rng.randint(1000000, 99999999)) / Decimal(10000)
            lines.append(
                _Line(
                    item_type=9, sub_type=5, code=codes["Cloud Subscriptions"],
                    name=str(storage["name"]), description=f"{gigabytes} GB-month, {month}",
                    quantity=gigabytes, rate=storage["unitPrice"], cost=storage["unitCost"],
                    group=agreement,
                )
            )  # fmt: skip
        else:
            miles = Decimal(rng.randint(8, 140))
            code = codes["Travel and Mileage"]
            lines.append(
                _Line(
                    item_type=2, sub_type=2, code=code, name="Mileage",
                    description=f"Onsite visit, {miles} miles", quantity=miles,
                    rate=code["unitPrice"], cost=code["unitCost"], group="Expenses",
                )
            )  # fmt: skip
    return lines


_TICKETS: Final = (
    "Printer offline in reception", "New starter laptop setup", "VPN drops every hour",
    "Mailbox over quota", "Replace failed switch", "Password reset and MFA re-enrolment",
    "Quarterly firewall firmware update", "Shared drive permissions", "Teams audio issues",
    "Backup job failed overnight",
)  # fmt: skip


def _invoices(
    tenant: _Tenant,
    count: int,
    customers: list[dict[str, Any]],
    staff: list[int],
    regions: list[dict[str, Any]],
    rates: dict[tuple[int, int], list[Decimal]],
    terms: list[dict[str, Any]],
    templates: list[dict[str, Any]],
    codes: dict[str, dict[str, Any]],
    products: list[dict[str, Any]],
) -> None:
    rng = tenant.rng
    region_names = {int(r["id"]): str(r["name"]) for r in regions}
    template_terms = {int(t["id"]): t["paymentTerms"] for t in templates}
    term_days = {int(t["id"]): int(t["paymentDueInDays"]) for t in terms}
    days_back = sorted((rng.randint(1, 365) for _ in range(count)), reverse=True)
    batches: dict[date, int] = {}
    number = 10000 + len(tenant.system.collection("Invoices"))
    for back in days_back:
        invoice_day = tenant.today - timedelta(days=back)
        batch = batches.setdefault(invoice_day, 1000 + len(batches))
        company = rng.choice(customers)
        credit = rng.random() < 0.04
        period_start = invoice_day.replace(day=1)
        lines = _invoice_lines(tenant, codes, products, period_start, credit=credit)
        exempt = bool(company["isTaxExempt"])
        for line in lines:
            if not exempt:
                line.apply_tax(
                    rates.get((int(company["taxRegionID"]), line.code["taxCategoryID"]), ())
                )
        term_id = template_terms.get(int(company["invoiceTemplateID"])) or terms[2]["id"]
        number += 1
        invoice_at = tenant.moment(invoice_day, 5)
        exported = rng.random() < (0.85 if back > 30 else 0.1)
        paid_after = rng.randint(3, 75)
        voided = rng.random() < 0.01
        invoice = tenant.new(
            "Invoices",
            batchID=batch,
            companyID=company["id"],
            createDateTime=tenant.moment(invoice_day, 5, rng.randint(1, 59)),
            creatorResourceID=staff[-1],
            invoiceDateTime=invoice_at,
            dueDate=tenant.day(invoice_day + timedelta(days=term_days[int(term_id)])),
            fromDate=tenant.day(period_start),
            toDate=tenant.day(invoice_day),
            invoiceEditorTemplateID=company["invoiceTemplateID"],
            invoiceNumber=(f"INV-{number:06d}" if exported and rng.random() < 0.1 else str(number)),
            invoiceTotal=sum((line.total for line in lines), Decimal("0.00")),
            totalTaxValue=sum((line.tax for line in lines), Decimal("0.00")),
            isVoided=voided,
            voidedDate=tenant.moment(invoice_day + timedelta(days=1), 15) if voided else None,
            voidedByResourceID=staff[-1] if voided else None,
            orderNumber=f"PO-{rng.randint(1000, 99999)}" if rng.random() < 0.15 else None,
            comments="Thank you for your business." if rng.random() < 0.3 else None,
            paymentTerm=term_id,
            taxGroup=company["taxRegionID"],
            taxRegionName=region_names[int(company["taxRegionID"])],
            webServiceDate=(
                tenant.moment(invoice_day + timedelta(days=1), 6, rng.randint(0, 59))
                if exported
                else None
            ),
            paidDate=(
                tenant.day(invoice_day + timedelta(days=paid_after))
                if exported and not credit and paid_after < back and rng.random() < 0.8
                else None
            ),
        )
        _store_lines(
            tenant, lines, company, invoice_day, invoice_id=int(invoice["id"]), staff=staff
        )


def _store_lines(
    tenant: _Tenant,
    lines: list[_Line],
    company: dict[str, Any],
    invoice_day: date,
    *,
    invoice_id: int | None,
    staff: list[int],
) -> None:
    rng = tenant.rng
    groups: dict[str, int] = {}
    for line in lines:
        posted = invoice_day - timedelta(days=rng.randint(0, 6))
        group_id = groups.setdefault(line.group, 900000 + rng.randrange(10**8))
        tenant.new(
            "BillingItems",
            invoiceID=invoice_id,
            companyID=company["id"],
            billingItemType=line.item_type,
            subType=line.sub_type,
            billingCodeID=line.code["id"],
            itemName=line.name,
            description=line.description,
            itemDate=tenant.moment(posted - timedelta(days=rng.randint(0, 20)), 14),
            postedDate=tenant.day(posted),
            postedOnTime=tenant.moment(posted, 21, rng.randint(0, 59)),
            quantity=line.quantity,
            rate=line.rate,
            extendedPrice=line.extended,
            taxDollars=line.tax,
            totalAmount=line.total,
            ourCost=line.cost,
            nonBillable=0,
            lineItemID=group_id,
            lineItemGroupDescription=line.group,
            lineItemFullDescription=f"{line.group}: {line.description}",
            itemApproverID=staff[1],
            accountManagerWhenApprovedID=company["ownerResourceID"],
            internalCurrencyExtendedPrice=line.extended,
            internalCurrencyRate=line.rate,
            internalCurrencyTaxDollars=line.tax,
            internalCurrencyTotalAmount=line.total,
        )


def _uninvoiced_items(
    tenant: _Tenant,
    count: int,
    customers: list[dict[str, Any]],
    rates: dict[tuple[int, int], list[Decimal]],
    codes: dict[str, dict[str, Any]],
    products: list[dict[str, Any]],
    staff: list[int],
) -> None:
    """Approve-and-Post output waiting for the next invoice run: `postedDate`, no `invoiceID`."""
    rng = tenant.rng
    made = 0
    while made < count:
        company = rng.choice(customers)
        lines = _invoice_lines(tenant, codes, products, tenant.today.replace(day=1), credit=False)
        lines = lines[1 : 1 + count - made] or lines[:1]
        for line in lines:
            if not company["isTaxExempt"]:
                line.apply_tax(
                    rates.get((int(company["taxRegionID"]), line.code["taxCategoryID"]), ())
                )
        _store_lines(tenant, lines, company, tenant.today, invoice_id=None, staff=staff)
        made += len(lines)


def _inventory(tenant: _Tenant, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rng = tenant.rng
    locations = [
        tenant.new(
            "InventoryLocations", locationName="Main Warehouse", isActive=True, isDefault=True
        ),
        tenant.new("InventoryLocations", locationName="Tech Van 1", isActive=True, isDefault=False),
    ]
    for product in products[:8]:
        for location in locations:
            tenant.new(
                "InventoryItems",
                productID=product["id"],
                inventoryLocationID=location["id"],
                quantityOnHand=rng.randint(0, 40),
                quantityOnOrder=rng.randint(0, 10),
                quantityReserved=rng.randint(0, 3),
                quantityPicked=0,
                backOrderQuantity=0,
                quantityMinimum=2,
                quantityMaximum=50,
                bin=f"A{rng.randint(1, 20):02d}-{rng.randint(1, 6)}",
            )
    return locations


def _purchase_orders(
    tenant: _Tenant,
    count: int,
    vendors: list[dict[str, Any]],
    customers: list[dict[str, Any]],
    products: list[dict[str, Any]],
    locations: list[dict[str, Any]],
    terms: list[dict[str, Any]],
    staff: list[int],
) -> None:
    rng = tenant.rng
    for back in sorted((rng.randint(1, 365) for _ in range(count)), reverse=True):
        created = tenant.today - timedelta(days=back)
        vendor = rng.choice(vendors)
        status = rng.choices((1, 2, 3, 4, 5), weights=(5, 15, 10, 65, 5))[0]
        freight = Decimal(rng.choice(("0.00", "0.00", "14.95", "29.50", "7.99")))
        customer = rng.choice(customers)
        order = tenant.new(
            "PurchaseOrders",
            vendorID=vendor["id"],
            status=status,
            paymentTerm=terms[2]["id"],
            purchaseForCompanyID=customer["id"] if rng.random() < 0.6 else None,
            createDateTime=tenant.moment(created, 15),
            creatorResourceID=staff[1],
            submitDateTime=tenant.moment(created, 16) if status > 1 else None,
            cancelDateTime=tenant.moment(created + timedelta(days=2), 10) if status == 5 else None,
            vendorInvoiceNumber=(
                f"{vendor['companyName'][:3].upper()}-{rng.randint(100000, 9999999)}"
                if status in (3, 4)
                else None
            ),
            externalPONumber=None,
            freight=freight,
            internalCurrencyFreight=freight,
            shipToName="Northwind Managed IT",
            shipToAddress1="500 Commerce Way",
            shipToCity="Columbus",
            shipToState="OH",
            shipToPostalCode="43215",
            shippingType=rng.choice((1, 1, 2, 3)),
            showEachTaxInGroup=False,
            showTaxCategory=False,
            useItemDescriptionsFrom=1,
            latestEstimatedArrivalDate=tenant.day(created + timedelta(days=rng.randint(2, 14))),
            generalMemo=f"For {customer['companyName']}" if rng.random() < 0.5 else None,
        )
        for product in rng.sample(products[:8], rng.randint(1, 5)):
            tenant.new(
                "PurchaseOrderItems",
                orderID=order["id"],
                productID=product["id"],
                quantity=rng.randint(1, 12),
                unitCost=product["unitCost"],
                internalCurrencyUnitCost=product["unitCost"],
                inventoryLocationID=rng.choice(locations)["id"],
                estimatedArrivalDate=order["latestEstimatedArrivalDate"],
                memo=None,
            )


def _expenses(
    tenant: _Tenant, count: int, staff: list[int], customers: list[dict[str, Any]]
) -> None:
    rng = tenant.rng
    for back in sorted((rng.randint(7, 365) for _ in range(count)), reverse=True):
        week_ending = tenant.today - timedelta(days=back)
        week_ending += timedelta(days=(5 - week_ending.weekday()) % 7)  # a Saturday
        submitter = rng.choice(staff[1:])
        status = rng.choices((1, 2, 3, 4, 5), weights=(10, 15, 5, 30, 40))[0]
        report = tenant.new(
            "ExpenseReports",
            name=f"Expenses week ending {week_ending:%Y-%m-%d}",
            submitterID=submitter,
            approverID=staff[1] if status in (4, 5) else None,
            status=status,
            submit=status > 1,
            submitDate=tenant.moment(week_ending + timedelta(days=1), 16) if status > 1 else None,
            approvedDate=(
                tenant.moment(week_ending + timedelta(days=3), 10) if status in (4, 5) else None
            ),
            weekEnding=tenant.day(week_ending),
            internalCurrencyCashAdvanceAmount=Decimal("0.00"),
            reimbursementCurrencyCashAdvanceAmount=Decimal("0.00"),
            reimbursementCurrencyID=1,
            quickBooksReferenceNumber=(
                f"BILL-{rng.randint(10000, 99999)}" if status == 5 and rng.random() < 0.7 else None
            ),
            rejectionReason="Receipt missing" if status == 3 else None,
        )
        total, due = Decimal("0.00"), Decimal("0.00")
        for _ in range(rng.randint(1, 4)):
            category = rng.choice((1, 2, 3, 5, 6))
            amount = (
                _money(Decimal(rng.randint(5, 180)) * Decimal("0.67"))
                if category == 1
                else Decimal(rng.randint(500, 45000)) / 100
            )
            reimbursable = rng.random() < 0.85
            rejected = status == 3 and rng.random() < 0.5
            reimbursed = amount if reimbursable and not rejected else Decimal("0.00")
            customer = rng.choice(customers)
            tenant.new(
                "ExpenseItems",
                expenseReportID=report["id"],
                expenseDate=tenant.day(week_ending - timedelta(days=rng.randint(0, 6))),
                expenseCategory=category,
                description=rng.choice(
                    ("Client site visit", "Parts run", "Lunch with client", "Parking", "Hotel")
                ),
                companyID=customer["id"],
                expenseCurrencyID=1,
                expenseCurrencyExpenseAmount=amount,
                internalCurrencyExpenseAmount=amount,
                internalCurrencyReimbursementAmount=reimbursed,
                reimbursementCurrencyReimbursementAmount=reimbursed,
                isBillableToCompany=rng.random() < 0.4,
                isReimbursable=reimbursable,
                isRejected=rejected,
                haveReceipt=rng.random() < 0.9,
                paymentType=rng.choice((1, 2, 3)),
                glCode="6100" if category != 1 else "6150",
                miles=Decimal(int(amount / Decimal("0.67"))) if category == 1 else None,
            )
            total += amount
            due += reimbursed
        report["internalCurrencyExpenseTotal"] = total
        report["amountDue"] = due
        report["reimbursementCurrencyAmountDue"] = due
