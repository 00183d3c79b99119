"""Security pages of our own; allauth serves sign-in, password, two-factor and session pages."""

from allauth.usersessions.models import UserSession
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_POST

from ledgerbridge.accounts.access import Access, get_in_account_or_404, membership, requires
from ledgerbridge.accounts.actions.security import (
    SecurityActionError,
    do_end_session,
    do_reset_second_factor,
)
from ledgerbridge.accounts.models import User
from ledgerbridge.accounts.roles import Perm


@requires(Access.PUBLIC)
def codes_help(request: HttpRequest) -> HttpResponse:
    """ "Codes not working?": reached from the code prompt, so it must work before sign-in."""
    return render(request, "accounts/security/codes_help.html")


@requires(Perm.MANAGE_USERS, refuse_while_emulating=True)
@require_POST
def user_reset_2fa(request: HttpRequest, user_id: int) -> HttpResponse:
    member = get_in_account_or_404(request, User.objects.all(), pk=user_id)
    try:
        do_reset_second_factor(member, request=request)
    except SecurityActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"The second factor of {member.email} is reset and they are signed out everywhere. "
            "We emailed them to say so.",
        )
    return redirect("accounts:user-detail", member.pk)


@requires(Access.SIGNED_IN, refuse_while_emulating=True)
@require_POST
def session_end(request: HttpRequest, session_id: int) -> HttpResponse:
    """One "Sign out" button on the "Your sessions" page (allauth's page ends all at once)."""
    person = membership(request).real_user
    session = UserSession.objects.filter(user=person, pk=session_id).first()
    if session is None or person is None:
        raise Http404
    if do_end_session(request, person, session):
        return redirect("account_login")
    messages.success(request, f"Signed out the session from {session.ip}.")
    return redirect("usersessions_list")


urlpatterns: list[URLPattern] = [
    path("codes-not-working/", codes_help, name="codes-help"),
    path("users/<int:user_id>/reset-2fa/", user_reset_2fa, name="user-reset-2fa"),
    path("sessions/<int:session_id>/end/", session_end, name="session-end"),
]
