from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.forms import BaseForm
from django.http import HttpRequest

from ledgerbridge.accounts.actions.users import do_create_account
from ledgerbridge.accounts.models import User


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    """Ties allauth's sign-up to LedgerBridge: each sign-up creates a new MSP account."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return bool(settings.SIGNUP_OPEN)

    def save_user(
        self, request: HttpRequest, user: User, form: BaseForm, commit: bool = True
    ) -> User:
        user = super().save_user(request, user, form, commit=False)
        # A user without an account could see nothing and own nothing; create it in the same step.
        do_create_account(user.email.split("@")[-1], user, request=request)
        return user
