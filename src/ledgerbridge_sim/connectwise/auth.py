"""Who may call: Basic `companyId+publicKey:privateKey`, the `clientId` header, security roles,
and the request-rate capacity that answers 429 with `Retry-After`.

Defaults (documented in the README): company `demo`, public key `demo-public`, private key
`demo-private`, clientId `00000000-0000-4000-8000-000000000001`, acting as member `apiuser`.
More go in `sim.system("connectwise").extra`:

- `credentials`: [{"companyId", "publicKey", "privateKey", "member": identifier,
  "denied": ["Finance/Accounting Interface", "Finance/Invoicing:Add", …]}]
- `client_ids`: more accepted clientIds; `accept_any_client_id`: True accepts any non-empty one
- `denied_permissions`: {member identifier: [permission, …]} — a security role without them
- `missing_client_id_status`: the status for a request without clientId (default 401)

`sim.settings["connectwise"]`: `capacity_per_minute` (default 1000) and `window_seconds`
(default 60) bound the requests each clientId may make in any window.
"""

import base64
import binascii
import math
from collections import deque
from datetime import datetime
from typing import Any

from starlette.datastructures import Headers

from ledgerbridge_sim.connectwise.errors import CwError
from ledgerbridge_sim.state import Simulator, SystemState

DEFAULT_COMPANY = "demo"
DEFAULT_PUBLIC_KEY = "demo-public"
DEFAULT_PRIVATE_KEY = "demo-private"
DEFAULT_CLIENT_ID = "00000000-0000-4000-8000-000000000001"
DEFAULT_MEMBER = "apiuser"
DEFAULT_CAPACITY_PER_MINUTE = 1000

# The permissions each area needs, named as CW's security-role screen groups them.
SECURITY_MESSAGE = "You do not have security permission to perform this action."


def credentials(state: SystemState) -> list[dict[str, Any]]:
    default = {
        "companyId": DEFAULT_COMPANY,
        "publicKey": DEFAULT_PUBLIC_KEY,
        "privateKey": DEFAULT_PRIVATE_KEY,
        "member": DEFAULT_MEMBER,
    }
    extra: list[dict[str, Any]] = list(state.extra.get("credentials", []))
    return [default, *extra]


def known_companies(state: SystemState) -> dict[str, str]:
    """Lower-cased company id → company id as configured."""
    names = [entry["companyId"] for entry in credentials(state)]
    names += list(state.extra.get("companies", []))
    return {name.lower(): name for name in names}


def _unauthorized(message: str) -> CwError:
    # [U] 401 {"code": "Unauthorized"} per psa-apis §3.1; CW's own text for bad keys is not
    # documented (pyconnectwise's fixtures show "UserNotAuthenticated").
    return CwError(401, "Unauthorized", message)


def check_client_id(state: SystemState, headers: Headers) -> str:
    client_id = (headers.get("clientid") or "").strip()
    if not client_id:
        # [U] the real status and text for a missing clientId are undocumented; configurable.
        status = int(state.extra.get("missing_client_id_status", 401))
        raise CwError(
            status,
            "Unauthorized" if status == 401 else "InvalidObject",
            "A clientId header is required. Register your integration at "
            "https://developer.connectwise.com/ClientID to get one.",
        )
    accepted = {DEFAULT_CLIENT_ID.lower(), *(c.lower() for c in state.extra.get("client_ids", []))}
    if client_id.lower() not in accepted and not state.extra.get("accept_any_client_id"):
        raise _unauthorized(f"The clientId '{client_id}' is not registered.")
    return client_id


def authenticate(state: SystemState, headers: Headers) -> dict[str, Any]:
    """The credential entry the Basic header names, or 401."""
    header = headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise _unauthorized("UserNotAuthenticated: send Basic companyId+publicKey:privateKey.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _unauthorized("UserNotAuthenticated: the Basic credentials are not base64.") from None
    user, _, private_key = decoded.partition(":")
    company, plus, public_key = user.partition("+")
    if not plus:
        raise _unauthorized("UserNotAuthenticated: the user name must be companyId+publicKey.")
    for entry in credentials(state):
        if (
            entry["companyId"].lower() == company.lower()
            and entry["publicKey"] == public_key
            and entry["privateKey"] == private_key
        ):
            return entry
    raise _unauthorized("UserNotAuthenticated")


def member_for(state: SystemState, credential: dict[str, Any]) -> dict[str, Any]:
    identifier = credential.get("member", DEFAULT_MEMBER)
    for member in state.collection("members").values():
        if member.get("identifier", "").lower() == identifier.lower():
            return member
    return {"id": 0, "identifier": identifier}


def check_permission(
    state: SystemState,
    credential: dict[str, Any],
    member: dict[str, Any],
    permission: str | None,
    level: str | None,
) -> None:
    """403 when the member's security role lacks `permission` (whole, or at this level)."""
    if permission is None:
        return
    denied = list(credential.get("denied", []))
    denied += state.extra.get("denied_permissions", {}).get(member.get("identifier", ""), [])
    wanted = {permission.lower(), f"{permission}:{level}".lower()}
    if not any(entry.lower() in wanted for entry in denied):
        return
    module, _, function = permission.partition("/")
    named = f"{module} > {function} ({level} level)"
    # [R] CW answers {"code": "Security", "message": "You do not have security permission …"};
    # naming the missing permission is the simulator's addition so connectivity tests can tell.
    raise CwError(
        403,
        "Security",
        f"{SECURITY_MESSAGE} Missing permission: {named}.",
        [
            {
                "code": "Security",
                "message": f"Requires {named}",
                "resource": module,
                "field": function,
            }
        ],
    )


def take_capacity(sim: Simulator, client_id: str) -> None:
    """Count one request for this clientId; 429 with Retry-After once the window is full."""
    settings = sim.settings.setdefault("connectwise", {})
    capacity = int(settings.get("capacity_per_minute", DEFAULT_CAPACITY_PER_MINUTE))
    window = float(settings.get("window_seconds", 60))
    windows: dict[str, deque[datetime]] = sim.system("connectwise").extra.setdefault(
        "rate_windows", {}
    )
    seen = windows.setdefault(client_id.lower(), deque())
    now = sim.clock.now()
    while seen and (now - seen[0]).total_seconds() >= window:
        seen.popleft()
    if len(seen) >= capacity:
        wait = max(1, math.ceil(window - (now - seen[0]).total_seconds()))
        # [U] CW's 429 body is not documented (cloud 429s may come from Cloudflare).
        raise CwError(
            429,
            "TooManyRequests",
            f"Request rate exceeds capacity. Retry after {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    seen.append(now)
