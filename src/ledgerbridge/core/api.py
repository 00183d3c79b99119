from datetime import timedelta
from typing import Literal

from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpRequest
from ninja import Router, Schema, Status

from ledgerbridge import __version__
from ledgerbridge.accounts.access import Access
from ledgerbridge.api.auth import api_requires
from ledgerbridge.core import clock
from ledgerbridge.core.models import WorkerHeartbeat

router = Router(tags=["health"])

# A worker writes its heartbeat every 15 s; three missed beats means it is gone.
WORKER_STALE_AFTER = timedelta(seconds=45)


class HealthOut(Schema):
    status: Literal["ok", "error"]
    version: str
    database: Literal["ok", "unreachable"]
    worker_heartbeat_age_seconds: float | None
    worker: Literal["ok", "stale", "never seen"]


@router.get("/health", response={200: HealthOut, 503: HealthOut}, auth=None)
@api_requires(Access.PUBLIC)
def health(request: HttpRequest) -> Status[HealthOut]:
    """Is the service able to work: database reachable, a worker alive recently."""
    database: Literal["ok", "unreachable"]
    worker: Literal["ok", "stale", "never seen"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
        # The scheduler beats too, but a live scheduler must not hide a dead task worker.
        latest = (
            WorkerHeartbeat.objects.exclude(kind="scheduler")
            .order_by("-last_seen")
            .values_list("last_seen", flat=True)
        )
        last_seen = latest.first()
    except DatabaseError:
        database, last_seen = "unreachable", None
    age = (clock.now() - last_seen).total_seconds() if last_seen else None
    if age is None:
        worker = "never seen"
    elif age > WORKER_STALE_AFTER.total_seconds():
        worker = "stale"
    else:
        worker = "ok"
    status: Literal["ok", "error"] = "ok" if database == "ok" else "error"
    body = HealthOut(
        status=status,
        version=__version__,
        database=database,
        worker_heartbeat_age_seconds=None if age is None else round(age, 1),
        worker=worker,
    )
    return Status(200 if status == "ok" else 503, body)
