from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from ledgerbridge.core import clock, leases
from ledgerbridge.core.models import Lease
from tests.core.contention import run_children

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen() -> None:
    clock.set_now(T0)


def test_acquire_a_new_lease() -> None:
    assert leases.acquire("sync:northwind", "worker-a", TTL)

    assert leases.holder_of("sync:northwind") == "worker-a"
    lease = Lease.objects.get(name="sync:northwind")
    assert lease.expires_at == T0 + TTL
    assert lease.acquired_at == T0


def test_holder_can_acquire_again_and_extends_it() -> None:
    leases.acquire("sync:northwind", "worker-a", TTL)
    clock.advance(timedelta(minutes=1))

    assert leases.acquire("sync:northwind", "worker-a", TTL)

    assert Lease.objects.get(name="sync:northwind").expires_at == T0 + timedelta(minutes=6)
    assert Lease.objects.count() == 1


def test_another_holder_is_refused_while_it_is_held() -> None:
    leases.acquire("sync:northwind", "worker-a", TTL)
    clock.advance(TTL - timedelta(microseconds=1))

    assert not leases.acquire("sync:northwind", "worker-b", TTL)

    assert leases.holder_of("sync:northwind") == "worker-a"


def test_leases_with_different_names_do_not_interfere() -> None:
    assert leases.acquire("sync:northwind", "worker-a", TTL)
    assert leases.acquire("sync:contoso", "worker-b", TTL)

    assert leases.holder_of("sync:northwind") == "worker-a"
    assert leases.holder_of("sync:contoso") == "worker-b"


def test_renew_extends_a_held_lease() -> None:
    leases.acquire("sync:northwind", "worker-a", TTL)
    clock.advance(timedelta(minutes=4))

    assert leases.renew("sync:northwind", "worker-a", TTL)

    clock.advance(timedelta(minutes=4))  # past the first expiry, within the renewed one
    assert leases.holder_of("sync:northwind") == "worker-a"
    assert not leases.acquire("sync:northwind", "worker-b", TTL)


def test_renew_fails_once_the_lease_expired_and_was_taken_over() -> None:
    leases.acquire("sync:northwind", "worker-a", TTL)
    clock.advance(TTL)
    assert leases.acquire("sync:northwind", "worker-b", TTL)

    assert not leases.renew("sync:northwind", "worker-a", TTL)

    assert leases.holder_of("sync:northwind") == "worker-b"


def test_renew_fails_for_a_holder_that_never_held_it() -> None:
    leases.acquire("sync:northwind", "worker-a", TTL)

    assert not leases.renew("sync:northwind", "worker-b", TTL)
    assert not leases.renew("sync:nobody-took-this", "worker-a", TTL)


def test_release_lets_another_holder_take_it_at_once() -> None:
    leases.acquire("sync:northwind", "worker-a", TTL)

    assert leases.release("sync:northwind", "worker-a")

    assert leases.holder_of("sync:northwind") is None
    assert leases.acquire("sync:northwind", "worker-b", TTL)  # same instant, no waiting
    assert leases.holder_of("sync:northwind") == "worker-b"


def test_release_by_a_non_holder_changes_nothing() -> None:
    leases.acquire("sync:northwind", "worker-a", TTL)

    assert not leases.release("sync:northwind", "worker-b")

    assert leases.holder_of("sync:northwind") == "worker-a"


def test_late_release_does_not_free_the_new_holders_lease() -> None:
    leases.acquire("sync:northwind", "worker-a", TTL)
    clock.advance(TTL)
    leases.acquire("sync:northwind", "worker-b", TTL)

    assert not leases.release("sync:northwind", "worker-a")

    assert leases.holder_of("sync:northwind") == "worker-b"


def test_an_expired_lease_is_taken_over() -> None:
    leases.acquire("sync:northwind", "worker-a", TTL)
    clock.advance(TTL)

    assert leases.holder_of("sync:northwind") is None
    assert leases.acquire("sync:northwind", "worker-b", TTL)

    lease = Lease.objects.get(name="sync:northwind")
    assert (lease.holder, lease.expires_at, lease.acquired_at) == (
        "worker-b",
        T0 + 2 * TTL,
        T0 + TTL,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_processes_contending_for_one_lease_never_hold_it_together() -> None:
    clock.set_now(None)  # the children run on real time, so must we

    reports = run_children("lease", "contended", count=4, seconds=0.8)

    holds = sorted((start, end, r["holder"]) for r in reports for start, end in r["holds"])
    for (_, end, holder), (start, _, next_holder) in pairwise(holds):
        assert end <= start, f"{holder} and {next_holder} held the lease at the same time"
    assert all(r["seen_others"] == [] for r in reports)
    # The test proves something only if the processes really took turns.
    assert len({holder for _, _, holder in holds}) >= 2
    assert sum(r["attempts"] for r in reports) > len(holds)
    assert Lease.objects.count() == 1


def test_an_empty_holder_name_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        leases.acquire("company:1", "", TTL)
