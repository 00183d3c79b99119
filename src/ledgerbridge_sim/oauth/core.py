"""OAuth 2 for the Xero and QuickBooks Online simulators: the public contract.

Registered apps (the defaults; `sim.settings[system]["clients"] = {client_id: secret}` replaces
them, `sim.settings[system]["app_name"]` names the app on the consent page):

- Xero: client id `demo-xero-client-id`, secret `demo-xero-client-secret`.
- QuickBooks: client id `demo-qbo-client-id`, secret `demo-qbo-client-secret`.

Redirect URIs: with `sim.settings[system]["redirect_uris"]` set, only those (exact match). Without
it, a simulator convenience: any http(s) URI on 127.0.0.1 or localhost is accepted.

Lifetimes on the virtual clock, as the vendors document them: codes single use, 5 minutes;
Xero access tokens 1,800 s, refresh tokens 60 days unused, rotated on every refresh with the
previous one usable for 30 more minutes; QuickBooks access tokens 3,600 s, refresh tokens
100 days from their last use, replaced by a new one once a day old
(`sim.settings["qbo"]["refresh_token_rotation_seconds"]`), a replaced one refused at once.
Revoking a token revokes its whole consent; for Xero that also removes the tenant connections
the consent made.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.routing import BaseRoute

from ledgerbridge_sim import organisations
from ledgerbridge_sim.oauth import endpoints, store, tokens
from ledgerbridge_sim.oauth.store import (
    ACCESS_TOKEN_SECONDS,
    DEMO_CLIENT_IDS,
    GrantRefusedError,
    OAuthError,
)
from ledgerbridge_sim.state import Simulator

__all__ = [
    "ACCESS_TOKEN_SECONDS",
    "DEMO_CLIENT_IDS",
    "AccessGrant",
    "authenticate",
    "grant_code",
    "issue_tokens",
    "revoke_all",
    "routes",
]

# Issuer named in tokens made without an HTTP request (issue_tokens); requests use their host.
_OFFLINE_ISSUER = {"xero": "urn:ledgerbridge-sim:xero:identity", "qbo": "urn:ledgerbridge-sim:qbo"}


@dataclass(frozen=True)
class AccessGrant:
    system: str
    client_id: str
    organisation_ids: tuple[
        str, ...
    ]  # Xero tenant ids still connected / the one QuickBooks realmId
    scopes: tuple[str, ...]
    expires_at: datetime
    auth_event_id: str = ""  # the consent behind the token (Xero's authEventId)


def issue_tokens(
    sim: Simulator,
    system: str,
    organisation_ids: tuple[str, ...],
    *,
    client_id: str = "",
    scopes: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Tokens as the token endpoint would answer a code exchange, without the consent dance.

    For tests: the organisations are taken as given (not checked against the registry) and
    empty `scopes` means the usual set for the system, including a refresh token.
    """
    with sim.lock:
        consent = store.give_consent(
            sim,
            system,
            client_id or DEMO_CLIENT_IDS[system],
            scopes or store.DEFAULT_SCOPES[system],
            tuple(organisation_ids),
        )
        return tokens.first_tokens(sim, system, consent, issuer=_OFFLINE_ISSUER[system])


def authenticate(sim: Simulator, system: str, authorization: str | None) -> AccessGrant | None:
    """The live grant behind an `Authorization: Bearer …` value, or None.

    None when the header is missing or not Bearer, the token unknown, expired on the virtual
    clock, or its consent revoked. A Xero grant covers the tenants still connected to the app.
    """
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    token = authorization[7:].strip()
    with sim.lock:
        live = store.live_access_token(sim, system, token)
        if live is None:
            return None
        issued, consent = live
        return AccessGrant(
            system=system,
            client_id=consent.client_id,
            organisation_ids=store.covered_organisations(sim, system, consent),
            scopes=consent.scopes,
            expires_at=issued.expires_at,
            auth_event_id=consent.id,
        )


def grant_code(sim: Simulator, system: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Scripted consent (`POST /_sim/oauth/{system}/grant`): Allow without the page.

    `spec` may name `client_id`, `redirect_uri`, `organisation_ids`, `scope` and `state`;
    defaults are the demo app, the first registered (or a local) redirect URI, the first
    organisation and the usual scopes. Raises `GrantRefusedError` (a ValueError) with the reason.
    """
    client_id = str(spec.get("client_id") or DEMO_CLIENT_IDS[system])
    offered = [org.id for org in organisations.listed(sim, system)]
    wanted = spec.get("organisation_ids") or offered[:1]
    if not isinstance(wanted, list) or not all(isinstance(oid, str) for oid in wanted):
        raise GrantRefusedError("organisation_ids must be a list of organisation ids")
    organisation_ids = tuple(dict.fromkeys(wanted))
    unknown = [oid for oid in organisation_ids if oid not in offered]
    if unknown:
        raise GrantRefusedError(f"unknown organisation ids: {', '.join(unknown)}")
    if system == "qbo" and len(organisation_ids) != 1:
        raise GrantRefusedError("a QuickBooks consent connects exactly one company (realm)")
    state = spec.get("state")
    with sim.lock:
        if client_id not in store.clients(sim, system):
            raise GrantRefusedError(f"unknown client_id {client_id!r}")
        redirect_uri = str(spec.get("redirect_uri") or store.default_redirect_uri(sim, system))
        if not store.redirect_uri_allowed(sim, system, redirect_uri):
            raise GrantRefusedError(f"redirect_uri {redirect_uri!r} is not registered")
        try:
            scopes = store.parse_scopes(
                system, str(spec.get("scope") or " ".join(store.DEFAULT_SCOPES[system]))
            )
        except OAuthError as error:
            raise GrantRefusedError(error.description) from error
        consent = store.give_consent(sim, system, client_id, scopes, organisation_ids)
        code = store.new_code(sim, system, consent, redirect_uri)
    answer: dict[str, Any] = {
        "code": code,
        "state": None if state is None else str(state),
        "redirect_uri": redirect_uri,
    }
    if system == "qbo":
        answer["realmId"] = organisation_ids[0]
    return answer


def revoke_all(
    sim: Simulator,
    system: str,
    *,
    client_id: str | None = None,
    organisation_id: str | None = None,
) -> dict[str, int]:
    """The user disconnects the app (`POST /_sim/oauth/{system}/revoke-all`).

    With no organisation: every consent of the app (or of all apps) is revoked, so all their
    tokens die. With an organisation: Xero removes that tenant's connection (tokens live on but
    no longer cover it); QuickBooks revokes the consents for that company.
    """
    revoked = disconnected = 0
    with sim.lock:
        kept = store.store(sim, system)
        if system == "xero" and organisation_id is not None:
            for link in list(kept.connections.values()):
                if link.tenant_id == organisation_id and client_id in (None, link.client_id):
                    del kept.connections[link.id]
                    disconnected += 1
            return {"revoked": 0, "disconnected": disconnected}
        for consent in kept.consents.values():
            if consent.revoked or client_id not in (None, consent.client_id):
                continue
            if organisation_id is not None and organisation_id not in consent.organisation_ids:
                continue
            before = len(kept.connections)
            store.revoke_consent(sim, system, consent)
            revoked += 1
            disconnected += before - len(kept.connections)
    return {"revoked": revoked, "disconnected": disconnected}


def routes(sim: Simulator, system: str) -> list[BaseRoute]:
    return endpoints.routes(sim, system)
