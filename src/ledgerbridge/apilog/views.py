"""The API log screens (account-admins): the call list, one call, the settings, "Clear logs"."""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from ledgerbridge.accounts import access
from ledgerbridge.accounts.access import get_in_account_or_404, requires
from ledgerbridge.accounts.models import Account
from ledgerbridge.accounts.roles import Perm
from ledgerbridge.apilog import actions
from ledgerbridge.apilog.forms import ApiLogSettingsForm, CallFilterForm
from ledgerbridge.apilog.models import ApiCallRecord
from ledgerbridge.apilog.queries import cursor, page_of
from ledgerbridge.core.logs import REDACTED

CALLS_PAGE = "apilog:calls"


def _account(request: HttpRequest) -> Account:
    account = access.membership(request).account
    if account is None:  # @requires(Perm…) already refused anyone without an account
        raise PermissionDenied
    return account


@requires(Perm.MANAGE_API_LOG)
def calls(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    filters = {
        key: value for key, value in request.GET.items() if key in CallFilterForm.base_fields
    }
    form = CallFilterForm(filters or None, account=account)
    page = page_of(
        form.calls(),
        before=cursor(request.GET.get("before")),
        after=cursor(request.GET.get("after")),
    )
    query = request.GET.copy()
    for key in ("before", "after"):
        query.pop(key, None)
    context = {
        "account": account,
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "anything_logged": bool(page.rows)
        or ApiCallRecord.objects.filter(account=account).exists(),
    }
    return render(request, "apilog/calls.html", context)


@requires(Perm.MANAGE_API_LOG)
def call_detail(request: HttpRequest, call_id: int) -> HttpResponse:
    call = get_in_account_or_404(request, ApiCallRecord.objects.all(), pk=call_id)
    context = {
        "call": call,
        "request_body": _readable(call.request_body),
        "response_body": _readable(call.response_body),
        "headers": sorted((call.response_headers or {}).items()),
        "redacted": REDACTED,
        "back": request.GET.get("back", "") if _is_list_query(request.GET.get("back", "")) else "",
    }
    return render(request, "apilog/detail.html", context)


def _readable(body: str) -> str:
    """JSON bodies indented for reading; anything else as it was kept."""
    if not body:
        return body
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def _is_list_query(value: str) -> bool:
    # Only a query string for the list may come back as a link (never another address).
    return not any(char in value for char in ":/\\")


@requires(Perm.MANAGE_API_LOG)
def log_settings(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    if request.method == "POST":
        form = ApiLogSettingsForm(request.POST)
        if form.is_valid():
            detailed = form.cleaned_data["detailed_logging"]
            changed = actions.do_update_api_log_settings(
                request,
                detailed_logging=detailed,
                retention_days=form.cleaned_data["retention_days"],
            )
            if not changed:
                messages.info(request, "Nothing changed.")
            elif detailed:
                messages.success(
                    request,
                    "Settings saved. Request and response bodies are kept from the next sync on.",
                )
            else:
                messages.success(request, "Settings saved. Only each call's summary is kept.")
            return redirect(CALLS_PAGE)
        status = 400
    else:
        form = ApiLogSettingsForm.for_account(account)
        status = 200
    return render(
        request, "apilog/settings.html", {"form": form, "account": account}, status=status
    )


@requires(Perm.MANAGE_API_LOG)
def clear(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    if request.method == "POST":
        deleted = actions.do_clear_api_log(request)
        if deleted:
            messages.success(
                request, f"Cleared {deleted} logged call{'s' if deleted != 1 else ''}."
            )
        else:
            messages.info(request, "The log was already empty.")
        return redirect(CALLS_PAGE)
    logged = ApiCallRecord.objects.filter(account=account).count()
    return render(request, "apilog/clear.html", {"logged": logged})
