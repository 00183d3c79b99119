"""QuickBooks Online faults: reading both body shapes, and what each code means for the admin.

QuickBooks answers a refusal with `{"Fault": {"Error": [{"Message", "Detail", "code",
"element"}], "type"}}` — on the whole response (HTTP 400/403/429/500) or on one item of a batch
(HTTP 200). A 401 comes from the gateway in a lower-case shape instead:
`{"fault": {"error": [{"message", "detail", "code"}], "type": "AUTHENTICATION"}}`. Both are
read here into `FaultError`s; `fault_to_error` turns one fault into a `ConnectorError` whose hint
tells a finance admin what to change in QuickBooks or in LedgerBridge.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ledgerbridge.connectors.base import ConnectorError, ErrorKind, as_str

VENDOR: Final = "QuickBooks Online"

# Codes the API documents (developer.intuit.com → error codes), by meaning.
AUTHORIZATION_FAILURE: Final = "120"
OBJECT_NOT_FOUND: Final = "610"
INVALID_PROPERTY: Final = "2010"
REQUIRED_PARAM_MISSING: Final = "2020"
STRING_TOO_LONG: Final = "2050"
INVALID_REFERENCE: Final = "2500"
THROTTLED: Final = "3001"
AUTHENTICATION_FAILED: Final = "3200"
APPLICATION_NOT_AUTHORIZED: Final = "3100"
QUERY_PARSE_ERROR: Final = "4000"
STALE_OBJECT: Final = "5010"
BUSINESS_VALIDATION: Final = "6000"
DUPLICATE_DOC_NUMBER: Final = "6140"
INVALID_COMPANY_STATUS: Final = "6190"
DUPLICATE_NAME: Final = "6240"

_RETRY_HINT: Final = "LedgerBridge tries again later; nothing needs doing unless this persists."
_CLOSING_DATE_WORDS: Final = ("closing date", "period closed", "period has closed", "books closed")
_LENGTH = re.compile(r"Max:\s*(\d+).*?Supplied length:\s*(\d+)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class FaultError:
    """One entry of a fault's error list."""

    code: str
    message: str
    detail: str = ""
    element: str = ""


@dataclass(frozen=True)
class Fault:
    type: str  # ValidationFault, SystemFault, AuthenticationFault, AuthorizationFault, SERVICE…
    errors: tuple[FaultError, ...]

    @property
    def first(self) -> FaultError:
        return self.errors[0] if self.errors else FaultError(code="", message="")

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(error.code for error in self.errors)

    def text(self) -> str:
        """Every error's message and detail, for `vendor_detail`."""
        parts = []
        for error in self.errors:
            words = error.message
            if error.detail and error.detail != error.message:
                words = f"{words}: {error.detail}" if words else error.detail
            if error.element:
                words = f"{words} [{error.element}]"
            parts.append(f"{error.code} {words}".strip())
        return "; ".join(parts) or self.type


def parse_fault(body: Any) -> Fault | None:
    """The fault in a response or batch item body (either casing), or None if it has none."""
    if not isinstance(body, Mapping):
        return None
    raw = body.get("Fault", body.get("fault"))
    if not isinstance(raw, Mapping):
        return None
    entries = raw.get("Error", raw.get("error")) or []
    if isinstance(entries, Mapping):
        entries = [entries]
    errors = []
    for entry in entries if isinstance(entries, Sequence) else []:
        if not isinstance(entry, Mapping):
            continue
        errors.append(
            FaultError(
                code=_code(_field(entry, "code")),
                message=as_str(_field(entry, "Message")),
                detail=as_str(_field(entry, "Detail")),
                element=as_str(_field(entry, "element")),
            )
        )
    return Fault(type=as_str(raw.get("type", raw.get("Type"))), errors=tuple(errors))


def _field(entry: Mapping[str, Any], name: str) -> Any:
    for key in (name, name.lower(), name[:1].upper() + name[1:]):
        if key in entry:
            return entry[key]
    return None


def _code(value: Any) -> str:
    # The 401 message carries the code padded ("errorCode=003200"); the field itself may too.
    text = as_str(value).strip()
    return text.lstrip("0") or text


def has_code(error: ConnectorError, code: str) -> bool:
    """True when an error made from a fault (`vendor_detail` = `Fault.text()`) has `code`."""
    return any(part.strip().startswith(f"{code} ") for part in error.vendor_detail.split(";"))


def is_closing_date(fault: Fault) -> bool:
    text = fault.text().lower()
    return any(words in text for words in _CLOSING_DATE_WORDS) or "account period closed" in text


def is_throttle(fault: Fault) -> bool:
    return THROTTLED in fault.codes or "throttle" in fault.text().lower()


