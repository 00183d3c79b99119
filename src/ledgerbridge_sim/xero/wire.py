"""How the simulated Xero API writes dates, money, envelopes and errors.

Records are stored with Python values (Decimal money, `date` for document dates, aware `datetime`
for `UpdatedDateUTC`) and turned into Xero's JSON only on the way out: Microsoft JSON dates
`/Date(1552953600000+0000)/`, the `…DateString` twins the spec's examples show, money with two
decimals (unit amounts two or four, quantities four).
"""

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from ledgerbridge_sim import jsonio

CENT: Final = Decimal("0.01")
NIL_GUID: Final = "00000000-0000-0000-0000-000000000000"
NOT_FOUND_TEXT: Final = "The resource you're looking for cannot be found"
_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# Fields written with more than two decimals; every other Decimal goes out with two.
_PLACES: Final = {"Quantity": 4, "CurrencyRate": 6, "Rate": 4, "EffectiveRate": 4}


class XeroError(Exception):
    """An answer other than success: status, body (JSON value or plain text) and headers."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


class InvalidElementError(Exception):
    """One element of a write failed validation; `messages` are Xero's texts for it."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


def is_guid(text: object) -> bool:
    return isinstance(text, str) and _GUID.match(text) is not None


def round_money(value: Decimal, places: int = 2) -> Decimal:
    # Xero rounds half away from zero (what .NET's MidpointRounding.AwayFromZero does).
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def to_decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise InvalidElementError(f"{field} must be a number")
    try:
        return Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise InvalidElementError(f"{field} must be a number") from None


def ms_date(value: date | datetime, *, offset: bool = True) -> str:
    moment = (
        value.astimezone(UTC)
        if isinstance(value, datetime)
        else datetime.combine(value, time(), tzinfo=UTC)
    )
    millis = int(moment.timestamp() * 1000)
    return f"/Date({millis}+0000)/" if offset else f"/Date({millis})/"


def date_string(value: date) -> str:
    return f"{value.isoformat()}T00:00:00"


def utc_string(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(value: Any, field: str = "Date") -> date:
    """A request date: `2026-11-02`, `2026-11-02T00:00:00` or `/Date(1793577600000+0000)/`."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        found = _MS_DATE.match(text)
        if found:
            return datetime.fromtimestamp(int(found.group(1)) / 1000, tz=UTC).date()
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except ValueError:
            pass
    raise InvalidElementError(f"{field} '{value}' is not a valid date")


def parse_moment(text: str) -> datetime | None:
    """An `If-Modified-Since` value: ISO 8601 or an HTTP date; naive times are UTC."""
    from email.utils import parsedate_to_datetime

    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def render(
    value: Any,
    *,
    unit_places: int = 2,
    utc_twins: bool = False,
    date_twins: tuple[str, ...] = (),
) -> Any:
    """Stored record → Xero JSON; `_`-prefixed keys (the simulator's own) and None stay out.

    The spec's examples give some documents text twins of their dates: `utc_twins` adds
    `UpdatedDateUTCString`, `date_twins` names the dates that get a `…String` (top level only).
    """
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key.startswith("_") or item is None:  # Xero leaves unset fields out
                continue
            if isinstance(item, Decimal):
                places = unit_places if key == "UnitAmount" else _PLACES.get(key, 2)
                out[key] = round_money(item, places)
            elif isinstance(item, datetime):
                out[key] = ms_date(item)
                if utc_twins and key == "UpdatedDateUTC":
                    out[f"{key}String"] = utc_string(item)
            elif isinstance(item, date):
                if key in date_twins:
                    out[f"{key}String"] = date_string(item)
                out[key] = ms_date(item)
            else:
                out[key] = render(item, unit_places=unit_places)
        return out
    if isinstance(value, list):
        return [render(item, unit_places=unit_places) for item in value]
    if isinstance(value, Decimal):
        return round_money(value)
    return value


def render_record(record: dict[str, Any], **options: Any) -> dict[str, Any]:
    """`render` for one record (a dict in, a dict out)."""
    shown = render(record, **options)
    assert isinstance(shown, dict)
    return shown


def envelope(
    plural: str, records: Iterable[dict[str, Any]], *, provider: str, now: datetime, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": provider,
        "DateTimeUTC": ms_date(now, offset=False),
    }
    body.update(extra)
    body[plural] = list(records)
    return body


def validation_exception(elements: list[dict[str, Any]]) -> XeroError:
    return XeroError(
        400,
        {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": elements,
        },
    )


def single_validation_error(*messages: str) -> XeroError:
    return validation_exception([{"ValidationErrors": [{"Message": m} for m in messages]}])


def query_parse_exception(message: str) -> XeroError:
    return XeroError(400, {"ErrorNumber": 16, "Type": "QueryParseException", "Message": message})


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    """The problem-details body Xero's gateway answers 401/403 with."""
    return {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }


def unauthorised() -> XeroError:
    return XeroError(
        401,
        problem(401, "Unauthorized", "AuthenticationUnsuccessful"),
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def forbidden() -> XeroError:
    return XeroError(403, problem(403, "Forbidden", "AuthorizationUnsuccessful"))


def not_found() -> XeroError:
    return XeroError(404, NOT_FOUND_TEXT)


def encode(body: Any) -> bytes:
    return jsonio.dumps(body)


def decode(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return jsonio.loads(raw)
    except ValueError:
        raise XeroError(
            400,
            {
                "ErrorNumber": 14,
                "Type": "PostDataInvalidException",
                "Message": "JSON for post data was invalid",
            },
        ) from None
