"""The vendor's error body, `{"code", "message", "errors": [...]}`, raised as an exception."""

from typing import Any


class CwError(Exception):
    """An HTTP error answered in ConnectWise's shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            payload["errors"] = self.errors
        return payload


def invalid_object(
    resource: str, problems: list[tuple[str, str, str]], status: int = 400
) -> CwError:
    """400 InvalidObject with one `errors[]` item per (code, field, message)."""
    return CwError(
        status,
        "InvalidObject",
        f"{resource} object is invalid",
        [
            {"code": code, "message": message, "resource": resource, "field": field}
            for code, field, message in problems
        ],
    )


def not_found(label: str, record_id: object) -> CwError:
    # [U] the real text for a missing record is not documented; CW-style "recId" wording.
    return CwError(404, "NotFound", f"{label} recId {record_id} not found")


def bad_request(message: str, field: str = "", resource: str = "") -> CwError:
    errors = [{"code": "InvalidField", "message": message, "resource": resource, "field": field}]
    return CwError(400, "InvalidObject", message, errors if field else None)
