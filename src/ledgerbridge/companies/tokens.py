"""Live access tokens for a ledger connection, refreshed and stored so a rotation is never lost.

Xero rotates the refresh token on every refresh and QuickBooks from time to time; the old one
dies (Xero: after a 30-minute grace). So a refresh must:

- happen once at a time per connection: a lease (`core.leases`, a conditional UPDATE that works
  on SQLite and Postgres alike) is taken around the token call; whoever waits for it re-reads
  the row and uses the token the holder stored instead of refreshing again;
- be COMMITTED before the new access token is used: the new pair is written in its own durable
  transaction right after the token endpoint answers. Refreshing inside a caller's transaction
  is refused (a rollback there would throw the rotated token away);
- tell a dead grant from a passing fault: `invalid_grant` marks the connection disconnected with
  a reason for the admin; a failing or unreachable token endpoint changes nothing.
"""

import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction

from ledgerbridge.companies.models import ConnectionStatus, LedgerConnection
from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.oauth import VENDOR_NAMES, LedgerOAuth, OAuthError, TokenSet, oauth_for
from ledgerbridge.core import audit, clock, leases

# Refresh when the access token has less than this left, so a call never starts with a token
# that dies in flight (xero-python uses the same margin).
REFRESH_MARGIN = timedelta(seconds=60)
# Longer than the token call can take with its retries, so a live holder never loses the lease.
LEASE_TTL = timedelta(minutes=3)
LEASE_POLL_SECONDS = 0.5


def lease_name(connection_id: int) -> str:
    return f"ledger-connection-refresh:{connection_id}"


def dead_grant_reason(connection: LedgerConnection) -> str:
    vendor = VENDOR_NAMES[connection.system]
    org = connection.organisation_name or connection.organisation_id
    return f"{vendor} no longer accepts LedgerBridge's sign-in for {org}; reconnect."


def reconnect_hint(connection: LedgerConnection) -> str:
    vendor = VENDOR_NAMES[connection.system]
    return (
        f"Open the company “{connection.company.name}” in LedgerBridge and choose Reconnect. "
        f"This happens when someone disconnects LedgerBridge in {vendor}, or when the "
        "connection was not used for a long time."
    )


def not_connected_error(connection: LedgerConnection) -> ConnectorError:
    vendor = VENDOR_NAMES[connection.system]
    return ConnectorError(
        ErrorKind.AUTH,
        connection.disconnect_reason or f"The {vendor} connection was disconnected.",
        hint=reconnect_hint(connection),
    )


