"""The Celery application used when LEDGERBRIDGE_TASKS=celery (django-tasks-celery backend).

Start workers with `ledgerbridge worker`; `celery -A ledgerbridge.celery worker` works too.
"""

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerbridge.settings")

app = Celery("ledgerbridge")
app.config_from_object("django.conf:settings", namespace="CELERY")
# A task must not be lost if a worker dies mid-run: acknowledge after it finishes.
app.conf.task_acks_late = True
app.conf.worker_prefetch_multiplier = 1
app.conf.broker_connection_retry_on_startup = True
# Django's default queue is called "default"; naming Celery's the same lets `--queues` and a
# task's queue_name mean one thing on every backend.
app.conf.task_default_queue = "default"
# Lets the backend's get_result() find the Django task behind a result (django_tasks_celery.W002).
app.conf.result_extended = True
# Keep Django's LOGGING (JSON lines, request ids) instead of Celery's own root handler.
app.conf.worker_hijack_root_logger = False


@signals.import_modules.connect
def _import_task_modules(**kwargs: Any) -> None:
    # Celery's worker start-up sends this after Django is set up (its Django fix-up runs first):
    # import every app's tasks module so their @task functions are registered before any message.
    from ledgerbridge.core.tasks import import_task_modules

    import_task_modules()
