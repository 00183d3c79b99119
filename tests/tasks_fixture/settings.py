"""Settings for worker/scheduler subprocesses started by tests: the project's, on the test DB.

pytest-django renames the database to a test one (a separate SQLite file, or test_<name> on
Postgres); a subprocess must use that same database or it cannot see what the test enqueued.
"""

import os

from ledgerbridge.settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["LEDGERBRIDGE_TEST_DATABASE_NAME"]  # noqa: F405
