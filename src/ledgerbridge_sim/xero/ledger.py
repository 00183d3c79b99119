"""Rules every Xero write shares: the call's context, lock dates, accounts, tax rates, contacts."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final

from ledgerbridge_sim.state import Simulator
from ledgerbridge_sim.xero import defaults
from ledgerbridge_sim.xero.store import Book
from ledgerbridge_sim.xero.wire import InvalidElementError, is_guid

ARCHIVED_CONTACT: Final = (
    "The contact must be un-archived before creating new invoices or credit notes."
)
IDENTIFY_CONTACT: Final = (
    "The Contact must contain at least 1 of the following elements to identify the contact: "
    "Name, ContactID, ContactNumber"
)


@dataclass
class Call:
    """One API call against one organisation."""

    sim: Simulator
    book: Book
    params: dict[str, str] = field(default_factory=dict)
    adviser: bool = False  # an adviser may write into the period lock (not the year-end lock)

    @property
    def unit_places(self) -> int:
        return 4 if self.params.get("unitdp") == "4" else 2

    def organisation(self) -> dict[str, Any]:
        found = self.book.get("Organisations", self.book.tenant_id)
        assert found is not None, "defaults.ensure creates the Organisation record"
        return found

    def tax(self) -> defaults.CountryTax:
        return defaults.country(self.book.organisation)


def lock_messages(call: Call, day: date) -> list[str]:
    """Xero refuses non-draft documents dated on or before a lock date."""
    org = call.organisation()
    messages = []
    period, year_end = org.get("PeriodLockDate"), org.get("EndOfYearLockDate")
    if isinstance(period, date) and day <= period and not call.adviser:
        messages.append(
            "The document date cannot be before the period lock date, currently set at "
            f"{period.strftime('%d-%b-%Y')}"
        )
    if isinstance(year_end, date) and day <= year_end:
        messages.append(
            "The document date cannot be before the end of year lock date, currently set at "
            f"{year_end.strftime('%d-%b-%Y')}"
        )
    return messages


def check_lock(call: Call, day: date) -> None:
    messages = lock_messages(call, day)
    if messages:
        raise InvalidElementError(*messages)


def account_by_code(call: Call, code: object) -> dict[str, Any] | None:
    if not isinstance(code, str):
        return None
    return next(iter(call.book.having("Accounts", "Code", code)), None)


def account_ref(call: Call, reference: object) -> dict[str, Any] | None:
    """An `Account` element: `{"Code": "090"}` or `{"AccountID": "…"}`."""
    if not isinstance(reference, dict):
        return None
    if reference.get("AccountID"):
        return call.book.get("Accounts", reference["AccountID"])
    return account_by_code(call, reference.get("Code"))


def tax_rate(call: Call, tax_type: object) -> dict[str, Any] | None:
    if not isinstance(tax_type, str):
        return None
    found = call.book.get("TaxRates", tax_type)
    return found if found is not None and found.get("Status") == "ACTIVE" else None


def tax_fits_account(rate: dict[str, Any], account: dict[str, Any] | None) -> bool:
    if account is None:
        return True
    flag = {
        "REVENUE": "CanApplyToRevenue",
        "EXPENSE": "CanApplyToExpenses",
        "ASSET": "CanApplyToAssets",
        "LIABILITY": "CanApplyToLiabilities",
        "EQUITY": "CanApplyToEquity",
    }.get(str(account.get("Class")), "CanApplyToAssets")
    return bool(rate.get(flag, True))


def effective_rate(rate: dict[str, Any]) -> Decimal:
    value = rate.get("EffectiveRate", Decimal(0))
    return value if isinstance(value, Decimal) else Decimal(str(value))


def contact_for_document(call: Call, reference: object) -> dict[str, Any]:
    """The contact a document names; a new name creates the contact, as Xero does."""
    if not isinstance(reference, dict) or not any(
        reference.get(key) for key in ("ContactID", "ContactNumber", "Name")
    ):
        raise InvalidElementError(IDENTIFY_CONTACT)
    book = call.book
    contact: dict[str, Any] | None = None
    if reference.get("ContactID"):
        contact = (
            book.get("Contacts", reference["ContactID"])
            if is_guid(reference["ContactID"])
            else None
        )
        if contact is None:
            raise InvalidElementError(
                f"The contact with ContactID {reference['ContactID']} could not be found."
            )
    elif reference.get("ContactNumber"):
        contact = next(
            iter(book.having("Contacts", "ContactNumber", reference["ContactNumber"])), None
        )
    if contact is None and reference.get("Name"):
        name = str(reference["Name"]).strip()
        contact = active_contact_named(call, name)
        if contact is None:
            contact = defaults.contact_record(book, name, "", False, False)
            contact["EmailAddress"] = reference.get("EmailAddress")
            contact["ContactNumber"] = reference.get("ContactNumber")
            book.put("Contacts", contact)
    if contact is None:
        raise InvalidElementError(IDENTIFY_CONTACT)
    if contact.get("ContactStatus") == "ARCHIVED":
        raise InvalidElementError(ARCHIVED_CONTACT)
    return contact


def active_contact_named(call: Call, name: str) -> dict[str, Any] | None:
    named = call.book.having("Contacts", "Name", name)
    return next((c for c in named if c.get("ContactStatus") == "ACTIVE"), None)


def contact_summary(contact: dict[str, Any]) -> dict[str, Any]:
    return {"ContactID": contact["ContactID"], "Name": contact.get("Name")}


def contact_view(call: Call, reference: dict[str, Any] | None) -> dict[str, Any] | None:
    """A document's contact as Xero nests it: the contact's current identity, no balances."""
    if reference is None:
        return None
    contact = call.book.get("Contacts", reference.get("ContactID")) or reference
    return {
        "ContactID": contact.get("ContactID"),
        "ContactNumber": contact.get("ContactNumber"),
        "ContactStatus": contact.get("ContactStatus"),
        "Name": contact.get("Name"),
        "EmailAddress": contact.get("EmailAddress"),
        "Addresses": [],
        "Phones": [],
        "ContactGroups": [],
        "ContactPersons": [],
        "HasValidationErrors": False,
    }


def mark_contact_role(call: Call, contact_id: str, *, customer: bool) -> None:
    """`IsCustomer`/`IsSupplier` follow the documents raised for a contact."""
    contact = call.book.get("Contacts", contact_id)
    flag = "IsCustomer" if customer else "IsSupplier"
    if contact is not None and not contact.get(flag):
        call.book.put("Contacts", {**contact, flag: True})
