import secrets
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from ledgerbridge.accounts.roles import ROLE_CHOICES, ROLES, Perm, Role
from ledgerbridge.core import clock
from ledgerbridge.core.crypto import EncryptedJSONField


def new_security_stamp() -> str:
    return secrets.token_hex(16)


class TwoFactorPolicy(models.TextChoices):
    REQUIRED = "required", "Required for every user"
    OPTIONAL = "optional", "Optional (users may enrol)"


class Account(models.Model):
    """One MSP: the tenant that owns companies, users and everything synced for them."""

    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=clock.now)
    two_factor_policy = models.CharField(
        max_length=20, choices=TwoFactorPolicy.choices, default=TwoFactorPolicy.REQUIRED
    )
    # The account-admin's "join the beta group" switch (core feature flags read it).
    beta_enabled = models.BooleanField(default=False)
    # The Sync screen's "Sync All" button; some MSPs prefer to sync one record type at a time.
    show_sync_all = models.BooleanField(default=True)
    # The API log: request and response bodies (secrets masked) only while this is on; every
    # call's method, path, status and duration always. Older entries are purged daily.
    detailed_api_logging = models.BooleanField(default=False)
    api_log_retention_days = models.PositiveIntegerField(default=14)

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields: Any) -> "User":
        if not email:
            raise ValueError("A user needs an email address")
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> "User":
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in. The email is the username; users are disabled, never deleted.

    Account members have an account and a role. Instance staff (`is_staff`, no account) operate
    the installation and see no account's data without a support grant.
    """

    email = models.EmailField(max_length=254, unique=True)
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    role = models.CharField(max_length=20, choices=ROLE_CHOICES, default=Role.USER)
    # Companies a non-admin role may work with; account-admins implicitly have all of them.
    companies = models.ManyToManyField(
        "companies.Company", blank=True, related_name="assigned_users"
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=clock.now)
    invited_at = models.DateTimeField(null=True, blank=True)
    invited_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Part of every set-password/invitation token: rotating it voids links already sent.
    security_stamp = models.CharField(max_length=32, default=new_security_stamp)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_unique_ci")]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Stored lower-case so "Alice@MSP.example" and "alice@msp.example" are one user.
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self) -> str:
        return self.first_name or self.email

    def can(self, perm: Perm) -> bool:
        """What this member's role allows in their own account (not support or emulation)."""
        return self.is_active and self.account_id is not None and perm in self.role_spec.permissions

    @property
    def role_spec(self) -> Any:
        return ROLES[Role(self.role)]

    @property
    def is_invitation_pending(self) -> bool:
        return self.invited_at is not None and not self.has_usable_password()


class ApiToken(models.Model):
    """A personal API token. Only a hash is stored; the token is shown once at creation."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100)
    # The first characters of the token, shown in lists so people can tell tokens apart.
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=clock.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class PsaKind(models.TextChoices):
    CONNECTWISE = "connectwise", "ConnectWise PSA"
    AUTOTASK = "autotask", "Datto Autotask"


class PsaCredential(models.Model):
    """A set of PSA API credentials stored (encrypted) on the account.

    Exactly one may be the primary API account: the identity background sync uses.
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="psa_credentials")
    psa = models.CharField(max_length=20, choices=PsaKind.choices)
    label = models.CharField(max_length=100)
    # Vendor fields (site, company id, public/private keys, integration code, …); never logged.
    secrets = EncryptedJSONField(default=dict)
    is_primary = models.BooleanField(default=False)
    primary_set_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    primary_set_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The last "Test connectivity": when, whether it passed, and what it said (for the
    # go-live checklist and the Account screen).
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True, blank=True)
    last_test_summary = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(is_primary=True),
                name="one_primary_psa_credential_per_account",
            )
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_psa_display()})"


class SupportGrant(models.Model):
    """An account-admin's time-boxed permission for instance staff to enter the account."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="support_grants")
    granted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=clock.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Support access to {self.account} until {self.expires_at}"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > clock.now()


def live_support_grant(account: Account) -> SupportGrant | None:
    return (
        SupportGrant.objects.filter(
            account=account, revoked_at__isnull=True, expires_at__gt=clock.now()
        )
        .order_by("-expires_at")
        .first()
    )
