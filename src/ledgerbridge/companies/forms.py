import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms

from ledgerbridge.accounts.models import PsaCredential
from ledgerbridge.companies.models import CompanySettings, Locale
from ledgerbridge.companies.suggestions import TRACKING_DIMENSIONS
from ledgerbridge.connectors.oauth import LedgerOrganisation


class CompanyForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        label="Company name",
        help_text="How your team knows this set of books, e.g. “Northwind Traders (AU)”.",
    )

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the company a name.")
        return name


class ChooseOrganisationForm(forms.Form):
    """Pick one of the Xero organisations a sign-in covered."""

    organisation = forms.ChoiceField(
        widget=forms.RadioSelect,
        label="Organisation",
        error_messages={"required": "Choose the organisation this company syncs into."},
    )

    def __init__(
        self, *args: object, organisations: tuple[LedgerOrganisation, ...], **kwargs: object
    ):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.organisations = {org.id: org for org in organisations}
        self.fields["organisation"].choices = [  # type: ignore[attr-defined]
            (org.id, org.name or org.id) for org in organisations
        ]

    @property
    def chosen(self) -> LedgerOrganisation:
        return self.organisations[self.cleaned_data["organisation"]]


# --- sync settings -----------------------------------------------------------------------------

Options = list[tuple[str, str]]


def _zones() -> Options:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def _pick(label: str, help_text: str, options: Options | None, current: str) -> forms.Field:
    """A choice of the ledger's values when they could be read, else a code to type."""
    if options is None:
        return forms.CharField(
            label=label, help_text=help_text, required=False, max_length=100, strip=True
        )
    choices = [("", "— none —"), *options]
    if current and current not in {value for value, _ in options}:
        # Keep a saved value the ledger no longer lists visible rather than dropping it silently.
        choices.append((current, f"{current} (no longer in the ledger)"))
    return forms.ChoiceField(label=label, help_text=help_text, required=False, choices=choices)


@dataclass(frozen=True)
class LedgerOptions:
    """The ledger's accounts, sales tax rates and items for the settings form (None: unreadable)."""

    accounts: Options | None = None
    tax_rates: Options | None = None
    items: Options | None = None


