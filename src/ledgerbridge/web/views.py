import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader

from ledgerbridge.accounts.access import Access, membership, requires
from ledgerbridge.core.logs import request_id_var

logger = logging.getLogger(__name__)

# Last resort when even the 500 template cannot render (a missing static manifest, say).
_BARE_500 = (
    "<!doctype html><title>Something went wrong</title>"
    "<h1>Something went wrong</h1><p>The error has been logged. Please try again in a minute.</p>"
)


@requires(Access.SIGNED_IN)
def dashboard(request: HttpRequest) -> HttpResponse:
    companies = [
        {
            "company": company,
            "connection": company.ledger_connection(),
            "last_run": company.sync_runs.order_by("-created_at").first(),
        }
        for company in membership(request).companies().order_by("name")[:50]
    ]
    return render(request, "web/dashboard.html", {"companies": companies})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # The exception text can name internals (URL patterns, object ids): never show it.
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No request context: the failure may be in a context processor, the session or the database.
    context = {"site_name": settings.SITE_NAME, "request_id": request_id_var.get()}
    try:
        body = loader.get_template("500.html").render(context)
    except Exception:
        logger.exception("The 500 page itself failed to render")
        body = _BARE_500
    return HttpResponseServerError(body)
