"""The browser side of a ledger sign-in: the `state` that guards the redirect, and a Xero grant
waiting for the admin to pick one of several organisations.

`state` is signed (so a forged or altered one is refused outright), names the company and the
ledger, and carries a random nonce that must be present in the same browser session — so a
sign-in started by someone else, or replayed, cannot attach a ledger to one of our companies.
The nonce is removed when the callback arrives: each state works once, within ten minutes.
"""

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.core import signing

from ledgerbridge.connectors.oauth import LedgerOrganisation, TokenSet
from ledgerbridge.core import clock, crypto

STATE_SALT = "ledgerbridge.companies.oauth-state"
STATE_LIFETIME = timedelta(minutes=10)
SESSION_STATES = "lb_ledger_signin_states"
SESSION_PENDING = "lb_ledger_signin_pending"
# A session keeps at most this many sign-ins in flight (several tabs); the oldest go first.
MAX_STATES = 5


class SignInError(Exception):
    """The callback cannot be trusted or has expired; the message is for the admin."""


@dataclass(frozen=True)
class SignIn:
    company_id: int
    system: str
    redirect_uri: str


def issue_state(session: SessionBase, *, company_id: int, system: str, redirect_uri: str) -> str:
    nonce = secrets.token_urlsafe(24)
    states: dict[str, Any] = dict(session.get(SESSION_STATES) or {})
    states[nonce] = {
        "company_id": company_id,
        "system": system,
        "redirect_uri": redirect_uri,
        "issued_at": clock.now().isoformat(),
    }
    while len(states) > MAX_STATES:
        states.pop(min(states, key=lambda key: states[key]["issued_at"]))
    session[SESSION_STATES] = states
    return signing.dumps({"n": nonce, "c": company_id, "s": system}, salt=STATE_SALT)


def take_state(session: SessionBase, state: str, *, system: str) -> SignIn:
    """The sign-in `state` names, used up; SignInError when it is not this session's."""
    try:
        signed = signing.loads(state, salt=STATE_SALT)
    except signing.BadSignature:
        raise SignInError(
            "This sign-in did not start here, so LedgerBridge ignored it. Start again from the "
            "company page."
        ) from None
    states: dict[str, Any] = dict(session.get(SESSION_STATES) or {})
    entry = states.pop(str(signed.get("n")), None)
    session[SESSION_STATES] = states
    if entry is None or entry["company_id"] != signed.get("c") or entry["system"] != system:
        raise SignInError(
            "This sign-in was already used or was started in another browser session. Start "
            "again from the company page."
        )
    if clock.now() - datetime.fromisoformat(entry["issued_at"]) > STATE_LIFETIME:
        raise SignInError(
            "This sign-in took longer than ten minutes and has expired. Start again from the "
            "company page."
        )
    return SignIn(int(entry["company_id"]), system, str(entry["redirect_uri"]))


@dataclass(frozen=True)
class PendingChoice:
    """A Xero grant covering several organisations, waiting for the admin to choose one."""

    company_id: int
    tokens: TokenSet
    organisations: tuple[LedgerOrganisation, ...]


def keep_pending(
    session: SessionBase,
    company_id: int,
    tokens: TokenSet,
    organisations: list[LedgerOrganisation],
) -> None:
    # Sessions live in the database: the tokens are stored encrypted like any other.
    session[SESSION_PENDING] = {
        "company_id": company_id,
        "tokens": crypto.encrypt(
            json.dumps(
                {
                    "access_token": tokens.access_token,
                    "refresh_token": tokens.refresh_token,
                    "access_expires_at": tokens.access_expires_at.isoformat(),
                    "refresh_expires_at": tokens.refresh_expires_at.isoformat()
                    if tokens.refresh_expires_at
                    else None,
                    "scopes": list(tokens.scopes),
                }
            )
        ),
        "organisations": [[org.id, org.name] for org in organisations],
        "issued_at": clock.now().isoformat(),
    }


def pending(session: SessionBase) -> PendingChoice | None:
    """The waiting grant, if there is one and it is not older than the state lifetime."""
    kept = session.get(SESSION_PENDING)
    if not kept:
        return None
    if clock.now() - datetime.fromisoformat(kept["issued_at"]) > STATE_LIFETIME:
        session.pop(SESSION_PENDING, None)
        return None
    try:
        raw = json.loads(crypto.decrypt(kept["tokens"]))
    except (ValueError, crypto.DecryptionError):
        session.pop(SESSION_PENDING, None)
        return None
    tokens = TokenSet(
        access_token=raw["access_token"],
        refresh_token=raw["refresh_token"],
        access_expires_at=datetime.fromisoformat(raw["access_expires_at"]),
        refresh_expires_at=datetime.fromisoformat(raw["refresh_expires_at"])
        if raw["refresh_expires_at"]
        else None,
        scopes=tuple(raw["scopes"]),
    )
    organisations = tuple(
        LedgerOrganisation(org_id, name) for org_id, name in kept["organisations"]
    )
    return PendingChoice(int(kept["company_id"]), tokens, organisations)


def drop_pending(session: SessionBase) -> None:
    session.pop(SESSION_PENDING, None)
