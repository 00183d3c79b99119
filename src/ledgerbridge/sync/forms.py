"""Forms of the Sync, Results and record screens: what the admin may send, checked once."""

from typing import Any

from django import forms

from ledgerbridge.sync.models import RecordType, SyncRecord
from ledgerbridge.sync.policy import ErrorClass
from ledgerbridge.sync.queries import RecordFilter

# How each state and error class reads to a finance admin (the models' values are for code).
STATE_WORDS: dict[str, tuple[str, str]] = {
    "pending": ("Waiting", "The next sync posts it."),
    "posting": ("Posting", "Being posted now."),
    "posted": ("In the ledger", "In the ledger; not yet marked as posted in the PSA."),
    "acknowledged": ("Done", "In the ledger and marked as posted in the PSA."),
    "changed": (
        "Changed in the PSA",
        "Changed in the PSA after it was posted: re-post it to update the ledger's copy.",
    ),
    "failed": ("Needs attention", "Not posted: see the problem and how to fix it."),
    "excluded": ("Excluded", "Kept out of the ledger."),
    "skipped_onboarding": ("Before go-live", "Older than the onboarding date, so not posted."),
}
ERROR_CLASS_WORDS: dict[str, str] = {
    ErrorClass.MAPPING: "Missing mapping",
    ErrorClass.VALIDATION: "Cannot be posted as it is",
    ErrorClass.LEDGER_REJECTED: "Refused by the ledger",
    ErrorClass.TRANSIENT: "Passing fault (tried again automatically)",
    ErrorClass.UNCERTAIN: "Being checked in the ledger",
}


def state_words(state: str) -> tuple[str, str]:
    return STATE_WORDS.get(state, (state.replace("_", " ").capitalize(), ""))


class DateInput(forms.DateInput):
    input_type = "date"


class RecordFilterForm(forms.Form):
    """The Results screen's filters, read from the query string."""

    search = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        help_text="Invoice number, customer name or PSA id.",
    )
    state = forms.ChoiceField(required=False, label="State")
    # Not `error_class`: forms already use that name for their error list.
    problem = forms.ChoiceField(required=False, label="Problem")
    record_type = forms.ChoiceField(required=False, label="Type")
    issued_from = forms.DateField(required=False, label="Issued from", widget=DateInput)
    issued_to = forms.DateField(required=False, label="Issued to", widget=DateInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = {
            "state": [
                ("", "Any state"),
                *((value, state_words(value)[0]) for value in SyncRecord.State.values),
            ],
            "problem": [("", "Any problem"), *ERROR_CLASS_WORDS.items()],
            "record_type": [("", "Invoices and payments"), *RecordType.choices],
        }
        for name, options in choices.items():
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = options

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("issued_from"), cleaned.get("issued_to")
        if start and end and start > end:
            raise forms.ValidationError("The “Issued from” date is after the “Issued to” date.")
        return cleaned

    def record_filter(self) -> RecordFilter:
        """The filter to apply (only the fields that passed validation)."""
        data = self.cleaned_data if self.is_valid() else {}
        return RecordFilter(
            state=data.get("state") or None,
            error_class=data.get("problem") or None,
            record_type=data.get("record_type") or None,
            issued_from=data.get("issued_from"),
            issued_to=data.get("issued_to"),
            search=data.get("search") or None,
        )

    def is_filtering(self) -> bool:
        record_filter = self.record_filter()
        return any(getattr(record_filter, name) for name in record_filter.__dataclass_fields__)


class StartSyncForm(forms.Form):
    """ "Sync selected" (a record type and the ticked PSA ids) or "Sync All" (`everything`).

    The ids are the ones the admin ticked in the PSA's list; the engine skips any id the PSA no
    longer lists as postable, so they need no further checking here.
    """

    MAX_SELECTED = 500

    record_type = forms.ChoiceField(choices=RecordType.choices, required=False)
    everything = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        ticked = self.data.getlist("psa_id") if hasattr(self.data, "getlist") else []
        cleaned["psa_ids"] = list(dict.fromkeys(v for v in ticked if v and len(v) <= 100))
        if cleaned.get("everything"):
            return cleaned
        if not cleaned.get("record_type"):
            raise forms.ValidationError("Choose what to sync.")
        if cleaned["record_type"] == RecordType.INVOICE and not cleaned["psa_ids"]:
            raise forms.ValidationError("Tick the invoices to sync first.")
        if len(cleaned["psa_ids"]) > self.MAX_SELECTED:
            raise forms.ValidationError(
                f"Tick at most {self.MAX_SELECTED} invoices at a time, or use Sync All."
            )
        return cleaned


class ExcludeForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=300,
        label="Why (optional)",
        help_text="Shown on the record, e.g. “Billed through the old system”.",
    )


class MarkPostedForm(forms.Form):
    ledger_number = forms.CharField(
        max_length=100,
        label="Number in the ledger",
        help_text="The number of the document you keyed into the ledger by hand.",
        error_messages={"required": "Give the ledger's number for the document keyed by hand."},
    )
    note = forms.CharField(required=False, max_length=300, label="Note (optional)")

    def clean_ledger_number(self) -> str:
        number: str = self.cleaned_data["ledger_number"].strip()
        if not number:
            raise forms.ValidationError("Give the ledger's number for the document keyed by hand.")
        return number
