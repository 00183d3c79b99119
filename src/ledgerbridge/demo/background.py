"""The background worker and the scheduler as child processes, and proof that they work."""

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.tasks import TaskResultStatus

from ledgerbridge.core import clock
from ledgerbridge.core.models import WorkerHeartbeat
from ledgerbridge.core.tasks import ping

START_TIMEOUT_SECONDS = 60


class BackgroundError(Exception):
    pass


class Background:
    """A worker (with `concurrency` threads, so companies sync side by side) and a scheduler."""

    def __init__(self, *, concurrency: int = 1, log_path: Path | None = None) -> None:
        self.concurrency = concurrency
        self.log_path = log_path
        self.children: list[subprocess.Popen[bytes]] = []
        self.started: datetime | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> "Background":
        self.started = clock.now()
        cli = [sys.executable, "-m", "ledgerbridge.cli"]
        # The children inherit this process's environment, simulator addresses included.
        env = dict(os.environ)
        if self.log_path is not None:
            # Their logs go to a file, so the terminal keeps the progress bar and the summary.
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        output: dict[str, Any] = {"stdout": self._log, "stderr": self._log} if self._log else {}
        # Our own interpreter and fixed arguments: nothing here comes from outside.
        worker = [*cli, "worker", "--concurrency", str(self.concurrency)]
        self.children = [
            subprocess.Popen(worker, env=env, **output),  # noqa: S603
            subprocess.Popen([*cli, "scheduler"], env=env, **output),  # noqa: S603
        ]
        return self

    def alive(self) -> bool:
        return all(child.poll() is None for child in self.children)

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=10)
        self.children = []
        if self._log is not None:
            self._log.close()
            self._log = None

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not self.alive():
                where = f" in {self.log_path}" if self.log_path else " above"
                raise BackgroundError(f"A background process stopped during start-up; see{where}.")
            kinds = set(
                WorkerHeartbeat.objects.filter(last_seen__gte=self.started).values_list(
                    "kind", flat=True
                )
            )
            if "scheduler" in kinds and kinds - {"scheduler"}:
                return
            time.sleep(0.5)
        raise BackgroundError(
            f"The background worker did not report in within {START_TIMEOUT_SECONDS} seconds."
        )

    def round_trip_a_task(self) -> dict[str, Any]:
        result = ping.enqueue("demo")
        if not ping.get_backend().supports_get_result:
            # Celery without a result backend: the heartbeat already showed a live worker.
            return {"worker": "the background worker"}
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            result.refresh()
            if result.status == TaskResultStatus.SUCCESSFUL:
                answer: dict[str, Any] = result.return_value
                return answer
            if result.status == TaskResultStatus.FAILED:
                raise BackgroundError(f"The test task failed: {result.errors}")
            time.sleep(0.2)
        raise BackgroundError(
            f"The worker did not run the test task within {START_TIMEOUT_SECONDS} seconds."
        )
