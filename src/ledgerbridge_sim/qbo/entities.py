"""The entities the simulator serves and the rules of each write.

One function, `write`, runs create, update (full or `sparse: true`), delete and void for every
entity; the per-entity `prepare` functions validate and complete a record and may return an
effect to run once it is stored (a payment moving invoice balances). A fault raised by `prepare`
leaves nothing changed.

Rules shared by all writes: `Id` + current `SyncToken` on update/delete/void (5010 when stale,
2020 when missing, 610 when the Id is unknown); references to missing or inactive records 610,
to ids that cannot exist 2500; string lengths 2050; DisplayName unique across active customers,
vendors and employees and Item/Account/list names unique per entity (6240); sales-form
DocNumber ≤ 21 and, while the company refuses duplicates, unique per entity (6140);
transactions dated on or before `Preferences.AccountingInfoPrefs.BookCloseDate` refused (6000).
Making a name inactive appends " (deleted)" to it, as QBO does, and reactivating removes it.
Name-list records cannot be deleted (2010: set `Active:false`). Invoices and credit memos with
payments applied cannot be deleted or voided until the payment is changed (6000).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

from ledgerbridge_sim.qbo import company, faults, sales
from ledgerbridge_sim.qbo.faults import QboError
from ledgerbridge_sim.qbo.store import REALM_FIELD, SINGLETONS, Realm, parse_id, public

type Record = dict[str, Any]
type Effect = Callable[[Record], None]
type Prepare = Callable[[Realm, Record, Record | None], Effect | None]

NAME_ENTITIES: Final = ("Customer", "Vendor", "Employee")
TRANSACTIONS: Final = ("Invoice", "CreditMemo", "Payment")
DELETED_SUFFIX: Final = " (deleted)"
ALWAYS_READ_ONLY: Final = frozenset(
    {"Id", "SyncToken", "MetaData", "domain", "sparse", "status", REALM_FIELD}
)


@dataclass(frozen=True)
class Entity:
    name: str
    operations: frozenset[str]
    prepare: Prepare
    computed: frozenset[str] = frozenset()  # read-only fields the simulator fills in


# -- helpers ---------------------------------------------------------------------------------


def check_lengths(record: Record, limits: dict[str, int]) -> None:
    for path, maximum in limits.items():
        value: Any = record
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and len(value) > maximum:
            raise faults.string_length(path, len(value), maximum)


def _active_name(record: Record, field: str) -> None:
    """QBO renames a name-list record "X (deleted)" while it is inactive."""
    name = str(record.get(field) or "")
    if record.get("Active") is False:
        if not name.endswith(DELETED_SUFFIX):
            record[field] = name + DELETED_SUFFIX
    elif name.endswith(DELETED_SUFFIX):
        record[field] = name.removesuffix(DELETED_SUFFIX)


def _same_record(entity: str, record: Record, other_entity: str, other: Record) -> bool:
    return entity == other_entity and str(record.get("Id")) == str(other.get("Id"))


def _unique_name(
    realm: Realm, entity: str, record: Record, field: str, among: tuple[str, ...], kind: str
) -> None:
    name = str(record.get(field) or "").casefold()
    if record.get("Active") is False:
        return
    for other_entity in among:
        for other in realm.rows(other_entity):
            if other.get("Active") is False or _same_record(entity, record, other_entity, other):
                continue
            if str(other.get(field) or "").casefold() == name:
                raise faults.duplicate_name(kind)


def _parent(realm: Realm, entity: str, record: Record, flag: str, name_field: str = "Name") -> None:
    """Hierarchy fields: `flag` (SubItem/SubClass/…) with ParentRef, Level, FullyQualifiedName."""
    name = str(record.get(name_field) or "")
    if record.get(flag) or record.get("ParentRef"):
        parent = sales.resolve(realm, entity, record.get("ParentRef"), "ParentRef")
        if str(parent["Id"]) == str(record.get("Id")):
            raise faults.business_validation("A record cannot be its own parent.", "ParentRef")
        record[flag] = True
        record["ParentRef"] = sales.named_ref(parent, name_field)
        record["Level"] = int(parent.get("Level") or 0) + 1
        record["FullyQualifiedName"] = (
            f"{parent.get('FullyQualifiedName') or parent.get(name_field)}:{name}"
        )
    else:
        record[flag] = False
        record.pop("ParentRef", None)
        record["Level"] = 0
        record["FullyQualifiedName"] = name


def _optional_ref(
    realm: Realm, record: Record, field: str, entity: str, name_field: str = "Name"
) -> None:
    if record.get(field):
        record[field] = sales.named_ref(
            sales.resolve(realm, entity, record[field], field), name_field
        )


# -- name lists ------------------------------------------------------------------------------


def _prepare_person(entity: str) -> Prepare:
    def prepare(realm: Realm, record: Record, previous: Record | None) -> Effect | None:
        check_lengths(
            record,
            {
                "Title": 16,
                "GivenName": 100,
                "MiddleName": 100,
                "FamilyName": 100,
                "Suffix": 16,
                "CompanyName": 100,
                "DisplayName": 500,
                "PrintOnCheckName": 110,
                "Notes": 4000,
                "PrimaryEmailAddr.Address": 100,
                "PrimaryPhone.FreeFormNumber": 30,
            },
        )
        if not record.get("DisplayName"):
            parts = [
                record.get(p) for p in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
            ]
            built = " ".join(str(p) for p in parts if p) or record.get("CompanyName")
            if not built:
                raise faults.required_missing("DisplayName")
            record["DisplayName"] = built
        record.setdefault("Active", True)
        _active_name(record, "DisplayName")
        _unique_name(realm, entity, record, "DisplayName", NAME_ENTITIES, "name")
        record.setdefault("PrintOnCheckName", record["DisplayName"].removesuffix(DELETED_SUFFIX))
        currency = realm.organisation.currency
        if entity == "Customer":
            _optional_ref(realm, record, "SalesTermRef", "Term")
            record.setdefault("Taxable", True)
            record["Job"] = bool(record.get("ParentRef"))
            record.setdefault("BillWithParent", False)
            if record.get("ParentRef"):
                parent = sales.resolve(realm, "Customer", record["ParentRef"], "ParentRef")
                record["ParentRef"] = sales.named_ref(parent, "DisplayName")
                record["Level"] = int(parent.get("Level") or 0) + 1
                record["FullyQualifiedName"] = (
                    f"{parent['FullyQualifiedName']}:{record['DisplayName']}"
                )
            else:
                record["Level"] = 0
                record["FullyQualifiedName"] = record["DisplayName"]
            before = (previous or {}).get("CurrencyRef") or {}
            after = record.get("CurrencyRef") or {}
            if before and after and after.get("value") != before.get("value"):
                raise faults.business_validation(
                    "A customer's currency cannot be changed.", "CurrencyRef"
                )
            record["Balance"] = Decimal(previous.get("Balance", 0)) if previous else Decimal("0.00")
            record["BalanceWithJobs"] = record["Balance"]
        if entity == "Vendor":
            _optional_ref(realm, record, "TermRef", "Term")
            record["Balance"] = Decimal(previous.get("Balance", 0)) if previous else Decimal("0.00")
        if entity in ("Customer", "Vendor"):
            record.setdefault(
                "CurrencyRef", {"value": currency, "name": company.CURRENCY_NAMES.get(currency, "")}
            )
        return None

    return prepare


ITEM_TYPES: Final = ("Service", "NonInventory", "Inventory", "Category")


def _prepare_item(realm: Realm, record: Record, previous: Record | None) -> Effect | None:
    if not record.get("Name"):
        raise faults.required_missing("Name")
    check_lengths(record, {"Name": 100, "Sku": 100, "Description": 4000, "PurchaseDesc": 4000})
    item_type = record.get("Type")
    if not item_type:
        raise faults.required_missing("Type")
    if item_type not in ITEM_TYPES:
        raise faults.invalid_property(f"Item Type {item_type} is not supported", "Type")
    if previous is not None and previous.get("Type") == "Category" and item_type != "Category":
        raise faults.business_validation(
            "A category cannot be changed into a product or service.", "Type"
        )
    record.setdefault("Active", True)
    _active_name(record, "Name")
    _unique_name(realm, "Item", record, "Name", ("Item",), "item")
    if item_type == "Category":
        for field in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef", "UnitPrice"):
            record.pop(field, None)
    else:
        if not record.get("IncomeAccountRef"):
            raise faults.required_missing("IncomeAccountRef")
        _optional_ref(realm, record, "IncomeAccountRef", "Account")
        _optional_ref(realm, record, "ExpenseAccountRef", "Account")
        if item_type == "Inventory":
            for field in ("AssetAccountRef", "ExpenseAccountRef", "InvStartDate"):
                if not record.get(field):
                    raise faults.required_missing(field)
            _optional_ref(realm, record, "AssetAccountRef", "Account")
            record["TrackQtyOnHand"] = True
            record["QtyOnHand"] = sales.decimal_field(record.get("QtyOnHand", 0), "QtyOnHand")
        for field in ("UnitPrice", "PurchaseCost"):
            if record.get(field) is not None:
                record[field] = sales.decimal_field(record[field], field)
        if not realm.is_us_automated_tax():
            _optional_ref(realm, record, "SalesTaxCodeRef", "TaxCode")
    if record.get("SubItem") or record.get("ParentRef"):
        parent = sales.resolve(realm, "Item", record.get("ParentRef"), "ParentRef")
        if parent.get("Type") != "Category":
            raise faults.business_validation(
                f"{parent.get('Name')} is not a category; only categories can hold products "
                "and services.",
                "ParentRef",
            )
        if int(parent.get("Level") or 0) >= 3:
            raise faults.business_validation(
                "Categories can be nested four levels deep at most.", "ParentRef"
            )
    _parent(realm, "Item", record, "SubItem")
    return None


def _prepare_account(realm: Realm, record: Record, previous: Record | None) -> Effect | None:
    if not record.get("Name"):
        raise faults.required_missing("Name")
    check_lengths(record, {"Name": 100, "Description": 100, "AcctNum": 20})
    if '"' in record["Name"] or ":" in record["Name"]:
        raise faults.invalid_property(
            "Account Name cannot contain a colon or a double quote", "Name"
        )
    account_type = record.get("AccountType")
    if not account_type:
        raise faults.required_missing("AccountType")
    if account_type not in company.ACCOUNT_CLASSIFICATION:
        raise faults.invalid_property(f"AccountType {account_type} is not valid", "AccountType")
    record["Classification"] = company.ACCOUNT_CLASSIFICATION[account_type]
    record.setdefault("Active", True)
    _unique_name(realm, "Account", record, "Name", ("Account",), "account")
    _parent(realm, "Account", record, "SubAccount")
    record.pop("Level", None)
    for field in ("CurrentBalance", "CurrentBalanceWithSubAccounts"):
        record[field] = Decimal(previous.get(field, 0)) if previous else Decimal("0")
    currency = realm.organisation.currency
    record.setdefault(
        "CurrencyRef", {"value": currency, "name": company.CURRENCY_NAMES.get(currency, "")}
    )
    return None


def _prepare_list(entity: str, flag: str | None, max_name: int) -> Prepare:
    def prepare(realm: Realm, record: Record, previous: Record | None) -> Effect | None:
        if not record.get("Name"):
            raise faults.required_missing("Name")
        check_lengths(record, {"Name": max_name})
        record.setdefault("Active", True)
        _unique_name(realm, entity, record, "Name", (entity,), "list")
        if flag:
            _parent(realm, entity, record, flag)
            record.pop("Level", None)
        if entity == "Term":
            record.setdefault("Type", "STANDARD")
            record["DueDays"] = int(record.get("DueDays") or 0)
        return None

    return prepare


def _read_only(realm: Realm, record: Record, previous: Record | None) -> Effect | None:
    raise faults.invalid_property("This entity is read-only through this endpoint")


# -- settings --------------------------------------------------------------------------------


def _prepare_settings(realm: Realm, record: Record, previous: Record | None) -> Effect | None:
    close = (record.get("AccountingInfoPrefs") or {}).get("BookCloseDate")
    if close:
        record["AccountingInfoPrefs"]["BookCloseDate"] = sales.parse_date(
            close, "BookCloseDate"
        ).isoformat()
    return None


# -- transactions ----------------------------------------------------------------------------


def _check_closing_date(realm: Realm, *records: Record | None) -> None:
    close = realm.preference("AccountingInfoPrefs", "BookCloseDate")
    if not close:
        return
    for record in records:
        day = (record or {}).get("TxnDate")
        if day and sales.parse_date(day, "TxnDate") <= date.fromisoformat(close):
            raise faults.closed_period(close)


def _doc_number(realm: Realm, entity: str, record: Record) -> None:
    number = record.get("DocNumber")
    if number in (None, ""):
        custom = realm.preference("SalesFormsPrefs", "CustomTxnNumbers", False)
        if custom and not record.get("AutoDocNumber"):
            record.pop("DocNumber", None)
            return
        record["DocNumber"] = _next_number(realm, entity)
        return
    record["DocNumber"] = number = str(number)
    check_lengths(record, {"DocNumber": 21})
    other_prefs = (realm.preferences().get("OtherPrefs") or {}).get("NameValue") or []
    refuse = any(
        pair.get("Name") == "WarnDuplicateInvoiceNumber"
        and str(pair.get("Value")).lower() == "true"
        for pair in other_prefs
    )
    if refuse and realm.numbered(entity, number) - {str(record.get("Id"))}:
        raise faults.duplicate_document_number()


def _next_number(realm: Realm, entity: str) -> str:
    counters: dict[tuple[str, str], int] = realm.system.extra.setdefault("doc_numbers", {})
    number = counters.get((realm.id, entity), 1000)
    while True:
        number += 1
        if not realm.numbered(entity, str(number)):
            counters[(realm.id, entity)] = number
            return str(number)


def _prepare_sales_form(entity: str) -> Prepare:
    def prepare(realm: Realm, record: Record, previous: Record | None) -> Effect | None:
        if previous is not None and realm.is_voided(entity, previous):
            raise faults.business_validation("A voided transaction cannot be changed.")
        if not record.get("CustomerRef"):
            raise faults.required_missing("CustomerRef")
        if not record.get("Line"):
            raise faults.required_missing("Line")
        check_lengths(
            record, {"PrivateNote": 4000, "CustomerMemo.value": 1000, "BillEmail.Address": 100}
        )
        _doc_number(realm, entity, record)
        sales.price_sales_form(realm, entity, record, previous)
        _check_closing_date(realm, record, previous)
        return None

    return prepare


def _prepare_payment(realm: Realm, record: Record, previous: Record | None) -> Effect | None:
    if previous is not None and realm.is_voided("Payment", previous):
        raise faults.business_validation("A voided transaction cannot be changed.")
    if not record.get("CustomerRef"):
        raise faults.required_missing("CustomerRef")
    check_lengths(record, {"PaymentRefNum": 21, "PrivateNote": 4000})
    plan = sales.plan_payment(realm, record, previous)
    _check_closing_date(realm, record, previous)
    undo = sales.applied_by(previous)

    def effect(saved: Record) -> None:
        sales.apply_payment(realm, saved["Id"], undo, plan)

    return effect


ENTITIES: Final[dict[str, Entity]] = {
    entity.name: entity
    for entity in (
        Entity(
            "Customer",
            frozenset({"create", "update"}),
            _prepare_person("Customer"),
            frozenset({"Balance", "BalanceWithJobs", "FullyQualifiedName", "Level", "Job"}),
        ),
        Entity(
            "Vendor",
            frozenset({"create", "update"}),
            _prepare_person("Vendor"),
            frozenset({"Balance"}),
        ),
        Entity("Employee", frozenset({"create", "update"}), _prepare_person("Employee")),
        Entity(
            "Item",
            frozenset({"create", "update"}),
            _prepare_item,
            frozenset({"FullyQualifiedName", "Level"}),
        ),
        Entity(
            "Account",
            frozenset({"create", "update"}),
            _prepare_account,
            frozenset(
                {
                    "FullyQualifiedName",
                    "CurrentBalance",
                    "CurrentBalanceWithSubAccounts",
                    "Classification",
                }
            ),
        ),
        Entity(
            "Class",
            frozenset({"create", "update"}),
            _prepare_list("Class", "SubClass", 100),
            frozenset({"FullyQualifiedName"}),
        ),
        Entity(
            "Department",
            frozenset({"create", "update"}),
            _prepare_list("Department", "SubDepartment", 100),
            frozenset({"FullyQualifiedName"}),
        ),
        Entity("Term", frozenset({"create", "update"}), _prepare_list("Term", None, 31)),
        Entity("TaxCode", frozenset(), _read_only),
        Entity("TaxRate", frozenset(), _read_only),
        Entity("Preferences", frozenset({"update"}), _prepare_settings),
        Entity("CompanyInfo", frozenset({"update"}), _prepare_settings),
        Entity(
            "Invoice",
            frozenset({"create", "update", "delete", "void"}),
            _prepare_sales_form("Invoice"),
            frozenset({"TotalAmt", "Balance", "HomeBalance", "HomeTotalAmt", "LinkedTxn"}),
        ),
        Entity(
            "CreditMemo",
            frozenset({"create", "update", "delete"}),
            _prepare_sales_form("CreditMemo"),
            frozenset({"TotalAmt", "Balance", "RemainingCredit", "HomeTotalAmt", "LinkedTxn"}),
        ),
        Entity(
            "Payment",
            frozenset({"create", "update", "delete", "void"}),
            _prepare_payment,
            frozenset({"UnappliedAmt"}),
        ),
    )
}
BY_PATH: Final = {name.lower(): name for name in ENTITIES}


# -- the write operations --------------------------------------------------------------------


def write(realm: Realm, entity_name: str, body: Any, operation: str) -> Record:
    """Run one write; returns the answer's entity object (the stored record, or a deletion)."""
    entity = ENTITIES[entity_name]
    if not isinstance(body, dict):
        raise faults.invalid_property(f"The request body must be a {entity_name} object")
    if operation == "create" and (body.get("Id") not in (None, "") or entity_name in SINGLETONS):
        operation = "update"
    if operation not in ("create", "update", "delete", "void"):
        raise faults.invalid_property(f"Operation {operation} is not supported", "operation")
    if operation not in entity.operations:
        raise faults.unsupported_operation(operation, entity_name)
    if operation == "create":
        return _create(realm, entity, body)
    previous = _current(realm, entity_name, body)
    if operation == "update":
        return _update(realm, entity, body, previous)
    if operation == "delete":
        return _delete(realm, entity, previous)
    return _void(realm, entity, previous)


