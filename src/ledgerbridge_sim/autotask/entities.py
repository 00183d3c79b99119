"""The entities the Autotask simulator serves, with their fields as the wire spells them.

Field names and types come from the Autotask REST Swagger (`definitions.*Model`, 2020-2024
export). The Swagger spells properties PascalCase; the service answers camelCase as Newtonsoft's
camel-case resolver writes them (`SICCode` → `sicCode`, `MSRP` → `msrp`, `GLCode` → `glCode`), so
the lists below are already converted. Swagger types map to the `dataType` the service reports in
`entityInformation/fields`: int32 → integer, int64 → long, double → decimal, date-time → datetime.

What the Swagger does not say (required, read-only, not queryable, references, picklists, verbs)
is taken from the vendor's entity documentation as summarised in the project's PSA notes; where
the vendor is silent the choice is marked "[U]". Picklist numbers are tenant-specific in real
Autotask; these are one plausible tenant's, and clients must read them from the fields endpoint.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

# Swagger model properties per entity, camelCase, in the Swagger's order: "name:dataType".
_FIELD_LISTS: Final[Mapping[str, str]] = {
    "BillingCodes": """
        id:long afterHoursWorkType:integer billingCodeType:integer department:integer
        description:string externalNumber:string generalLedgerAccount:integer isActive:boolean
        isExcludedFromNewContracts:boolean markupRate:decimal name:string taxCategoryID:integer
        unitCost:decimal unitPrice:decimal useType:integer
    """,
    "BillingItems": """
        id:long accountManagerWhenApprovedID:integer billingCodeID:integer billingItemType:integer
        companyID:integer configurationItemID:long contractChargeID:long contractID:integer
        description:string expenseItemID:integer extendedPrice:decimal
        internalCurrencyExtendedPrice:decimal internalCurrencyRate:decimal
        internalCurrencyTaxDollars:decimal internalCurrencyTotalAmount:decimal invoiceID:integer
        itemApproverID:integer itemDate:datetime itemName:string lineItemFullDescription:string
        lineItemGroupDescription:string lineItemID:long milestoneID:long nonBillable:integer
        organizationalLevelAssociationID:integer ourCost:decimal postedDate:datetime
        postedOnTime:datetime projectChargeID:long projectID:integer purchaseOrderNumber:string
        quantity:decimal rate:decimal roleID:integer serviceBundleID:long serviceID:long
        subType:integer taskID:integer taxDollars:decimal ticketChargeID:long ticketID:integer
        timeEntryID:integer totalAmount:decimal vendorID:long webServiceDate:datetime
    """,
    "Companies": """
        id:long additionalAddressInformation:string address1:string address2:string
        alternatePhone1:string alternatePhone2:string apiVendorID:integer assetValue:decimal
        billToCompanyLocationID:integer billToAdditionalAddressInformation:string
        billingAddress1:string billingAddress2:string billToAddressToUse:integer
        billToAttention:string billToCity:string billToCountryID:integer billToState:string
        billToZipCode:string city:string classification:integer companyName:string
        companyNumber:string companyType:integer competitorID:integer countryID:integer
        createDate:datetime createdByResourceID:integer currencyID:integer fax:string
        impersonatorCreatorResourceID:integer invoiceEmailMessageID:integer invoiceMethod:integer
        invoiceNonContractItemsToParentCompany:boolean invoiceTemplateID:integer isActive:boolean
        isClientPortalActive:boolean isEnabledForComanaged:boolean isTaskFireActive:boolean
        isTaxExempt:boolean lastActivityDate:datetime lastTrackedModifiedDateTime:datetime
        marketSegmentID:integer ownerResourceID:integer parentCompanyID:integer phone:string
        postalCode:string quoteEmailMessageID:integer quoteTemplateID:integer sicCode:string
        state:string stockMarket:string stockSymbol:string surveyCompanyRating:decimal
        taxID:string taxRegionID:integer territoryID:integer webAddress:string
    """,
    "Contacts": """
        id:long additionalAddressInformation:string addressLine:string addressLine1:string
        alternatePhone:string apiVendorID:integer bulkEmailOptOutTime:datetime city:string
        companyID:integer companyLocationID:integer countryID:integer createDate:datetime
        emailAddress:string emailAddress2:string emailAddress3:string extension:string
        externalID:string facebookUrl:string faxNumber:string firstName:string
        impersonatorCreatorResourceID:integer isActive:integer isOptedOutFromBulkEmail:boolean
        lastActivityDate:datetime lastModifiedDate:datetime lastName:string linkedInUrl:string
        middleInitial:string mobilePhone:string namePrefix:integer nameSuffix:integer note:string
        receivesEmailNotifications:boolean phone:string primaryContact:boolean roomNumber:string
        solicitationOptOut:boolean solicitationOptOutTime:datetime state:string
        surveyOptOut:boolean title:string twitterUrl:string zipCode:string
    """,
    "ExpenseItems": """
        id:long companyID:integer description:string destination:string
        entertainmentLocation:string expenseCategory:integer expenseCurrencyExpenseAmount:decimal
        expenseCurrencyID:integer expenseDate:datetime expenseReportID:integer glCode:string
        haveReceipt:boolean internalCurrencyExpenseAmount:decimal
        internalCurrencyReimbursementAmount:decimal isBillableToCompany:boolean
        isReimbursable:boolean isRejected:boolean miles:decimal odometerEnd:decimal
        odometerStart:decimal origin:string paymentType:integer projectID:integer
        purchaseOrderNumber:string reimbursementCurrencyReimbursementAmount:decimal taskID:integer
        ticketID:integer workType:integer
    """,
    "ExpenseReports": """
        id:long amountDue:decimal approvedDate:datetime approverID:integer departmentNumber:string
        internalCurrencyCashAdvanceAmount:decimal internalCurrencyExpenseTotal:decimal name:string
        organizationalLevelAssociationID:integer quickBooksReferenceNumber:string
        reimbursementCurrencyAmountDue:decimal reimbursementCurrencyCashAdvanceAmount:decimal
        reimbursementCurrencyID:integer rejectionReason:string status:integer submit:boolean
        submitDate:datetime submitterID:integer weekEnding:datetime
    """,
    "InventoryItems": """
        id:long backOrderQuantity:integer bin:string impersonatorCreatorResourceID:integer
        inventoryLocationID:integer productID:integer quantityMaximum:integer
        quantityMinimum:integer quantityOnHand:integer quantityOnOrder:integer
        quantityPicked:integer quantityReserved:integer referenceNumber:string
    """,
    "InventoryLocations": """
        id:long impersonatorCreatorResourceID:integer isActive:boolean isDefault:boolean
        locationName:string resourceID:integer
    """,
    "Invoices": """
        id:long batchID:integer comments:string companyID:integer createDateTime:datetime
        creatorResourceID:integer dueDate:datetime fromDate:datetime invoiceDateTime:datetime
        invoiceEditorTemplateID:integer invoiceNumber:string invoiceTotal:decimal isVoided:boolean
        orderNumber:string paidDate:datetime paymentTerm:integer taxGroup:integer
        taxRegionName:string toDate:datetime totalTaxValue:decimal voidedByResourceID:integer
        voidedDate:datetime webServiceDate:datetime
    """,
    "InvoiceTemplates": """
        id:long coveredByBlockRetainerContractLabel:string
        coveredByRecurringServiceFixedPricePerTicketContractLabel:string
        currencyNegativeFormat:string currencyPositiveFormat:string dateFormat:integer
        displayFixedPriceContractLabor:boolean displayRecurringServiceContractLabor:boolean
        displaySeparateLineItemForEachTax:boolean displayTaxCategory:boolean
        displayTaxCategorySuperscripts:boolean
        displayZeroAmountRecurringServicesAndBundles:boolean groupBy:integer
        itemizeItemsInEachGroup:integer itemizeServicesAndBundles:boolean name:string
        nonBillableLaborLabel:string numberFormat:integer pageLayout:integer
        pageNumberFormat:integer paymentTerms:integer rateCostExpression:string
        showGridHeader:boolean showVerticalGridLines:boolean sortBy:integer timeFormat:integer
    """,
    "PaymentTerms": """
        id:long description:string isActive:boolean name:string paymentDueInDays:integer
    """,
    "Products": """
        id:long billingType:integer chargeBillingCodeID:integer defaultVendorID:integer
        description:string doesNotRequireProcurement:boolean externalProductID:string
        impersonatorCreatorResourceID:integer internalProductID:string isActive:boolean
        isEligibleForRma:boolean isSerialized:boolean link:string manufacturerName:string
        manufacturerProductName:string markupRate:decimal msrp:decimal name:string
        periodType:integer priceCostMethod:integer productBillingCodeID:integer
        productCategory:integer sku:string unitCost:decimal unitPrice:decimal
        vendorProductNumber:string
    """,
    "PurchaseOrderItems": """
        id:long chargeID:integer contractID:long estimatedArrivalDate:datetime
        internalCurrencyUnitCost:decimal inventoryLocationID:integer memo:string orderID:integer
        productID:integer projectID:long quantity:integer salesOrderID:long ticketID:long
        unitCost:decimal
    """,
    "PurchaseOrders": """
        id:long cancelDateTime:datetime createDateTime:datetime creatorResourceID:integer
        externalPONumber:string fax:string freight:decimal generalMemo:string
        impersonatorCreatorResourceID:integer internalCurrencyFreight:decimal
        latestEstimatedArrivalDate:datetime paymentTerm:integer phone:string
        purchaseForCompanyID:integer shippingDate:datetime shippingType:integer
        shipToAddress1:string shipToAddress2:string shipToCity:string shipToName:string
        shipToPostalCode:string shipToState:string showEachTaxInGroup:boolean
        showTaxCategory:boolean status:integer submitDateTime:datetime taxRegionID:integer
        useItemDescriptionsFrom:integer vendorID:integer vendorInvoiceNumber:string
    """,
    "Resources": """
        id:long accountingReferenceID:string dateFormat:string defaultServiceDeskRoleID:long
        email:string email2:string email3:string emailTypeCode:string emailTypeCode2:string
        emailTypeCode3:string firstName:string gender:string greeting:integer hireDate:datetime
        homePhone:string initials:string internalCost:decimal isActive:boolean lastName:string
        licenseType:integer locationID:integer middleName:string mobilePhone:string
        numberFormat:string officeExtension:string officePhone:string payrollType:integer
        resourceType:string suffix:integer surveyResourceRating:decimal timeFormat:string
        title:string travelAvailabilityPct:string userName:string userType:integer
    """,
    "Taxes": """
        id:long isCompounded:boolean taxCategoryID:integer taxName:string taxRate:decimal
        taxRegionID:integer
    """,
    "TaxCategories": """
        id:long description:string isActive:boolean name:string
    """,
    "TaxRegions": """
        id:long isActive:boolean name:string
    """,
}

# Written by the service itself (creation and activity stamps) on every entity that has them.
_SYSTEM_FIELDS: Final = frozenset(
    {
        "id",
        "createDate",
        "createDateTime",
        "createdByResourceID",
        "creatorResourceID",
        "impersonatorCreatorResourceID",
        "lastActivityDate",
        "lastModifiedDate",
        "lastTrackedModifiedDateTime",
        "apiVendorID",
    }
)

_READ_ONLY: Final[Mapping[str, frozenset[str]]] = {
    # Invoices are made by invoice processing; the API may only stamp these three.
    "Invoices": frozenset(),  # see _WRITABLE_ONLY
    "BillingItems": frozenset(),  # see _WRITABLE_ONLY
    "InvoiceTemplates": frozenset(),  # not updatable at all
    "BillingCodes": frozenset(),  # not updatable at all
    "ExpenseReports": frozenset(
        {
            "amountDue",
            "internalCurrencyExpenseTotal",
            "reimbursementCurrencyAmountDue",
            "submitDate",
            "approvedDate",
        }
    ),
    "ExpenseItems": frozenset(
        {
            "internalCurrencyExpenseAmount",
            "internalCurrencyReimbursementAmount",
            "reimbursementCurrencyReimbursementAmount",
        }
    ),
    "PurchaseOrders": frozenset({"submitDateTime", "cancelDateTime", "internalCurrencyFreight"}),
    "PurchaseOrderItems": frozenset({"internalCurrencyUnitCost"}),
    "InventoryItems": frozenset(
        {"quantityOnOrder", "quantityReserved", "quantityPicked", "backOrderQuantity"}
    ),
    "Resources": frozenset({"userName", "userType", "licenseType", "resourceType"}),
}

# Entities where everything but these fields is read-only.
_WRITABLE_ONLY: Final[Mapping[str, frozenset[str]]] = {
    "Invoices": frozenset({"invoiceNumber", "paidDate", "webServiceDate"}),
    "BillingItems": frozenset({"webServiceDate"}),
    "InvoiceTemplates": frozenset(),
    "BillingCodes": frozenset(),
}

_REQUIRED: Final[Mapping[str, frozenset[str]]] = {
    "Companies": frozenset({"companyName", "companyType", "ownerResourceID", "phone"}),
    "Contacts": frozenset({"companyID", "firstName", "lastName", "isActive"}),
    "ExpenseItems": frozenset(
        {
            "expenseReportID",
            "description",
            "expenseDate",
            "expenseCategory",
            "haveReceipt",
            "isBillableToCompany",
            "isReimbursable",
            "isRejected",
            "paymentType",
        }
    ),
    "ExpenseReports": frozenset({"name", "submitterID", "weekEnding"}),
    "InventoryItems": frozenset(
        {"productID", "inventoryLocationID", "quantityMinimum", "quantityMaximum"}
    ),
    "InventoryLocations": frozenset({"locationName"}),
    "PaymentTerms": frozenset({"name", "paymentDueInDays"}),
    "Products": frozenset({"name", "productBillingCodeID", "isActive", "isSerialized"}),
    "PurchaseOrders": frozenset({"vendorID", "status", "shipToName", "shipToAddress1"}),
    "PurchaseOrderItems": frozenset({"orderID", "quantity", "unitCost", "inventoryLocationID"}),
    "Resources": frozenset({"firstName", "lastName", "email"}),
    "Taxes": frozenset({"taxRegionID", "taxCategoryID", "taxName", "taxRate"}),
    "TaxCategories": frozenset({"name"}),
    "TaxRegions": frozenset({"name"}),
}

# The vendor documents these as not queryable: using them in a filter is an error.
_NOT_QUERYABLE: Final[Mapping[str, frozenset[str]]] = {
    "Invoices": frozenset({"dueDate"}),
    "BillingItems": frozenset({"lineItemFullDescription", "lineItemGroupDescription"}),
}

# Fields the service stores as a date (time dropped); [U] beyond paidDate.
_DATE_ONLY: Final = frozenset(
    {
        "paidDate",
        "dueDate",
        "fromDate",
        "toDate",
        "weekEnding",
        "expenseDate",
        "hireDate",
        "estimatedArrivalDate",
        "latestEstimatedArrivalDate",
        "shippingDate",
    }
)

# Reference fields → the entity they point at (any entity that has the field).
_REFERENCES: Final[Mapping[str, str]] = {
    "companyID": "Companies",
    "parentCompanyID": "Companies",
    "vendorID": "Companies",
    "defaultVendorID": "Companies",
    "purchaseForCompanyID": "Companies",
    "invoiceID": "Invoices",
    "billingCodeID": "BillingCodes",
    "productBillingCodeID": "BillingCodes",
    "chargeBillingCodeID": "BillingCodes",
    "productID": "Products",
    "orderID": "PurchaseOrders",
    "expenseReportID": "ExpenseReports",
    "expenseItemID": "ExpenseItems",
    "taxRegionID": "TaxRegions",
    "taxCategoryID": "TaxCategories",
    "inventoryLocationID": "InventoryLocations",
    "invoiceTemplateID": "InvoiceTemplates",
    "invoiceEditorTemplateID": "InvoiceTemplates",
    "ownerResourceID": "Resources",
    "creatorResourceID": "Resources",
    "createdByResourceID": "Resources",
    "voidedByResourceID": "Resources",
    "submitterID": "Resources",
    "approverID": "Resources",
    "itemApproverID": "Resources",
    "accountManagerWhenApprovedID": "Resources",
    "resourceID": "Resources",
    "contactID": "Contacts",
    "ticketID": "Tickets",
    "taskID": "Tasks",
    "projectID": "Projects",
    "contractID": "Contracts",
}

# A picklist drawn from another entity's rows (value = its id, label = its name).
ENTITY_PICKLISTS: Final[Mapping[tuple[str, str], str]] = {
    ("Invoices", "paymentTerm"): "PaymentTerms",
    ("PurchaseOrders", "paymentTerm"): "PaymentTerms",
    ("InvoiceTemplates", "paymentTerms"): "PaymentTerms",
    ("Invoices", "taxGroup"): "TaxRegions",
}


def _labels(*pairs: tuple[int, str]) -> tuple[tuple[int, str], ...]:
    return pairs


# Fixed picklists (value, label): one plausible tenant's numbers.
PICKLISTS: Final[Mapping[tuple[str, str], tuple[tuple[int, str], ...]]] = {
    ("Companies", "companyType"): _labels(
        (1, "Customer"),
        (2, "Lead"),
        (3, "Prospect"),
        (4, "Dead"),
        (6, "Cancellation"),
        (7, "Vendor"),
        (8, "Partner"),
    ),
    ("Companies", "invoiceMethod"): _labels((1, "Email"), (2, "Print"), (3, "Email and Print")),
    ("Companies", "billToAddressToUse"): _labels(
        (1, "Use Company Address"), (2, "Use Bill To Address"), (3, "Use Location")
    ),
    ("BillingItems", "billingItemType"): _labels(
        (1, "Labor"),
        (2, "Expense"),
        (3, "Milestone"),
        (4, "Ticket Charge"),
        (5, "Project Charge"),
        (6, "Contract Charge"),
        (7, "Recurring Service"),
        (8, "Recurring Service Adjustment"),
        (9, "Subscription"),
        (10, "Labor Adjustment"),
    ),
    ("BillingItems", "subType"): _labels(
        (1, "Time Entry"),
        (2, "Expense Item"),
        (3, "Charge"),
        (4, "Recurring Service Period"),
        (5, "Subscription Period"),
        (6, "Milestone"),
    ),
    ("BillingCodes", "billingCodeType"): _labels(
        (0, "System"), (1, "Non-Billable"), (2, "Billable"), (3, "Material"), (4, "Expense")
    ),
    ("BillingCodes", "useType"): _labels(
        (1, "Work Type"),
        (2, "Material Cost Code"),
        (3, "Expense"),
        (4, "Recurring Contract Service"),
        (5, "Milestone"),
    ),
    ("BillingCodes", "generalLedgerAccount"): _labels(
        (4000, "4000 Managed Services Revenue"),
        (4010, "4010 Professional Services Revenue"),
        (4020, "4020 Project Revenue"),
        (4100, "4100 Hardware Sales"),
        (4110, "4110 Software and Licensing Sales"),
        (4200, "4200 Reimbursed Expenses"),
    ),
    ("Products", "periodType"): _labels(
        (1, "One-Time"), (2, "Monthly"), (3, "Quarterly"), (4, "Semi-Annual"), (5, "Yearly")
    ),
    ("Products", "productCategory"): _labels(
        (1, "Hardware"), (2, "Software"), (3, "Licensing"), (4, "Cloud Services"), (5, "Cabling")
    ),
    ("Products", "billingType"): _labels((1, "Product"), (2, "Shipping")),
    ("Products", "priceCostMethod"): _labels((1, "Flat Price"), (2, "Markup"), (3, "Margin")),
    ("PurchaseOrders", "status"): _labels(
        (1, "New"),
        (2, "Submitted"),
        (3, "Received Partial"),
        (4, "Received Full"),
        (5, "Cancelled"),
    ),
    ("PurchaseOrders", "shippingType"): _labels(
        (1, "Ground"), (2, "2nd Day Air"), (3, "Next Day Air"), (4, "Pickup")
    ),
    ("ExpenseReports", "status"): _labels(
        (1, "In Progress"),
        (2, "Waiting Approval"),
        (3, "Rejected"),
        (4, "Approved"),
        (5, "Paid"),
    ),
    ("ExpenseItems", "expenseCategory"): _labels(
        (1, "Mileage"),
        (2, "Meals"),
        (3, "Lodging"),
        (4, "Airfare"),
        (5, "Parts and Supplies"),
        (6, "Parking and Tolls"),
    ),
    ("ExpenseItems", "paymentType"): _labels(
        (1, "Cash"), (2, "Personal Credit Card"), (3, "Company Credit Card"), (4, "Invoice")
    ),
    ("Resources", "userType"): _labels((1, "Full"), (6, "API User (system)")),
    ("Resources", "licenseType"): _labels((1, "Full"), (7, "API User")),
}

# The fields endpoint reports a length for text fields; [U] beyond the defaults.
_DEFAULT_STRING_LENGTH: Final = 100
_STRING_LENGTHS: Final[Mapping[str, int]] = {
    "description": 2000,
    "comments": 4000,
    "generalMemo": 1000,
    "memo": 1000,
    "note": 2000,
    "invoiceNumber": 50,
    "orderNumber": 50,
    "purchaseOrderNumber": 50,
    "vendorInvoiceNumber": 50,
    "externalPONumber": 50,
    "quickBooksReferenceNumber": 100,
    "sku": 255,
    "externalProductID": 255,
    "internalProductID": 255,
    "vendorProductNumber": 255,
    "manufacturerProductName": 255,
    "lineItemFullDescription": 8000,
    "lineItemGroupDescription": 8000,
    "rateCostExpression": 1000,
    "webAddress": 255,
    "linkedInUrl": 200,
    "facebookUrl": 200,
    "twitterUrl": 200,
    "link": 500,
    "emailAddress": 254,
    "emailAddress2": 254,
    "emailAddress3": 254,
    "email": 254,
    "email2": 254,
    "email3": 254,
    "rejectionReason": 2048,
}


@dataclass(frozen=True)
class Field:
    """One field as `entityInformation/fields` describes it."""

    name: str
    data_type: str  # integer | long | decimal | boolean | string | datetime
    length: int = 0
    required: bool = False
    read_only: bool = False
    queryable: bool = True
    reference: str = ""
    picklist: tuple[tuple[int, str], ...] = ()
    picklist_entity: str = ""  # picklist values come from this entity's rows
    date_only: bool = False

    @property
    def is_picklist(self) -> bool:
        return bool(self.picklist or self.picklist_entity)


@dataclass(frozen=True)
class ParentRoute:
    """Where a child entity is written: `/{url}/{parentId}/{child}` sets `parent_field`."""

    url: str
    child: str
    parent_field: str
    parent_entity: str


@dataclass(frozen=True)
class Entity:
    name: str
    fields: tuple[Field, ...]
    can_create: bool = False
    can_update: bool = False
    can_delete: bool = False
    parent: ParentRoute | None = None
    has_user_defined_fields: bool = False
    _by_lower: Mapping[str, Field] = dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )

    def field(self, name: str) -> Field | None:
        """The field called `name`, whatever its case (the service ignores case)."""
        return self._by_lower.get(name.lower())

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _build(
    name: str,
    *,
    create: bool = False,
    update: bool = False,
    delete: bool = False,
    parent: ParentRoute | None = None,
    udfs: bool = False,
) -> Entity:
    read_only = _READ_ONLY.get(name, frozenset())
    writable_only = _WRITABLE_ONLY.get(name)
    required = _REQUIRED.get(name, frozenset())
    not_queryable = _NOT_QUERYABLE.get(name, frozenset())
    fields = []
    for pair in _FIELD_LISTS[name].split():
        field_name, data_type = pair.split(":")
        is_read_only = (
            field_name in _SYSTEM_FIELDS
            or field_name in read_only
            or (writable_only is not None and field_name not in writable_only)
        )
        fields.append(
            Field(
                name=field_name,
                data_type=data_type,
                length=(
                    _STRING_LENGTHS.get(field_name, _DEFAULT_STRING_LENGTH)
                    if data_type == "string"
                    else 0
                ),
                required=field_name in required,
                read_only=is_read_only,
                queryable=field_name not in not_queryable,
                reference=(
                    _REFERENCES.get(field_name, "")
                    if field_name != "id" and data_type in ("integer", "long")
                    else ""
                ),
                picklist=PICKLISTS.get((name, field_name), ()),
                picklist_entity=ENTITY_PICKLISTS.get((name, field_name), ""),
                date_only=field_name in _DATE_ONLY,
            )
        )
    by_lower = {f.name.lower(): f for f in fields}
    return Entity(
        name=name,
        fields=tuple(fields),
        can_create=create,
        can_update=update,
        can_delete=delete,
        parent=parent,
        has_user_defined_fields=udfs,
        _by_lower=MappingProxyType(by_lower),
    )


# Verbs as the Swagger declares them for each entity's root and parent URLs.
ENTITIES: Final[Mapping[str, Entity]] = MappingProxyType(
    {
        entity.name: entity
        for entity in (
            _build("BillingCodes"),
            _build("BillingItems", update=True),
            _build("Companies", create=True, update=True, udfs=True),
            _build(
                "Contacts",
                create=True,
                update=True,
                delete=True,
                parent=ParentRoute("Companies", "Contacts", "companyID", "Companies"),
                udfs=True,
            ),
            _build(
                "ExpenseItems",
                create=True,
                update=True,
                parent=ParentRoute("Expenses", "Items", "expenseReportID", "ExpenseReports"),
            ),
            _build("ExpenseReports", create=True, update=True),
            _build("InventoryItems", create=True, update=True),
            _build("InventoryLocations", create=True, update=True),
            _build("Invoices", update=True, udfs=True),
            _build("InvoiceTemplates"),
            _build("PaymentTerms", create=True, update=True),
            _build("Products", create=True, update=True, udfs=True),
            _build(
                "PurchaseOrderItems",
                create=True,
                update=True,
                parent=ParentRoute("PurchaseOrders", "Items", "orderID", "PurchaseOrders"),
            ),
            _build("PurchaseOrders", create=True, update=True, udfs=True),
            _build("Resources", update=True),
            _build("Taxes", create=True, update=True),
            _build("TaxCategories", create=True, update=True),
            _build("TaxRegions", create=True, update=True),
        )
    }
)

_BY_LOWER: Final = {name.lower(): entity for name, entity in ENTITIES.items()}


def entity_named(name: str) -> Entity | None:
    """The entity whose URL name is `name`, whatever its case."""
    return _BY_LOWER.get(name.lower())


def child_route(parent_url: str, child: str) -> Entity | None:
    """The child entity written at `/{parent_url}/{id}/{child}` (e.g. Companies/…/Contacts)."""
    for entity in ENTITIES.values():
        route = entity.parent
        if (
            route is not None
            and route.url.lower() == parent_url.lower()
            and route.child.lower() == child.lower()
        ):
            return entity
    return None


def blank_record(entity: Entity) -> dict[str, object]:
    """Every field null, as the service returns fields with no value."""
    record: dict[str, object] = dict.fromkeys(entity.field_names)
    record["userDefinedFields"] = []
    return record
