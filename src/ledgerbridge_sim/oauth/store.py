"""What the OAuth simulator remembers: registered apps, consents, codes, tokens, Xero connections.

Everything lives in `sim.system(system).extra["oauth"]` and changes only under `sim.lock`; every
lifetime is measured on the simulator's virtual clock. Callers hold the lock around each
function here that reads or changes the store.
"""

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from ledgerbridge_sim import organisations
from ledgerbridge_sim.state import Simulator

DEMO_CLIENTS: Final = {
    "xero": ("demo-xero-client-id", "demo-xero-client-secret"),
    "qbo": ("demo-qbo-client-id", "demo-qbo-client-secret"),
}
DEMO_CLIENT_IDS: Final = {system: pair[0] for system, pair in DEMO_CLIENTS.items()}
DEFAULT_APP_NAME: Final = "LedgerBridge"
# Where scripted consent sends its code when the caller names no redirect URI.
DEFAULT_REDIRECT_URI: Final = "http://127.0.0.1:8000/oauth/callback"

# Lifetimes from the vendors' documentation (accounting-apis.md §1.2, §2.1).
CODE_LIFETIME: Final = timedelta(minutes=5)
ACCESS_TOKEN_SECONDS: Final = {"xero": 1800, "qbo": 3600}
ID_TOKEN_LIFETIME: Final = {"xero": timedelta(minutes=5), "qbo": timedelta(hours=1)}
REFRESH_TOKEN_LIFETIME: Final = {"xero": timedelta(days=60), "qbo": timedelta(days=100)}
# Xero: a rotated refresh token keeps working this long, so a lost response can be retried.
XERO_ROTATION_GRACE: Final = timedelta(minutes=30)
# QuickBooks hands back the same refresh token until it is about a day old, then a new one;
# `sim.settings["qbo"]["refresh_token_rotation_seconds"]` changes the period.
QBO_ROTATION_PERIOD: Final = timedelta(days=1)

SCOPES: Final = {
    "xero": frozenset(
        {"openid", "profile", "email", "offline_access"}
        | {
            f"accounting.{name}{suffix}"
            for name in (
                "transactions",
                "settings",
                "contacts",
                "attachments",
                "invoices",
                "payments",
                "banktransactions",
                "manualjournals",
            )
            for suffix in ("", ".read")
        }
        | {
            f"accounting.{name}.read"
            for name in ("journals", "reports", "budgets", "reports.tenninetynine")
        }
        | {
            f"accounting.reports.{report}.read"
            for report in (
                "aged",
                "balancesheet",
                "banksummary",
                "budgetsummary",
                "executivesummary",
                "profitandloss",
                "trialbalance",
                "taxreports",
            )
        }
    ),
    "qbo": frozenset(
        {
            "com.intuit.quickbooks.accounting",
            "com.intuit.quickbooks.payment",
            "openid",
            "profile",
            "email",
            "phone",
            "address",
        }
    ),
}
DEFAULT_SCOPES: Final = {
    "xero": (
        "openid",
        "profile",
        "email",
        "offline_access",
        "accounting.invoices",
        "accounting.payments",
        "accounting.contacts",
        "accounting.settings",
    ),
    "qbo": ("com.intuit.quickbooks.accounting", "openid", "profile", "email"),
}

# The one person who clicks Allow in the simulator.
SIMULATED_USER: Final = {
    "id": "5f1c2d3e-0a4b-4c6d-8e9f-0a1b2c3d4e5f",
    "email": "owner@demo-msp.example",
    "given_name": "Dana",
    "family_name": "Demo",
}


class OAuthError(Exception):
    """An OAuth 2 error answer (RFC 6749 §5.2): the error code, an HTTP status, a description."""

    def __init__(self, error: str, description: str = "", *, status: int = 400) -> None:
        super().__init__(description or error)
        self.error, self.description, self.status = error, description, status

    def body(self) -> dict[str, str]:
        found = {"error": self.error}
        if self.description:
            found["error_description"] = self.description
        return found


class GrantRefusedError(ValueError):
    """Scripted consent could not be given (unknown client, redirect URI or organisation)."""


