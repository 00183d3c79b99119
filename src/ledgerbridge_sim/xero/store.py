"""One Xero organisation's records, kept in the simulator's shared state.

Every record lives in `sim.system("xero").collection("<Resource>")` under the framework's integer
key, carries its own GUID under Xero's id field (`InvoiceID`, …) and its organisation under
`_TenantID`, so `GET /_sim/state/xero/Invoices` shows everything. A GUID index in the system's
`extra` makes look-ups O(1).

Writes go through `Book.put`, which notes what it replaced: a batch that must save nothing
(the default, summarised `ValidationException`) or an element that fails halfway undoes its
writes with `Book.undo_to`. Callers never change a stored dict in place; they copy and `put`.
"""

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from ledgerbridge_sim.organisations import Organisation
from ledgerbridge_sim.state import Simulator, SystemState

TENANT_FIELD = "_TenantID"
# Fields looked up by value often enough to index (document numbers, codes, contact numbers).
INDEXED_FIELDS: dict[str, tuple[str, ...]] = {
    "Invoices": ("InvoiceNumber",),
    "CreditNotes": ("CreditNoteNumber",),
    "PurchaseOrders": ("PurchaseOrderNumber",),
    "Contacts": ("ContactNumber", "Name"),
    "Items": ("Code",),
    "Accounts": ("Code",),
}
ID_FIELDS: dict[str, str] = {
    "Invoices": "InvoiceID",
    "CreditNotes": "CreditNoteID",
    "Payments": "PaymentID",
    "BatchPayments": "BatchPaymentID",
    "Contacts": "ContactID",
    "Items": "ItemID",
    "Accounts": "AccountID",
    "TaxRates": "TaxType",
    "TrackingCategories": "TrackingCategoryID",
    "ManualJournals": "ManualJournalID",
    "Organisations": "OrganisationID",
    "PurchaseOrders": "PurchaseOrderID",
    "Overpayments": "OverpaymentID",
    "Prepayments": "PrepaymentID",
}


def system(sim: Simulator) -> SystemState:
    return sim.system("xero")


def new_guid(sim: Simulator) -> str:
    """Deterministic for a given simulator seed, so runs repeat."""
    return str(uuid.UUID(int=sim.random.getrandbits(128), version=4))


class Book:
    """The records of one organisation, with an undo journal for all-or-nothing batches."""

    def __init__(self, sim: Simulator, organisation: Organisation) -> None:
        self.sim = sim
        self.organisation = organisation
        self.tenant_id = organisation.id
        self._journal: list[tuple[str, int, dict[str, Any] | None]] = []

    # -- reading -------------------------------------------------------------------------

    def _index(self, collection: str) -> dict[str, int]:
        indexes: dict[str, dict[str, int]] = system(self.sim).extra.setdefault("guid_index", {})
        return indexes.setdefault(collection, {})

    def rows(self, collection: str) -> Iterator[dict[str, Any]]:
        for record in system(self.sim).collection(collection).values():
            if record.get(TENANT_FIELD) == self.tenant_id:
                yield record

    def get(self, collection: str, guid: object) -> dict[str, Any] | None:
        if not isinstance(guid, str):
            return None
        key = self._index(collection).get(_index_key(collection, guid, self.tenant_id))
        record = None if key is None else system(self.sim).collection(collection).get(key)
        if record is None or record.get(TENANT_FIELD) != self.tenant_id:
            return None
        return record

    def _values(self, collection: str, field: str) -> dict[str, set[str]]:
        indexes: dict[tuple[str, str, str], dict[str, set[str]]] = system(
            self.sim
        ).extra.setdefault("value_index", {})
        return indexes.setdefault((self.tenant_id, collection, field), {})

    def having(self, collection: str, field: str, value: object) -> list[dict[str, Any]]:
        """Records whose `field` equals `value` without regard to case (indexed fields only).

        The index may remember values a record no longer has (after an update or an undo), so
        each hit is checked against the record as it is now.
        """
        wanted = str(value).strip().lower()
        found = []
        for guid in sorted(self._values(collection, field).get(wanted, ())):
            record = self.get(collection, guid)
            if record is not None and str(record.get(field) or "").strip().lower() == wanted:
                found.append(record)
        return found

    def find(
        self, collection: str, matches: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any] | None:
        return next((record for record in self.rows(collection) if matches(record)), None)

    def now(self) -> datetime:
        moment = self.sim.clock.now().astimezone(UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def new_guid(self) -> str:
        return new_guid(self.sim)

    # -- writing -------------------------------------------------------------------------

    def put(self, collection: str, record: dict[str, Any], *, touch: bool = True) -> dict[str, Any]:
        """Insert or replace (by the record's GUID); stamps the tenant and `UpdatedDateUTC`."""
        state = system(self.sim)
        guid = str(record[ID_FIELDS[collection]])
        index = self._index(collection)
        lookup = _index_key(collection, guid, self.tenant_id)
        record[TENANT_FIELD] = self.tenant_id
        if touch and collection not in ("TaxRates", "TrackingCategories"):
            record["UpdatedDateUTC"] = self.now()
        key = index.get(lookup)
        if key is None:
            key = state.next_id(collection)
            index[lookup] = key
            self._journal.append((collection, key, None))
        else:
            self._journal.append((collection, key, state.collection(collection)[key]))
        state.collection(collection)[key] = record
        for field in INDEXED_FIELDS.get(collection, ()):
            if record.get(field):
                value = str(record[field]).strip().lower()
                self._values(collection, field).setdefault(value, set()).add(guid)
        return record

    def mark(self) -> int:
        return len(self._journal)

    def undo_to(self, mark: int) -> None:
        state = system(self.sim)
        while len(self._journal) > mark:
            collection, key, previous = self._journal.pop()
            rows = state.collection(collection)
            if previous is None:
                removed = rows.pop(key, None)
                if removed is not None:
                    guid = str(removed[ID_FIELDS[collection]])
                    self._index(collection).pop(_index_key(collection, guid, self.tenant_id), None)
            else:
                rows[key] = previous


def _index_key(collection: str, guid: str, tenant_id: str) -> str:
    # Tax types (OUTPUT, TAX001) repeat across organisations; GUIDs are compared without case.
    return f"{tenant_id}:{guid.upper()}" if collection == "TaxRates" else guid.lower()