def _incoming(entity: Entity, body: Record) -> Record:
    return {k: v for k, v in body.items() if k not in ALWAYS_READ_ONLY and k not in entity.computed}


def _create(realm: Realm, entity: Entity, body: Record) -> Record:
    record = _incoming(entity, body)
    effect = entity.prepare(realm, record, None)
    stored = realm.insert(entity.name, record)
    if effect is not None:
        effect(stored)
    if realm.hiding:
        realm.hidden.add((entity.name, int(stored["Id"])))
    return public(stored)


def _current(realm: Realm, entity_name: str, body: Record) -> Record:
    if entity_name not in SINGLETONS and body.get("Id") in (None, ""):
        raise faults.required_missing("Id")
    if body.get("SyncToken") in (None, ""):
        raise faults.required_missing("SyncToken")
    if entity_name not in SINGLETONS and parse_id(body["Id"]) is None:
        raise faults.invalid_reference(entity_name, body["Id"], "Id")
    previous = realm.get(entity_name, body.get("Id"))
    if previous is None:
        raise faults.object_not_found("Id")
    if str(body["SyncToken"]) != str(previous.get("SyncToken")):
        raise faults.stale_object()
    return previous


def _update(realm: Realm, entity: Entity, body: Record, previous: Record) -> Record:
    sparse = body.get("sparse") is True or entity.name in SINGLETONS
    incoming = _incoming(entity, body)
    if sparse:
        record = {k: v for k, v in public(previous).items() if k not in ALWAYS_READ_ONLY}
        for key, value in incoming.items():
            if (
                entity.name in SINGLETONS
                and isinstance(value, dict)
                and isinstance(record.get(key), dict)
            ):
                record[key] = {**record[key], **value}  # a settings section merges
            else:
                record[key] = value
        if entity.name in ("Invoice", "CreditMemo") and "TxnTaxDetail" not in incoming:
            record.pop("TxnTaxDetail", None)  # recompute tax unless the client sent it
    else:
        record = incoming
    record["Id"] = previous["Id"]
    effect = entity.prepare(realm, record, previous)
    realm.replace(entity.name, record, previous)
    if effect is not None:
        effect(record)
    return public(record)


