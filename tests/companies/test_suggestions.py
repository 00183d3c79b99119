"""The mapping suggestions: exact code, then the same name, tax codes by rate, terms by days."""

from decimal import Decimal

from ledgerbridge.companies.models import MappingKind
from ledgerbridge.companies.suggestions import LedgerChoice, PsaValue, suggest

ACCOUNTS = [
    LedgerChoice(value="200", label="200 · Sales", code="200", name="Sales"),
    LedgerChoice(value="4000", label="4000 · Services", code="4000", name="Services"),
    LedgerChoice(value="260", label="260 · Other Revenue", code="260", name="Other Revenue"),
]
RATES = [
    LedgerChoice(
        value="TAX001",
        label="Sales Tax (NY)",
        code="TAX001",
        name="Sales Tax (NY)",
        rate=Decimal("8.875"),
    ),
    LedgerChoice(
        value="OUTPUT", label="Tax on Sales", code="OUTPUT", name="Tax on Sales", rate=Decimal("0")
    ),
    LedgerChoice(
        value="NONE", label="Tax Exempt", code="NONE", name="Tax Exempt", rate=Decimal("0")
    ),
    LedgerChoice(
        value="5", label="GST on Income", code="5", name="GST on Income", rate=Decimal("10")
    ),
]


def test_an_account_with_the_same_code_is_suggested_before_one_with_the_same_name() -> None:
    # PSA account 4000 is called "Sales"; the ledger has both a 4000 and an account named Sales.
    found = suggest(
        MappingKind.ACCOUNT, PsaValue(value="4000", label="Sales", code="4000"), ACCOUNTS
    )
    assert found is not None
    assert (found.ledger_value, found.reason) == ("4000", "same code")


def test_an_account_name_matches_whatever_its_case_and_spacing() -> None:
    psa = PsaValue(value="4400", label="other  REVENUE", code="4400")
    found = suggest(MappingKind.ACCOUNT, psa, ACCOUNTS)
    assert found is not None
    assert (found.ledger_value, found.ledger_label, found.reason) == (
        "260",
        "260 · Other Revenue",
        "same name",
    )


def test_an_account_without_a_clear_match_gets_no_suggestion() -> None:
    psa = PsaValue(value="4100", label="Managed Services Revenue", code="4100")
    assert suggest(MappingKind.ACCOUNT, psa, ACCOUNTS) is None


def test_a_tax_code_matches_a_ledger_rate_by_name_before_rate() -> None:
    psa = PsaValue(value="7", label="tax exempt", code="tax exempt", rate=Decimal("0"))
    found = suggest(MappingKind.TAX_CODE, psa, RATES)
    assert found is not None and (found.ledger_value, found.reason) == ("NONE", "same name")


def test_a_tax_code_falls_back_to_the_one_ledger_rate_with_its_percentage() -> None:
    psa = PsaValue(value="3", label="NY-NYC", code="NY-NYC", rate=Decimal("8.8750"))
    found = suggest(MappingKind.TAX_CODE, psa, RATES)
    assert found is not None and (found.ledger_value, found.reason) == ("TAX001", "same rate")


def test_two_ledger_rates_with_the_same_percentage_are_left_to_the_admin() -> None:
    psa = PsaValue(value="1", label="Zero", code="Zero", rate=Decimal("0"))
    assert suggest(MappingKind.TAX_CODE, psa, RATES) is None


def test_a_tax_code_without_a_known_rate_is_never_matched_by_rate() -> None:
    psa = PsaValue(value="9", label="County", code="County", rate=None)
    assert suggest(MappingKind.TAX_CODE, psa, RATES) is None


def test_a_product_matches_an_item_code_exactly_then_ignoring_case() -> None:
    items = [
        LedgerChoice(value="LABOUR-HR", label="LABOUR-HR", code="LABOUR-HR", name="Labour"),
        LedgerChoice(value="MS-SEAT", label="MS-SEAT", code="MS-SEAT", name="Managed seat"),
    ]
    exact = suggest(MappingKind.ITEM, PsaValue(value="MS-SEAT", code="MS-SEAT"), items)
    folded = suggest(MappingKind.ITEM, PsaValue(value="labour-hr", code="labour-hr"), items)
    assert exact is not None and (exact.ledger_value, exact.reason) == ("MS-SEAT", "same code")
    assert folded is not None and (folded.ledger_value, folded.reason) == ("LABOUR-HR", "same name")


def test_a_billing_term_becomes_an_xref_of_its_days_and_the_quickbooks_term_of_equal_days() -> None:
    terms = [
        LedgerChoice(value="2", label="Net 15", name="Net 15", days=15),
        LedgerChoice(value="3", label="Net 30", name="Net 30", days=30),
    ]
    net30 = suggest(MappingKind.TERM, PsaValue(value="1", label="Net 30 days", days=30), terms)
    assert net30 is not None
    assert (net30.ledger_value, net30.ledger_extra) == ("3", "30")


def test_a_billing_term_keeps_the_xref_set_in_the_psa_and_needs_no_ledger_term() -> None:
    psa = PsaValue(value="8", label="20th of next month", days=None, xref="M+1:D20")
    found = suggest(MappingKind.TERM, psa, [])
    assert found is not None and (found.ledger_value, found.ledger_extra) == ("", "M+1:D20")
    assert suggest(MappingKind.TERM, PsaValue(value="9", label="Ask accounts"), []) is None


def test_a_tracking_value_matches_an_option_by_name_and_carries_its_category() -> None:
    options = [
        LedgerChoice(value="North", label="Region: North", name="North", category="Region"),
        LedgerChoice(
            value="Projects",
            label="Service Line: Projects",
            name="Projects",
            category="Service Line",
        ),
    ]
    found = suggest(MappingKind.TRACKING, PsaValue(value="north", dimension="location"), options)
    assert found is not None
    assert (found.ledger_value, found.ledger_extra) == ("North", "Region")
    assert suggest(MappingKind.TRACKING, PsaValue(value="3", dimension="location"), options) is None
