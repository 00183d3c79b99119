"""DbAccessTokens: live access tokens, refreshes that never lose a rotated refresh token, and the
difference between a dead sign-in (disconnect, say why) and a passing fault (keep it)."""

import threading
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.db import connection as db
from django.db import transaction
from django.test import Client

from ledgerbridge.companies.models import Company, LedgerConnection
from ledgerbridge.companies.tokens import LEASE_TTL, DbAccessTokens
from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.oauth import LedgerOAuth, oauth_for
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.oauth import revoke_all
from ledgerbridge_sim.oauth.store import store as oauth_store
from ledgerbridge_sim.state import Fault, Simulator
from tests.companies.conftest import QBO_US, XERO_AU, advance, make_connection, token_calls

pytestmark = pytest.mark.django_db

XERO_ACCESS_SECONDS = 1800


def no_wait(seconds: float) -> None:
    """Retries back off through this: tests move on at once."""


def quick(system: str = "xero") -> LedgerOAuth:
    return oauth_for(system, sleep=no_wait)


def reaches_xero(vendor: httpx.Client, access_token: str) -> bool:
    answer = vendor.get("/xero/connections", headers={"Authorization": f"Bearer {access_token}"})
    return answer.status_code == 200


def refresh_token_is_latest(sim: Simulator, refresh_token: str | None) -> bool:
    """The simulator has not replaced this refresh token with a newer one."""
    assert refresh_token is not None
    with sim.lock:
        found = oauth_store(sim, "xero").refresh_tokens.get(refresh_token)
    return found is not None and found.replaced_at is None


@pytest.fixture
def xero(ledgers: Simulator, company: Company) -> LedgerConnection:
    return make_connection(ledgers, company, "xero", XERO_AU)


def test_a_live_token_is_handed_out_without_asking_the_vendor(
    ledgers: Simulator, xero: LedgerConnection
) -> None:
    calls = token_calls(ledgers)
    assert DbAccessTokens(xero.pk).current() == xero.access_token
    assert token_calls(ledgers) == calls


def test_a_token_about_to_expire_is_refreshed_and_the_rotation_stored(
    ledgers: Simulator, vendor: httpx.Client, xero: LedgerConnection
) -> None:
    advance(ledgers, XERO_ACCESS_SECONDS - 30)

    fresh = DbAccessTokens(xero.pk).current()

    stored = LedgerConnection.objects.get(pk=xero.pk)
    assert fresh != xero.access_token and stored.access_token == fresh
    assert stored.refresh_token != xero.refresh_token
    assert refresh_token_is_latest(ledgers, stored.refresh_token)
    assert stored.last_refreshed_at == clock.now()
    assert stored.access_expires_at == clock.now() + timedelta(seconds=XERO_ACCESS_SECONDS)
    assert reaches_xero(vendor, fresh)


def test_a_rejected_token_already_replaced_by_another_worker_is_not_refreshed_again(
    ledgers: Simulator, xero: LedgerConnection
) -> None:
    advance(ledgers, XERO_ACCESS_SECONDS)
    newer = DbAccessTokens(xero.pk).current()
    calls = token_calls(ledgers)
    assert xero.access_token is not None

    # A second worker's API call was refused with the token it read before the refresh.
    assert DbAccessTokens(xero.pk).refreshed(xero.access_token) == newer
    assert token_calls(ledgers) == calls


def test_a_rejected_current_token_is_refreshed(
    ledgers: Simulator, vendor: httpx.Client, xero: LedgerConnection
) -> None:
    assert xero.access_token is not None
    calls = token_calls(ledgers)

    renewed = DbAccessTokens(xero.pk).refreshed(xero.access_token)

    assert renewed != xero.access_token and token_calls(ledgers) == calls + 1
    assert reaches_xero(vendor, renewed)


def test_the_rotated_refresh_token_is_stored_before_the_new_access_token_is_used(
    ledgers: Simulator, xero: LedgerConnection
) -> None:
    """A worker that dies right after its refresh leaves the new refresh token behind."""
    advance(ledgers, XERO_ACCESS_SECONDS)

    class WorkerDiedError(Exception):
        pass

    def post_invoice(access_token: str) -> None:
        # What the database holds at the moment the new token is first used.
        seen = LedgerConnection.objects.get(pk=xero.pk)
        assert seen.access_token == access_token
        assert refresh_token_is_latest(ledgers, seen.refresh_token)
        raise WorkerDiedError

    with pytest.raises(WorkerDiedError):
        post_invoice(DbAccessTokens(xero.pk).current())

    # Long after the previous refresh token died, the stored one still renews the sign-in.
    advance(ledgers, 2 * XERO_ACCESS_SECONDS)
    assert DbAccessTokens(xero.pk).current()
    assert LedgerConnection.objects.get(pk=xero.pk).is_connected


