"""A task whose every run leaves a row, so a test can count runs per task."""

import os
from typing import Any

from django.db import connection
from django.tasks import TaskContext, task

RUNS_TABLE = "tests_task_runs"


def create_runs_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RUNS_TABLE}")
        # No unique key on purpose: a task run twice must leave two rows for the test to see.
        cursor.execute(
            f"CREATE TABLE {RUNS_TABLE} "
            "(task_key VARCHAR(100) NOT NULL, result_id VARCHAR(100) NOT NULL,"
            " pid INTEGER NOT NULL)"
        )


def drop_runs_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RUNS_TABLE}")


@task(takes_context=True)
def record_run(context: TaskContext[Any, None], key: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RUNS_TABLE} (task_key, result_id, pid) VALUES (%s, %s, %s)",  # noqa: S608
            [key, str(context.task_result.id), os.getpid()],
        )
