"""The Users screen (account admins), set-password links and the own profile."""

from collections.abc import Callable

from allauth.account.internal.flows.password_reset import perform_password_reset_login
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import SetPasswordForm
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.views.decorators.http import require_POST

from ledgerbridge.accounts.access import (
    Access,
    get_in_account_or_404,
    membership,
    requires,
)
from ledgerbridge.accounts.actions.users import (
    UserAdminError,
    do_disable_user,
    do_edit_user,
    do_enable_user,
    do_invite_user,
    do_resend_invitation,
    do_revoke_invitation,
    do_set_password,
    do_sign_up,
    do_update_profile,
    user_status,
)
from ledgerbridge.accounts.forms.users import EditUserForm, InviteUserForm, ProfileForm, SignupForm
from ledgerbridge.accounts.models import User
from ledgerbridge.accounts.roles import Perm, Role
from ledgerbridge.accounts.tokens import user_for_set_password_link

# Replaces the token in the address bar once it is in the session, so the secret part of the
# link is not left in browser history or sent on in a Referer header (as Django's own view does).
SET_PASSWORD_URL_TOKEN = "set"  # noqa: S105 - a placeholder, not a secret
SESSION_SET_PASSWORD_TOKEN = "lb_set_password_token"  # noqa: S105 - a session key name


def _members() -> QuerySet[User]:
    return User.objects.prefetch_related("companies")


def _member(request: HttpRequest, user_id: int) -> User:
    return get_in_account_or_404(request, _members(), pk=user_id)


def _acting_user(request: HttpRequest) -> User | None:
    return membership(request).real_user


def _optional_url(name: str, *args: object) -> str | None:
    # Buttons whose pages belong to other areas; a build without them still renders this page.
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


# --- the Users screen ------------------------------------------------------------------------


@requires(Perm.MANAGE_USERS, refuse_while_emulating=True)
def users(request: HttpRequest) -> HttpResponse:
    account = membership(request).account
    members = _members().filter(account=account).order_by("-is_active", "email")
    rows = [{"member": member, "status": user_status(member)} for member in members]
    return render(request, "accounts/users/list.html", {"rows": rows, "account": account})


@requires(Perm.MANAGE_USERS, refuse_while_emulating=True)
def user_create(request: HttpRequest) -> HttpResponse:
    account = membership(request).account
    assert account is not None
    form = InviteUserForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            member = do_invite_user(
                account,
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                role=data["role"],
                companies=data["companies"],
                acting_user=_acting_user(request),
                request=request,
            )
        except UserAdminError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                f"Invitation sent to {member.email}. The link works once, for 48 hours.",
            )
            return redirect("accounts:user-detail", member.pk)
    return render(request, "accounts/users/invite.html", {"form": form})


@requires(Perm.MANAGE_USERS, refuse_while_emulating=True)
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    member = _member(request, user_id)
    status = user_status(member)
    is_self = member.pk == getattr(_acting_user(request), "pk", None)
    has_second_factor = Authenticator.objects.filter(user=member).exists()
    reset_2fa_url = (
        _optional_url("accounts:user-reset-2fa", member.pk) if has_second_factor else None
    )
    emulate_url = (
        _optional_url("accounts:emulation-start", member.pk)
        if status == "active" and member.role == Role.USER and not is_self
        else None
    )
    return render(
        request,
        "accounts/users/detail.html",
        {
            "member": member,
            "status": status,
            "is_self": is_self,
            "has_second_factor": has_second_factor,
            "reset_2fa_url": reset_2fa_url,
            "emulate_url": emulate_url,
        },
    )


@requires(Perm.MANAGE_USERS, refuse_while_emulating=True)
def user_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    member = _member(request, user_id)
    form = EditUserForm.for_member(member, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            do_edit_user(
                member,
                first_name=data["first_name"],
                last_name=data["last_name"],
                role=data["role"],
                companies=data["companies"],
                acting_user=_acting_user(request),
                request=request,
            )
        except UserAdminError as error:
            # do_edit_user saved nothing; the form keeps what was typed.
            member.refresh_from_db()
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Saved the changes to {member.get_full_name()}.")
            return redirect("accounts:user-detail", member.pk)
    return render(request, "accounts/users/edit.html", {"member": member, "form": form})


def _member_action(
    act: Callable[..., None], done: str
) -> Callable[[HttpRequest, int], HttpResponse]:
    """A POST button on the user page: run one action, say what happened, go back."""

    def view(request: HttpRequest, user_id: int) -> HttpResponse:
        member = _member(request, user_id)
        try:
            act(member, acting_user=_acting_user(request), request=request)
        except UserAdminError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, done.format(email=member.email))
        return redirect("accounts:user-detail", member.pk)

    view.__name__ = act.__name__.removeprefix("do_")
    return view


