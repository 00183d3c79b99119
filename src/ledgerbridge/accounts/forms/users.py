from typing import Any

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms


class SignupForm(AllauthSignupForm):  # type: ignore[misc]
    """Sign-up creates an MSP account: ask for its name alongside the first admin's details."""

    account_name = forms.CharField(max_length=200, label="Company name (your MSP)", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
