"""Minimal token store so the ledger API simulators can be built and tested now.

The OAuth simulator work replaces this module's bodies (authorize, token, refresh rotation,
revocation, connections, discovery) but keeps these signatures.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.routing import BaseRoute

from ledgerbridge_sim.state import Simulator

ACCESS_TOKEN_SECONDS = {"xero": 1800, "qbo": 3600}
DEMO_CLIENT_IDS = {"xero": "demo-xero-client-id", "qbo": "demo-qbo-client-id"}


@dataclass(frozen=True)
class AccessGrant:
    system: str
    client_id: str
    organisation_ids: tuple[str, ...]  # Xero tenant ids / the one QuickBooks realmId
    scopes: tuple[str, ...]
    expires_at: datetime


def issue_tokens(
    sim: Simulator,
    system: str,
    organisation_ids: tuple[str, ...],
    *,
    client_id: str = "",
    scopes: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Tokens as the token endpoint would answer them, without the consent dance (for tests)."""
    access_token = secrets.token_urlsafe(32)
    seconds = ACCESS_TOKEN_SECONDS[system]
    grant = AccessGrant(
        system=system,
        client_id=client_id or DEMO_CLIENT_IDS[system],
        organisation_ids=organisation_ids,
        scopes=scopes,
        expires_at=sim.clock.now() + timedelta(seconds=seconds),
    )
    with sim.lock:
        sim.system(system).extra.setdefault("access_tokens", {})[access_token] = grant
    return {"access_token": access_token, "expires_in": seconds, "token_type": "Bearer"}


def authenticate(sim: Simulator, system: str, authorization: str | None) -> AccessGrant | None:
    """The live grant behind an `Authorization: Bearer …` value, or None."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    token = authorization[7:].strip()
    with sim.lock:
        grant: AccessGrant | None = sim.system(system).extra.get("access_tokens", {}).get(token)
    if grant is None or grant.expires_at <= sim.clock.now():
        return None
    return grant


def grant_code(sim: Simulator, system: str, spec: dict[str, Any]) -> dict[str, Any]:
    raise NotImplementedError


def routes(sim: Simulator, system: str) -> list[BaseRoute]:
    return []
