"""How the simulated Autotask service reads and writes JSON, datetimes and errors.

Money and quantities live in the simulator as Decimal and leave it as exact JSON numbers (Python's
json module would refuse Decimal, and a float would lose digits). Datetimes are stored as the wire
text the service sends, `2024-01-31T05:00:00.000Z` (always UTC, milliseconds), so equal instants
compare equal as strings and filters can compare them as text.
"""

import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerbridge_sim import jsonio


class AutotaskError(Exception):
    """An answer other than success: an HTTP status and the body the service sends with it."""

    def __init__(self, status: int, *messages: str, body: Any = None) -> None:
        super().__init__(f"{status}: {'; '.join(messages)}")
        self.status = status
        self.body = body if body is not None else {"errors": list(messages)}


def method_not_allowed(method: str) -> AutotaskError:
    # The service is ASP.NET Web API: routing failures carry its capital-M `Message` shape.
    return AutotaskError(
        405, body={"Message": f"The requested resource does not support http method '{method}'."}
    )


def no_route(url: str) -> AutotaskError:
    return AutotaskError(
        404, body={"Message": f"No HTTP resource was found that matches the request URI '{url}'."}
    )


def decode(raw: bytes | str) -> Any:
    """A request body or `search=` parameter; numbers with fractions become Decimal."""
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, InvalidOperation) as error:
        raise AutotaskError(500, f"The request body could not be read as JSON: {error}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def encode(value: Any) -> bytes:
    return jsonio.dumps(value, moments=format_moment)


def format_moment(moment: datetime) -> str:
    """The service's datetime text: UTC with milliseconds and a `Z`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_date(day: date) -> str:
    """A date-only field: the date at midnight, the time dropped."""
    return f"{day.isoformat()}T00:00:00.000Z"


def parse_moment(text: str) -> datetime:
    """An ISO-8601 date or datetime from a client; without a zone it is read as UTC."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def normalise_moment(text: str, *, date_only: bool) -> str:
    """Client datetime text as the service stores it. Raises ValueError when unreadable.

    A date-only field keeps the calendar date as the client wrote it (before any zone shift),
    because that is the date the person meant ("paid on the 15th").
    """
    if date_only:
        return format_date(date.fromisoformat(text.strip()[:10]))
    return format_moment(parse_moment(text))
