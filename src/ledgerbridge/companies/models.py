from decimal import Decimal

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


class Locale(models.TextChoices):
    AU = "AU", "Australia"
    NZ = "NZ", "New Zealand"
    UK = "UK", "United Kingdom"
    CA = "CA", "Canada"
    US = "US", "United States"


LOCALE_CURRENCIES = {"AU": "AUD", "NZ": "NZD", "UK": "GBP", "CA": "CAD", "US": "USD"}


class CompanySettings(models.Model):
    """How LedgerBridge posts one company's records; read into a `sync.policy.SyncPolicy`.

    Defaults are what a new MSP would pick; every choice is explained on the settings form.
    """

    class DetailLevel(models.TextChoices):
        STANDARD = "standard", "Standard: one line per GL mapping"
        SUMMARY = "summary", "Summary: ticket number and summary"
        DETAIL = "detail", "Detail: every time entry"

    class TaxSource(models.TextChoices):
        PSA_CODE = "psa_code", "Map each PSA tax code to a ledger tax code"
        FIXED = "fixed", "One ledger tax code for taxable sales, one for exempt"

    class MissingTracking(models.TextChoices):
        HALT = "halt", "Halt: fail the record until the value is mapped"
        WARN = "warn", "Warn: post without that tracking"

    class ReferenceSource(models.TextChoices):
        PO_NUMBER = "po_number", "Your: customer PO number"
        PSA_REFERENCE = "psa_reference", "The PSA's reference"
        NONE = "none", "Leave empty"

    class ProductIdPolicy(models.TextChoices):
        FAIL = "fail", "Fail with a hint to shorten or map it"
        TRUNCATE_HASH = "truncate_hash", "Shorten it with a stable suffix"
        MAPPING = "mapping", "Use the product mappings"

    class AutomatedSalesTax(models.TextChoices):
        OVERRIDE = "override", "Keep the PSA's tax (QuickBooks' own calculation is overridden)"
        HALT = "halt", "Let QuickBooks calculate; fail invoices whose total then differs"

    class NameClash(models.TextChoices):
        FAIL = "fail", "Stop and ask"
        LINK_EXISTING = "link_existing", "Use the existing ledger contact"
        DISAMBIGUATE = "disambiguate", "Create a new contact named 'Name (PSA id)'"

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="settings")
    # Fixed once set: tax codes, rounding and reports all follow it.
    locale = models.CharField(max_length=2, choices=Locale.choices)
    timezone = models.CharField(max_length=64, default="UTC")
    currency = models.CharField(max_length=3, blank=True, default="")  # "" = the locale's
    # Which PSA credentials feed this company; None = the account's primary API account.
    psa_credential = models.ForeignKey(
        "accounts.PsaCredential", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    gl_owner_levels = models.JSONField(default=list, blank=True)  # ConnectWise location ids
    post_as_draft = models.BooleanField(default=False)
    mark_as_sent = models.BooleanField(default=False)
    # Detail by default: every PSA line as it is, so tax and totals follow the PSA exactly;
    # Standard and Summary condense service revenue (ConnectWise's GL export does the merging).
    detail_level = models.CharField(
        max_length=10, choices=DetailLevel.choices, default=DetailLevel.DETAIL
    )
    tax_source = models.CharField(
        max_length=10, choices=TaxSource.choices, default=TaxSource.PSA_CODE
    )
    taxable_tax_code = models.CharField(max_length=50, blank=True, default="")
    exempt_tax_code = models.CharField(max_length=50, blank=True, default="")
    tracking_enabled = models.BooleanField(default=False)
    missing_tracking = models.CharField(
        max_length=4, choices=MissingTracking.choices, default=MissingTracking.HALT
    )
    reference_source = models.CharField(
        max_length=15, choices=ReferenceSource.choices, default=ReferenceSource.PO_NUMBER
    )
    default_account_code = models.CharField(max_length=50, blank=True, default="")
    adjustment_item_code = models.CharField(max_length=100, blank=True, default="")
    adjustment_account_code = models.CharField(max_length=50, blank=True, default="")
    adjustment_tax_code = models.CharField(max_length=50, blank=True, default="")
    max_minor_adjustment = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("10.00")
    )
    product_id_policy = models.CharField(
        max_length=15, choices=ProductIdPolicy.choices, default=ProductIdPolicy.FAIL
    )
    name_clash = models.CharField(max_length=15, choices=NameClash.choices, default=NameClash.FAIL)
    post_zero_invoices = models.BooleanField(default=False)
    # US QuickBooks companies on automated sales tax work out tax themselves (§3.11).
    automated_sales_tax = models.CharField(
        max_length=10, choices=AutomatedSalesTax.choices, default=AutomatedSalesTax.OVERRIDE
    )
    onboarding_date = models.DateField(null=True, blank=True)
    payment_cutoff = models.DateField(null=True, blank=True)
    number_override_until = models.DateField(null=True, blank=True)
    # Background syncs: every N minutes a full sync (0 = off), and a frequent poll for newly
    # closed invoices (0 = off).
    schedule_minutes = models.PositiveIntegerField(default=0)
    poll_minutes = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name_plural = "company settings"

    def __str__(self) -> str:
        return f"Settings of {self.company}"

    @property
    def effective_currency(self) -> str:
        return self.currency or LOCALE_CURRENCIES[self.locale]


class ExclusionRule(models.Model):
    """Records whose number starts with `prefix` are marked in the PSA but never posted."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="exclusion_rules")
    prefix = models.CharField(max_length=30)
    record_type = models.CharField(max_length=20, default="invoice")
    mark_paid = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "record_type", "prefix"], name="exclusion_rule_unique_prefix"
            )
        ]

    def __str__(self) -> str:
        return f"Exclude {self.record_type} numbers starting {self.prefix!r}"


class MappingKind(models.TextChoices):
    ACCOUNT = "account", "GL accounts"
    TAX_CODE = "tax_code", "Tax codes"
    ITEM = "item", "Products / items"
    TRACKING = "tracking", "Tracking / classes"
    TERM = "term", "Billing terms"


class Mapping(models.Model):
    """One PSA value and the ledger value it posts as, per company and kind."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="mappings")
    kind = models.CharField(max_length=10, choices=MappingKind.choices)
    # Tracking only: which PSA dimension ("location", "department", …).
    dimension = models.CharField(max_length=50, blank=True, default="")
    psa_value = models.CharField(max_length=200)
    psa_label = models.CharField(max_length=300, blank=True, default="")
    ledger_value = models.CharField(max_length=200, blank=True, default="")
    ledger_label = models.CharField(max_length=300, blank=True, default="")
    # Tracking: the ledger category of `ledger_value`; terms: a Terms XRef ("30", "M+1:D20").
    ledger_extra = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "kind", "dimension", "psa_value"],
                name="mapping_unique_psa_value",
            )
        ]
        indexes = [models.Index(fields=["company", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.psa_value} → {self.ledger_value or '(unmapped)'}"
