import os
import sys

import pytest
from celery import signals
from django.core.management import CommandError, call_command
from pytest_django import Settings

from ledgerbridge.celery import app
from ledgerbridge.core.tasks import import_task_modules, ping

FIXTURE_TASKS = "tests.tasks_fixture.tasks"
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
CELERY = {
    "default": {
        "BACKEND": "django_tasks_celery.CeleryBackend",
        "OPTIONS": {"CELERY_APP": "ledgerbridge.celery.app"},
    }
}


def test_import_task_modules_imports_apps_tasks_and_the_extra_modules(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, FIXTURE_TASKS, raising=False)
    settings.TASK_MODULES = [FIXTURE_TASKS]
    import_task_modules()
    assert "ledgerbridge.core.tasks" in sys.modules
    assert FIXTURE_TASKS in sys.modules


def test_a_celery_worker_imports_task_modules_at_start_and_registers_their_tasks(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a Celery worker does before consuming: without this its first message for a task
    # would be rejected as "unregistered". The backend registers a task when it is created.
    settings.TASKS = CELERY
    settings.TASK_MODULES = [FIXTURE_TASKS]
    monkeypatch.delitem(sys.modules, FIXTURE_TASKS, raising=False)
    signals.import_modules.send(sender=app)
    assert f"{FIXTURE_TASKS}.record_run" in app.tasks


def test_celery_queues_are_named_like_django_queues() -> None:
    # Django's default queue is "default"; the worker's --queues means the same on every backend.
    assert app.conf.task_default_queue == "default"
    assert app.conf.task_acks_late is True


def test_ping_answers_with_the_worker_that_ran_it(settings: Settings) -> None:
    settings.TASKS = IMMEDIATE
    result = ping.enqueue("hello")
    assert result.status == "SUCCESSFUL"
    assert result.return_value["message"] == "hello"
    assert result.return_value["worker"].endswith(f":{os.getpid()}")


def test_worker_refuses_the_immediate_backend(settings: Settings) -> None:
    settings.TASKS_BACKEND = "immediate"
    with pytest.raises(CommandError, match="nothing for a worker to do"):
        call_command("worker")


@pytest.mark.parametrize(
    ("option", "message"),
    [("--concurrency=0", "at least 1"), ("--queues= , ", "at least one queue")],
)
def test_worker_rejects_nonsense_options(option: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("worker", option)
