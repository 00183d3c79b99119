"""JSON in and out with Decimal money: amounts leave as JSON numbers, never via float."""

import json
import re
from decimal import Decimal
from typing import Any

# json's C encoder cannot write a raw number for a Decimal, so each one goes out as a marked
# string and the marks are swapped for the bare digits afterwards (one regex pass per body).
_MARK = "\x00D"
_MARKED = re.compile(r'"\\u0000D(-?[0-9.]+)\\u0000"')


def _encode_default(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{_MARK}{value:f}\x00"
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    text = json.dumps(value, default=_encode_default, separators=(",", ":"), ensure_ascii=False)
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
