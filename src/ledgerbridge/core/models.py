from typing import Any

from django.conf import settings
from django.db import models

from ledgerbridge.core import clock


class Lease(models.Model):
    """A named, expiring claim: whoever's conditional UPDATE changed the row holds it."""

    name = models.CharField(max_length=200, unique=True)
    holder = models.CharField(max_length=200, blank=True, default="")
    expires_at = models.DateTimeField(db_index=True)
    acquired_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'} until {self.expires_at}"


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Audit events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit events are append-only")


class AuditEvent(models.Model):
    """Who did what to which thing, from where. Rows are only ever inserted."""

    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Set when an instance operator or account-admin acts while emulating `actor`.
    acting_as = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True, default="")
    target_id = models.CharField(max_length=100, blank=True, default="")
    target_repr = models.CharField(max_length=300, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now, db_index=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit events are append-only")


class WorkerHeartbeat(models.Model):
    """Last sign of life from each background worker; the health endpoint reports its age."""

    worker_id = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20)  # "db", "celery" or "scheduler"
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.kind} worker {self.worker_id} last seen {self.last_seen}"


class DueWorkState(models.Model):
    """Where one scheduled due-work function stands: the slot it last ran for and how it went.

    Schedulers claim a slot with a conditional UPDATE on `last_slot`, so the row, not any one
    scheduler process, decides who runs it.
    """

    name = models.CharField(max_length=200, unique=True)
    last_slot = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=20, blank=True, default="")  # "ok" or "failed"
    last_error = models.TextField(blank=True, default="")
    run_count = models.PositiveIntegerField(default=0)
    failure_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} last ran for {self.last_slot or 'no slot yet'}"


class RateBudget(models.Model):
    """How fast, how often and how many at once LedgerBridge may call one outside connection.

    Shared by every process through this row and its `RateBudgetSlot`s; see core/ratebudget.py.
    """

    name = models.CharField(max_length=200, unique=True)
    # Shown to the finance admin in errors: "Xero daily limit of 5000 calls reached; …".
    label = models.CharField(max_length=100)
    calls_per_window = models.PositiveIntegerField()
    window_seconds = models.PositiveIntegerField()
    max_concurrent = models.PositiveIntegerField()
    daily_cap = models.PositiveIntegerField(null=True, blank=True)  # None: no daily cap
    # An in-flight slot whose caller died is freed after this long; keep it above the HTTP timeout.
    slot_timeout_seconds = models.PositiveIntegerField(default=300)
    day = models.DateField(null=True, blank=True)  # the UTC day `day_used` counts
    day_used = models.PositiveIntegerField(default=0)
    # Set from Retry-After and "remaining: 0" headers; no call starts before it.
    blocked_until = models.DateTimeField(null=True, blank=True)
    blocked_reason = models.CharField(max_length=300, blank=True, default="")

    def __str__(self) -> str:
        return (
            f"{self.label} ({self.name}): {self.calls_per_window} per {self.window_seconds}s, "
            f"{self.max_concurrent} at once"
        )


class RateBudgetSlot(models.Model):
    """One unit of a budget, busy until a moment; a call takes one free slot of each kind.

    A window slot, once used, stays busy for the window after the call, so `calls_per_window`
    window slots allow at most that many calls in any window. A concurrent slot is busy while
    its call runs, or until `slot_timeout_seconds` pass if the caller dies.
    """

    class Kind(models.TextChoices):
        WINDOW = "window"
        CONCURRENT = "concurrent"

    budget = models.ForeignKey(RateBudget, on_delete=models.CASCADE, related_name="slots")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    number = models.PositiveIntegerField()
    busy_until = models.DateTimeField()
    token = models.CharField(max_length=64, blank=True, default="")  # the reservation holding it

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "kind", "number"], name="core_ratebudgetslot_unique_number"
            )
        ]
        indexes = [models.Index(fields=["budget", "kind", "busy_until"])]

    def __str__(self) -> str:
        return f"{self.budget.name} {self.kind} slot {self.number} busy until {self.busy_until}"


class OutboundWrite(models.Model):
    """One intended write to an outside system, recorded before it is sent (core/writelog.py).

    The `key` is deterministic for the thing written (company, record, version), so a retry, a
    second worker or a resumed run finds this row instead of writing again.
    """

    class State(models.TextChoices):
        PENDING = "pending"  # recorded, not sent yet (or a lookup proved it never landed)
        SENT = "sent"  # on its way; a row left here by a crash is resolved by lookup
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # refused by the vendor: nothing was written
        UNCERTAIN = "uncertain"  # may or may not have landed; look it up before sending again

    key = models.CharField(max_length=255, unique=True)
    target = models.CharField(max_length=200)  # which system and connection: "xero:<tenant>"
    operation = models.CharField(max_length=100)  # "create invoice", "record payment", …
    digest = models.CharField(max_length=64)  # SHA-256 of the request content
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    result_id = models.CharField(max_length=200, blank=True, default="")
    result_number = models.CharField(max_length=200, blank=True, default="")
    found_by_lookup = models.BooleanField(default=False)
    error_kind = models.CharField(max_length=20, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=clock.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        indexes = [models.Index(fields=["target", "state"])]

    def __str__(self) -> str:
        return f"{self.operation} {self.key} ({self.state})"
