"""Personal API tokens: list, create (the value is shown once), revoke."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ledgerbridge.accounts.access import Membership, membership, requires
from ledgerbridge.accounts.actions.tokens import do_create_api_token, do_revoke_api_token
from ledgerbridge.accounts.forms.tokens import ApiTokenForm
from ledgerbridge.accounts.models import ApiToken, User
from ledgerbridge.accounts.roles import Perm

SUPPORT_REFUSED = (
    "Personal API tokens belong to the account's own members; support access cannot create or "
    "revoke them."
)


def token_owner(member: Membership) -> User:
    """The person whose tokens these are: always the signed-in member themself."""
    if member.is_support or member.real_user is None:
        raise PermissionDenied(SUPPORT_REFUSED)
    return member.real_user


@requires(Perm.MANAGE_OWN_PROFILE, refuse_while_emulating=True)
@require_http_methods(["GET", "POST"])
@never_cache
def tokens(request: HttpRequest) -> HttpResponse:
    owner = token_owner(membership(request))
    issued = None
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Rendered straight into this response (never redirected through the session, which is
        # stored in the database) and never_cache keeps it out of the browser's cache.
        issued = do_create_api_token(owner, form.cleaned_data["name"], request=request)
        form = ApiTokenForm()
    context = {
        "form": form,
        "issued": issued,
        "tokens": ApiToken.objects.filter(user=owner),
    }
    return render(request, "accounts/tokens/tokens.html", context)


@requires(Perm.MANAGE_OWN_PROFILE, refuse_while_emulating=True)
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    owner = token_owner(membership(request))
    # Only the owner's own tokens exist here: anyone else's id is a 404, never a 403.
    token = ApiToken.objects.filter(pk=token_id, user=owner).first()
    if token is None:
        raise Http404
    if do_revoke_api_token(token, request=request):
        messages.success(request, f"Token “{token.name}” is revoked; it stops working at once.")
    else:
        messages.info(request, f"Token “{token.name}” was already revoked.")
    return redirect("accounts:tokens")


urlpatterns: list[URLPattern] = [
    path("tokens/", tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", token_revoke, name="token-revoke"),
]
