"""The kernel's own background tasks, and the discovery that finds everyone else's.

Application code defines tasks with Django's `@task` in its app's `tasks.py` (due-work functions
for the scheduler live there too). Workers call `import_task_modules()` at start: the Celery
backend registers a task only when its module is imported, and a Celery worker that has not seen
a task rejects its messages as unregistered.
"""

import importlib
import os
import socket

from django.conf import settings
from django.tasks import task
from django.utils.module_loading import autodiscover_modules


def import_task_modules() -> None:
    """Import every installed app's `tasks` module, then settings.TASK_MODULES."""
    autodiscover_modules("tasks")
    for module in settings.TASK_MODULES:
        importlib.import_module(module)


@task
def ping(message: str = "ping") -> dict[str, str]:
    """Answer from whichever worker ran it: a quick end-to-end check of a backend and worker."""
    return {"message": message, "worker": f"{socket.gethostname()}:{os.getpid()}"}