def fault_to_error(fault: Fault, *, what: str, status: int | None = None) -> ConnectorError:
    """A fault as a classified error. `what` names the record for the admin ("invoice 1042")."""
    first = fault.first
    code = first.code
    detail = fault.text()[:2000]
    said = (first.detail or first.message).strip()

    def error(kind: ErrorKind, message: str, hint: str) -> ConnectorError:
        return ConnectorError(kind, message, hint=hint, status=status, vendor_detail=detail)

    if is_throttle(fault):
        return error(
            ErrorKind.RATE_LIMITED,
            f"{VENDOR} refused {what}: over its request limit for this company.",
            _RETRY_HINT,
        )
    if is_closing_date(fault):
        return error(
            ErrorKind.VALIDATION,
            f"{VENDOR} refused {what}: the date is on or before the closing date.",
            "The books are closed up to that date in QuickBooks. Re-date the document in the "
            "PSA, or have your accountant move the closing date (QuickBooks → Settings → "
            "Account and settings → Advanced → Close the books), then retry.",
        )
    if code == DUPLICATE_NAME:
        return error(
            ErrorKind.VALIDATION,
            f"{VENDOR} refused {what}: the name is already used by another customer, "
            "supplier, employee or product.",
            "QuickBooks names must be unique across customers, suppliers and employees. "
            "Rename one of them in QuickBooks or the PSA, or choose how LedgerBridge handles "
            "name clashes under Company → Settings.",
        )
    if code == OBJECT_NOT_FOUND:
        return error(
            ErrorKind.VALIDATION,
            f"{VENDOR} refused {what}: something it uses no longer exists.",
            "The customer, product/service or tax code was deleted or made inactive in "
            "QuickBooks. Make it active again there (or change the mapping in LedgerBridge), "
            "then retry.",
        )
    if code == DUPLICATE_DOC_NUMBER:
        return error(
            ErrorKind.VALIDATION,
            f"{VENDOR} refused {what}: that document number is already in QuickBooks.",
            "Another transaction in QuickBooks already uses this number. If it is this "
            "document, mark it as posted; otherwise renumber one of them.",
        )
    if code == STRING_TOO_LONG:
        field = first.element or "a field"
        found = _LENGTH.search(first.detail)
        limit = f" (at most {found.group(1)} characters, {found.group(2)} given)" if found else ""
        return error(
            ErrorKind.VALIDATION,
            f"{VENDOR} refused {what}: {field} is too long{limit}.",
            "Shorten it in the PSA (or map it to a shorter value in LedgerBridge), then retry.",
        )
    if code == STALE_OBJECT:
        return error(
            ErrorKind.VALIDATION,
            f"{VENDOR} refused {what}: the record changed in QuickBooks while LedgerBridge "
            "was updating it.",
            "Retry: LedgerBridge reads the record again first. If it keeps happening, someone "
            "or another app is editing it at the same time.",
        )
    if code == INVALID_REFERENCE:
        return error(
            ErrorKind.VALIDATION,
            f"{VENDOR} refused {what}: it points at a record QuickBooks does not have"
            + (f" ({said})" if said else "")
            + ".",
            "A mapped customer, product/service, tax code, class, location, term or account "
            "is not in this QuickBooks company. Reload the QuickBooks lists under Company → "
            "Mappings, correct the mapping, then retry.",
        )
    if code == INVALID_COMPANY_STATUS:
        return error(
            ErrorKind.PERMISSION,
            f"{VENDOR} refused {what}: the company's subscription is not active.",
            "Renew or reactivate the QuickBooks Online subscription, then retry.",
        )
    if code in (AUTHORIZATION_FAILURE, APPLICATION_NOT_AUTHORIZED) or (
        fault.type.lower().startswith("authorization")
    ):
        return error(
            ErrorKind.PERMISSION,
            f"{VENDOR} refused {what}: the connected user may not do this in this company.",
            "Reconnect QuickBooks under Company → Connections as a QuickBooks admin of the "
            "company.",
        )
    if fault.type.lower().startswith("authentication") or code == AUTHENTICATION_FAILED:
        return error(
            ErrorKind.AUTH,
            f"{VENDOR} did not accept LedgerBridge's sign-in.",
            "Reconnect QuickBooks under Company → Connections.",
        )
    if fault.type == "SystemFault":
        return error(
            ErrorKind.TRANSIENT,
            f"{VENDOR} failed while handling {what}.",
            _RETRY_HINT,
        )
    if code in (INVALID_PROPERTY, REQUIRED_PARAM_MISSING, QUERY_PARSE_ERROR):
        return error(
            ErrorKind.VALIDATION,
            f"{VENDOR} could not read LedgerBridge's request for {what}"
            + (f": {said}" if said else "")
            + ".",
            "This is a LedgerBridge fault; please report it to support with this message.",
        )
    return error(
        ErrorKind.VALIDATION,
        f"{VENDOR} refused {what}" + (f": {said}" if said else "") + ".",
        "QuickBooks' message says what to correct; correct it there or in the PSA, then retry.",
    )
