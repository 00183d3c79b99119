"""One QuickBooks company (realm) as the simulator stores it.

Records live in `sim.system("qbo").collection(<Entity>)`, keyed by their int `Id`, with the
vendor's JSON field names, Decimal money and one extra field, `realmId`, that keeps companies
apart (it never leaves the simulator in an API answer). Ids are allocated per entity across all
realms, so they are unique within a realm as QBO's are. `Preferences` and `CompanyInfo` are one
per realm: they are keyed by the realm id itself and answer with `Id` "1", as QBO's do.

Customer balances follow the documents: every saved invoice, credit memo and payment moves its
customer's `Balance` by the change in what it leaves open (invoice `Balance`, minus credit memo
`RemainingCredit`, minus payment `UnappliedAmt`). Callers hold `sim.lock`.
"""

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from ledgerbridge_sim.organisations import Organisation
from ledgerbridge_sim.qbo import faults
from ledgerbridge_sim.state import Simulator, SystemState

REALM_FIELD: Final = "realmId"
SINGLETONS: Final = ("Preferences", "CompanyInfo")


def state(sim: Simulator) -> SystemState:
    return sim.system("qbo")


@dataclass
class Realm:
    """One company as seen by one request.

    In a batch (`hiding`), `hidden` collects what earlier items created: QBO runs batch items
    against the company as it stood, so references to those records are not found.
    """

    sim: Simulator
    organisation: Organisation
    hiding: bool = False
    hidden: set[tuple[str, int]] = field(default_factory=set)

    @property
    def id(self) -> str:
        return self.organisation.id

    @property
    def country(self) -> str:
        return self.organisation.country

    @property
    def system(self) -> SystemState:
        return state(self.sim)

    def now(self) -> datetime:
        return self.sim.clock.now()

    def today(self) -> date:
        return self.now().astimezone(faults.PACIFIC).date()

    def stamp(self) -> str:
        return faults.metadata_text(self.now())

    # -- reading -------------------------------------------------------------------------------

    def rows(self, entity: str) -> Iterator[dict[str, Any]]:
        for record in self.system.collection(entity).values():
            if record.get(REALM_FIELD) == self.id:
                yield record

    def get(self, entity: str, record_id: object) -> dict[str, Any] | None:
        """The stored record with this Id in this realm (None for another realm's)."""
        if entity in SINGLETONS:
            return self.singleton(entity)
        key = parse_id(record_id)
        if key is None:
            return None
        record = self.system.collection(entity).get(key)
        if record is None or record.get(REALM_FIELD) != self.id:
            return None
        return record

    def singleton(self, entity: str) -> dict[str, Any]:
        return self.system.collection(entity)[int(self.id)]

    def preferences(self) -> dict[str, Any]:
        return self.singleton("Preferences")

    def preference(self, section: str, name: str, default: Any = None) -> Any:
        return self.preferences().get(section, {}).get(name, default)

    def is_us_automated_tax(self) -> bool:
        return bool(self.preference("TaxPrefs", "PartnerTaxEnabled", False))

    def visible(self, entity: str, record_id: object) -> dict[str, Any] | None:
        """A record a reference may point at: in this realm, not created earlier in the batch."""
        record = self.get(entity, record_id)
        if record is None or (entity, int(record["Id"])) in self.hidden:
            return None
        return record

    def find_by_name(self, entity: str, name: str) -> dict[str, Any] | None:
        for record in self.rows(entity):
            if record.get("Name") == name:
                return record
        return None

    # -- writing -------------------------------------------------------------------------------

    def insert(
        self, entity: str, record: dict[str, Any], *, record_id: int | None = None
    ) -> dict[str, Any]:
        """Store a new record: Id, SyncToken "0", MetaData, and the customer's balance."""
        rows = self.system.collection(entity)
        if record_id is not None:
            if record_id in rows:
                raise ValueError(f"{entity} {record_id} already exists")
            key = record_id
        else:
            key = self.system.next_id(entity)
            while key in rows:  # seeded records may have taken ids the counter has not seen
                key = self.system.next_id(entity)
        stamp = self.stamp()
        record.update(
            Id=str(key),
            SyncToken="0",
            MetaData={"CreateTime": stamp, "LastUpdatedTime": stamp},
            domain="QBO",
            sparse=False,
        )
        record[REALM_FIELD] = self.id
        rows[key] = record
        self._index_number(entity, None, record)
        self._move_customer_balance(entity, None, record)
        return record

    def replace(self, entity: str, record: dict[str, Any], previous: dict[str, Any]) -> None:
        """Store a changed record: SyncToken + 1 and LastUpdatedTime now."""
        record["SyncToken"] = str(int(previous.get("SyncToken", "0")) + 1)
        record["MetaData"] = {
            "CreateTime": previous.get("MetaData", {}).get("CreateTime", self.stamp()),
            "LastUpdatedTime": self.stamp(),
        }
        record.update(Id=previous["Id"], domain="QBO", sparse=False)
        record[REALM_FIELD] = self.id
        if entity in SINGLETONS:
            self.system.collection(entity)[int(self.id)] = record
        else:
            self.system.collection(entity)[int(previous["Id"])] = record
        self._index_number(entity, previous, record)
        self._move_customer_balance(entity, previous, record)

    def remove(self, entity: str, previous: dict[str, Any]) -> None:
        del self.system.collection(entity)[int(previous["Id"])]
        self._index_number(entity, previous, None)
        self._move_customer_balance(entity, previous, None)

    def numbered(self, entity: str, doc_number: str) -> set[str]:
        """Ids of this realm's `entity` records carrying `doc_number` (an index, not a scan)."""
        index: dict[tuple[str, str, str], set[str]] = self.system.extra.setdefault(
            "doc_number_index", {}
        )
        return index.get((self.id, entity, doc_number), set())

    def _index_number(
        self, entity: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        index: dict[tuple[str, str, str], set[str]] = self.system.extra.setdefault(
            "doc_number_index", {}
        )
        if before is not None and before.get("DocNumber"):
            index.get((self.id, entity, str(before["DocNumber"])), set()).discard(before["Id"])
        if after is not None and after.get("DocNumber"):
            index.setdefault((self.id, entity, str(after["DocNumber"])), set()).add(after["Id"])

    def touch(self, entity: str, record: dict[str, Any], before: dict[str, Any]) -> None:
        """A record changed as a side effect (a payment applied to an invoice)."""
        self.replace(entity, record, before)

    def is_voided(self, entity: str, record: dict[str, Any]) -> bool:
        voided: set[tuple[str, int]] = self.system.extra.setdefault("voided", set())
        return (entity, int(record["Id"])) in voided

    def mark_voided(self, entity: str, record: dict[str, Any]) -> None:
        self.system.extra.setdefault("voided", set()).add((entity, int(record["Id"])))

    def _move_customer_balance(
        self, entity: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        for record, sign in ((before, -1), (after, 1)):
            if record is None:
                continue
            open_amount = open_contribution(entity, record)
            if not open_amount:
                continue
            customer = self.get("Customer", record.get("CustomerRef", {}).get("value"))
            if customer is not None:
                balance = Decimal(customer.get("Balance", 0)) + sign * open_amount
                customer["Balance"] = faults.money(balance)
                customer["BalanceWithJobs"] = customer["Balance"]


def open_contribution(entity: str, record: dict[str, Any]) -> Decimal:
    """What a document adds to its customer's open balance."""
    if entity == "Invoice":
        return Decimal(record.get("Balance", 0))
    if entity == "CreditMemo":
        return -Decimal(record.get("RemainingCredit", 0))
    if entity == "Payment":
        return -Decimal(record.get("UnappliedAmt", 0))
    return Decimal(0)


def parse_id(value: object) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else None


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record as the API answers it: a deep copy without the realm field."""
    answer = copy.deepcopy(record)
    answer.pop(REALM_FIELD, None)
    return answer
