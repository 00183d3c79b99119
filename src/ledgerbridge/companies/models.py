from django.db import models

from ledgerbridge.core import clock


class Company(models.Model):
    """One ledger organisation (a Xero organisation or a QBO realm) that an account syncs into.

    Only the identity lives here for now; connections, settings and mappings arrive with the
    sync issues.
    """

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="companies"
    )
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name
