"""Forms for the Account page, PSA credentials, support grants and the audit log filter."""

import re
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from ledgerbridge.accounts.models import Account, PsaCredential, PsaKind, TwoFactorPolicy, User
from ledgerbridge.core.models import AuditEvent


class AccountSettingsForm(forms.ModelForm[Account]):
    class Meta:
        model = Account
        fields = ["name", "two_factor_policy"]
        labels = {"name": "Account name", "two_factor_policy": "Two-factor authentication"}
        help_texts = {
            "two_factor_policy": (
                "Required is recommended: every member must set up a second factor before "
                "reaching any page. Optional lets each member decide."
            )
        }
        widgets = {"two_factor_policy": forms.RadioSelect(choices=TwoFactorPolicy.choices)}

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the account a name, usually your MSP's name.")
        return name


class SyncOptionsForm(forms.Form):
    """The account's sync options on the Account screen (saved by the sync area's view)."""

    show_sync_all = forms.BooleanField(
        required=False,
        label="Show the “Sync All” button on the Sync screen",
        help_text="Turn it off if your team should sync one record type at a time.",
    )


# --- PSA credentials -------------------------------------------------------------------------

_HOST = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"
)
KEEP_HELP = "Stored. Leave blank to keep it; type a new value to replace it."


def simulator_address(url: str) -> str | None:
    """`url` as typed, when it is under the simulators' address this instance is configured with
    (LEDGERBRIDGE_SIM_URL: the demo and tests); None otherwise. Only there may an address carry
    plain http, a port or a path, so credentials never travel unencrypted to anywhere else."""
    base = str(getattr(settings, "LEDGER_SIM_URL", "") or "").rstrip("/")
    url = url.strip().rstrip("/")
    if base and (url == base or url.startswith(base + "/")):
        return url
    return None


class PsaCredentialForm(forms.Form):
    """Label plus one PSA's fields; subclasses list which fields are secret.

    Secret fields are never rendered back into the page. When editing, a blank secret field keeps
    the stored value, so an admin can rename a credential without re-typing its keys.
    """

    psa: ClassVar[PsaKind]
    # Fields stored in PsaCredential.secrets, in display order, and which of them are secret.
    stored_fields: ClassVar[tuple[str, ...]]
    secret_fields: ClassVar[frozenset[str]]

    label = forms.CharField(
        max_length=100,
        help_text="A name to tell credential sets apart, e.g. “Sync API member”.",
    )

    def __init__(self, *args: Any, credential: PsaCredential | None = None, **kwargs: Any) -> None:
        self.credential = credential
        if credential is not None:
            stored = credential.secrets or {}
            kwargs["initial"] = {
                "label": credential.label,
                **{
                    name: stored.get(name, "")
                    for name in self.stored_fields
                    if name not in self.secret_fields
                },
            }
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            field = self.fields[name]
            field.widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
            if credential is not None and (credential.secrets or {}).get(name):
                field.required = False
                field.help_text = KEEP_HELP

    def merged_secrets(self) -> tuple[dict[str, str], list[str]]:
        """The values to store, and the names of the fields that changed (never their values)."""
        stored = dict(self.credential.secrets or {}) if self.credential is not None else {}
        merged = dict(stored)
        for name in self.stored_fields:
            value = self.cleaned_data.get(name) or ""
            if name in self.secret_fields and not value:
                continue  # blank secret on edit: keep what is stored
            merged[name] = value
        changed = [name for name in self.stored_fields if merged.get(name) != stored.get(name)]
        return merged, changed


class ConnectWiseCredentialForm(PsaCredentialForm):
    psa = PsaKind.CONNECTWISE
    stored_fields = ("site", "company_id", "public_key", "private_key", "client_id")
    secret_fields = frozenset({"public_key", "private_key"})

    site = forms.CharField(
        max_length=253,
        help_text="Your ConnectWise API host, e.g. api-na.myconnectwise.net or your own server.",
    )
    company_id = forms.CharField(
        max_length=100, label="Company ID", help_text="The company you type when signing in."
    )
    public_key = forms.CharField(max_length=200, label="Public key")
    private_key = forms.CharField(max_length=200, label="Private key")
    client_id = forms.CharField(
        max_length=100,
        label="Client ID",
        help_text="From developer.connectwise.com → Client IDs.",
    )

    def clean_site(self) -> str:
        typed = self.cleaned_data["site"].strip()
        simulated = simulator_address(typed)
        if simulated is not None:
            return simulated
        site = re.sub(r"^https?://", "", typed.lower()).rstrip("/")
        if not _HOST.match(site):
            raise forms.ValidationError(
                "Enter the API host name only, e.g. api-na.myconnectwise.net (no path)."
            )
        return site


