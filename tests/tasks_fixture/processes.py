"""Start `ledgerbridge …` subprocesses on the test database, and stop them as a supervisor would."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

REPO_ROOT = Path(__file__).resolve().parents[2]
LEDGERBRIDGE = str(Path(sys.executable).with_name("ledgerbridge"))


def subprocess_env(**extra: str) -> dict[str, str]:
    """The test's environment, pointed at the test database and able to import `tests.*`."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.tasks_fixture.settings",
        LEDGERBRIDGE_TEST_DATABASE_NAME=str(connection.settings_dict["NAME"]),
        LEDGERBRIDGE_TESTING="true",
        LEDGERBRIDGE_TASK_MODULES="tests.tasks_fixture.tasks",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
        LOG_FORMAT="text",
    )
    env.update(extra)
    return env


class Process:
    """One `ledgerbridge` command running in the background, its output in a log file."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.command = " ".join(["ledgerbridge", *args])
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(
            [LEDGERBRIDGE, *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send `signum` and wait for a clean exit; kill (and say so) if it hangs."""
        if self.alive():
            self.popen.send_signal(signum)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(
                f"{self.command} ignored {signal.Signals(signum).name} for {timeout} s\n"
                + self.output()
            ) from None
        finally:
            self._log.close()

    def output(self, last: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-last:]


def wait_until(
    condition: Callable[[], bool], timeout: float, processes: list[Process], what: str
) -> None:
    """Poll `condition`; fail fast if a process died, and with its log if time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        for process in processes:
            if not process.alive():
                raise AssertionError(
                    f"{process.command} exited with {process.popen.returncode} while waiting "
                    f"for {what}\n{process.output()}"
                )
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.command}\n{p.output()}" for p in processes)
            raise AssertionError(f"Timed out after {timeout} s waiting for {what}\n{logs}")
        # Real processes on real time: polling is the only way to watch them.
        time.sleep(0.2)
