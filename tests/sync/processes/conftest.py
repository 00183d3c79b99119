"""Fixtures for the process tests: simulators on a real port, the span table, child processes.

These tests start `ledgerbridge worker` and `ledgerbridge scheduler` as real processes and run
only in .ci/run's process lanes (`pytest -m processes`), never in `./dev test`.
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings

from tests.sync.processes.harness import SimulatorServer, point_settings_at, relaxed_simulator
from tests.sync.processes.spans import create_spans_table, drop_spans_table
from tests.tasks_fixture.processes import subprocess_env

# A killed worker's company is free again this many seconds after its last renewal.
LEASE_SECONDS = 4
# Away from db 0, which a developer's own instance uses; CELERY_BROKER_URL overrides it.
TEST_CELERY_BROKER_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
def simulators(settings: Any) -> Iterator[list[SimulatorServer]]:
    """Two simulator instances (two PSA databases of each kind); ledgers live in the first."""
    servers = [SimulatorServer(relaxed_simulator()), SimulatorServer(relaxed_simulator())]
    point_settings_at(settings, servers[0].url)
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def spans_table(transactional_db: None) -> Iterator[None]:
    # Committed for real (transactional_db) so the worker processes can write to it.
    create_spans_table()
    yield
    drop_spans_table()


@pytest.fixture
def celery_broker() -> Iterator[str | None]:
    """The broker URL on the Celery backend (queue purged), None on the db backend."""
    if django_settings.TASKS_BACKEND != "celery":
        yield None
        return
    from ledgerbridge.celery import app

    url = os.environ.get("CELERY_BROKER_URL") or TEST_CELERY_BROKER_URL
    app.conf.update(broker_url=url, result_backend=url)
    app.control.purge()
    yield url
    app.control.purge()


@pytest.fixture
def child_env(
    simulators: list[SimulatorServer], spans_table: None, celery_broker: str | None
) -> dict[str, str]:
    """The children's environment: the test database, the simulators, a short company lease."""
    extra = {
        "LEDGERBRIDGE_SIM_URL": simulators[0].url,
        "LEDGERBRIDGE_SYNC_LEASE_SECONDS": str(LEASE_SECONDS),
        "LEDGERBRIDGE_TASK_MODULES": "tests.sync.processes.probe",
        "LEDGERBRIDGE_TASKS": django_settings.TASKS_BACKEND,
        "LOG_LEVEL": "WARNING",
    }
    if celery_broker:
        extra |= {"CELERY_BROKER_URL": celery_broker, "CELERY_RESULT_BACKEND": celery_broker}
    return subprocess_env(**extra)


@pytest.fixture(autouse=True)
def _short_lease(settings: Any) -> None:
    # The test process judges leases too (the due-work sweeps it runs).
    settings.SYNC_LEASE_SECONDS = LEASE_SECONDS
