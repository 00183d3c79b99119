from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ledgerbridge.accounts"
    label = "accounts"
