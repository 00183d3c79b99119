"""What a finance admin should do about each validation text Xero is known to send.

Xero's texts are matched by substring, case-insensitively: their trailing wording varies (a
lock-date message ends "…of 30 June 2026" or "…currently set at …") and not every text is
documented word for word, so each rule keys on the stable part.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class ValidationHint:
    name: str  # a short key, for tests and support
    needles: tuple[tuple[str, ...], ...]  # any group whose words all appear matches
    hint: str

    def matches(self, lowered: str) -> bool:
        return any(all(word in lowered for word in group) for group in self.needles)


INVOICE_NUMBER_TAKEN: Final = ValidationHint(
    "invoice_number_taken",
    (("invoice #", "must be unique"), ("invoice number", "unique"), ("credit note", "unique")),
    "This number is already in Xero: mark the invoice posted if it is the same document, or "
    "check the PSA's invoice numbering so two documents never share a number.",
)
LOCKED_PERIOD: Final = ValidationHint(
    "locked_period",
    (("lock date",), ("accounts are locked",), ("locked period",)),
    "The date falls in a locked period; change the lock date or the invoice date. In Xero the "
    "lock dates are under Accounting → Advanced → Financial settings.",
)
ITEM_CODE_TOO_LONG: Final = ValidationHint(
    "item_code_too_long",
    (("code", "30 characters"), ("code", "too long"), ("code", "exceeds"), ("code", "longer")),
    "The item code is longer than Xero's 30 characters. Shorten the product id in the PSA, map "
    "it to a Xero item under Company → Products, or let LedgerBridge shorten long ids with a "
    "hash (Company → Settings → Products).",
)
UNKNOWN_ITEM_CODE: Final = ValidationHint(
    "unknown_item_code",
    (("item code", "not valid"), ("item code", "not found"), ("itemcode", "not valid")),
    "Xero has no item with this code. Create it in Xero (Business → Products and services) or "
    "map the PSA product to an existing Xero item under Company → Products.",
)
CONTACT_NAME_TAKEN: Final = ValidationHint(
    "contact_name_taken",
    (("contact name", "already assigned"), ("contact name", "must be unique")),
    "Another Xero contact already has this name. Link the PSA customer to that contact under "
    "Company → Customers, or rename one of them so the names differ.",
)
CONTACT_NUMBER_TAKEN: Final = ValidationHint(
    "contact_number_taken",
    (("contact number", "already assigned"),),
    "Another Xero contact already carries this PSA customer's id as its contact number. Link "
    "the customer to that contact under Company → Customers.",
)
LINE_TOTAL_MISMATCH: Final = ValidationHint(
    "line_total_mismatch",
    (
        ("line total", "match"),
        ("line amount", "match"),
        ("lineamount", "match"),
        ("line total", "equal"),
        ("line amount", "equal"),
        ("total", "does not match"),
    ),
    "A line's amount does not equal its quantity times its unit price as Xero works it out. "
    "Check the line's rounding in the PSA (Xero keeps unit prices to 4 decimal places and "
    "amounts to 2), then sync again.",
)
TAX_TYPE_NOT_FOR_ACCOUNT: Final = ValidationHint(
    "tax_type_not_for_account",
    (("taxtype", "cannot be used with account"), ("tax type", "cannot be used with account")),
    "This Xero tax rate cannot be used with the line's revenue account. Map the PSA tax code "
    "to a sales tax rate under Company → Tax codes, or use another revenue account.",
)
ACCOUNT_ARCHIVED: Final = ValidationHint(
    "account_archived",
    (("account code", "archived"), ("account code", "deleted"), ("account code", "recognised")),
    "The line's revenue account is archived or missing in Xero. Map the GL account to an "
    "active Xero account under Company → GL accounts.",
)
PAYMENT_NOT_AUTHORISED: Final = ValidationHint(
    "payment_not_authorised",
    (("payment", "authorised"), ("payment", "awaiting payment")),
    "Xero takes payments only on approved (Awaiting Payment) invoices. Approve the invoice in "
    "Xero, or check it was not voided or already paid.",
)
PAYMENT_TOO_LARGE: Final = ValidationHint(
    "payment_too_large",
    (("payment amount exceeds",), ("exceeds the amount outstanding",)),
    "The payment is more than the invoice still owes in Xero. Check for a payment or credit "
    "already recorded there before recording this one.",
)
PAYMENT_RECONCILED: Final = ValidationHint(
    "payment_reconciled",
    (("payment", "reconciled"),),
    "The payment is reconciled in Xero and cannot be changed. Unreconcile the bank line in "
    "Xero first.",
)
IDEMPOTENCY_KEY_REUSED: Final = ValidationHint(
    "idempotency_key_reused",
    (("idempotency", "different request"),),
    "The document changed since LedgerBridge last sent it a few minutes ago. Sync it again in "
    "a few minutes; LedgerBridge checks Xero for the earlier attempt first.",
)

RULES: Final[tuple[ValidationHint, ...]] = (
    INVOICE_NUMBER_TAKEN,
    LOCKED_PERIOD,
    CONTACT_NAME_TAKEN,
    CONTACT_NUMBER_TAKEN,
    ITEM_CODE_TOO_LONG,
    UNKNOWN_ITEM_CODE,
    TAX_TYPE_NOT_FOR_ACCOUNT,
    ACCOUNT_ARCHIVED,
    PAYMENT_TOO_LARGE,
    PAYMENT_RECONCILED,
    PAYMENT_NOT_AUTHORISED,
    LINE_TOTAL_MISMATCH,
    IDEMPOTENCY_KEY_REUSED,
)

GENERIC_HINT: Final = (
    "Xero's message says what it objected to; correct it in the PSA (or the mapping) and sync "
    "again."
)


def matching_rule(message: str) -> ValidationHint | None:
    lowered = message.lower()
    return next((rule for rule in RULES if rule.matches(lowered)), None)


def hint_for(messages: Sequence[str]) -> str:
    """One hint per distinct known text, in the order Xero gave them; a general one otherwise."""
    found: list[str] = []
    for message in messages:
        rule = matching_rule(message)
        if rule is not None and rule.hint not in found:
            found.append(rule.hint)
    return " ".join(found) if found else GENERIC_HINT


def mentions(messages: Sequence[str], rule: ValidationHint) -> bool:
    return any(rule.matches(message.lower()) for message in messages)
