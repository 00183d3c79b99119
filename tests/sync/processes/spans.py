"""The table the worker children write every stretch of sync work into (see probe.py), and
reading it back: start and end wall-clock times per run, so a test can show that no two runs
of one company ever worked at the same time. A worker killed mid-run leaves its row open.
"""

from django.db import connection

SPANS_TABLE = "tests_sync_work_spans"


def create_spans_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {SPANS_TABLE}")
        cursor.execute(
            f"CREATE TABLE {SPANS_TABLE} (company_id INTEGER NOT NULL, run_id INTEGER NOT NULL,"
            " work VARCHAR(20) NOT NULL, pid INTEGER NOT NULL, started DOUBLE PRECISION NOT NULL,"
            " finished DOUBLE PRECISION NULL)"
        )


def drop_spans_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {SPANS_TABLE}")


def work_spans() -> list[tuple[int, int, str, int, float, float | None]]:
    """(company, run, work, pid, started, finished) for every stretch of work, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT company_id, run_id, work, pid, started, finished FROM {SPANS_TABLE}"  # noqa: S608
            " ORDER BY started"
        )
        return [(int(c), int(r), str(w), int(p), float(s), f) for c, r, w, p, s, f in cursor]
