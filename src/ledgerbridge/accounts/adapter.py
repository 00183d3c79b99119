from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from django import forms
from django.http import HttpRequest

from ledgerbridge.accounts.middleware import may_add_first_factor_without_reauthentication


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    """Fits allauth to LedgerBridge."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Sign-up is LedgerBridge's own page (accounts.views.users.signup): it creates an MSP
        # account and proves the address by mail before any password exists.
        return False

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        # Asking for the password again seconds after sign-in, on the way to the first second
        # factor, only adds friction: it is skipped then and nowhere else.
        request = context.request
        if (
            app == "allauth.mfa"
            and request is not None
            and may_add_first_factor_without_reauthentication(request)
        ):
            return False
        return bool(super().is_reauthentication_required(app=app, **kwargs))

    # LedgerBridge keeps no phone numbers, but allauth.headless mounts its phone endpoints anyway.
    def get_phone(self, user: Any) -> tuple[str, bool] | None:
        return None

    def clean_phone(self, phone: str) -> str:
        raise forms.ValidationError("LedgerBridge does not use phone numbers.")