class AutotaskCredentialForm(PsaCredentialForm):
    psa = PsaKind.AUTOTASK
    stored_fields = ("username", "secret", "integration_code", "zone_lookup_url")
    secret_fields = frozenset({"secret", "integration_code"})

    username = forms.EmailField(
        label="API user", help_text="The API-only user's email address (Admin → Resources)."
    )
    secret = forms.CharField(max_length=200, label="Secret")
    integration_code = forms.CharField(
        max_length=100,
        label="Tracking identifier",
        help_text="The integration code chosen for the API user's tracking identifier.",
    )
    zone_lookup_url = forms.CharField(
        max_length=300,
        required=False,
        label="Zone lookup address (optional)",
        help_text="Leave empty: LedgerBridge asks Autotask which zone serves your API user. "
        "Only a test or demo system needs its own address here.",
    )

    def clean_username(self) -> str:
        return str(self.cleaned_data["username"]).strip().lower()

    def clean_zone_lookup_url(self) -> str:
        typed = str(self.cleaned_data["zone_lookup_url"]).strip()
        if not typed:
            return ""
        parts = urlsplit(typed)
        host = (parts.hostname or "").lower()
        on_autotask = parts.scheme == "https" and (
            host == "autotask.net" or host.endswith(".autotask.net")
        )
        if on_autotask or simulator_address(typed) is not None:
            return typed
        raise forms.ValidationError(
            "Leave this empty unless you use a test system; Autotask's own address starts "
            "with https://webservices.autotask.net/."
        )


PSA_FORMS: dict[str, type[PsaCredentialForm]] = {
    PsaKind.CONNECTWISE: ConnectWiseCredentialForm,
    PsaKind.AUTOTASK: AutotaskCredentialForm,
}


# --- support access and the beta group --------------------------------------------------------

SUPPORT_DURATIONS: dict[str, tuple[str, timedelta]] = {
    "1h": ("1 hour", timedelta(hours=1)),
    "4h": ("4 hours", timedelta(hours=4)),
    "1d": ("1 day", timedelta(days=1)),
    "3d": ("3 days", timedelta(days=3)),
    "7d": ("7 days", timedelta(days=7)),
}


class SupportGrantForm(forms.Form):
    duration = forms.ChoiceField(
        choices=[(key, label) for key, (label, _) in SUPPORT_DURATIONS.items()],
        initial="4h",
        label="For",
    )
    reason = forms.CharField(
        max_length=300,
        label="What support is helping with",
        help_text="Recorded in the audit log, e.g. “March invoices not reaching Xero”.",
    )

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say what support is helping with.")
        return reason

    @property
    def delta(self) -> timedelta:
        return SUPPORT_DURATIONS[self.cleaned_data["duration"]][1]


class BetaForm(forms.Form):
    enabled = forms.ChoiceField(choices=[("on", "Join"), ("off", "Leave")], label="Beta group")

    @property
    def join(self) -> bool:
        return bool(self.cleaned_data["enabled"] == "on")


class StaffBetaForm(BetaForm):
    account = forms.IntegerField(min_value=1, label="Account number")


# --- the audit log filter --------------------------------------------------------------------

SUPPORT_STAFF = "support"


class AuditLogFilterForm(forms.Form):
    user = forms.ChoiceField(required=False, label="User")
    action = forms.ChoiceField(required=False, label="Action")
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        members = User.objects.filter(account=account).order_by("email")
        user_field = self.fields["user"]
        assert isinstance(user_field, forms.ChoiceField)
        user_field.choices = [
            ("", "Anyone"),
            *((str(user.pk), user.email) for user in members),
            (SUPPORT_STAFF, "Instance staff (support)"),
        ]
        actions = (
            AuditEvent.objects.filter(account=account)
            .order_by("action")
            .values_list("action", flat=True)
            .distinct()
        )
        action_field = self.fields["action"]
        assert isinstance(action_field, forms.ChoiceField)
        action_field.choices = [("", "Any action"), *((name, name) for name in actions)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("The “From” date is after the “To” date.")
        return cleaned

    def events(self) -> QuerySet[AuditEvent]:
        """The account's events matching the filter, newest first; none while it is invalid."""
        events = AuditEvent.objects.filter(account=self.account).select_related(
            "actor", "acting_as"
        )
        if not self.is_bound:
            return events.order_by("-created_at", "-id")
        if not self.is_valid():
            return events.none()
        data = self.cleaned_data
        if data["user"] == SUPPORT_STAFF:
            events = events.filter(details__support=True)
        elif data["user"]:
            user_id = int(data["user"])
            events = events.filter(Q(actor_id=user_id) | Q(acting_as_id=user_id))
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["date_from"]:
            events = events.filter(created_at__gte=_start_of(data["date_from"]))
        if data["date_to"]:
            events = events.filter(created_at__lt=_start_of(data["date_to"] + timedelta(days=1)))
        return events.order_by("-created_at", "-id")


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
