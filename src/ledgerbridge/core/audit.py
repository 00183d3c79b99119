"""The audit trail: one `record()` per state change, inside the action's own transaction.

Rows are append-only (AuditEvent refuses updates and deletes), so what is recorded here is what
an MSP's auditor will read later: details are stored as plain JSON with money as exact strings.
"""

import ipaddress
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import models
from django.http import HttpRequest

from ledgerbridge.core.models import AuditEvent

if TYPE_CHECKING:
    from ledgerbridge.accounts.models import Account, User


def record(
    action: str,
    *,
    account: "Account | None" = None,
    actor: "User | None" = None,
    acting_as: "User | None" = None,
    target: models.Model | None = None,
    request: HttpRequest | None = None,
    ip: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event and return it.

    `target` is the model instance acted on; `ip` defaults to the request's REMOTE_ADDR. `details`
    must be JSON-serialisable once Decimals become strings (they are, without exponent notation).
    """
    if not action:
        raise ValueError("An audit event needs an action")
    target_type = target_id = target_repr = ""
    if target is not None:
        target_type = f"{target._meta.app_label}.{target._meta.model_name}"
        target_id = "" if target.pk is None else str(target.pk)
        target_repr = str(target)[:300]
    if ip is None and request is not None:
        ip = _valid_ip(request.META.get("REMOTE_ADDR"))
    elif ip is not None and _valid_ip(ip) is None:
        raise ValueError(f"{ip!r} is not an IP address")
    return AuditEvent.objects.create(
        action=action,
        account=account,
        actor=actor,
        acting_as=acting_as,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        ip_address=ip,
        details=_jsonable(dict(details or {}), "details"),
    )


def _valid_ip(value: object) -> str | None:
    # Test clients and some proxies send junk or nothing; an inet column would reject it.
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _jsonable(value: Any, path: str) -> Any:
    """`value` as plain JSON types, Decimals as strings; TypeError names the offending path."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"{path} is {value}, which is not an amount")
        # Format "f" so Decimal("1E+3") is recorded as "1000", as a person would read it.
        return format(value, "f")
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{path} is {value}, which JSON cannot hold")
        return value
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path} has a non-string key {key!r}; JSON keys are strings")
            result[key] = _jsonable(item, f"{path}[{key!r}]")
        return result
    if isinstance(value, list | tuple):
        return [_jsonable(item, f"{path}[{index}]") for index, item in enumerate(value)]
    raise TypeError(
        f"{path} is a {type(value).__name__}, which is not JSON-serialisable; "
        "pass strings, numbers, booleans, lists or dicts"
    )