def test_a_refresh_inside_the_callers_transaction_is_refused_before_any_call(
    ledgers: Simulator, xero: LedgerConnection
) -> None:
    # A rollback of the caller's transaction would throw the rotated refresh token away.
    advance(ledgers, XERO_ACCESS_SECONDS)
    calls = token_calls(ledgers)
    with pytest.raises(RuntimeError), transaction.atomic():
        DbAccessTokens(xero.pk).current()
    assert token_calls(ledgers) == calls


def test_a_lost_answer_from_the_token_endpoint_keeps_the_connection(
    ledgers: Simulator, vendor: httpx.Client, xero: LedgerConnection
) -> None:
    advance(ledgers, XERO_ACCESS_SECONDS)
    # Xero rotates, then the connection breaks before the answer arrives, on every attempt.
    ledgers.add_fault(Fault(method="POST", path="/connect/token$", drop_after_commit=True, times=3))

    with pytest.raises(ConnectorError) as raised:
        DbAccessTokens(xero.pk, oauth=quick()).current()

    assert raised.value.kind == ErrorKind.TRANSIENT
    kept = LedgerConnection.objects.get(pk=xero.pk)
    assert kept.is_connected and kept.refresh_token == xero.refresh_token
    assert AuditEvent.objects.filter(action="ledger.refresh_failed").exists()
    # Within Xero's 30-minute grace the kept refresh token still works.
    advance(ledgers, 10 * 60)
    assert reaches_xero(vendor, DbAccessTokens(xero.pk).current())


def test_a_failing_token_endpoint_does_not_disconnect(
    ledgers: Simulator, xero: LedgerConnection
) -> None:
    advance(ledgers, XERO_ACCESS_SECONDS)
    ledgers.add_fault(Fault(method="POST", path="/connect/token$", status=503))

    with pytest.raises(ConnectorError) as raised:
        DbAccessTokens(xero.pk, oauth=quick()).current()

    assert raised.value.kind == ErrorKind.TRANSIENT
    assert "could not renew" in raised.value.message
    assert LedgerConnection.objects.get(pk=xero.pk).is_connected


def test_a_revoked_sign_in_disconnects_with_a_reason_the_admin_can_act_on(
    ledgers: Simulator, xero: LedgerConnection, admin_client: Client, company: Company
) -> None:
    # Someone removed LedgerBridge under Xero's connected apps.
    revoke_all(ledgers, "xero")
    advance(ledgers, XERO_ACCESS_SECONDS)

    with pytest.raises(ConnectorError) as raised:
        DbAccessTokens(xero.pk).current()

    reason = "Xero no longer accepts LedgerBridge's sign-in for Demo MSP (AU); reconnect."
    assert raised.value.kind == ErrorKind.AUTH and raised.value.message == reason
    assert "Reconnect" in raised.value.hint
    ended = LedgerConnection.objects.get(pk=xero.pk)
    assert not ended.is_connected and ended.disconnect_reason == reason
    assert ended.refresh_token is None and ended.access_token is None
    event = AuditEvent.objects.get(action="ledger.disconnected")
    assert event.details["cause"] == "refresh_rejected"
    # Later callers are told the same without calling Xero again.
    calls = token_calls(ledgers)
    with pytest.raises(ConnectorError, match="no longer accepts"):
        DbAccessTokens(xero.pk).current()
    assert token_calls(ledgers) == calls


def test_a_stale_refresh_after_the_grace_window_disconnects(
    ledgers: Simulator, xero: LedgerConnection
) -> None:
    advance(ledgers, XERO_ACCESS_SECONDS)
    DbAccessTokens(xero.pk).current()
    # The database is restored from a backup taken before the rotation.
    LedgerConnection.objects.filter(pk=xero.pk).update(
        refresh_token=xero.refresh_token, access_expires_at=clock.now()
    )
    advance(ledgers, 31 * 60)

    with pytest.raises(ConnectorError, match="reconnect"):
        DbAccessTokens(xero.pk).current()
    assert not LedgerConnection.objects.get(pk=xero.pk).is_connected