class DbAccessTokens:
    """`connectors.base.AccessTokens` backed by a `LedgerConnection` row.

    Must be used outside any transaction of the caller's (see the module docstring). `sleep` is
    how a waiter pauses between looks at the lease; tests pass one that records or moves time.
    """

    def __init__(
        self,
        connection_id: int,
        *,
        oauth: LedgerOAuth | None = None,
        sleep: Callable[[float], object] = time.sleep,
        max_wait: timedelta = LEASE_TTL + timedelta(seconds=30),
    ) -> None:
        self.connection_id = connection_id
        self._oauth = oauth
        self._sleep = sleep
        self._max_wait = max_wait

    # -- AccessTokens ------------------------------------------------------------------------

    def current(self) -> str:
        connection = self._load()
        if _fresh(connection):
            assert connection.access_token is not None
            return connection.access_token
        return self._refresh(seen_version=connection.token_version)

    def refreshed(self, rejected: str) -> str:
        connection = self._load()
        if connection.access_token != rejected and _fresh(connection):
            # Another worker already refreshed since `rejected` was handed out.
            assert connection.access_token is not None
            return connection.access_token
        return self._refresh(seen_version=connection.token_version)

    # -- the refresh -------------------------------------------------------------------------

    def _load(self) -> LedgerConnection:
        connection = (
            LedgerConnection.objects.select_related("company", "company__account")
            .filter(pk=self.connection_id)
            .first()
        )
        if connection is None:
            raise ConnectorError(
                ErrorKind.AUTH,
                "This ledger connection no longer exists.",
                hint="Connect the company to its ledger again.",
            )
        if not connection.is_connected or not connection.refresh_token:
            raise not_connected_error(connection)
        return connection

    def _oauth_client(self, connection: LedgerConnection) -> LedgerOAuth:
        return self._oauth or oauth_for(connection.system)

    def _refresh(self, *, seen_version: int) -> str:
        name = lease_name(self.connection_id)
        holder = f"{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:12]}"
        waited_since = time.monotonic()
        while True:
            # durable=True: refuse now, before the token call, if a caller's transaction is open.
            with transaction.atomic(durable=True):
                held = leases.acquire(name, holder, LEASE_TTL)
            if held:
                break
            connection = self._load()
            if connection.token_version != seen_version and _fresh(connection):
                assert connection.access_token is not None
                return connection.access_token
            if time.monotonic() - waited_since > self._max_wait.total_seconds():
                raise ConnectorError(
                    ErrorKind.TRANSIENT,
                    "Another LedgerBridge worker is still renewing this ledger sign-in.",
                    hint="This is usually a passing fault; the next run tries again.",
                )
            self._sleep(LEASE_POLL_SECONDS)
        try:
            connection = self._load()
            if connection.token_version != seen_version and _fresh(connection):
                assert connection.access_token is not None
                return connection.access_token
            return self._refresh_holding_lease(connection)
        finally:
            leases.release(name, holder)

    def _refresh_holding_lease(self, connection: LedgerConnection) -> str:
        assert connection.refresh_token is not None
        try:
            tokens = self._oauth_client(connection).refresh(connection.refresh_token)
        except OAuthError as refused:
            if refused.grant_is_dead:
                return self._dead_grant(connection, refused)
            _audit_failure(connection, refused)
            raise
        except ConnectorError as failed:
            _audit_failure(connection, failed)
            # A lost answer from the token endpoint changed nothing we know of: the stored
            # pair stays, and the next attempt decides. Never a reason to disconnect.
            raise ConnectorError(
                ErrorKind.TRANSIENT if failed.kind != ErrorKind.RATE_LIMITED else failed.kind,
                f"LedgerBridge could not renew its {VENDOR_NAMES[connection.system]} sign-in "
                f"just now: {failed.message}",
                hint="The connection is kept; the next run tries again.",
                status=failed.status,
                vendor_detail=failed.vendor_detail,
                retry_at=failed.retry_at,
            ) from failed
        return self._store(connection, tokens)

    def _store(self, connection: LedgerConnection, tokens: TokenSet) -> str:
        """Commit the rotated pair before anyone uses the new access token."""
        now = clock.now()
        with transaction.atomic(durable=True):
            stored = LedgerConnection.objects.filter(
                pk=connection.pk,
                status=ConnectionStatus.CONNECTED,
                token_version=connection.token_version,
            ).update(
                access_token=tokens.access_token,
                refresh_token=tokens.refresh_token,
                access_expires_at=tokens.access_expires_at,
                refresh_expires_at=tokens.refresh_expires_at or connection.refresh_expires_at,
                scopes=" ".join(tokens.scopes) or connection.scopes,
                last_refreshed_at=now,
                token_version=connection.token_version + 1,
            )
        if stored:
            return tokens.access_token
        # The row changed under us (disconnected meanwhile, or a lease that expired and was
        # taken over): what is stored wins.
        latest = self._load()
        if _fresh(latest):
            assert latest.access_token is not None
            return latest.access_token
        return tokens.access_token

    def _dead_grant(self, connection: LedgerConnection, refused: OAuthError) -> str:
        reason = dead_grant_reason(connection)
        with transaction.atomic(durable=True):
            ended = LedgerConnection.objects.filter(
                pk=connection.pk,
                status=ConnectionStatus.CONNECTED,
                token_version=connection.token_version,
            ).update(
                status=ConnectionStatus.DISCONNECTED,
                disconnect_reason=reason,
                disconnected_at=clock.now(),
                access_token=None,
                refresh_token=None,
                token_version=connection.token_version + 1,
            )
            if ended:
                _audit(
                    connection,
                    "ledger.disconnected",
                    {"cause": "refresh_rejected", "reason": reason, "error": refused.error},
                )
        if not ended:
            # Someone stored a newer pair while we were refused: that one is good.
            latest = self._load()
            if _fresh(latest):
                assert latest.access_token is not None
                return latest.access_token
        connection.disconnect_reason = reason
        raise ConnectorError(
            ErrorKind.AUTH, reason, hint=reconnect_hint(connection), status=refused.status
        ) from refused


def _fresh(connection: LedgerConnection) -> bool:
    expires = connection.access_expires_at
    return (
        connection.access_token is not None
        and expires is not None
        and expires - clock.now() > REFRESH_MARGIN
    )


def _audit(connection: LedgerConnection, action: str, details: dict[str, Any]) -> None:
    audit.record(
        action,
        account=connection.company.account,
        target=connection,
        details={"company_id": connection.company_id, "system": connection.system, **details},
    )


def _audit_failure(connection: LedgerConnection, failed: ConnectorError) -> None:
    with transaction.atomic(durable=True):
        _audit(
            connection,
            "ledger.refresh_failed",
            {"kind": failed.kind.value, "message": failed.message, "status": failed.status},
        )
