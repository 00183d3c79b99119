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
        # A user without an account could see nothing and own nothing: create the account, named
        # as the form says (the email's domain when left blank), with them as its first admin.
        account_name = (form.cleaned_data.get("account_name") or "").strip()
        do_create_account(account_name, user, request=request)
        return user
