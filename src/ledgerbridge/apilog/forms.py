"""Forms of the API log screens: the list's filters and the log's settings."""

from typing import Any

from django import forms
from django.db.models import QuerySet

from ledgerbridge.accounts.models import Account
from ledgerbridge.apilog.actions import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS
from ledgerbridge.apilog.models import ApiCallRecord

STATUS_CLASSES = {
    "2xx": (200, 299),
    "3xx": (300, 399),
    "4xx": (400, 499),
    "5xx": (500, 599),
}
STATUS_CHOICES = [
    ("", "Any status"),
    ("2xx", "Succeeded (2xx)"),
    ("3xx", "Redirected (3xx)"),
    ("4xx", "Refused (4xx)"),
    ("5xx", "Vendor error (5xx)"),
    ("none", "No answer"),
]


class CallFilterForm(forms.Form):
    connection = forms.ChoiceField(required=False, label="Connection")
    status = forms.ChoiceField(required=False, label="Status", choices=STATUS_CHOICES)
    vendor = forms.ChoiceField(required=False, label="Vendor")

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        logged = ApiCallRecord.objects.filter(account=account)
        connection_field = self.fields["connection"]
        assert isinstance(connection_field, forms.ChoiceField)
        connections = logged.order_by("connection").values_list("connection", flat=True)
        connection_field.choices = [
            ("", "Every connection"),
            *((name, name) for name in connections.distinct()),
        ]
        vendor_field = self.fields["vendor"]
        assert isinstance(vendor_field, forms.ChoiceField)
        vendors = logged.order_by("vendor").values_list("vendor", flat=True)
        vendor_field.choices = [
            ("", "Every vendor"),
            *((name, name) for name in vendors.distinct()),
        ]

    @property
    def is_filtered(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)

    def calls(self) -> QuerySet[ApiCallRecord]:
        """The account's calls matching the filter (unordered); none while it is invalid."""
        calls = ApiCallRecord.objects.filter(account=self.account)
        if not self.is_bound:
            return calls
        if not self.is_valid():
            return calls.none()
        data = self.cleaned_data
        if data["connection"]:
            calls = calls.filter(connection=data["connection"])
        if data["vendor"]:
            calls = calls.filter(vendor=data["vendor"])
        if data["status"] == "none":
            calls = calls.filter(status__isnull=True)
        elif data["status"]:
            calls = calls.filter(status__range=STATUS_CLASSES[data["status"]])
        return calls


class ApiLogSettingsForm(forms.Form):
    detailed_logging = forms.BooleanField(
        required=False,
        label="Keep request and response bodies (detailed logging)",
        help_text=(
            "Turn this on while you look into a problem with a connection. Passwords, keys and "
            "sign-in tokens are masked before anything is kept. Bodies can hold your clients' "
            "invoice details, so turn it off again when you are done."
        ),
    )
    retention_days = forms.IntegerField(
        label="Keep calls for (days)",
        min_value=MIN_RETENTION_DAYS,
        max_value=MAX_RETENTION_DAYS,
        help_text=(
            f"Between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS} days. Older calls are "
            "deleted once a day."
        ),
    )

    @classmethod
    def for_account(cls, account: Account) -> "ApiLogSettingsForm":
        return cls(
            initial={
                "detailed_logging": account.detailed_api_logging,
                "retention_days": account.api_log_retention_days,
            }
        )
