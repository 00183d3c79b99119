from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ledgerbridge.core"
    label = "core"
    verbose_name = "LedgerBridge core"
