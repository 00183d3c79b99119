"""Each documented QuickBooks fault becomes the right kind of error, with a hint to act on."""

import pytest

from ledgerbridge.connectors.base import ErrorKind
from ledgerbridge.connectors.qbo.faults import fault_to_error, has_code, parse_fault
from tests.connectors.qbo.conftest import fixture


def error_for(key: str):  # type: ignore[no-untyped-def]
    fault = parse_fault(fixture("faults.json", key))
    assert fault is not None
    return fault_to_error(fault, what="invoice INV-7")


@pytest.mark.parametrize(
    ("key", "kind", "in_message", "in_hint"),
    [
        ("duplicate_name", ErrorKind.VALIDATION, "already used", "unique across customers"),
        ("object_not_found", ErrorKind.VALIDATION, "no longer exists", "made inactive"),
        ("duplicate_doc_number", ErrorKind.VALIDATION, "already in QuickBooks", "mark it"),
        ("string_too_long", ErrorKind.VALIDATION, "DocNumber is too long", "Shorten"),
        ("stale_object", ErrorKind.VALIDATION, "changed in QuickBooks", "reads the record"),
        ("period_closed", ErrorKind.VALIDATION, "on or before the closing date", "Close the"),
        ("closing_date", ErrorKind.VALIDATION, "on or before the closing date", "Close the"),
        ("invalid_reference", ErrorKind.VALIDATION, "does not have", "Reload the QuickBooks"),
        ("throttled", ErrorKind.RATE_LIMITED, "request limit", "tries again"),
        ("system_fault", ErrorKind.TRANSIENT, "failed while handling", "tries again"),
        ("query_parse", ErrorKind.VALIDATION, "could not read", "report it to support"),
        ("authorization", ErrorKind.PERMISSION, "may not do this", "Reconnect"),
        ("token_expired", ErrorKind.AUTH, "did not accept", "Reconnect"),
    ],
)
def test_fault_kind_message_and_hint(
    key: str, kind: ErrorKind, in_message: str, in_hint: str
) -> None:
    error = error_for(key)
    assert error.kind == kind
    if kind != ErrorKind.AUTH:  # a refused sign-in is about the connection, not the record
        assert "invoice INV-7" in error.message
    assert in_message in error.message
    assert in_hint in error.hint


def test_length_fault_names_the_limit_and_what_was_sent() -> None:
    assert "(at most 21 characters, 24 given)" in error_for("string_too_long").message


def test_both_casings_are_read() -> None:
    upper = parse_fault(fixture("faults.json", "duplicate_name"))
    lower = parse_fault(fixture("faults.json", "token_expired"))
    assert upper is not None and lower is not None
    assert (upper.type, upper.first.code) == ("ValidationFault", "6240")
    assert (lower.type, lower.first.code) == ("AUTHENTICATION", "3200")
    assert lower.first.detail.startswith("Token expired")


def test_the_vendor_words_travel_with_the_error_and_its_code_can_be_checked() -> None:
    error = error_for("duplicate_doc_number")
    assert "This number has already been used" in error.vendor_detail
    assert has_code(error, "6140") and not has_code(error, "614")


def test_a_body_without_a_fault_is_not_one() -> None:
    assert parse_fault({"Invoice": {"Id": "1"}}) is None
    assert parse_fault(None) is None
