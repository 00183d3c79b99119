from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "ledgerbridge.api"
    label = "api"
