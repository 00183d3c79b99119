"""Reading and writing Xero's JSON: MS-style dates, exact money, envelopes and validation texts.

Xero answers dates as `/Date(1552953600000+0000)/`: milliseconds since the Unix epoch (UTC),
with the organisation's offset after it for display. A date-only field (an invoice `Date`) is
midnight of that day at the given offset; newer payloads may also carry ISO strings, read too.
Requests take plain `YYYY-MM-DD`.
"""

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

_MS_DATE = re.compile(r"^/Date\((?P<ms>-?\d+)(?P<offset>[+-]\d{4})?\)/$")


class VendorDataError(ValueError):
    """A Xero payload lacked something it always carries."""


def _ms_parts(value: str) -> tuple[datetime, timezone] | None:
    match = _MS_DATE.match(value.strip())
    if match is None:
        return None
    instant = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match["ms"]))
    offset = match["offset"] or "+0000"
    sign = -1 if offset[0] == "-" else 1
    zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
    return instant, zone


def parse_datetime(value: Any) -> datetime | None:
    """A Xero timestamp as an aware UTC datetime; None for missing or unreadable values."""
    if not isinstance(value, str) or not value.strip():
        return None
    parts = _ms_parts(value)
    if parts is not None:
        return parts[0]
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    # Xero's ISO strings without a zone (`UpdatedDateUTCString`, `DateString`) are UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_date(value: Any) -> date | None:
    """A Xero date (`/Date(…)/` or ISO) as the calendar day the organisation sees."""
    if not isinstance(value, str) or not value.strip():
        return None
    parts = _ms_parts(value)
    if parts is not None:
        instant, zone = parts
        return instant.astimezone(zone).date()
    try:
        return datetime.fromisoformat(value.strip()[:19]).date()
    except ValueError:
        return None


def format_date(day: date) -> str:
    return day.isoformat()


def money(value: Any) -> Decimal | None:
    """An amount as an exact Decimal (Xero sends numbers, sometimes numeric strings)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str):
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            return None
    if isinstance(value, float):  # only reached for payloads not read through decode_json
        return Decimal(repr(value))
    return None


def text(value: Any) -> str:
    return "" if value is None else str(value)


def records(body: Any, key: str) -> list[Mapping[str, Any]]:
    """The array a Xero envelope wraps (`{"Invoices": [...]}`), keeping only objects."""
    if not isinstance(body, Mapping):
        raise VendorDataError(f"expected a JSON object with {key}")
    found = body.get(key)
    if found is None:
        return []
    if not isinstance(found, list):
        raise VendorDataError(f"{key} is not a list")
    return [item for item in found if isinstance(item, Mapping)]


def validation_messages(element: Mapping[str, Any]) -> list[str]:
    """The `ValidationErrors[].Message` texts of one element (or one error body)."""
    found = element.get("ValidationErrors")
    if not isinstance(found, list):
        return []
    return [text(e.get("Message")) for e in found if isinstance(e, Mapping) and e.get("Message")]


def error_messages(body: Any) -> list[str]:
    """Every readable message in a Xero error body: a ValidationException's element texts, or
    the problem-details `Detail`/`Title`, or the top-level `Message`."""
    if isinstance(body, str):
        return [body.strip()] if body.strip() else []
    if not isinstance(body, Mapping):
        return []
    found: list[str] = []
    elements = body.get("Elements")
    if isinstance(elements, list):
        for element in elements:
            if isinstance(element, Mapping):
                found.extend(validation_messages(element))
    if not found:
        for key in ("Detail", "detail", "Message", "Title", "title"):
            if body.get(key):
                found.append(text(body[key]))
                break
    return found


def quoted(value: str) -> str:
    """A value inside a Xero `where` string literal (`Name=="…"`)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ordered_by_change(items: list[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Records oldest change first (`UpdatedDateUTC`); records without one come first."""
    earliest = datetime.min.replace(tzinfo=UTC)
    yield from sorted(
        items, key=lambda item: parse_datetime(item.get("UpdatedDateUTC")) or earliest
    )
