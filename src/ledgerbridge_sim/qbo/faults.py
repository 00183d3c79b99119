"""QuickBooks Online's error answers and response envelopes, and how it writes times.

Every error is a `QboError` carrying the HTTP status and the PascalCase `Fault` body QBO sends
(`{"Fault": {"Error": [{"Message", "Detail", "code", "element"}], "type"}, "time"}`). The two
authentication answers differ: 401 is the lower-case body with a millisecond epoch `time`.
Messages and codes follow Intuit's error-code list as the reference notes reproduce it; where
Intuit publishes no exact text (closing date, unsupported operations) the Detail says plainly
what went wrong and the docstring of the builder says so.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from ledgerbridge_sim import jsonio

# QBO stamps `time` and MetaData in Intuit's Pacific time with the offset written out.
PACIFIC: Final = ZoneInfo("America/Los_Angeles")

STRING_LENGTH_MESSAGE: Final = (
    "String length is either shorter or longer than supported by specification"
)
INACTIVE_DETAIL: Final = (
    "Something you're trying to use has been made inactive. "
    "Check the fields with accounts, customers, items, vendors or employees."
)


class QboError(Exception):
    """An error answer: HTTP status, Fault type and one or more errors."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str,
        *,
        element: str = "",
        status: int = 400,
        fault_type: str = "ValidationFault",
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.status = status
        self.fault_type = fault_type
        self.errors = [{"Message": message, "Detail": detail, "code": code, "element": element}]

    @property
    def code(self) -> str:
        return str(self.errors[0]["code"])

    def fault(self) -> dict[str, Any]:
        """The `Fault` object, as it appears in a response or a batch item."""
        return {"Error": [dict(error) for error in self.errors], "type": self.fault_type}


def time_text(moment: datetime) -> str:
    """The envelope's `time`: Pacific time with milliseconds, `2026-11-02T10:48:27.082-08:00`."""
    return moment.astimezone(PACIFIC).isoformat(timespec="milliseconds")


def metadata_text(moment: datetime) -> str:
    """MetaData times: Pacific time to the second, `2026-11-02T01:02:03-08:00`."""
    return moment.astimezone(PACIFIC).isoformat(timespec="seconds")


def encode(body: Any) -> bytes:
    return jsonio.dumps(body, moments=time_text)


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


# -- the faults the simulator raises ----------------------------------------------------------


def required_missing(field: str) -> QboError:
    return QboError(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {field} is missing in the request",
        element=field,
    )


def string_length(field: str, supplied: int, maximum: int) -> QboError:
    return QboError(
        "2050",
        STRING_LENGTH_MESSAGE,
        "String length specified does not match the supported length. "
        f"Min:0 Max:{maximum} supported. Supplied length:{supplied}",
        element=field,
    )


def invalid_property(detail: str, element: str = "") -> QboError:
    return QboError("2010", "Request has invalid or unsupported property", detail, element=element)


def invalid_reference(entity: str, value: object, element: str) -> QboError:
    return QboError(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {entity} element id {value} not found",
        element=element,
    )


def object_not_found(element: str = "") -> QboError:
    return QboError(
        "610", "Object Not Found", f"Object Not Found : {INACTIVE_DETAIL}", element=element
    )


def stale_object() -> QboError:
    return QboError(
        "5010",
        "Stale Object Error",
        "Stale Object Error : You and another user were working on this at the same time. "
        "The other user finished before you did, so your work was not saved.",
    )


def duplicate_name(kind: str) -> QboError:
    others = {
        "name": "customer, vendor or employee",
        "item": "product or service",
        "account": "account",
        "list": "list entry",
    }[kind]
    return QboError(
        "6240",
        "Duplicate Name Exists Error",
        f"The name supplied already exists. : Another {others} is already using this name. "
        "Please use a different name.",
    )


def duplicate_document_number() -> QboError:
    return QboError(
        "6140",
        "Duplicate Document Number Error",
        "Duplicate Document Number Error : You must specify a different number. "
        "This number has already been used.",
    )


def business_validation(detail: str, element: str = "") -> QboError:
    """QBO's catch-all 6000; the Detail always starts "Business Validation Error: "."""
    return QboError(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element=element,
    )


def closed_period(close_date: str) -> QboError:
    """Intuit publishes no code for the closing date; captures show the 6000 catch-all."""
    return business_validation(
        "The account period has closed. Transactions dated on or before the closing date "
        f"({close_date}) cannot be added, changed, voided or deleted."
    )


def unsupported_operation(operation: str, entity: str) -> QboError:
    return invalid_property(
        f"Operation {operation} is not supported on {entity}"
        + (" (make it inactive with Active:false instead)" if operation == "delete" else ""),
        element="operation",
    )


def query_parser(detail: str) -> QboError:
    return QboError("4000", "Error parsing query", f"QueryParserError: {detail}")


def query_validation(detail: str) -> QboError:
    return QboError("4001", "Invalid query", f"QueryValidationError: {detail}")


def throttled() -> QboError:
    return QboError(
        "3001",
        "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "The request limit was reached.  Try again later",
        status=429,
        fault_type="SERVICE",
    )


def forbidden() -> QboError:
    """A token that does not cover the realm in the path (or a realm that does not exist)."""
    return QboError(
        "3100",
        "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
        "",
        status=403,
        fault_type="AUTHORIZATION",
    )


def unauthorised_body(now: datetime) -> dict[str, Any]:
    """The 401 body is lower-case and carries `time` as epoch milliseconds."""
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    # The real Detail quotes part of the token; a simulator never echoes secrets.
                    "detail": "Token expired or not valid for this application",
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "requestId": None,
        "time": int(now.timestamp() * 1000),
    }


UNAUTHORISED_HEADERS: Final = {"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'}
