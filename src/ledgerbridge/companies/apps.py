from django.apps import AppConfig


class CompaniesConfig(AppConfig):
    name = "ledgerbridge.companies"
    label = "companies"
