"""settings.py read in fresh processes, the way a deployment reads it."""

import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.processes import embedded_defaults_env

_env = embedded_defaults_env


def _python(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env=_env(home, **env),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _print_setting(home: Path, expression: str, **env: str) -> subprocess.CompletedProcess[str]:
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    return _python(home, "-c", code, **env)


def test_deploy_checks_pass_with_production_values(tmp_path: Path) -> None:
    result = _python(
        tmp_path,
        "-m",
        "django",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(60)[:60],
        ALLOWED_HOSTS="ledgerbridge.example.com",
        SITE_ROOT="https://ledgerbridge.example.com",
        CSRF_TRUSTED_ORIGINS="https://ledgerbridge.example.com",
        # Django 6.1 rejects development mail backends in production (mail.E001); a real
        # deployment sends mail over SMTP.
        EMAIL_HOST="smtp.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout + result.stderr


def test_secret_key_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    first = _print_setting(tmp_path, "settings.SECRET_KEY")
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = first.stdout.strip()
    assert len(key) >= 50
    assert key_file.read_text().strip() == key

    second = _print_setting(tmp_path, "settings.SECRET_KEY")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == key


def test_secret_key_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "mounted-secret"
    secret.write_text("from-a-docker-secret-" + "x" * 40 + "\n")
    result = _print_setting(tmp_path, "settings.SECRET_KEY", SECRET_KEY_FILE=str(secret))
    assert result.stdout.strip() == "from-a-docker-secret-" + "x" * 40
    assert not (tmp_path / "secret_key").exists()


def test_an_invalid_boolean_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    result = _print_setting(tmp_path, "settings.DEBUG", DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean (use true or false)" in result.stderr


def test_database_url_switches_to_postgresql(tmp_path: Path) -> None:
    result = _print_setting(
        tmp_path,
        "repr({k: settings.DATABASES['default'][k] for k in ('ENGINE', 'NAME', 'HOST', 'PORT')})",
        DATABASE_URL="postgres://lb:pw@db.example:5433/ledgerbridge",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(
        {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "ledgerbridge",
            "HOST": "db.example",
            "PORT": 5433,
        }
    )


def test_sqlite_is_the_default_database(tmp_path: Path) -> None:
    result = _print_setting(tmp_path, "settings.DATABASES['default']['NAME']")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "ledgerbridge.sqlite3")


@pytest.mark.django_db
def test_default_sqlite_runs_in_wal_mode_with_foreign_keys() -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("this run uses DATABASE_URL, not the default SQLite")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA foreign_keys")
        assert cursor.fetchone()[0] == 1
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == 20000
