"""`./dev demo` runs the service on the embedded defaults: SQLite, the db worker, the scheduler."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import embedded_defaults_env


@pytest.mark.slow
def test_demo_starts_worker_and_scheduler_and_prints_how_to_sign_in(tmp_path: Path) -> None:
    env = embedded_defaults_env(tmp_path)
    cli = [sys.executable, "-m", "ledgerbridge.cli"]
    subprocess.run([*cli, "migrate", "--no-input"], env=env, check=True, capture_output=True)

    demo = subprocess.run(
        [*cli, "demo", "--check"], env=env, capture_output=True, text=True, timeout=120
    )

    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "a test task ran on" in demo.stdout
    assert "Sign in at http://127.0.0.1:8000/ as demo@ledgerbridge.example" in demo.stdout
    assert (tmp_path / "ledgerbridge.sqlite3").exists()

    # A second run reuses the account and issues a new password: nothing piles up.
    again = subprocess.run(
        [*cli, "demo", "--check"], env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr[-2000:]
    first_password = demo.stdout.rsplit("with password ", 1)[1].split()[0]
    second_password = again.stdout.rsplit("with password ", 1)[1].split()[0]
    assert first_password != second_password
    with sqlite3.connect(tmp_path / "ledgerbridge.sqlite3") as db:
        accounts = db.execute("SELECT count(*) FROM accounts_account").fetchone()[0]
        users = db.execute("SELECT count(*) FROM accounts_user").fetchone()[0]
        role = db.execute("SELECT role FROM accounts_user").fetchone()[0]
    assert (accounts, users) == (1, 1)
    # The demo user can see every screen of the account.
    assert role == "account-admin"
