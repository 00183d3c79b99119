"""Simulated MSP books: a generator of realistic ConnectWise data, and explicit seeding.

`generate(sim, invoices=N, seed=S)` replaces the ConnectWise data with the same books for the
same seed: customers with contacts, billing terms, tax codes, GL accounts, a catalog (long
identifiers, licence quantities with seven decimals), multi-line invoices with taxes, credit
memos, agreement invoices, payments, purchase orders, adjustments and expenses. Totals follow
CW's arithmetic (Decimal; each line and each tax level rounded half away from zero to cents).
"""

import random
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ledgerbridge_sim import jsonio
from ledgerbridge_sim.connectwise import accounting
from ledgerbridge_sim.connectwise.accounting import ZERO, money
from ledgerbridge_sim.connectwise.schema import field_set
from ledgerbridge_sim.state import Simulator, SystemState

SYSTEM = "connectwise"
ANCHOR = datetime(2025, 1, 1, tzinfo=UTC)
DEFAULT_HREF_BASE = "http://127.0.0.1:8900/connectwise/v4_6_release/apis/3.0"
# Bookkeeping in `extra` that belongs to the data (configuration keys are kept).
DATA_KEYS = ("lines_by_invoice", "batch_contents", "procurement_entries")
SEVEN_PLACES = Decimal("0.0000001")
_DAYS = [(ANCHOR + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ") for day in range(800)]
# Tax-code rows: identifier, description, levels [(caption, rate, xref, agency, services)]
TAX_CODES: list[tuple[str, str, list[tuple[str, str, str, str, bool]]]] = [
    ("Exempt", "Tax exempt", []),
    (
        "TX-AUSTIN",
        "Texas, City of Austin",
        [("State", "6.25", "TX", "TX-COMPTROLLER", True), ("City", "2.00", "AUS", "AUSTIN", True)],
    ),
    (
        "NY-NYC",
        "New York City",
        [
            ("State", "4.00", "NY", "NYS-DTF", False),
            ("City", "4.50", "NYC", "NYC-DOF", False),
            ("MCTD", "0.375", "MCTD", "NYS-DTF", False),
        ],
    ),
    (
        "WA-SEATTLE",
        "Washington, Seattle",
        [("State", "6.50", "WA", "WA-DOR", True), ("City", "3.85", "SEA", "WA-DOR", True)],
    ),
]
TAX_REGIONS = {
    "Exempt": ("Portland", "OR", "972"),
    "TX-AUSTIN": ("Austin", "TX", "787"),
    "NY-NYC": ("New York", "NY", "100"),
    "WA-SEATTLE": ("Seattle", "WA", "981"),
}
TERMS = [("Net 30", 30), ("Net 15", 15), ("Due on Receipt", 0), ("Net 45", 45), ("Net 60", 60)]
STATUSES = [
    ("New", False, False),
    ("Ready to Send", False, False),
    ("Sent", True, True),
    ("Closed", True, False),
]
# GL accounts: number, description, glType, mapped type
GL_ACCOUNTS = [
    ("1200", "Accounts Receivable", "AR", "Accounts Receivable"),
    ("1400", "Inventory", "IA", "Inventory"),
    ("2000", "Accounts Payable", "AP", "Accounts Payable"),
    ("2200", "Sales Tax Payable", "ST", "Tax Code"),
    ("4000", "Managed Services Revenue", "RA", "Agreement Type"),
    ("4100", "Professional Services Revenue", "R", "Work Role"),
    ("4200", "Hardware Sales", "P", "Product Category"),
    ("4300", "Software and Licensing", "P", "Product Category"),
    ("4400", "Reimbursed Expenses", "RE", "Expense Type"),
    ("5000", "Cost of Goods Sold", "PF", "Product Category"),
    ("5100", "Inventory Adjustments", "IA", "Adjustment Type"),
    ("6100", "Travel Expense", "EE", "Expense Type"),
    ("6200", "Meals and Entertainment", "EE", "Expense Type"),
    ("6300", "Mileage", "EE", "Expense Type"),
]
# Catalog: identifier, description, class, category, price, cost, taxable, kind, account
CATALOG: list[tuple[str, str, str, str, str, str, bool, str, str]] = [
    (
        "MS-ENDPOINT",
        "Managed Endpoint (per device)",
        "Agreement",
        "Managed Services",
        "45.00",
        "12.00",
        True,
        "Agreement",
        "4000",
    ),
    (
        "MS-SERVER",
        "Managed Server",
        "Agreement",
        "Managed Services",
        "150.00",
        "40.00",
        True,
        "Agreement",
        "4000",
    ),
    (
        "MS-BACKUP-TB",
        "Cloud Backup per TB",
        "Agreement",
        "Managed Services",
        "85.00",
        "31.50",
        True,
        "Agreement",
        "4000",
    ),
    (
        "MS-SECURITY-EDR",
        "Endpoint Detection and Response",
        "Agreement",
        "Security",
        "7.50",
        "3.10",
        True,
        "Agreement",
        "4000",
    ),
    (
        "LABOR-REMOTE",
        "Remote Support (hourly)",
        "Service",
        "Labor",
        "135.00",
        "48.00",
        True,
        "Service",
        "4100",
    ),
    (
        "LABOR-ONSITE",
        "Onsite Support (hourly)",
        "Service",
        "Labor",
        "165.00",
        "55.00",
        True,
        "Service",
        "4100",
    ),
    (
        "PROJECT-ENG",
        "Project Engineering (hourly)",
        "Service",
        "Projects",
        "175.00",
        "62.00",
        True,
        "Service",
        "4100",
    ),
    (
        "M365-BP",
        "Microsoft 365 Business Premium",
        "NonInventory",
        "Licensing",
        "22.00",
        "19.80",
        True,
        "License",
        "4300",
    ),
    (
        "M365-E3",
        "Microsoft 365 E3",
        "NonInventory",
        "Licensing",
        "36.00",
        "32.40",
        True,
        "License",
        "4300",
    ),
    (
        "AZURE-CONSUMPTION",
        "Azure consumption (per unit)",
        "NonInventory",
        "Licensing",
        "1.00",
        "0.88",
        True,
        "License",
        "4300",
    ),
    (
        "ADOBE-CC-ALLAPPS",
        "Adobe Creative Cloud All Apps",
        "NonInventory",
        "Licensing",
        "89.99",
        "79.99",
        True,
        "License",
        "4300",
    ),
    (
        "LENOVO-TP-X1C-G11-21HM004GUS-I7-16GB-512GB-W11P",
        "Lenovo ThinkPad X1 Carbon Gen 11",
        "Inventory",
        "Hardware",
        "1899.00",
        "1512.00",
        True,
        "Product",
        "4200",
    ),
    (
        "DELL-LATITUDE-5440-I5-1345U-16GB-256GB-W11P-3YR-PROSUPPORT-NBD-ONSITE-SVC",
        "Dell Latitude 5440 with 3-year ProSupport",
        "Inventory",
        "Hardware",
        "1249.00",
        "1018.25",
        True,
        "Product",
        "4200",
    ),
    (
        "UBIQUITI-U6-PRO",
        "Ubiquiti UniFi U6 Pro access point",
        "Inventory",
        "Networking",
        "179.00",
        "149.00",
        True,
        "Product",
        "4200",
    ),
    (
        "MERAKI-MX68-HW",
        "Cisco Meraki MX68 security appliance",
        "Inventory",
        "Networking",
        "695.00",
        "540.00",
        True,
        "Product",
        "4200",
    ),
    (
        "APC-SMT1500RM2UC",
        "APC Smart-UPS 1500VA rack mount",
        "Inventory",
        "Power",
        "989.00",
        "802.00",
        True,
        "Product",
        "4200",
    ),
    (
        "CAT6-PATCH-3FT",
        "Cat6 patch cable, 3 ft",
        "Inventory",
        "Cabling",
        "2.49",
        "0.83",
        True,
        "Product",
        "4200",
    ),
    (
        "HP-LJ-M507DN",
        "HP LaserJet Enterprise M507dn",
        "Inventory",
        "Printers",
        "549.00",
        "431.00",
        True,
        "Product",
        "4200",
    ),
    (
        "TRAVEL-MILEAGE",
        "Mileage (per mile)",
        "NonInventory",
        "Travel",
        "0.67",
        "0.67",
        False,
        "Expense",
        "4400",
    ),
    (
        "SETUP-FEE",
        "One-time onboarding fee",
        "Service",
        "Projects",
        "750.00",
        "0.00",
        False,
        "Service",
        "4100",
    ),
]
PREFIXES = [
    "Acme",
    "Bluebird",
    "Cedar",
    "Summit",
    "Harbor",
    "Pinnacle",
    "Riverbend",
    "Northwind",
    "Lakeside",
    "Granite",
    "Evergreen",
    "Silverline",
    "Oakridge",
    "Maple",
    "Redwood",
    "Ironclad",
    "Brightpath",
    "Keystone",
    "Frontier",
    "Crescent",
    "Meridian",
    "Sterling",
    "Atlas",
    "Beacon",
    "Cobalt",
    "Driftwood",
    "Falcon",
    "Highland",
    "Juniper",
    "Willow",
]
TRADES = [
    "Dental",
    "Law",
    "Logistics",
    "Accounting",
    "Architects",
    "Veterinary",
    "Construction",
    "Realty",
    "Insurance",
    "Medical Group",
    "Manufacturing",
    "Engineering",
    "Marketing",
    "Credit Union",
    "Academy",
    "Clinic",
    "Foods",
    "Auto",
    "Plumbing",
    "Hotels",
]
SUFFIXES = ["LLC", "Inc.", "Group", "Partners", "Co.", "Ltd", "PLLC", "& Associates"]
# Real customer names break naive quoting: keep a few in every data set.
ODD_NAMES = {
    2: 'O\'Brien & Sons "Quality" Plumbing',
    5: "Café Zürich GmbH",
    7: "Smith, Jones & Partners (Tax) LLP",
}
FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Chen",
    "Priya",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Nguyen",
    "O'Neil",
]
VENDORS = [
    ("IngramMicro", "Ingram Micro", "V-INGRAM"),
    ("TDSynnex", "TD SYNNEX", "V-SYNNEX"),
    ("Pax8", "Pax8", "V-PAX8"),
    ("DellTech", "Dell Technologies", "V-DELL"),
    ("AmazonBusiness", "Amazon Business", "V-AMAZON"),
]
MEMBERS = [
    ("apiuser", "API", "Member", "A", ""),
    ("jdoe", "John", "Doe", "F", "EMP-JDOE"),
    ("asmith", "Anna", "Smith", "F", "EMP-ASMITH"),
    ("mgarcia", "Miguel", "Garcia", "F", "EMP-MGARCIA"),
    ("klee", "Kim", "Lee", "C", "EMP-KLEE"),
]
EXPENSE_TYPES = [
    ("Mileage", "6300", "0.67"),
    ("Meals", "6200", None),
    ("Airfare", "6100", None),
    ("Hotel", "6100", None),
    ("Parking", "6100", None),
]


def _reset_data(state: SystemState) -> None:
    state.collections.clear()
    state._ids.clear()  # ids restart with the data, so one seed always gives the same ids
    for key in (*DATA_KEYS, "field_sets"):
        state.extra.pop(key, None)


class _Books:
    """Builds one data set; each record is made once, references are shared objects."""

    def __init__(self, state: SystemState, rng: random.Random) -> None:
        self.state = state
        self.rng = rng
        self.href = str(state.extra.get("href_base", DEFAULT_HREF_BASE))
        self.gl_ids = 500001  # GL entry ids: invoice lines, expenses, PO lines, adjustments
        self.counts: dict[str, int] = {}

    def put(self, collection: str, record: dict[str, Any]) -> dict[str, Any]:
        self.state.collection(collection)[record["id"]] = record
        self.counts[collection] = self.counts.get(collection, 0) + 1
        return record

    def gl_id(self) -> int:
        self.gl_ids += 1
        return self.gl_ids - 1

    def info(self, day: int, who: str = "jdoe") -> dict[str, str]:
        stamp = _DAYS[min(day, len(_DAYS) - 1)]
        return {"lastUpdated": stamp, "updatedBy": who, "dateEntered": stamp, "enteredBy": who}

    def ref(self, kind: str, path: str, record: dict[str, Any], *keys: str) -> dict[str, Any]:
        reference = {key: record[key] for key in ("id", *keys) if key in record}
        reference["_info"] = {f"{kind}_href": f"{self.href}/{path}/{record['id']}"}
        return reference

    # --- set-up tables ----------------------------------------------------------------------

    def tables(self) -> None:
        for index, (name, closed, sent) in enumerate(STATUSES, start=1):
            self.put(
                "billingStatuses",
                {
                    "id": index,
                    "name": name,
                    "sortOrder": index,
                    "defaultFlag": index == 1,
                    "closedFlag": closed,
                    "sentFlag": sent,
                    "inactiveFlag": False,
                    "_info": self.info(0, "admin"),
                },
            )
        self.status_refs = {
            row["name"]: {"id": row["id"], "name": row["name"], "isClosed": row["closedFlag"]}
            for row in self.state.collection("billingStatuses").values()
        }
        self.terms: list[tuple[dict[str, Any], int]] = []
        row: dict[str, Any]
        for index, (name, days) in enumerate(TERMS, start=1):
            row = self.put(
                "billingTerms",
                {
                    "id": index,
                    "name": name,
                    "dueDays": days,
                    "termsXref": str(days),
                    "defaultFlag": index == 1,
                    "_info": self.info(0, "admin"),
                },
            )
            self.terms.append((self.ref("billingTerm", "finance/billingTerms", row, "name"), days))
        self.tax_codes = []
        for index, (identifier, description, levels) in enumerate(TAX_CODES, start=1):
            row = {
                "id": index,
                "identifier": identifier,
                "description": description,
                "invoiceCaption": "Sales Tax",
                "effectiveDate": "2020-01-01T00:00:00Z",
                "defaultFlag": index == 2,
                "displayOnInvoiceFlag": True,
                "canadaCalculateGSTFlag": False,
                "country": {"id": 1, "name": "United States"},
                "_info": self.info(0, "admin"),
            }
            for word, level in zip(accounting.LEVEL_WORDS, levels, strict=False):
                caption, rate, xref, agency, services = level
                row |= {
                    f"level{word}Rate": Decimal(rate),
                    f"level{word}RateType": "Percent",
                    f"level{word}Caption": caption,
                    f"level{word}TaxCodeXref": xref,
                    f"level{word}AgencyXref": agency,
                    f"level{word}TaxableMax": ZERO,
                    f"level{word}ServicesFlag": services,
                    f"level{word}ProductsFlag": True,
                    f"level{word}ExpensesFlag": False,
                }
            self.put("taxCodes", row)
            self.tax_codes.append(
                (
                    row,
                    {
                        **self.ref("taxCode", "finance/taxCodes", row, "identifier"),
                        "name": identifier,
                    },
                )
            )
        for index, (number, description, gl_type, mapped) in enumerate(GL_ACCOUNTS, start=1):
            self.put(
                "glAccounts",
                {
                    "id": index,
                    "glType": gl_type,
                    "accountNumber": number,
                    "description": description,
                    "mappedType": {"id": index, "name": mapped},
                    "mappedRecord": {"id": index, "name": description},
                    "segment1": number,
                    "inactiveFlag": False,
                    "_info": self.info(0, "admin"),
                },
            )
        self.currency = {"id": 1, "currencyCode": "USD", "symbol": "$", "name": "US Dollars"}
        for index, (identifier, first, last, license_class, vendor) in enumerate(MEMBERS, 1):
            row = {
                "id": index,
                "identifier": identifier,
                "firstName": first,
                "lastName": last,
                "officeEmail": f"{identifier}@demo-msp.example",
                "inactiveFlag": False,
                "licenseClass": license_class,
                "hourlyCost": Decimal("42.50"),
                "defaultLocation": {"id": 1, "name": "Main"},
                "defaultDepartment": {"id": 1, "identifier": "Services", "name": "Services"},
                "type": {
                    "id": 1 if identifier == "apiuser" else 2,
                    "name": "API Member" if identifier == "apiuser" else "Employee",
                },
                "_info": self.info(0, "admin"),
            }
            if vendor:
                row["vendorNumber"] = vendor
            self.put("members", row)
        self.member_refs = [
            self.ref("member", "system/members", row, "identifier", "name")
            for row in list(self.state.collection("members").values())[1:]
        ]
        self.warehouses = []
        for index, (name, xref) in enumerate(
            [("Main Warehouse", "MAIN"), ("Service Van 1", "VAN1")], 1
        ):
            row = self.put(
                "warehouses",
                {
                    "id": index,
                    "name": name,
                    "locationXref": xref,
                    "inactiveFlag": False,
                    "lockedFlag": False,
                    "overallDefaultFlag": index == 1,
                    "locationDefaultFlag": index == 1,
                    "location": {"id": 1, "name": "Main"},
                    "currency": self.currency,
                    "_info": self.info(0, "admin"),
                },
            )
            self.warehouses.append(self.ref("warehouse", "procurement/warehouses", row, "name"))

    def vendors_and_catalog(self) -> None:
        self.vendor_refs = []
        for index, (identifier, name, number) in enumerate(VENDORS):
            row = self.put(
                "companies",
                {
                    "id": 100 + index,
                    "identifier": identifier,
                    "name": name,
                    "status": {"id": 1, "name": "Active"},
                    "types": [{"id": 5, "name": "Vendor"}],
                    "isVendorFlag": True,
                    "vendorIdentifier": number,
                    "accountNumber": number,
                    "deletedFlag": False,
                    "addressLine1": "1 Distribution Way",
                    "city": "Irvine",
                    "state": "CA",
                    "zip": "92612",
                    "country": {"id": 1, "name": "United States"},
                    "billingTerms": self.terms[0][0],
                    "currency": self.currency,
                    "customFields": [],
                    "_info": self.info(0, "admin"),
                },
            )
            self.vendor_refs.append(
                self.ref("company", "company/companies", row, "identifier", "name")
            )
        self.catalog = []
        for index, spec in enumerate(CATALOG, start=1):
            identifier, description, product_class, category, price, cost, taxable, kind, acct = (
                spec
            )
            row = self.put(
                "catalog",
                {
                    "id": index,
                    "identifier": identifier,
                    "description": description,
                    "customerDescription": description,
                    "productClass": product_class,
                    "type": {"id": 1, "name": kind},
                    "category": {"id": 1, "name": category},
                    "subcategory": {"id": 1, "name": category},
                    "price": Decimal(price),
                    "cost": Decimal(cost),
                    "taxableFlag": taxable,
                    "inactiveFlag": False,
                    "serializedFlag": product_class == "Inventory",
                    "vendor": self.vendor_refs[index % len(self.vendor_refs)],
                    "unitOfMeasure": {"id": 1, "name": "Hour" if kind == "Service" else "Each"},
                    "recurringFlag": product_class == "Agreement" or kind == "License",
                    "integrationXRef": acct,
                    "_info": self.info(0, "admin"),
                },
            )
            self.catalog.append(
                (row, self.ref("catalogItem", "procurement/catalog", row, "identifier"), kind, acct)
            )
        self.by_kind: dict[str, list[tuple[dict[str, Any], dict[str, Any], str, str]]] = {}
        for entry in self.catalog:
            self.by_kind.setdefault(entry[2], []).append(entry)

    def customers(self, count: int) -> None:
        rng = self.rng
        self.companies: list[
            tuple[
                dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any], int
            ]
        ] = []
        seen: set[str] = set()
        contact_id = 1
        for index in range(count):
            name = ODD_NAMES.get(index) or (
                f"{PREFIXES[index % 30]} {TRADES[(index // 30) % 20]} "
                f"{SUFFIXES[(index // 600) % 8]}"
            )
            if index >= 4800:
                name = f"{name} {index // 4800 + 1}"
            identifier = "".join(ch for ch in name if ch.isalnum())[:22]
            while identifier in seen:
                identifier = f"{identifier[:20]}{len(seen) % 100:02d}"
            seen.add(identifier)
            tax_row, tax_ref = self.tax_codes[rng.choices((0, 1, 2, 3), (10, 45, 25, 20))[0]]
            city, region, zip_prefix = TAX_REGIONS[tax_row["identifier"]]
            terms_ref, due_days = self.terms[rng.choices((0, 1, 2, 3, 4), (60, 15, 10, 10, 5))[0]]
            domain = identifier.lower()[:16] + ".example"
            company_id = 250 + index
            row = {
                "id": company_id,
                "identifier": identifier,
                "name": name,
                "status": {"id": 1, "name": "Active"},
                "types": [{"id": 1, "name": "Client"}],
                "addressLine1": f"{100 + index} Main Street",
                "city": city,
                "state": region,
                "zip": f"{zip_prefix}{index % 100:02d}",
                "country": {"id": 1, "name": "United States"},
                "phoneNumber": f"555{index:07d}"[:10],
                "website": f"www.{domain}",
                "accountNumber": f"C{company_id:05d}",
                "billingTerms": terms_ref,
                "invoiceDeliveryMethod": {"id": 1, "name": "Email"},
                "invoiceToEmailAddress": f"ap@{domain}",
                "taxCode": tax_ref,
                "currency": self.currency,
                "isVendorFlag": False,
                "deletedFlag": False,
                "customFields": [
                    {
                        "id": 1,
                        "caption": "Customer Ref",
                        "type": "Text",
                        "entryMethod": "EntryField",
                        "numberOfDecimals": 0,
                        "value": f"REF-{company_id}" if index % 3 else None,
                    }
                ],
                "_info": self.info(0, "admin"),
            }
            ref = self.ref("company", "company/companies", row, "identifier", "name")
            row["billToCompany"] = ref
            contacts = []
            for number in range(1 + index % 2 + (index % 7 == 0)):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                email = f"{first}.{last}".lower().replace("'", "") + f"@{domain}"
                contact = self.put(
                    "contacts",
                    {
                        "id": contact_id,
                        "firstName": first,
                        "lastName": last,
                        "company": ref,
                        "title": "Office Manager" if number == 0 else "Controller",
                        "defaultFlag": number == 0,
                        "defaultBillingFlag": number == 0,
                        "inactiveFlag": False,
                        "communicationItems": [
                            {
                                "id": contact_id * 2,
                                "type": {"id": 1, "name": "Email"},
                                "value": email,
                                "defaultFlag": True,
                                "communicationType": "Email",
                            },
                            {
                                "id": contact_id * 2 + 1,
                                "type": {"id": 2, "name": "Direct"},
                                "value": f"555{contact_id:07d}"[:10],
                                "defaultFlag": True,
                                "communicationType": "Phone",
                            },
                        ],
                        "_info": self.info(0, "admin"),
                    },
                )
                contacts.append(contact)
                contact_id += 1
            row["defaultContact"] = {
                "id": contacts[0]["id"],
                "name": f"{contacts[0]['firstName']} {contacts[0]['lastName']}",
            }
            row["billingContact"] = row["defaultContact"]
            self.put("companies", row)
            self.companies.append((row, ref, tax_row, tax_ref, terms_ref, due_days))

    # --- invoices -----------------------------------------------------------------------------

    def quantity(self, kind: str, negative: bool) -> Decimal:
        rng = self.rng
        if kind == "Service":
            value = Decimal(rng.randint(1, 24)) / 4
        elif kind == "License":
            if rng.random() < 0.25:  # mid-month prorations carry seven decimals
                value = (Decimal(rng.randint(1, 40)) * rng.randint(1, 30) / 31).quantize(
                    SEVEN_PLACES, rounding=ROUND_HALF_UP
                )
            else:
                value = Decimal(rng.randint(1, 60))
        elif kind == "Expense":
            value = Decimal(rng.randint(50, 2500)) / 10
        else:
            value = Decimal(rng.randint(1, 12))
        return -value if negative else value

    def invoice_lines(self, invoice_type: str) -> list[tuple[Any, ...]]:
        rng = self.rng
        if invoice_type == "Agreement":
            kinds = ["Agreement"] * rng.randint(1, 3) + ["License"] * rng.randint(0, 2)
        elif invoice_type == "CreditMemo":
            kinds = [rng.choice(("Product", "License", "Service"))]
        elif invoice_type == "Miscellaneous":
            kinds = [rng.choice(("Service", "Expense", "Product"))]
        else:
            kinds = [
                rng.choice(("Service", "Service", "Product", "License", "Expense"))
                for _ in range(rng.randint(1, 6))
            ]
        return [rng.choice(self.by_kind[kind]) for kind in kinds]

    def invoices(self, count: int, open_share: float) -> None:
        rng = self.rng
        lines_by_invoice: dict[int, list[dict[str, Any]]] = self.state.extra.setdefault(
            "lines_by_invoice", {}
        )
        lines = self.state.collection("invoiceLines")
        payments = self.state.collection("payments")
        sent, new = self.status_refs["Sent"], self.status_refs["New"]
        payment_id = 1
        span = 364
        for index in range(count):
            invoice_id = 1001 + index
            day = index * span // max(count, 1)
            company, company_ref, tax_row, tax_ref, terms_ref, due_days = rng.choice(self.companies)
            roll = rng.random()
            invoice_type = (
                "Standard"
                if roll < 0.58
                else "Agreement"
                if roll < 0.83
                else "CreditMemo"
                if roll < 0.91
                else "Miscellaneous"
                if roll < 0.97
                else "Progress"
            )
            negative = invoice_type == "CreditMemo"
            invoice_lines = []
            for number, (item, item_ref, kind, account) in enumerate(
                self.invoice_lines(invoice_type), start=1
            ):
                quantity = self.quantity(kind, negative)
                price = item["price"]
                line = {
                    "id": self.gl_id(),
                    "invoiceId": invoice_id,
                    "lineNumber": number,
                    "item": item_ref,
                    "description": item["description"],
                    "quantity": quantity,
                    "price": price,
                    "cost": item["cost"],
                    "total": money(quantity * price),
                    "taxableFlag": item["taxableFlag"] and kind != "Expense",
                    "kind": "Product" if kind in ("Product", "License") else "Service",
                    "accountNumber": account,
                    "salesCode": kind.upper()[:4],
                    "costAccountNumber": "5000",
                    "inventoryAccountNumber": accounting.INVENTORY_ACCOUNT,
                }
                lines[line["id"]] = line
                invoice_lines.append(line)
            lines_by_invoice[invoice_id] = invoice_lines
            levels = accounting.tax_levels(tax_row, invoice_lines)
            subtotal = sum((line["total"] for line in invoice_lines), ZERO)
            sales_tax = sum((level["taxAmount"] for level in levels), ZERO)
            total = subtotal + sales_tax
            service = sum((ln["total"] for ln in invoice_lines if ln["kind"] == "Service"), ZERO)
            product = subtotal - service
            closed = rng.random() >= open_share
            invoice: dict[str, Any] = {
                "id": invoice_id,
                "invoiceNumber": str(10000 + invoice_id),
                "type": invoice_type,
                "status": sent if closed else new,
                "company": company_ref,
                "billToCompany": company_ref,
                "shipToCompany": company_ref,
                "accountNumber": company["accountNumber"],
                "applyToType": "All",
                "attention": company["defaultContact"]["name"],
                "billingSite": {"id": company["id"], "name": "Main"},
                "billingSiteAddressLine1": company["addressLine1"],
                "billingSiteCity": company["city"],
                "billingSiteState": company["state"],
                "billingSiteZip": company["zip"],
                "billingSiteCountry": "United States",
                "billingTerms": terms_ref,
                "invoiceTemplate": {"id": 1, "name": "Standard Invoice"},
                "addToBatchEmailList": closed,
                "date": _DAYS[day],
                "dueDate": _DAYS[day + due_days],
                "restrictDownpaymentFlag": False,
                "locationId": 1,
                "departmentId": 1,
                "territoryId": 1,
                "taxableFlag": bool(levels),
                "taxCode": tax_ref,
                "downpaymentPreviouslyTaxedFlag": False,
                "serviceTotal": service,
                "expenseTotal": ZERO,
                "productTotal": product,
                "agreementAmount": ZERO,
                "serviceAdjustmentAmount": ZERO,
                "previousProgressApplied": ZERO,
                "downpaymentApplied": ZERO,
                "remainingDownpayment": ZERO,
                "overrideDownPaymentAmountFlag": False,
                "subtotal": subtotal,
                "salesTax": sales_tax,
                "total": total,
                "payments": ZERO,
                "credits": ZERO,
                "balance": total,
                "currency": self.currency,
                "specialInvoiceFlag": False,
                "customFields": [],
                "_info": self.info(day),
            }
            if invoice_type == "Agreement":
                agreement_id = 3000 + company["id"]
                invoice |= {
                    "applyToType": "Agreement",
                    "applyToId": agreement_id,
                    "agreement": {
                        "id": agreement_id,
                        "name": f"Managed Services - {company['name']}",
                    },
                    "agreementAmount": subtotal,
                    "serviceTotal": ZERO,
                    "reference": f"Managed services {_DAYS[day][:7]}",
                }
            elif invoice_type == "CreditMemo":
                invoice["reference"] = "Credit for returned or unused items"
            elif invoice_type == "Progress":
                invoice |= {
                    "applyToType": "Project",
                    "applyToId": 7000 + index % 50,
                    "reference": "Progress billing",
                }
            if rng.random() < 0.3:
                invoice["customerPO"] = f"PO-{rng.randint(1000, 99999)}"
            if closed and not negative and total > 0:
                roll = rng.random()
                paid = total if roll < 0.45 else money(total / 2) if roll < 0.6 else ZERO
                splits = (
                    [money(paid * Decimal("0.4")), paid - money(paid * Decimal("0.4"))]
                    if (paid == total and rng.random() < 0.2)
                    else [paid]
                )
                for number, amount in enumerate(splits):
                    if amount <= 0:
                        continue
                    invoice["payments"] += amount
                    invoice["balance"] = total - invoice["payments"]
                    pay_day = min(day + due_days // 2 + 5 + number * 9, 798)
                    payments[payment_id] = {
                        "id": payment_id,
                        "type": rng.choice(("Payment", "Check", "Credit Card", "ACH")),
                        "source": "Manual",
                        "invoice": {
                            "id": invoice_id,
                            "identifier": invoice["invoiceNumber"],
                            "billingType": invoice_type,
                            "applyToType": invoice["applyToType"],
                        },
                        "amount": amount,
                        "paymentDate": _DAYS[pay_day],
                        "appliedBy": "jdoe",
                        "balance": invoice["balance"],
                        "invoiceBalance": invoice["balance"],
                        "invoiceTotal": total,
                        "_info": self.info(pay_day),
                    }
                    payment_id += 1
                if invoice["payments"]:
                    invoice["_info"] = {**invoice["_info"], "lastUpdated": _DAYS[pay_day]}
            self.put("invoices", invoice)
            if closed:
                accounting.close_invoice(self.state, invoice)
        self.counts["invoiceLines"] = len(lines)
        self.counts["payments"] = len(payments)

    # --- expenses, purchasing, inventory -----------------------------------------------------

    def expenses(self, count: int) -> None:
        rng = self.rng
        for index in range(count):
            day = index * 364 // max(count, 1)
            member = self.member_refs[index % len(self.member_refs)]
            company_ref = rng.choice(self.companies)[1]
            name, account, rate = rng.choice(EXPENSE_TYPES)
            amount = (
                money(Decimal(rng.randint(5, 180)) * Decimal(rate))
                if rate
                else Decimal(rng.randint(800, 60000)) / 100
            )
            billable = rng.random() < 0.4
            expense_id = self.gl_id()
            record: dict[str, Any] = {
                "id": expense_id,
                "expenseDetailId": expense_id,
                "member": member,
                "company": company_ref,
                "chargeCode": {"id": 1, "name": "Travel"},
                "chargeDescription": f"{name} - {company_ref['name']}",
                "expenseType": {"id": EXPENSE_TYPES.index((name, account, rate)) + 1, "name": name},
                "classification": "Reimbursable",
                "glType": "EE",
                "accountNumber": account,
                "creditAccount": accounting.AP_ACCOUNT,
                "paymentMethod": {"id": 1, "name": "Personal Card"},
                "dateExpense": _DAYS[day],
                "billableAmount": amount if billable else ZERO,
                "nonBillableAmount": ZERO if billable else amount,
                "agreementAmountCovered": ZERO,
                "total": amount,
                "currency": self.currency,
                "salesTaxAmount": ZERO,
                "inPolicy": True,
                "dateClosed": _DAYS[day + 3],
                "locationId": 1,
                "departmentId": 1,
            }
            for prefix in accounting.LEVEL_PREFIXES:
                record |= {
                    f"{prefix}TaxFlag": False,
                    f"{prefix}TaxXref": "",
                    f"{prefix}TaxAmount": ZERO,
                }
            accounting.register_unposted(self.state, "expense", record, [expense_id])
            self.counts["unpostedExpenses"] = self.counts.get("unpostedExpenses", 0) + 1

    def purchasing(self, count: int) -> None:
        rng = self.rng
        hardware = self.by_kind["Product"]
        entries: dict[int, list[int]] = self.state.extra.setdefault("procurement_entries", {})
        unposted_id = 1
        for index in range(count):
            po_id = 2001 + index
            day = index * 364 // max(count, 1)
            vendor = self.vendor_refs[index % len(self.vendor_refs)]
            closed = rng.random() < 0.8
            line_ids, subtotal = [], ZERO
            for number in range(1, rng.randint(1, 4) + 1):
                item, item_ref, _, _ = rng.choice(hardware)
                quantity = Decimal(rng.randint(1, 20))
                line_id = self.gl_id()
                self.put(
                    "purchaseOrderLineItems",
                    {
                        "id": line_id,
                        "purchaseOrderId": po_id,
                        "lineNumber": number,
                        "description": item["description"],
                        "quantity": quantity,
                        "product": {**item_ref, "serializedFlag": item["serializedFlag"]},
                        "unitCost": item["cost"],
                        "tax": ZERO,
                        "receivedQuantity": quantity if closed else ZERO,
                        "receivedStatus": "FullyReceived" if closed else "Waiting",
                        "closedFlag": closed,
                        "canceledFlag": False,
                        "backorderedFlag": False,
                        "warehouse": self.warehouses[0],
                        "vendorSku": item["identifier"][:30],
                        "unitOfMeasure": {"id": 1, "name": "Each"},
                        "_info": self.info(day),
                    },
                )
                line_ids.append(line_id)
                subtotal += money(quantity * item["cost"])
            freight = Decimal(rng.choice((0, 0, 15, 25, 49))).quantize(Decimal("0.01"))
            total = subtotal + freight
            po = self.put(
                "purchaseOrders",
                {
                    "id": po_id,
                    "poNumber": f"PO{po_id}",
                    "poDate": _DAYS[day],
                    "status": {"id": 3 if closed else 1, "name": "Closed" if closed else "Open"},
                    "vendorCompany": vendor,
                    "vendorInvoiceNumber": f"INV-{rng.randint(10000, 99999)}",
                    "vendorInvoiceDate": _DAYS[day + 2],
                    "terms": self.terms[0][0],
                    "currency": self.currency,
                    "subTotal": subtotal,
                    "salesTax": ZERO,
                    "freightCost": freight,
                    "freightTaxTotal": ZERO,
                    "taxPoFlag": False,
                    "taxFreightFlag": False,
                    "total": total,
                    "closedFlag": closed,
                    "warehouse": self.warehouses[0],
                    "locationId": 1,
                    "businessUnitId": 1,
                    "dropShipCustomerFlag": False,
                    "_info": self.info(day),
                },
            )
            if closed:
                po["dateClosed"] = _DAYS[day + 7]
                record: dict[str, Any] = {
                    "id": unposted_id,
                    "procurementType": "Purchase",
                    "purchaseOrder": {"id": po_id, "identifier": po["poNumber"]},
                    "vendor": vendor,
                    "vendorAccountNumber": "",
                    "vendorInvoiceNumber": po["vendorInvoiceNumber"],
                    "vendorInvoiceDate": po["vendorInvoiceDate"],
                    "purchaseDate": _DAYS[day],
                    "description": f"Purchase order {po['poNumber']}",
                    "billingTerms": self.terms[0][0],
                    "currency": self.currency,
                    "freightCost": freight,
                    "freightTaxTotal": ZERO,
                    "taxFreightFlag": False,
                    "purchaseOrderTaxableFlag": False,
                    "taxTotal": ZERO,
                    "total": total,
                    "unpostedProductId": f"PO-{po_id}",
                    "dateClosed": po["dateClosed"],
                    "locationId": 1,
                    "departmentId": 1,
                }
                entries[unposted_id] = line_ids
                accounting.register_unposted(self.state, "procurement", record, line_ids)
                unposted_id += 1
        adjustments = max(1, count // 8)
        for index in range(adjustments):
            adjustment_id = 1 + index
            day = 30 + index * 300 // adjustments
            details = []
            for _ in range(rng.randint(1, 3)):
                item, item_ref, _, _ = rng.choice(hardware)
                detail_id = self.gl_id()
                detail = {
                    "id": detail_id,
                    "adjustmentId": adjustment_id,
                    "catalogItem": item_ref,
                    "description": item["description"],
                    "quantityAdjusted": Decimal(rng.choice((-3, -2, -1, 1, 2))),
                    "unitCost": item["cost"],
                    "warehouse": self.warehouses[0],
                }
                self.put("adjustmentDetails", detail)
                details.append(detail)
            closed = index % 4 != 3
            adjustment = self.put(
                "adjustments",
                {
                    "id": adjustment_id,
                    "identifier": f"ADJ-{adjustment_id:04d}",
                    "type": {"id": 1, "identifier": "Stock Count", "name": "Stock Count"},
                    "reason": "Quarterly stock count",
                    "closedFlag": closed,
                    "adjustmentDetails": details,
                    "_info": self.info(day),
                },
            )
            if closed:
                adjustment |= {"closedBy": "jdoe", "closedDate": _DAYS[day]}
                total = sum((money(d["unitCost"] * d["quantityAdjusted"]) for d in details), ZERO)
                record = {
                    "id": unposted_id,
                    "procurementType": "Adjustment",
                    "adjustmentId": adjustment_id,
                    "description": f"Inventory adjustment {adjustment['identifier']}",
                    "purchaseDate": _DAYS[day],
                    "currency": self.currency,
                    "freightCost": ZERO,
                    "taxTotal": ZERO,
                    "total": total,
                    "unpostedProductId": f"ADJ-{adjustment_id}",
                    "dateClosed": _DAYS[day],
                    "locationId": 1,
                    "departmentId": 1,
                }
                entries[unposted_id] = [d["id"] for d in details]
                accounting.register_unposted(
                    self.state, "procurement", record, entries[unposted_id]
                )
                unposted_id += 1


def generate(sim: Simulator, *, invoices: int, seed: int) -> dict[str, int]:
    """Replace the ConnectWise data with a generated MSP's books; counts per collection.

    `sim.settings["connectwise"]["open_share"]` (default 0.1) is the share of invoices left in
    an open billing status, which keeps them out of the unposted list.
    """
    state = sim.system(SYSTEM)
    with sim.lock:
        _reset_data(state)
        books = _Books(state, random.Random(seed))
        books.tables()
        books.vendors_and_catalog()
        books.customers(min(max(8, invoices // 20), 5000))
        open_share = float(sim.settings.get(SYSTEM, {}).get("open_share", 0.1))
        books.invoices(invoices, open_share)
        books.expenses(max(3, invoices // 10))
        books.purchasing(max(2, invoices // 25))
        counts = {name: len(rows) for name, rows in state.collections.items()}
    return counts


def seed(sim: Simulator, records: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Insert explicit records by collection name (vendor JSON; floats become Decimal).

    Closed, unbatched invoices join the unposted list; `invoiceLines` (with `invoiceId`) give
    them detail lines and GL entry ids.
    """
    state = sim.system(SYSTEM)
    created: dict[str, int] = {}
    with sim.lock:
        for collection, rows in records.items():
            if not isinstance(rows, list):
                raise ValueError(f"{collection} must be a list of records")
            known = field_set(state, collection)
            for row in rows:
                record = jsonio.decimals_for_floats(dict(row))
                if collection == "invoices":
                    _invoice_defaults(record)
                state.insert(collection, record)
                known.add(record)
            created[collection] = len(rows)
        accounting.reconcile(state)
    return created


def _invoice_defaults(invoice: dict[str, Any]) -> None:
    for name in ("subtotal", "salesTax", "payments", "credits"):
        invoice.setdefault(name, ZERO)
    invoice.setdefault("total", invoice["subtotal"] + invoice["salesTax"])
    invoice.setdefault("balance", invoice["total"] - invoice["payments"] - invoice["credits"])
    invoice.setdefault("type", "Standard")