@dataclass
class Consent:
    """One time a user clicked Allow: Xero calls it an auth event."""

    id: str
    client_id: str
    scopes: tuple[str, ...]
    organisation_ids: tuple[str, ...]
    created_at: datetime
    revoked: bool = False


@dataclass
class Connection:
    """Xero: the app's link to one tenant (one per app and tenant; re-consent refreshes it)."""

    id: str
    client_id: str
    tenant_id: str
    auth_event_id: str
    created_at: datetime
    updated_at: datetime


@dataclass
class PendingCode:
    consent_id: str
    client_id: str
    redirect_uri: str
    expires_at: datetime
    used: bool = False


@dataclass
class RefreshToken:
    consent_id: str
    issued_at: datetime
    expires_at: datetime
    replaced_at: datetime | None = None  # when a refresh handed out its successor


@dataclass
class AccessToken:
    consent_id: str
    expires_at: datetime


@dataclass
class Store:
    consents: dict[str, Consent] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    codes: dict[str, PendingCode] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    # Signs the JWT-shaped tokens; nobody outside the simulator checks the signature.
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))


def store(sim: Simulator, system: str) -> Store:
    extra: dict[str, Any] = sim.system(system).extra
    found = extra.get("oauth")
    if not isinstance(found, Store):
        found = extra["oauth"] = Store()
    return found


# --- registered apps and their redirect URIs -------------------------------------------------


def clients(sim: Simulator, system: str) -> dict[str, str]:
    """client_id → client_secret; `sim.settings[system]["clients"]` replaces the demo app."""
    configured = sim.settings[system].get("clients")
    if configured:
        return {str(key): str(value) for key, value in dict(configured).items()}
    client_id, secret = DEMO_CLIENTS[system]
    return {client_id: secret}


def app_name(sim: Simulator, system: str) -> str:
    return str(sim.settings[system].get("app_name") or DEFAULT_APP_NAME)


def redirect_uri_allowed(sim: Simulator, system: str, redirect_uri: str) -> bool:
    """Exact match against `redirect_uris` when set; else any http(s) URI on this machine."""
    registered = sim.settings[system].get("redirect_uris")
    if registered:
        return redirect_uri in list(registered)
    parts = urlsplit(redirect_uri)
    return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost")


def default_redirect_uri(sim: Simulator, system: str) -> str:
    registered = sim.settings[system].get("redirect_uris")
    return str(next(iter(registered))) if registered else DEFAULT_REDIRECT_URI


def parse_scopes(system: str, scope: str) -> tuple[str, ...]:
    """The requested scopes in order, without repeats; unknown ones refuse the request."""
    requested = tuple(dict.fromkeys(scope.split()))
    if not requested:
        raise OAuthError("invalid_scope", "No scope was requested.")
    unknown = [name for name in requested if name not in SCOPES[system]]
    if unknown:
        raise OAuthError("invalid_scope", f"Unknown scope: {' '.join(unknown)}.")
    return requested


# --- consent, codes, tokens ------------------------------------------------------------------


def give_consent(
    sim: Simulator,
    system: str,
    client_id: str,
    scopes: tuple[str, ...],
    organisation_ids: tuple[str, ...],
) -> Consent:
    """Record an Allow; for Xero, connect (or re-connect) each chosen tenant."""
    now = sim.clock.now()
    consent = Consent(str(uuid.uuid4()), client_id, scopes, organisation_ids, now)
    kept = store(sim, system)
    kept.consents[consent.id] = consent
    if system == "xero":
        for tenant_id in organisation_ids:
            existing = find_connection(kept, client_id, tenant_id)
            if existing is not None:
                existing.auth_event_id, existing.updated_at = consent.id, now
            else:
                connection = Connection(
                    str(uuid.uuid4()), client_id, tenant_id, consent.id, now, now
                )
                kept.connections[connection.id] = connection
    return consent


def find_connection(kept: Store, client_id: str, tenant_id: str) -> Connection | None:
    for connection in kept.connections.values():
        if connection.client_id == client_id and connection.tenant_id == tenant_id:
            return connection
    return None