class CompanySettingsForm(forms.Form):
    """The company's sync settings. The locale is fixed once saved, and the form says so."""

    locale = forms.ChoiceField(
        label="Locale",
        choices=[("", "— choose —"), *Locale.choices],
        help_text="Decides tax handling, rounding and date formats. It cannot be changed later: "
        "a company for another country needs a new company.",
    )
    timezone = forms.ChoiceField(
        label="Time zone",
        help_text="Decides which day an invoice falls on and when scheduled syncs run.",
    )
    currency = forms.CharField(
        label="Currency",
        required=False,
        max_length=3,
        help_text="Three letters, e.g. AUD. Leave empty for the locale's currency.",
    )
    psa_credential = forms.ChoiceField(
        label="PSA credentials",
        required=False,
        help_text="Which PSA API account feeds this company.",
    )
    post_as_draft = forms.BooleanField(
        label="Post invoices as drafts",
        required=False,
        help_text="Drafts wait for someone to approve them in the ledger; otherwise invoices are "
        "posted approved.",
    )
    mark_as_sent = forms.BooleanField(
        label="Mark invoices as sent",
        required=False,
        help_text="Xero only: invoices show as sent to the customer (the PSA already sent them).",
    )
    detail_level = forms.ChoiceField(
        label="Line detail", choices=CompanySettings.DetailLevel.choices
    )
    reference_source = forms.ChoiceField(
        label="Invoice reference", choices=CompanySettings.ReferenceSource.choices
    )
    tax_source = forms.ChoiceField(
        label="Tax codes",
        choices=CompanySettings.TaxSource.choices,
        widget=forms.RadioSelect,
    )
    post_zero_invoices = forms.BooleanField(label="Post zero-value invoices", required=False)
    max_minor_adjustment = forms.DecimalField(
        label="Maximum minor adjustment",
        min_value=Decimal(0),
        max_digits=10,
        decimal_places=2,
        help_text="When the ledger's rounding differs from the PSA total by at most this much, "
        "an adjustment line makes them equal. 0 means no limit.",
    )
    product_id_policy = forms.ChoiceField(
        label="Product ids too long for the ledger",
        choices=CompanySettings.ProductIdPolicy.choices,
        help_text="Xero item codes hold at most 30 characters.",
    )
    name_clash = forms.ChoiceField(
        label="A ledger contact already has the customer's name",
        choices=CompanySettings.NameClash.choices,
    )
    tracking_enabled = forms.BooleanField(
        label="Post tracking categories / classes",
        required=False,
        help_text="Map PSA locations and departments under Mappings → Tracking.",
    )
    missing_tracking = forms.ChoiceField(
        label="A tracking value is not mapped", choices=CompanySettings.MissingTracking.choices
    )
    automated_sales_tax = forms.ChoiceField(
        label="QuickBooks automated sales tax (US)",
        choices=CompanySettings.AutomatedSalesTax.choices,
    )
    onboarding_date = forms.DateField(
        label="Onboarding date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Invoices dated before it are recorded as already in the ledger and never "
        "posted. Use the day after the last invoice you entered by hand.",
    )
    schedule_minutes = forms.IntegerField(
        label="Full sync every (minutes)",
        min_value=0,
        max_value=7 * 24 * 60,
        help_text="0 turns the schedule off.",
    )
    poll_minutes = forms.IntegerField(
        label="Check for newly closed invoices every (minutes)",
        min_value=0,
        max_value=24 * 60,
        help_text="0 turns it off.",
    )

    LEDGER_FIELDS = (
        (
            "default_account_code",
            "Default revenue account",
            "accounts",
            "For PSA lines that carry no GL account.",
        ),
        (
            "taxable_tax_code",
            "Tax code for taxable sales",
            "tax_rates",
            "Used when tax codes are “one for taxable, one for exempt”.",
        ),
        (
            "exempt_tax_code",
            "Tax code for tax-exempt sales",
            "tax_rates",
            "Every tax-exempt line posts with it.",
        ),
        (
            "adjustment_item_code",
            "Adjustment item",
            "items",
            "Optional: the ledger item on rounding adjustment lines.",
        ),
        (
            "adjustment_account_code",
            "Adjustment account",
            "accounts",
            "Where rounding adjustments post; empty uses the default revenue account.",
        ),
        ("adjustment_tax_code", "Adjustment tax code", "tax_rates", "Usually a 0% or exempt code."),
    )

    def __init__(
        self,
        *args: Any,
        settings: CompanySettings,
        credentials: list[PsaCredential],
        ledger: LedgerOptions,
        **kwargs: Any,
    ) -> None:
        self.configured = settings.pk is not None
        initial = {name: getattr(settings, name) for name in SETTINGS_FORM_FIELDS}
        initial["psa_credential"] = str(settings.psa_credential_id or "")
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.credentials = {str(c.pk): c for c in credentials}
        primary = next((c for c in credentials if c.is_primary), None)
        default = (
            f"The primary API account ({primary.label})" if primary else "The primary API account"
        )
        self.fields["psa_credential"].choices = [  # type: ignore[attr-defined]
            ("", default),
            *((str(c.pk), f"{c.label} ({c.get_psa_display()})") for c in credentials),
        ]
        self.fields["timezone"].choices = _zones()  # type: ignore[attr-defined]
        for name, label, source, help_text in self.LEDGER_FIELDS:
            options = getattr(ledger, source)
            self.fields[name] = _pick(label, help_text, options, str(getattr(settings, name)))
        if self.configured:
            locale = self.fields["locale"]
            locale.disabled = True
            locale.help_text = (
                "Fixed when the company was set up. A company for another country needs a new "
                "company."
            )

    def clean_currency(self) -> str:
        currency: str = self.cleaned_data["currency"].strip().upper()
        if currency and (len(currency) != 3 or not currency.isalpha()):
            raise forms.ValidationError("Use the three-letter currency code, e.g. AUD or USD.")
        return currency

    def changes(self) -> dict[str, Any]:
        """What to hand `do_save_settings`: every field, the locale only the first time."""
        data = dict(self.cleaned_data)
        if self.configured:
            data.pop("locale", None)
        data["psa_credential"] = self.credentials.get(data.pop("psa_credential") or "")
        return data


SETTINGS_FORM_FIELDS = (
    "locale",
    "timezone",
    "currency",
    "post_as_draft",
    "mark_as_sent",
    "detail_level",
    "reference_source",
    "tax_source",
    "post_zero_invoices",
    "max_minor_adjustment",
    "product_id_policy",
    "name_clash",
    "tracking_enabled",
    "missing_tracking",
    "automated_sales_tax",
    "onboarding_date",
    "schedule_minutes",
    "poll_minutes",
    "default_account_code",
    "taxable_tax_code",
    "exempt_tax_code",
    "adjustment_item_code",
    "adjustment_account_code",
    "adjustment_tax_code",
)


class TrackingValueForm(forms.Form):
    """A PSA location or department to map (PSAs do not list them for us)."""

    dimension = forms.ChoiceField(label="PSA field", choices=TRACKING_DIMENSIONS)
    value = forms.CharField(
        label="Value in the PSA",
        max_length=200,
        help_text="As the PSA shows it on invoices, e.g. the location id 2.",
    )
