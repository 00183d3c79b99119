"""Background work for syncs: run one queued `SyncRun`."""

from datetime import timedelta

from django.db.models import Q
from django.tasks import task

from ledgerbridge.core import clock, leases
from ledgerbridge.core.scheduler import due_work
from ledgerbridge.sync import actions
from ledgerbridge.sync.models import RecordType, SyncRun


@task
def execute_sync_run(run_id: int) -> str:
    """Run a queued sync. A company already syncing leaves this run queued to try again."""
    try:
        run = actions.execute_run(run_id)
    except actions.SyncBusyError:
        # The running sync will finish soon; the scheduler's sweep re-queues waiting runs.
        return "busy"
    return str(run.status)


@due_work("sync.requeue_waiting_runs", every=timedelta(minutes=1))
def requeue_waiting_runs() -> int:
    """Hand queued runs to a worker again: those that found their company busy, and those whose
    worker died before starting them. Returns how many were re-queued."""
    now = clock.now()
    stale = now - timedelta(seconds=30)
    waiting = SyncRun.objects.filter(status=SyncRun.Status.QUEUED).filter(
        Q(not_before__isnull=True, created_at__lt=stale) | Q(not_before__lte=now)
    )
    count = 0
    for run in waiting.order_by("created_at")[:200]:
        if leases.holder_of(actions.lease_name(run.company_id)) is None:
            execute_sync_run.enqueue(run.pk)
            count += 1
    return count


@due_work("sync.resume_abandoned_runs", every=timedelta(minutes=5))
def resume_abandoned_runs() -> int:
    """A run left `running` by a killed worker is finished as failed once its lease lapsed; a
    new run picks its records up (the write log makes that safe)."""
    count = 0
    for run in SyncRun.objects.filter(status=SyncRun.Status.RUNNING).select_related("company"):
        if leases.holder_of(actions.lease_name(run.company_id)) is None:
            SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
                status=SyncRun.Status.FAILED,
                finished_at=clock.now(),
                error="The worker running this sync stopped; the next run carries on from here.",
            )
            actions.request_run(run.company, trigger=SyncRun.Trigger.RETRY)
            count += 1
    return count


@due_work("sync.company_schedules", every=timedelta(minutes=1))
def start_scheduled_runs() -> int:
    """Queue each company's scheduled full sync and its frequent poll for newly closed invoices
    when they are due and the company has nothing queued or running."""
    from ledgerbridge.companies.models import CompanySettings

    now = clock.now()
    started = 0
    busy = set(
        SyncRun.objects.filter(
            status__in=(SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)
        ).values_list("company_id", flat=True)
    )
    due_settings = CompanySettings.objects.select_related("company").filter(
        Q(schedule_minutes__gt=0) | Q(poll_minutes__gt=0)
    )
    for settings in due_settings:
        if settings.company_id in busy:
            continue
        plans = (
            (SyncRun.Trigger.SCHEDULE, settings.schedule_minutes, RecordType.values),
            (SyncRun.Trigger.POLL, settings.poll_minutes, [RecordType.INVOICE]),
        )
        for trigger, minutes, record_types in plans:
            if not minutes:
                continue
            last = (
                SyncRun.objects.filter(company_id=settings.company_id, trigger=trigger)
                .order_by("-created_at")
                .values_list("created_at", flat=True)
                .first()
            )
            if last is None or now - last >= timedelta(minutes=minutes):
                actions.request_run(settings.company, trigger=trigger, record_types=record_types)
                started += 1
                break  # one run per company per sweep; the other waits for the next minute
    return started
