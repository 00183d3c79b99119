"""Each known Xero validation text gets the hint written for it."""

from typing import Any

import pytest

from ledgerbridge.connectors.xero import hints

from .conftest import fixture

CASES: list[dict[str, Any]] = fixture("validation_texts.json")


@pytest.mark.parametrize("case", CASES, ids=[case["rule"] for case in CASES])
def test_each_known_text_gets_its_hint(case: dict[str, Any]) -> None:
    rule = hints.matching_rule(case["text"])
    assert rule is not None and rule.name == case["rule"]
    assert hints.hint_for([case["text"]]) == rule.hint


def test_the_hints_say_what_to_do() -> None:
    assert "already in Xero" in hints.hint_for(["Invoice # must be unique."])
    assert "mark the invoice posted" in hints.hint_for(["Invoice # must be unique."])
    locked = hints.hint_for(["The document date cannot be before the period lock date of 30 June"])
    assert locked.startswith(
        "The date falls in a locked period; change the lock date or the invoice date."
    )


def test_matching_ignores_case_and_trailing_wording() -> None:
    text = "THE DOCUMENT DATE CANNOT BE BEFORE THE END OF YEAR LOCK DATE (31 March)"
    assert hints.hint_for([text]) == hints.LOCKED_PERIOD.hint


def test_several_texts_give_each_hint_once_and_unknown_texts_a_general_one() -> None:
    both = hints.hint_for(
        [
            "Invoice # must be unique.",
            "Invoice # must be unique.",
            "Account code '9' has been archived, or deleted.",
        ]
    )
    assert both == f"{hints.INVOICE_NUMBER_TAKEN.hint} {hints.ACCOUNT_ARCHIVED.hint}"
    assert hints.hint_for(["Something new went wrong"]) == hints.GENERIC_HINT
    assert hints.hint_for([]) == hints.GENERIC_HINT
