"""Helpers for tests that start LedgerBridge in a child process."""

import os
from pathlib import Path

# Anything here would leak the developer's or CI's own configuration into the child process.
SETTINGS_ENV_PREFIXES = (
    "DATABASE_",
    "DB_",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SITE_",
    "CSRF_",
    "SECURE_",
    "EMAIL_",
    "LEDGERBRIDGE_",
    "LOG_",
    "USE_X_FORWARDED_PROTO",
    "DJANGO_",
    "PYTEST_",
)


def embedded_defaults_env(home: Path, **values: str) -> dict[str, str]:
    """The environment of a fresh install living in `home`, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_ENV_PREFIXES)}
    env |= {"DJANGO_SETTINGS_MODULE": "ledgerbridge.settings", "LEDGERBRIDGE_HOME": str(home)}
    return env | values
