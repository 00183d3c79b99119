"""Forms of the users area: sign-up, inviting and editing members, the own profile."""

from typing import Any

from django import forms

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.accounts.roles import ROLE_CHOICES, ROLES, Role
from ledgerbridge.companies.models import Company


class SignupForm(forms.Form):
    """Sign-up creates an MSP account; its first admin chooses a password from the mailed link."""

    account_name = forms.CharField(
        max_length=200,
        label="Company name (your MSP)",
        required=False,
        help_text="Leave blank to use your email's domain; you can rename it later.",
    )
    first_name = forms.CharField(max_length=150, label="First name")
    last_name = forms.CharField(max_length=150, label="Last name")
    email = forms.EmailField(max_length=254, label="Work email")


class MemberForm(forms.Form):
    """Names, role and companies: the parts of a member an account admin edits."""

    first_name = forms.CharField(max_length=150, label="First name")
    last_name = forms.CharField(max_length=150, label="Last name")
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Role.USER.value)
    companies = forms.ModelMultipleChoiceField(
        queryset=Company.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only for roles other than account admin, who work with every company.",
    )

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        companies = self.fields["companies"]
        assert isinstance(companies, forms.ModelMultipleChoiceField)
        companies.queryset = Company.objects.filter(account=account)

    @property
    def role_descriptions(self) -> list[tuple[str, str]]:
        return [(spec.label, spec.description) for spec in ROLES.values()]


class InviteUserForm(MemberForm):
    email = forms.EmailField(max_length=254, label="Email address")

    field_order = ["email", "first_name", "last_name", "role", "companies"]


class EditUserForm(MemberForm):
    @classmethod
    def for_member(cls, member: User, data: Any = None) -> "EditUserForm":
        assert member.account is not None
        initial = {
            "first_name": member.first_name,
            "last_name": member.last_name,
            "role": member.role,
            "companies": list(member.companies.all()),
        }
        return cls(data, initial=initial, account=member.account)


class ProfileForm(forms.Form):
    first_name = forms.CharField(max_length=150, label="First name")
    last_name = forms.CharField(max_length=150, label="Last name")
