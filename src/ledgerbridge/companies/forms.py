from django import forms

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
