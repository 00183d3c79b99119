"""The API call log: one row per attempt at one vendor request, as `VendorTransport` reports it.

Method, path, status and duration are always kept; the query, bodies and response headers only
when the account had detailed logging on for that call (the transport masks secrets in them
before they arrive here). Rows are purged daily after the account's retention period.
"""

from django.db import models

from ledgerbridge.core import clock

# What each outcome means to a finance admin (the transport reports "ok", "retrying" or the
# `ErrorKind` of the failure).
OUTCOME_LABELS = {
    "ok": "Answered",
    "retrying": "Failed, tried again",
    "auth": "Sign-in refused",
    "permission": "Missing permission",
    "not_found": "Not found",
    "validation": "Refused what was sent",
    "rate_limited": "Over the vendor's limit",
    "transient": "Vendor or network fault",
    "uncertain": "No confirmation",
}


class ApiCallRecord(models.Model):
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="api_calls"
    )
    # The company the connection served; empty for account-level connections.
    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # How the admin knows the connection: "Xero: Demo MSP (AU)", "ConnectWise PSA: Main".
    connection = models.CharField(max_length=200)
    vendor = models.CharField(max_length=40)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=1000)
    query = models.TextField(blank=True, default="")
    status = models.PositiveSmallIntegerField(null=True, blank=True)  # None: no answer arrived
    duration_ms = models.PositiveIntegerField()
    attempt = models.PositiveSmallIntegerField(default=1)
    outcome = models.CharField(max_length=20)
    # Whether detailed logging was on for this call (so an empty body is told from an unkept one).
    detailed = models.BooleanField(default=False)
    request_body = models.TextField(blank=True, default="")
    response_body = models.TextField(blank=True, default="")
    response_headers = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        # The screen reads newest first within an account, optionally narrowed by one filter;
        # the purge reads by age.
        indexes = [
            models.Index(fields=["account", "-id"], name="apilog_account_newest"),
            models.Index(fields=["account", "connection", "-id"], name="apilog_connection_newest"),
            models.Index(fields=["account", "vendor", "-id"], name="apilog_vendor_newest"),
            models.Index(fields=["account", "status", "-id"], name="apilog_status_newest"),
            models.Index(fields=["account", "created_at"], name="apilog_account_age"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status_text}"

    @property
    def status_text(self) -> str:
        return str(self.status) if self.status is not None else "no answer"

    @property
    def status_class(self) -> str:
        """The status's class ("2xx", "4xx", "5xx" …), or "none" when no answer arrived."""
        return f"{self.status // 100}xx" if self.status is not None else "none"

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome, self.outcome)

    @property
    def has_details(self) -> bool:
        return bool(self.query or self.request_body or self.response_body or self.response_headers)
