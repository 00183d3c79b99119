"""Structured logging: every line carries the request id; JSON when DEBUG is off; no secrets."""

import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

request_logger = logging.getLogger("ledgerbridge.request")

# Attributes every LogRecord has; anything else was passed in `extra=` and is worth keeping.
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}

REDACTED = "[redacted]"

# A client-supplied request id ends up in logs: short, ASCII, no spaces or control characters.
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# A key is secret-ish when its normalised name contains one of these (so `xero_client_secret`,
# `X-Api-Key` and `db_password` all count). Over-masking a harmless value is the cheap mistake.
SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "token",
    "secret",
    "authorization",
    "api_key",
    "apikey",
    "client_secret",
    "refresh_token",
    "access_token",
    "cookie",
)

# In text, `api_key`, `api-key` and `API_KEY` are the same key.
_SECRET_PARTS_RE = "|".join(re.escape(part).replace("_", "[-_]") for part in SECRET_KEY_PARTS)
# Bounded and anchored at a word start, so a megabyte of base64 costs linear time, not quadratic.
_SECRET_NAME = r"(?<![\w-])[\w-]{0,40}?(?:" + _SECRET_PARTS_RE + r")[\w-]{0,40}"
# `key=value`, `key: value`, `"key": "value"`, `'key': 'value'`; an auth scheme word
# ("Bearer abc") is swallowed with its credential.
_SECRET_PAIR = re.compile(
    r"""(?P<key>(?P<q>["']?)""" + _SECRET_NAME + r"""(?P=q))"""
    r"""(?P<sep>\s*[=:]\s*)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|(?:(?:Bearer|Basic|Token)\s+)?[^\s&,;'"}\]]+)""",
    re.IGNORECASE,
)


def is_secret_key(name: str) -> bool:
    normalised = name.lower().replace("-", "_")
    return any(part in normalised for part in SECRET_KEY_PARTS)


def redact_text(text: str) -> str:
    """Mask the values in `key=value`-like pairs whose key looks like a secret."""

    def mask(match: re.Match[str]) -> str:
        value = match["value"]
        quote = value[0] if value[:1] in {'"', "'"} else ""
        return f"{match['key']}{match['sep']}{quote}{REDACTED}{quote}"

    return _SECRET_PAIR.sub(mask, text)


def redact(value: object) -> object:
    """A copy of `value` with secret-ish dict entries masked and strings scrubbed."""
    if isinstance(value, dict):
        return {
            key: REDACTED if isinstance(key, str) and is_secret_key(key) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact(item) for item in value)
    if isinstance(value, str):
        return redact_text(value)
    return value


_plain_formatter = logging.Formatter()


class RedactSecretsFilter(logging.Filter):
    """Last line of defence: a token passed to a log call by mistake never reaches the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in list(vars(record).items()):
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            setattr(record, key, REDACTED if is_secret_key(key) else redact(value))
        if record.exc_info and not record.exc_text:
            # Exception messages quote URLs and payloads too; formatters reuse this cached text.
            record.exc_text = redact_text(_plain_formatter.formatException(record.exc_info))
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A malformed call; leave it for the handler to report as usual.
            return True
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                # django.request passes the request itself; its repr would include the query.
                entry[key] = _describe(value) if isinstance(value, HttpRequest) else value
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RequestIdMiddleware:
    """Takes a sane X-Request-ID from the proxy or makes one, echoes it, logs the request."""

    header = "HTTP_X_REQUEST_ID"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get(self.header, "")
        request_id = incoming if _is_safe_id(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        try:
            # A duration, not a moment: the monotonic counter, not core.clock.
            started = time.perf_counter()
            response = self.get_response(request)
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            response["X-Request-ID"] = request_id
            path = loggable_path(request)
            request_logger.info(
                "%s %s %s %.1fms",
                request.method,
                path,
                response.status_code,
                duration_ms,
                extra={
                    "method": request.method,
                    "path": path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                },
            )
        finally:
            request_id_var.reset(token)
        return response


def loggable_path(request: HttpRequest) -> str:
    """The path without its query string and with key-like URL parts (password reset) masked."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return request.path
    secrets = {
        str(value)
        for name, value in match.kwargs.items()
        if (name in {"key", "token"} or is_secret_key(name)) and str(value)
    }
    # Whole segments only: a token that happens to spell "set" must not mangle "set-password".
    return "/".join(REDACTED if part in secrets else part for part in request.path.split("/"))


def _describe(request: HttpRequest) -> str:
    return f"{request.method} {loggable_path(request)}"


def _is_safe_id(value: str) -> bool:
    return _SAFE_ID.fullmatch(value) is not None
