"""The fields each simulated list knows (camelCase, as the API emits them).

Conditions, orderBy and fields are checked against these, so a query naming a field the real API
does not have fails here too, even when the list is empty. Seeded records add their own keys.
"""

from ledgerbridge_sim.connectwise.conditions import FieldSet
from ledgerbridge_sim.state import SystemState

_INFO = "_info customFields"

_FIELDS: dict[str, str] = {
    "members": """id identifier firstName middleInitial lastName title officeEmail primaryEmail
        inactiveFlag licenseClass vendorNumber hourlyCost defaultLocation defaultDepartment
        warehouse type timeZone country securityRole adminFlag""",
    "companies": """id identifier name status types addressLine1 addressLine2 city state zip
        country phoneNumber faxNumber website territory market accountNumber defaultContact
        billingContact billToCompany billingSite billingTerms invoiceDeliveryMethod
        invoiceToEmailAddress invoiceCCEmailAddress invoiceTemplate taxCode taxIdentifier
        currency isVendorFlag vendorIdentifier deletedFlag parentCompany dateAcquired""",
    "contacts": """id firstName lastName company site title defaultFlag defaultBillingFlag
        inactiveFlag communicationItems addressLine1 addressLine2 city state zip country types
        department relationship""",
    "billingTerms": "id name dueDays termsXref defaultFlag",
    "billingStatuses": "id name sortOrder defaultFlag closedFlag sentFlag inactiveFlag",
    "taxCodes": """id identifier description invoiceCaption effectiveDate cancelDate defaultFlag
        country displayOnInvoiceFlag canadaCalculateGSTFlag"""
    + " ".join(
        f" level{level}Rate level{level}RateType level{level}Caption level{level}TaxCodeXref"
        f" level{level}AgencyXref level{level}TaxableMax level{level}ServicesFlag"
        f" level{level}ProductsFlag level{level}ExpensesFlag"
        for level in ("One", "Two", "Three", "Four", "Five", "Six")
    ),
    "glAccounts": """id glType mappedType mappedRecord accountNumber description segment1 segment2
        segment3 segment4 segment5 cogs1 inventory salesCode productId inactiveFlag""",
    "catalog": """id identifier description customerDescription productClass type category
        subcategory price cost taxableFlag inactiveFlag serializedFlag vendor vendorSku
        manufacturer manufacturerPartNumber unitOfMeasure billableOption priceAttribute
        dropShipFlag specialOrderFlag recurringFlag recurringRevenue recurringCost
        recurringBillCycle integrationXRef minStockLevel""",
    "warehouses": """id name locationXref company contact site location department manager
        currency inactiveFlag lockedFlag overallDefaultFlag locationDefaultFlag""",
    "invoices": """id invoiceNumber type status company billToCompany shipToCompany accountNumber
        applyToType applyToId attention billingSite billingSiteAddressLine1
        billingSiteAddressLine2 billingSiteCity billingSiteState billingSiteZip
        billingSiteCountry shippingSite shippingSiteAddressLine1 shippingSiteAddressLine2
        shippingSiteCity shippingSiteState shippingSiteZip shippingSiteCountry billingTerms
        reference customerPO templateSetupId invoiceTemplate emailTemplateId
        addToBatchEmailList date dueDate restrictDownpaymentFlag locationId departmentId
        territoryId topComment bottomComment taxableFlag taxCode internalNotes
        downpaymentPreviouslyTaxedFlag serviceTotal expenseTotal productTotal agreementAmount
        serviceAdjustmentAmount previousProgressApplied downpaymentApplied
        remainingDownpayment overrideDownPaymentAmountFlag subtotal salesTax total payments
        credits balance currency adjustmentReason adjustedBy closedBy specialInvoiceFlag
        billingSetupReference ticket project phase salesOrder agreement glBatch
        unbatchedBatch""",
    "payments": """id type source invoice credit amount paymentDate appliedBy balance
        invoiceBalance invoiceTotal wisePayPayment paymentSyncStatus paymentSyncDate glBatchID
        paymentAccount aRPaymentAccount""",
    "unpostedInvoices": """id billingLogId invoiceNumber invoiceType invoiceDate dueDate dueDays
        description company billToCompany billToSite shipToCompany shipToSite accountNumber
        billingTerms currency taxCode subTotal total salesTaxAmount invoiceTaxableFlag
        itemTaxableFlag avalaraTaxFlag locationId departmentId createdBy dateClosed"""
    + " ".join(
        f" {level}TaxFlag {level}TaxXref {level}TaxAmount"
        for level in ("state", "county", "city", "country", "composite", "levelSix")
    ),
    "unpostedExpenses": """id expenseDetailId member company agreement project projectPhase ticket
        chargeCode chargeDescription expenseType classification glType accountNumber
        creditAccount paymentMethod dateExpense billableAmount nonBillableAmount
        agreementAmountCovered total currency taxCode salesTaxAmount inPolicy dateClosed
        locationId departmentId"""
    + " ".join(
        f" {level}TaxFlag {level}TaxXref {level}TaxAmount"
        for level in ("state", "county", "city", "country", "composite", "levelSix")
    ),
    "unpostedProcurement": """id procurementType purchaseOrder vendor customer vendorAccountNumber
        vendorInvoiceNumber vendorInvoiceDate purchaseDate description billingTerms currency
        freightCost freightTaxTotal taxFreightFlag purchaseOrderTaxableFlag taxCode taxTotal
        total trackingNumber unpostedProductId dateClosed locationId departmentId"""
    + " ".join(
        f" {level}TaxFlag {level}TaxXref {level}TaxAmount"
        for level in ("state", "county", "city", "country", "composite", "levelSix")
    ),
    "batches": """id batchIdentifier exportInvoicesFlag exportExpensesFlag exportProductsFlag
        closedFlag glInterfaceIdentifier summarizeExpenses""",
    "batchEntries": """id accountNumber accountType debit credit cost
        costOfGoodsSoldAccountNumber name item salesCode invoice expense purchaseOrder lineItem
        adjustmentDetail transfer""",
    "purchaseOrders": """id poNumber poDate status vendorCompany vendorContact vendorSite
        vendorInvoiceNumber vendorInvoiceDate vendorOrderNumber terms currency subTotal salesTax
        freightCost freightTaxTotal taxCode taxPoFlag taxFreightFlag total closedFlag
        dateClosed warehouse locationId businessUnitId customerCompany customerSite
        dropShipCustomerFlag shipmentMethod trackingNumber internalNotes""",
    "purchaseOrderLineItems": """id purchaseOrderId lineNumber description quantity product
        unitCost tax receivedQuantity receivedStatus dateReceived closedFlag canceledFlag
        backorderedFlag warehouse warehouseBin serialNumbers vendorSku packingSlip
        trackingNumber unitOfMeasure internalNotes""",
    "adjustments": """id identifier type reason notes closedFlag closedBy closedDate
        adjustmentDetails""",
    "adjustmentDetails": """id adjustmentId catalogItem description quantityAdjusted quantityOnHand
        unitCost serialNumber warehouse warehouseBin""",
}


def field_set(state: SystemState, collection: str) -> FieldSet:
    """The collection's FieldSet in this simulator (made on first use; seeds may add to it)."""
    sets: dict[str, FieldSet] = state.extra.setdefault("field_sets", {})
    known = sets.get(collection)
    if known is None:
        names = _FIELDS.get(collection, "id").split() + _INFO.split()
        known = sets[collection] = FieldSet(names, collection)
    return known
