from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "web/dashboard.html")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # The exception text can name internals (URL patterns, object ids): never show it.
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without a request context: the failure may be in a context processor.
    return HttpResponseServerError(loader.get_template("500.html").render())
