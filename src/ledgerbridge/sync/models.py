"""Runs and records: what the engine did, per trigger and per PSA record."""

from typing import Any

from django.conf import settings
from django.db import models

from ledgerbridge.core import clock


class RecordType(models.TextChoices):
    INVOICE = "invoice", "Invoices"  # invoices and credit memos alike
    PAYMENT = "payment", "Payments"


class SyncRun(models.Model):
    """One trigger's work for one company: sync a record type now, sync all, a schedule, a poll."""

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Sync now"
        SYNC_ALL = "sync_all", "Sync all"
        SCHEDULE = "schedule", "Schedule"
        POLL = "poll", "New closed records"
        RETRY = "retry", "Retry"
        REPOST = "repost", "Re-post"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"  # every record posted (or skipped by rule)
        PARTIAL = "partial"  # some records failed; each says why
        FAILED = "failed"  # the run itself could not proceed (connection down, …)
        CANCELLED = "cancelled"

    company = models.ForeignKey(
        "companies.Company", on_delete=models.CASCADE, related_name="sync_runs"
    )
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    record_types = models.JSONField(default=list)  # RecordType values, in order
    only_psa_ids = models.JSONField(default=list, blank=True)  # a selection; empty = all
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(default=clock.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # {"invoice": {"done": 40, "total": 120}, …}
    progress = models.JSONField(default=dict, blank=True)
    # {"posted": 38, "failed": 2, "excluded": 0, …}
    counts = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")
    # A retry after passing faults waits until then (back-off); the scheduler hands it over.
    not_before = models.DateTimeField(null=True, blank=True)
    retry_attempt = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["company", "status"])]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} for {self.company} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (
            self.Status.SUCCEEDED,
            self.Status.PARTIAL,
            self.Status.FAILED,
            self.Status.CANCELLED,
        )

    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or clock.now()
        return (end - self.started_at).total_seconds()


class SyncRecord(models.Model):
    """One PSA record's journey into the ledger; unique per company, type and PSA id."""

    class State(models.TextChoices):
        PENDING = "pending"
        POSTING = "posting"  # sent to the ledger; outcome being resolved
        POSTED = "posted"  # in the ledger, not yet marked in the PSA
        ACKNOWLEDGED = "acknowledged"  # in the ledger and marked as posted in the PSA
        # In the ledger, but the PSA invoice changed since: re-post to update the ledger's copy.
        CHANGED = "changed"
        FAILED = "failed"
        EXCLUDED = "excluded"  # kept out of the ledger by a rule or by hand
        SKIPPED_ONBOARDING = "skipped_onboarding"  # older than the onboarding date

    company = models.ForeignKey(
        "companies.Company", on_delete=models.CASCADE, related_name="sync_records"
    )
    record_type = models.CharField(max_length=20, choices=RecordType.choices)
    psa_id = models.CharField(max_length=100)
    number = models.CharField(max_length=100, blank=True, default="", db_index=True)
    kind = models.CharField(max_length=20, blank=True, default="")  # invoice / credit_note
    customer_name = models.CharField(max_length=300, blank=True, default="")
    issued_on = models.DateField(null=True, blank=True)
    total = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    source_ids = models.JSONField(default=dict, blank=True)  # the adapter's SourceIds
    # What the PSA invoice held when it was last written to the ledger (its digest).
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    version = models.PositiveIntegerField(default=1)  # bumped by a re-post
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    ledger_id = models.CharField(max_length=100, blank=True, default="", db_index=True)
    ledger_number = models.CharField(max_length=100, blank=True, default="")
    ledger_url = models.URLField(max_length=500, blank=True, default="")
    error_class = models.CharField(max_length=20, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    error_hint = models.TextField(blank=True, default="")
    warnings = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_run = models.ForeignKey(
        SyncRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="records"
    )
    paid_amount = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    first_seen_at = models.DateTimeField(default=clock.now)
    posted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=clock.now, db_index=True)
    manual_note = models.TextField(blank=True, default="")  # who marked it posted, and why

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "record_type", "psa_id"], name="sync_record_unique_psa_id"
            )
        ]
        indexes = [
            models.Index(fields=["company", "state", "updated_at"]),
            models.Index(fields=["company", "error_class", "updated_at"]),
            models.Index(fields=["company", "issued_on"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_record_type_display()} {self.number or self.psa_id} ({self.state})"

    def fail(self, error_class: str, message: str, hint: str = "", **extra: Any) -> None:
        """Set the failure fields (the caller saves)."""
        self.state = self.State.FAILED
        self.error_class, self.error_message, self.error_hint = error_class, message, hint
        for name, value in extra.items():
            setattr(self, name, value)


class SyncedPayment(models.Model):
    """A ledger payment brought back to the PSA, once, keyed by the ledger's payment id."""

    company = models.ForeignKey(
        "companies.Company", on_delete=models.CASCADE, related_name="synced_payments"
    )
    record = models.ForeignKey(SyncRecord, on_delete=models.CASCADE, related_name="payments")
    ledger_payment_id = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    paid_on = models.DateField()
    psa_payment_id = models.CharField(max_length=100, blank=True, default="")
    applied_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "ledger_payment_id"], name="synced_payment_unique_ledger_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.amount} on {self.paid_on} for {self.record}"


class SyncCursor(models.Model):
    """Where an incremental read got to (payments changed since …), per company and stream."""

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE)
    name = models.CharField(max_length=50)
    value = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="sync_cursor_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} for company {self.company_id}: {self.value}"