def test_two_workers_that_both_refreshed_keep_the_connection(
    ledgers: Simulator, xero: LedgerConnection, transport: InProcessTransport
) -> None:
    """Worker A hangs after its token call until its lease expires; worker B takes over with the
    same refresh token. Xero's grace window lets both succeed, and what is stored still works."""
    advance(ledgers, XERO_ACCESS_SECONDS)
    worker_b_got: list[str] = []

    class HangingAfterRefresh(LedgerOAuth):
        def refresh(self, refresh_token: str) -> Any:
            answered = super().refresh(refresh_token)
            clock.advance(LEASE_TTL + timedelta(seconds=1))
            worker_b_got.append(DbAccessTokens(xero.pk).current())
            return answered

    worker_a_got = DbAccessTokens(
        xero.pk, oauth=HangingAfterRefresh(oauth_for("xero").app)
    ).current()

    assert token_calls(ledgers) == 3  # the connect, then A and B
    # A's answer came back second: the stored pair (B's) is the one in use.
    assert worker_a_got == worker_b_got[0]
    stored = LedgerConnection.objects.get(pk=xero.pk)
    assert stored.is_connected and stored.access_token == worker_b_got[0]
    advance(ledgers, 2 * XERO_ACCESS_SECONDS)
    assert DbAccessTokens(xero.pk).current()
    assert LedgerConnection.objects.get(pk=xero.pk).is_connected


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_refresh_once(ledgers: Simulator, company: Company) -> None:
    """Two threads find the token expired at the same moment: one refreshes, the other waits
    for the lease and then uses what the first stored."""
    xero = make_connection(ledgers, company, "xero", XERO_AU)
    advance(ledgers, XERO_ACCESS_SECONDS)
    calls = token_calls(ledgers)
    a_holds_lease, b_waiting, a_finished = threading.Event(), threading.Event(), threading.Event()
    results: dict[str, str] = {}
    failures: list[BaseException] = []

    class WaitsForB(LedgerOAuth):
        def refresh(self, refresh_token: str) -> Any:
            a_holds_lease.set()
            assert b_waiting.wait(10), "worker B never waited for the lease"
            return super().refresh(refresh_token)

    def b_pauses(seconds: float) -> None:
        b_waiting.set()
        assert a_finished.wait(10), "worker A never finished"

    def run(name: str, tokens: DbAccessTokens, transport: InProcessTransport) -> None:
        try:
            results[name] = tokens.current()
        except BaseException as error:  # reported to the test thread
            failures.append(error)
        finally:
            a_holds_lease.set()  # never leave the test thread waiting
            if name == "a":
                a_finished.set()
            transport.close()
            db.close()

    # Each thread runs its own event loop, so each gets its own in-process transport.
    app = oauth_for("xero").app
    a_transport = InProcessTransport(build_app(ledgers))
    b_transport = InProcessTransport(build_app(ledgers))
    a_tokens = DbAccessTokens(xero.pk, oauth=WaitsForB(app, transport=a_transport))
    b_tokens = DbAccessTokens(
        xero.pk, oauth=LedgerOAuth(app, transport=b_transport), sleep=b_pauses
    )
    a = threading.Thread(target=run, args=("a", a_tokens, a_transport))
    b = threading.Thread(target=run, args=("b", b_tokens, b_transport))
    a.start()
    assert a_holds_lease.wait(10)
    b.start()
    a.join(20)
    b.join(20)

    assert not failures, failures
    assert token_calls(ledgers) == calls + 1
    assert results["a"] == results["b"]
    assert LedgerConnection.objects.get(pk=xero.pk).is_connected


def test_a_quickbooks_refresh_rolls_the_refresh_token_lifetime(
    ledgers: Simulator, company: Company
) -> None:
    qbo = make_connection(ledgers, company, "qbo", QBO_US)
    advance(ledgers, 3600)

    fresh = DbAccessTokens(qbo.pk).current()

    stored = LedgerConnection.objects.get(pk=qbo.pk)
    assert fresh != qbo.access_token and stored.access_token == fresh
    # QuickBooks extends the same refresh token's 100 days on use (it rotates about daily).
    assert stored.refresh_token == qbo.refresh_token
    assert qbo.refresh_expires_at is not None and stored.refresh_expires_at is not None
    assert stored.refresh_expires_at - qbo.refresh_expires_at == timedelta(seconds=3600)
