"""Token responses as each vendor's token endpoint writes them.

Xero's access and id tokens are JWTs (clients read `authentication_event_id` from the access
token to filter `/connections`), so the simulator hands out JWT-shaped tokens signed with HS256:
the id token with the app's client secret (OpenID Connect's rule for symmetric signing), the
access token with a key only the simulator knows. QuickBooks access tokens are opaque.
"""

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any

from ledgerbridge_sim.oauth import store
from ledgerbridge_sim.oauth.store import Consent
from ledgerbridge_sim.state import Simulator


def _segment(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed_jwt(claims: dict[str, Any], key: bytes) -> str:
    head = f"{_segment({'alg': 'HS256', 'typ': 'JWT'})}.{_segment(claims)}"
    signature = hmac.new(key, head.encode(), hashlib.sha256).digest()
    return f"{head}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _id_token(
    sim: Simulator, system: str, consent: Consent, issuer: str, client_secret: str
) -> str:
    now = sim.clock.now()
    user = store.SIMULATED_USER
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": consent.client_id,
        "sub": user["id"],
        "iat": _seconds(now),
        "exp": _seconds(now + store.ID_TOKEN_LIFETIME[system]),
        "auth_time": _seconds(consent.created_at),
    }
    if "email" in consent.scopes:
        claims["email"] = user["email"]
    if "profile" in consent.scopes:
        claims["given_name"], claims["family_name"] = user["given_name"], user["family_name"]
    if system == "xero":
        claims["xero_userid"] = user["id"]
    else:
        claims["realmid"] = consent.organisation_ids[0] if consent.organisation_ids else ""
    return signed_jwt(claims, client_secret.encode())


def _access_token(sim: Simulator, system: str, consent: Consent, issuer: str) -> str:
    if system != "xero":
        return secrets.token_urlsafe(48)
    now = sim.clock.now()
    claims = {
        "nbf": _seconds(now),
        "exp": _seconds(now) + store.ACCESS_TOKEN_SECONDS[system],
        "iss": issuer,
        "aud": f"{issuer}/resources",
        "client_id": consent.client_id,
        "sub": store.SIMULATED_USER["id"],
        "auth_time": _seconds(consent.created_at),
        "xero_userid": store.SIMULATED_USER["id"],
        "authentication_event_id": consent.id,
        "jti": secrets.token_hex(16),
        "scope": list(consent.scopes),
    }
    return signed_jwt(claims, store.store(sim, system).signing_key)


def token_response(
    sim: Simulator,
    system: str,
    consent: Consent,
    *,
    issuer: str,
    refresh_token: str | None,
    include_id_token: bool,
) -> dict[str, Any]:
    """Issue an access token (and use `refresh_token`, already issued, if any) for the consent.

    Call with `sim.lock` held.
    """
    access_token = _access_token(sim, system, consent, issuer)
    store.new_access_token(sim, system, consent, access_token)
    seconds = store.ACCESS_TOKEN_SECONDS[system]
    secret = store.clients(sim, system).get(consent.client_id, "")
    id_token = (
        _id_token(sim, system, consent, issuer, secret)
        if include_id_token and "openid" in consent.scopes
        else None
    )
    if system == "xero":
        answer: dict[str, Any] = {}
        if id_token:
            answer["id_token"] = id_token
        answer |= {"access_token": access_token, "expires_in": seconds, "token_type": "Bearer"}
        if refresh_token:
            answer["refresh_token"] = refresh_token
        answer["scope"] = " ".join(consent.scopes)
        return answer
    assert refresh_token is not None  # QuickBooks always issues one
    remaining = store.store(sim, system).refresh_tokens[refresh_token].expires_at - sim.clock.now()
    answer = {
        "token_type": "bearer",
        "access_token": access_token,
        "expires_in": seconds,
        "refresh_token": refresh_token,
        "x_refresh_token_expires_in": int(remaining.total_seconds()),
    }
    if id_token:
        answer["id_token"] = id_token
    return answer


def first_tokens(sim: Simulator, system: str, consent: Consent, *, issuer: str) -> dict[str, Any]:
    """The answer to a code exchange. Xero gives a refresh token only for `offline_access`."""
    refresh_token = None
    if system == "qbo" or "offline_access" in consent.scopes:
        refresh_token, _ = store.new_refresh_token(sim, system, consent)
    return token_response(
        sim, system, consent, issuer=issuer, refresh_token=refresh_token, include_id_token=True
    )


def refreshed_tokens(
    sim: Simulator, system: str, token: str, client_id: str, *, issuer: str
) -> dict[str, Any]:
    """The answer to a refresh: Xero rotates every time; QuickBooks rolls, rotating daily."""
    used, consent = store.live_refresh_token(sim, system, token, client_id)
    now = sim.clock.now()
    if system == "xero":
        # A retry inside the grace window rotates again and gets its own working pair.
        if used.replaced_at is None:
            used.replaced_at = now
        successor, _ = store.new_refresh_token(sim, system, consent)
    elif now - used.issued_at >= store.qbo_rotation_period(sim):
        used.replaced_at = now
        successor, _ = store.new_refresh_token(sim, system, consent)
    else:
        used.expires_at = now + store.REFRESH_TOKEN_LIFETIME[system]
        successor = token
    # Xero's refresh answer repeats the id token; QuickBooks' does not.
    return token_response(
        sim,
        system,
        consent,
        issuer=issuer,
        refresh_token=successor,
        include_id_token=system == "xero",
    )
