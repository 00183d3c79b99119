"""Placeholder: replaced by the OAuth simulator work (see the package docstring)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.routing import BaseRoute

from ledgerbridge_sim.state import Simulator


@dataclass(frozen=True)
class AccessGrant:
    system: str
    client_id: str
    organisation_ids: tuple[str, ...]  # Xero tenant ids / the one QuickBooks realmId
    scopes: tuple[str, ...]
    expires_at: datetime


def authenticate(sim: Simulator, system: str, authorization: str | None) -> AccessGrant | None:
    return None


def grant_code(sim: Simulator, system: str, spec: dict[str, Any]) -> dict[str, Any]:
    raise NotImplementedError


def routes(sim: Simulator, system: str) -> list[BaseRoute]:
    return []