def _users_button(act: Callable[..., None], done: str) -> Callable[..., HttpResponse]:
    view = require_POST(_member_action(act, done))
    return requires(Perm.MANAGE_USERS, refuse_while_emulating=True)(view)


user_resend = _users_button(
    do_resend_invitation,
    "A new invitation is on its way to {email}; the earlier link no longer works.",
)
user_revoke = _users_button(
    do_revoke_invitation, "The invitation to {email} is revoked and the user is disabled."
)
user_disable = _users_button(
    do_disable_user, "{email} is disabled: their sessions have ended and API tokens are revoked."
)
user_enable = _users_button(do_enable_user, "{email} is enabled again.")


# --- set-password links ----------------------------------------------------------------------


@requires(Access.PUBLIC)
def set_password(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    if token != SET_PASSWORD_URL_TOKEN:
        user = user_for_set_password_link(uidb64, token)
        if user is None:
            return render(request, "accounts/profile/set_password_invalid.html")
        request.session[SESSION_SET_PASSWORD_TOKEN] = token
        return redirect("accounts:set-password", uidb64, SET_PASSWORD_URL_TOKEN)

    user = user_for_set_password_link(uidb64, request.session.get(SESSION_SET_PASSWORD_TOKEN, ""))
    if user is None:
        return render(request, "accounts/profile/set_password_invalid.html")
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        do_set_password(user, form.cleaned_data["new_password1"], request=request)
        request.session.pop(SESSION_SET_PASSWORD_TOKEN, None)
        if Authenticator.objects.filter(user=user).exists():
            # A new password never skips the second factor: sign in with both.
            messages.success(
                request, "Your password is set. Sign in with it and your second factor."
            )
            return redirect("account_login")
        # No second factor yet: sign in now, through allauth so the session records how (the
        # emailed link counts as a recent sign-in); enrolment takes over where it is required.
        response: HttpResponse = perform_password_reset_login(request, user, email=user.email)
        return response
    return render(request, "accounts/profile/set_password.html", {"form": form, "person": user})


# --- own profile -----------------------------------------------------------------------------


# An identity page like password and second factor: refused while emulating a member.
@requires(Perm.MANAGE_OWN_PROFILE, refuse_while_emulating=True)
def profile(request: HttpRequest) -> HttpResponse:
    person = membership(request).user
    assert person is not None
    form = ProfileForm(
        request.POST or None,
        initial={"first_name": person.first_name, "last_name": person.last_name},
    )
    if request.method == "POST" and form.is_valid():
        try:
            do_update_profile(
                person,
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                request=request,
            )
        except UserAdminError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Your profile is saved.")
            return redirect("accounts:profile")
    security_links = [
        (label, url, description)
        for label, url, description in (
            (
                "Password",
                _optional_url("account_change_password"),
                "Change your password; you can end your other sessions at the same time.",
            ),
            (
                "Two-factor authentication",
                _optional_url("mfa_index"),
                "Authenticator app, recovery codes and security keys.",
            ),
            (
                "Sessions",
                _optional_url("usersessions_list"),
                "Where you are signed in; sign out of the ones you do not recognise.",
            ),
            (
                "API tokens",
                _optional_url("accounts:tokens"),
                "Personal tokens for scripts; each carries your own permissions.",
            ),
        )
        if url is not None
    ]
    return render(
        request,
        "accounts/profile/profile.html",
        {"form": form, "person": person, "security_links": security_links},
    )


@requires(Access.PUBLIC)
def signup(request: HttpRequest) -> HttpResponse:
    if not settings.SIGNUP_OPEN:
        return render(request, "accounts/users/signup_closed.html", status=404)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        do_sign_up(
            account_name=form.cleaned_data["account_name"],
            email=form.cleaned_data["email"],
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
            request=request,
        )
        # The same answer whether or not the address already had a login.
        return render(
            request, "accounts/users/signup_sent.html", {"email": form.cleaned_data["email"]}
        )
    return render(request, "accounts/users/signup.html", {"form": form})


urlpatterns: list[URLPattern] = [
    path("users/", users, name="users"),
    path("users/invite/", user_create, name="user-create"),
    path("users/<int:user_id>/", user_detail, name="user-detail"),
    path("users/<int:user_id>/edit/", user_edit, name="user-edit"),
    path("users/<int:user_id>/resend-invitation/", user_resend, name="user-resend"),
    path("users/<int:user_id>/revoke-invitation/", user_revoke, name="user-revoke"),
    path("users/<int:user_id>/disable/", user_disable, name="user-disable"),
    path("users/<int:user_id>/enable/", user_enable, name="user-enable"),
    path("set-password/<str:uidb64>/<str:token>/", set_password, name="set-password"),
    path("profile/", profile, name="profile"),
]
