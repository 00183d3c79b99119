"""The Celery application used when LEDGERBRIDGE_TASKS=celery (django-tasks-celery backend)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerbridge.settings")

app = Celery("ledgerbridge")
app.config_from_object("django.conf:settings", namespace="CELERY")
# A task must not be lost if a worker dies mid-run: acknowledge after it finishes.
app.conf.task_acks_late = True
app.conf.worker_prefetch_multiplier = 1
app.conf.broker_connection_retry_on_startup = True
