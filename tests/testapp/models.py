"""Models that exist only under test, so core/crypto.py and core/audit.py run on real tables.

No migrations folder: the test runner creates these tables directly (syncdb).
"""

from django.db import models

from ledgerbridge.core.crypto import EncryptedJSONField, EncryptedTextField


class Credential(models.Model):
    """A connector credential: an encrypted secret and encrypted JSON settings."""

    label = models.TextField()
    secret = EncryptedTextField(null=True, blank=True)
    settings = EncryptedJSONField(null=True, blank=True)

    def __str__(self) -> str:
        return self.label


class RequiredSecret(models.Model):
    """A NOT NULL encrypted column on a second model, so rotate-keys must cover both."""

    token = EncryptedTextField()

    def __str__(self) -> str:
        return f"RequiredSecret {self.pk}"
