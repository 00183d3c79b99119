"""Named, expiring leases: one holder at a time, on any database and any number of processes.

A lease is taken by one conditional UPDATE (`… WHERE name = N AND (expires_at <= now OR holder =
me)`): the caller that changed the row holds the lease. A holder that dies simply stops renewing
and the lease is taken over once it expires. No `select_for_update`, so SQLite works too.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q

from ledgerbridge.core import clock
from ledgerbridge.core.models import Lease


def acquire(name: str, holder: str, ttl: timedelta) -> bool:
    """Take (or re-take) the lease `name` for `holder` until now + ttl. True if held."""
    if not holder:
        # An empty holder is what `release` writes; letting it in would make it share the lease.
        raise ValueError("A lease holder needs a non-empty name")
    now = clock.now()
    taken = Lease.objects.filter(Q(expires_at__lte=now) | Q(holder=holder), name=name).update(
        holder=holder, expires_at=now + ttl, acquired_at=now
    )
    if taken:
        return True
    if Lease.objects.filter(name=name).exists():
        return False
    try:
        # First use of this name: the unique constraint decides between racing creators.
        with transaction.atomic():
            Lease.objects.create(name=name, holder=holder, expires_at=now + ttl, acquired_at=now)
    except IntegrityError:
        return acquire(name, holder, ttl)
    return True


def renew(name: str, holder: str, ttl: timedelta) -> bool:
    """Extend a lease `holder` still holds. False means it was lost (expired and taken over)."""
    now = clock.now()
    return bool(
        Lease.objects.filter(name=name, holder=holder, expires_at__gt=now).update(
            expires_at=now + ttl
        )
    )


def release(name: str, holder: str) -> bool:
    """Give the lease back at once so another holder need not wait for it to expire."""
    return bool(
        Lease.objects.filter(name=name, holder=holder).update(holder="", expires_at=clock.now())
    )


def holder_of(name: str) -> str | None:
    """Who holds `name` right now, or None."""
    lease = Lease.objects.filter(name=name, expires_at__gt=clock.now()).first()
    return lease.holder if lease and lease.holder else None