def _delete(realm: Realm, entity: Entity, previous: Record) -> Record:
    _check_closing_date(realm, previous)
    if entity.name in ("Invoice", "CreditMemo") and previous.get("LinkedTxn"):
        raise faults.business_validation(
            "This transaction has payments applied to it. Remove it from the payment first.",
        )
    realm.remove(entity.name, previous)
    if entity.name == "Payment":
        sales.apply_payment(realm, previous["Id"], sales.applied_by(previous), {})
    return {"Id": previous["Id"], "status": "Deleted", "domain": "QBO"}


def _void(realm: Realm, entity: Entity, previous: Record) -> Record:
    _check_closing_date(realm, previous)
    if realm.is_voided(entity.name, previous):
        return public(previous)
    record = public(previous)
    record.pop(REALM_FIELD, None)
    zero = Decimal("0.00")
    if entity.name == "Invoice":
        if previous.get("LinkedTxn"):
            raise faults.business_validation(
                "This transaction has payments applied to it. Remove it from the payment first.",
            )
        for line in record.get("Line", []):
            line["Amount"] = zero
            if "Qty" in line.get("SalesItemLineDetail", {}):
                line["SalesItemLineDetail"]["Qty"] = Decimal("0")
        record["TxnTaxDetail"] = {"TotalTax": zero, "TaxLine": []}
        record.update(TotalAmt=zero, Balance=zero)
    else:
        undo = sales.applied_by(previous)
        for line in record.get("Line", []):
            line["Amount"] = zero
        record.update(TotalAmt=zero, UnappliedAmt=zero)
        sales.apply_payment(realm, previous["Id"], undo, {})
    record["PrivateNote"] = "Voided"
    realm.replace(entity.name, record, previous)
    realm.mark_voided(entity.name, record)
    return public(record)


def read(realm: Realm, entity_name: str, record_id: str | None) -> Record:
    if entity_name in SINGLETONS:
        if record_id not in (None, "1", realm.id):
            raise faults.object_not_found("Id")
        return public(realm.singleton(entity_name))
    if record_id is None or parse_id(record_id) is None:
        raise faults.invalid_reference(entity_name, record_id, "Id")
    record = realm.get(entity_name, record_id)
    if record is None:
        raise faults.object_not_found("Id")
    return public(record)


__all__ = ["BY_PATH", "ENTITIES", "QboError", "read", "write"]
