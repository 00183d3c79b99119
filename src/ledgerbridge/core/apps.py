from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "ledgerbridge.core"
    label = "core"
    verbose_name = "LedgerBridge core"

    def ready(self) -> None:
        post_migrate.connect(_create_cache_table, sender=self)


def _create_cache_table(using: str = "default", **kwargs: Any) -> None:
    # The database cache (throttling, used one-time codes) needs its table; `migrate` is the
    # one step every install runs, so make it there. A no-op when the table exists or with Redis.
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)
