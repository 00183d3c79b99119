"""JSON in and out for every simulator: Decimal money leaves as JSON numbers, never via float.

Each vendor writes datetimes its own way, so `dumps` takes that vendor's formatter.
"""

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

# json's C encoder cannot write a raw number for a Decimal, so each one goes out as a marked
# string and the marks are swapped for the bare digits afterwards (one regex pass per body).
_MARK = "\x00D"
_MARKED = re.compile(r'"\\u0000D(-?[0-9.]+)\\u0000"')


def _encode_default(value: object, moments: Callable[[datetime], str] | None) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send {value} as JSON")
        return f"{_MARK}{value:f}\x00"
    if isinstance(value, datetime):
        return moments(value) if moments is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any, *, moments: Callable[[datetime], str] | None = None) -> bytes:
    """Compact JSON; `moments` formats datetimes as the vendor writes them (ISO 8601 if None)."""
    text = json.dumps(
        value,
        default=partial(_encode_default, moments=moments),
        separators=(",", ":"),
        ensure_ascii=False,
    )
    if "\\u0000D" in text:
        text = _MARKED.sub(r"\1", text)
    return text.encode()


def loads(raw: bytes | str) -> Any:
    return json.loads(raw, parse_float=Decimal)


def decimals_for_floats(value: Any) -> Any:
    """Records seeded through the control API arrive with floats; store them as Decimal.

    `Decimal(repr(float))` restores the decimal text the JSON carried (shortest round-trip form),
    so 214.07 stays 214.07 rather than its binary approximation.
    """
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: decimals_for_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decimals_for_floats(item) for item in value]
    return value
