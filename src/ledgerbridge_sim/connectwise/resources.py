"""Read-only lists: each gets `GET /path`, `GET /path/count` and `GET /path/{id}`."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ledgerbridge_sim.connectwise import listing
from ledgerbridge_sim.connectwise.errors import not_found
from ledgerbridge_sim.connectwise.http import Call, Reply, Router


@dataclass(frozen=True)
class Resource:
    path: str  # as the API spells it, e.g. "finance/glAccounts"
    collection: str  # the SystemState collection behind it
    permission: str | None  # "Module/Function" in CW's security roles
    label: str  # for "… not found" messages


RESOURCES = (
    Resource("system/members", "members", "System/Member Maintenance", "Member"),
    Resource("company/companies", "companies", "Companies/Company Maintenance", "Company"),
    Resource("company/contacts", "contacts", "Companies/Contacts", "Contact"),
    Resource("finance/invoices", "invoices", "Finance/Invoicing", "Invoice"),
    Resource("finance/glAccounts", "glAccounts", "System/Table Setup", "GLAccount"),
    Resource("finance/taxCodes", "taxCodes", "System/Table Setup", "TaxCode"),
    Resource("finance/billingTerms", "billingTerms", "System/Table Setup", "BillingTerm"),
    Resource("finance/billingStatuses", "billingStatuses", "System/Table Setup", "BillingStatus"),
    Resource(
        "finance/accounting/unpostedinvoices",
        "unpostedInvoices",
        "Finance/Accounting Interface",
        "UnpostedInvoice",
    ),
    Resource(
        "finance/accounting/unpostedexpenses",
        "unpostedExpenses",
        "Finance/Accounting Interface",
        "UnpostedExpense",
    ),
    Resource(
        "finance/accounting/unpostedprocurement",
        "unpostedProcurement",
        "Finance/Accounting Interface",
        "UnpostedProcurement",
    ),
    Resource(
        "finance/accounting/batches", "batches", "Finance/Accounting Interface", "AccountingBatch"
    ),
    Resource("procurement/catalog", "catalog", "Procurement/Product Catalog", "CatalogItem"),
    Resource(
        "procurement/purchaseorders",
        "purchaseOrders",
        "Procurement/Purchase Orders",
        "PurchaseOrder",
    ),
    Resource(
        "procurement/adjustments",
        "adjustments",
        "Procurement/Inventory Adjustments",
        "Adjustment",
    ),
    Resource("procurement/warehouses", "warehouses", "Procurement/Warehouses", "Warehouse"),
)


@dataclass(frozen=True)
class Child:
    path: str  # "procurement/purchaseorders/{parentId}/lineitems"
    parent: str  # the parent's collection
    collection: str
    parent_field: str  # the child's field holding the parent id
    permission: str
    label: str
    parent_label: str


CHILDREN = (
    Child(
        "procurement/purchaseorders/{parentId}/lineitems",
        "purchaseOrders",
        "purchaseOrderLineItems",
        "purchaseOrderId",
        "Procurement/Purchase Orders",
        "PurchaseOrderLineItem",
        "PurchaseOrder",
    ),
    Child(
        "procurement/adjustments/{parentId}/details",
        "adjustments",
        "adjustmentDetails",
        "adjustmentId",
        "Procurement/Inventory Adjustments",
        "AdjustmentDetail",
        "Adjustment",
    ),
)


def register(router: Router) -> None:
    router.add("GET", "system/info", system_info, None)
    for resource in RESOURCES:
        add_list(router, resource.path, resource.collection, resource.permission, resource.label)
    for child in CHILDREN:
        _add_child(router, child)


def add_list(
    router: Router,
    path: str,
    collection: str,
    permission: str | None,
    label: str,
    rows: Callable[[Call], Iterable[dict[str, Any]]] | None = None,
) -> None:
    """`GET path`, `GET path/count` and `GET path/{id}` over a collection (or `rows(call)`)."""

    def source(call: Call) -> Iterable[dict[str, Any]]:
        return rows(call) if rows else call.state.collection(collection).values()

    def many(call: Call) -> Reply:
        return listing.list_reply(call, source(call), collection)

    def count(call: Call) -> Reply:
        return listing.count_reply(call, source(call), collection)

    def one(call: Call) -> Reply:
        record_id = call.path_params["id"]
        record = call.state.collection(collection).get(record_id)
        if record is None:
            raise not_found(label, record_id)
        return listing.one_reply(call, record, collection)

    router.add("GET", path, many, permission)
    router.add("GET", f"{path}/count", count, permission)
    if rows is None:
        router.add("GET", f"{path}/{{id}}", one, permission)


def _add_child(router: Router, child: Child) -> None:
    def parent_rows(call: Call) -> list[dict[str, Any]]:
        parent_id = call.path_params["parentId"]
        if parent_id not in call.state.collection(child.parent):
            raise not_found(child.parent_label, parent_id)
        return [
            row
            for row in call.state.collection(child.collection).values()
            if row.get(child.parent_field) == parent_id
        ]

    def one(call: Call) -> Reply:
        record = call.state.collection(child.collection).get(call.path_params["id"])
        if record is None or record.get(child.parent_field) != call.path_params["parentId"]:
            raise not_found(child.label, call.path_params["id"])
        return listing.one_reply(call, record, child.collection)

    add_list(router, child.path, child.collection, child.permission, child.label, parent_rows)
    router.add("GET", f"{child.path}/{{id}}", one, child.permission)


def system_info(call: Call) -> Reply:
    state = call.state
    codebase = str(state.extra.get("codebase", "v2025_1/"))
    version = codebase.strip("/").lstrip("v").replace("_", ".")
    return Reply(
        200,
        {
            "version": f"v{version}.{state.extra.get('build', 102113)}",
            "isCloud": bool(state.extra.get("is_cloud", True)),
            "serverTimeZone": "Eastern Standard Time",
            "cloudRegion": "NA",
            "licenseBits": [
                {"name": "CustomerPortal", "activeFlag": True},
                {"name": "AccountingInterface", "activeFlag": True},
                {"name": "Procurement", "activeFlag": True},
            ],
        },
    )
