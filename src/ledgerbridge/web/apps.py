from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "ledgerbridge.web"
    label = "web"
