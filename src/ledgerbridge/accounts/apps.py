from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ledgerbridge.accounts"
    label = "accounts"

    def ready(self) -> None:
        # Sign-in notices, session clocks, password and second-factor audit (see signals.py).
        from ledgerbridge.accounts import signals  # noqa: F401