def covered_organisations(sim: Simulator, system: str, consent: Consent) -> tuple[str, ...]:
    """Xero: every tenant the app is still connected to; QuickBooks: the consented company."""
    if system != "xero":
        return consent.organisation_ids
    kept = store(sim, system)
    return tuple(
        connection.tenant_id
        for connection in kept.connections.values()
        if connection.client_id == consent.client_id
    )


def new_code(sim: Simulator, system: str, consent: Consent, redirect_uri: str) -> str:
    code = secrets.token_urlsafe(32)
    store(sim, system).codes[code] = PendingCode(
        consent.id, consent.client_id, redirect_uri, sim.clock.now() + CODE_LIFETIME
    )
    return code


def redeem_code(
    sim: Simulator, system: str, code: str, client_id: str, redirect_uri: str
) -> Consent:
    """The consent behind a code; each code works once, for five minutes, for its own app."""
    kept = store(sim, system)
    pending = kept.codes.get(code)
    if pending is None or pending.used or pending.expires_at <= sim.clock.now():
        raise OAuthError("invalid_grant")
    if pending.client_id != client_id or pending.redirect_uri != redirect_uri:
        raise OAuthError("invalid_grant")
    consent = kept.consents[pending.consent_id]
    if consent.revoked:
        raise OAuthError("invalid_grant")
    pending.used = True
    return consent


def new_access_token(sim: Simulator, system: str, consent: Consent, token: str) -> AccessToken:
    issued = AccessToken(
        consent.id, sim.clock.now() + timedelta(seconds=ACCESS_TOKEN_SECONDS[system])
    )
    store(sim, system).access_tokens[token] = issued
    return issued


def new_refresh_token(sim: Simulator, system: str, consent: Consent) -> tuple[str, RefreshToken]:
    # QuickBooks refresh tokens start "AB11…"; Xero's are opaque hex.
    token = "AB11" + secrets.token_urlsafe(36) if system == "qbo" else secrets.token_hex(32)
    now = sim.clock.now()
    issued = RefreshToken(consent.id, now, now + REFRESH_TOKEN_LIFETIME[system])
    store(sim, system).refresh_tokens[token] = issued
    return token, issued


def live_refresh_token(
    sim: Simulator, system: str, token: str, client_id: str
) -> tuple[RefreshToken, Consent]:
    """The refresh token and its consent, or invalid_grant when dead, foreign or replaced."""
    kept = store(sim, system)
    found = kept.refresh_tokens.get(token)
    if found is None:
        raise OAuthError("invalid_grant")
    consent = kept.consents[found.consent_id]
    now = sim.clock.now()
    if consent.revoked or consent.client_id != client_id or found.expires_at <= now:
        raise OAuthError("invalid_grant")
    if found.replaced_at is not None:
        grace = XERO_ROTATION_GRACE if system == "xero" else timedelta()
        if found.replaced_at + grace <= now:
            raise OAuthError("invalid_grant")
    return found, consent


def qbo_rotation_period(sim: Simulator) -> timedelta:
    configured = sim.settings["qbo"].get("refresh_token_rotation_seconds")
    return QBO_ROTATION_PERIOD if configured is None else timedelta(seconds=float(configured))


def live_access_token(
    sim: Simulator, system: str, token: str
) -> tuple[AccessToken, Consent] | None:
    kept = store(sim, system)
    found = kept.access_tokens.get(token)
    if found is None or found.expires_at <= sim.clock.now():
        return None
    consent = kept.consents[found.consent_id]
    return None if consent.revoked else (found, consent)


def revoke_consent(sim: Simulator, system: str, consent: Consent) -> None:
    """Kill every token of the consent; Xero also drops the connections it made."""
    consent.revoked = True
    kept = store(sim, system)
    for connection_id in [
        key for key, link in kept.connections.items() if link.auth_event_id == consent.id
    ]:
        del kept.connections[connection_id]


def organisation_exists(sim: Simulator, system: str, organisation_id: str) -> bool:
    return organisations.get(sim, system, organisation_id) is not None
