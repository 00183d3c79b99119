from django.conf import settings
from django.db import models
from django.db.models import Q

from ledgerbridge.core import clock
from ledgerbridge.core.crypto import EncryptedTextField


class Company(models.Model):
    """One ledger organisation (a Xero organisation or a QBO realm) that an account syncs into.

    Settings and mappings arrive with the sync issues; the ledger sign-in is a
    `LedgerConnection`.
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

    def ledger_connection(self) -> "LedgerConnection | None":
        """The connection in use, else the latest one (to show why it ended), else None."""
        connections = self.ledger_connections.order_by("-connected_at", "-pk")
        return connections.filter(status=ConnectionStatus.CONNECTED).first() or connections.first()


class LedgerSystem(models.TextChoices):
    XERO = "xero", "Xero"
    QBO = "qbo", "QuickBooks Online"


class ConnectionStatus(models.TextChoices):
    CONNECTED = "connected", "Connected"
    DISCONNECTED = "disconnected", "Disconnected"


class LedgerConnection(models.Model):
    """A company's sign-in to its ledger: which organisation, and the OAuth tokens for it.

    A company has at most one connected row; a disconnected row stays as the record of why the
    connection ended (its tokens are forgotten). Tokens change only through
    `companies.tokens.DbAccessTokens` and the actions, which serialise refreshes so a rotated
    refresh token is never lost.
    """

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="ledger_connections"
    )
    system = models.CharField(max_length=10, choices=LedgerSystem.choices)
    # Xero tenant id (a GUID) or QuickBooks realmId; every API call names it.
    organisation_id = models.CharField(max_length=100)
    organisation_name = models.CharField(max_length=255, blank=True)
    access_token = EncryptedTextField(null=True, blank=True)
    refresh_token = EncryptedTextField(null=True, blank=True)
    access_expires_at = models.DateTimeField(null=True, blank=True)
    # QuickBooks says when the refresh token lapses; Xero does not (60 idle days, documented).
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.TextField(blank=True)  # space-separated, as the token endpoint granted them
    status = models.CharField(
        max_length=20, choices=ConnectionStatus.choices, default=ConnectionStatus.CONNECTED
    )
    # Written for the finance admin: why the connection ended and what to do.
    disconnect_reason = models.TextField(blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connected_at = models.DateTimeField(default=clock.now)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every token change, so a waiting refresher sees another one finished without
    # decrypting anything.
    token_version = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company"],
                condition=Q(status="connected"),
                name="one_connected_ledger_per_company",
            )
        ]

    def __str__(self) -> str:
        system = LedgerSystem(self.system).label
        return f"{system}: {self.organisation_name or self.organisation_id}"

    @property
    def is_connected(self) -> bool:
        return self.status == ConnectionStatus.CONNECTED

    @property
    def system_label(self) -> str:
        return LedgerSystem(self.system).label

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()
