from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from django.apps import apps
from django.db import models
from hypothesis import given
from hypothesis import strategies as st

from ledgerbridge.core import money
from ledgerbridge.core.money import HALF_EVEN, HALF_UP, LineAmounts

# Amounts up to a trillion with up to 6 decimal places, as exact Decimals.
amounts = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=6, allow_nan=False
)
currencies = st.sampled_from(sorted(money.MINOR_UNITS))


@pytest.mark.parametrize(
    ("currency", "digits"),
    [
        *[(code, 2) for code in ["USD", "CAD", "AUD", "NZD", "GBP", "EUR", "ZAR", "SGD"]],
        ("JPY", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("usd", 2),
    ],
)
def test_minor_units_follow_iso_4217(currency: str, digits: int) -> None:
    assert money.minor_units(currency) == digits


def test_unknown_currency_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"Unknown currency 'XYZ'.*MINOR_UNITS"):
        money.quantize("1", "XYZ")


@pytest.mark.parametrize(
    ("given_amount", "expected"),
    [
        ("12.50", Decimal("12.50")),
        (" -3 ", Decimal("-3")),
        (7, Decimal(7)),
        (Decimal("1.1"), Decimal("1.1")),
    ],
)
def test_to_decimal_takes_str_int_and_decimal(
    given_amount: money.Amount, expected: Decimal
) -> None:
    assert money.to_decimal(given_amount) == expected


@pytest.mark.parametrize(
    "call",
    [
        lambda: money.to_decimal(0.1),
        lambda: money.quantize(2.675, "USD"),
        lambda: money.to_minor_units(12.34, "USD"),
        lambda: money.from_minor_units(1234.0, "USD"),
        lambda: money.sum_money(["1.00", 0.1]),
        lambda: money.line_tax(100.0, "15", "NZD"),
        lambda: money.line_amounts("1", "9.99", 15.0, "NZD"),
        lambda: money.allocate("10.00", [0.5, 0.5], "USD"),
    ],
)
def test_every_money_function_refuses_floats(call: Callable[[], Any]) -> None:
    with pytest.raises(TypeError, match="float"):
        call()


def test_float_error_says_what_to_pass_instead() -> None:
    with pytest.raises(TypeError, match=r"Money must not be a float \(got 0\.1\): pass a str"):
        money.to_decimal(0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "abc", "1e3", "1_000", "NaN", "Infinity", "1,000.00", "$5"])
def test_to_decimal_rejects_strings_that_are_not_plain_amounts(bad: str) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        money.to_decimal(bad)


@pytest.mark.parametrize("bad", [True, None, [1], Decimal("NaN"), Decimal("Infinity")])
def test_to_decimal_rejects_other_types_and_non_finite_decimals(bad: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        money.to_decimal(bad)


@pytest.mark.parametrize(
    ("amount", "currency", "half_up", "half_even"),
    [
        ("2.675", "USD", "2.68", "2.68"),
        ("2.665", "USD", "2.67", "2.66"),
        ("-2.665", "USD", "-2.67", "-2.66"),
        ("0.125", "EUR", "0.13", "0.12"),
        ("1234.5", "JPY", "1235", "1234"),
        ("1.2345", "KWD", "1.235", "1.234"),
        ("10", "USD", "10.00", "10.00"),
    ],
)
def test_quantize_rounds_half_up_or_half_even(
    amount: str, currency: str, half_up: str, half_even: str
) -> None:
    assert str(money.quantize(amount, currency)) == half_up
    assert str(money.quantize(amount, currency, HALF_UP)) == half_up
    assert str(money.quantize(amount, currency, HALF_EVEN)) == half_even


def test_quantize_never_returns_negative_zero() -> None:
    assert str(money.quantize("-0.001", "USD")) == "0.00"


def test_quantize_rejects_other_rounding_modes() -> None:
    with pytest.raises(ValueError, match=r"HALF_UP or money\.HALF_EVEN"):
        money.quantize("1.005", "USD", "ROUND_FLOOR")  # type: ignore[arg-type]


def test_minor_units_round_trip_for_stripe_like_apis() -> None:
    assert money.to_minor_units("12.34", "USD") == 1234
    assert money.to_minor_units("-0.5", "USD") == -50
    assert money.to_minor_units("1500", "JPY") == 1500
    assert money.to_minor_units("1.234", "KWD") == 1234
    assert money.from_minor_units(1234, "USD") == Decimal("12.34")
    assert str(money.from_minor_units(100, "USD")) == "1.00"
    assert str(money.from_minor_units(5, "KWD")) == "0.005"
    assert str(money.from_minor_units(1500, "JPY")) == "1500"


def test_to_minor_units_refuses_to_drop_a_fraction_of_a_cent_silently() -> None:
    with pytest.raises(ValueError, match=r"1\.234 has more decimal places than USD allows \(2\)"):
        money.to_minor_units("1.234", "USD")
    assert money.to_minor_units("1.235", "USD", rounding=HALF_UP) == 124
    assert money.to_minor_units("1.235", "USD", rounding=HALF_EVEN) == 124
    assert money.to_minor_units("1.225", "USD", rounding=HALF_EVEN) == 122
    assert money.to_minor_units("1.2300", "USD") == 123  # trailing zeros are not extra precision


@pytest.mark.parametrize("bad", [12.0, True, "12"])
def test_from_minor_units_takes_only_ints(bad: Any) -> None:
    with pytest.raises(TypeError):
        money.from_minor_units(bad, "USD")


def test_line_tax_on_a_tax_exclusive_amount() -> None:
    assert money.line_tax("100.00", "15", "NZD") == Decimal("15.00")
    assert money.line_tax("0.10", "12.5", "AUD") == Decimal("0.01")  # 0.0125 rounds half up
    assert money.line_tax("0.10", "12.5", "AUD", HALF_EVEN) == Decimal("0.01")
    assert money.line_tax("0.30", "12.5", "AUD") == Decimal("0.04")  # 0.0375
    assert money.line_tax("-0.30", "12.5", "AUD") == Decimal("-0.04")  # credit mirrors invoice


def test_line_amounts_tax_exclusive() -> None:
    line = money.line_amounts("1.5", "99.99", "15", "NZD")
    # 1.5 x 99.99 = 149.985 -> 149.99; 15 % of that = 22.4985 -> 22.50.
    assert line == LineAmounts(net=Decimal("149.99"), tax=Decimal("22.50"), gross=Decimal("172.49"))


def test_line_amounts_tax_inclusive_takes_tax_out_of_the_gross() -> None:
    line = money.line_amounts("1", "115.00", "15", "NZD", tax_inclusive=True)
    assert line == LineAmounts(net=Decimal("100.00"), tax=Decimal("15.00"), gross=Decimal("115.00"))
    odd = money.line_amounts("3", "10.00", "10", "AUD", tax_inclusive=True)
    # 30 x 10/110 = 2.7272... -> 2.73
    assert odd == LineAmounts(net=Decimal("27.27"), tax=Decimal("2.73"), gross=Decimal("30.00"))


def test_line_amounts_tax_inclusive_rounds_exact_halves_as_asked() -> None:
    exact = money.line_amounts("1", "0.45", "12.5", "AUD", tax_inclusive=True)
    assert exact.tax == Decimal("0.05")  # 0.45 x 12.5/112.5, no rounding needed
    tie_up = money.line_amounts("1", "0.09", "100", "USD", tax_inclusive=True)
    tie_even = money.line_amounts("1", "0.09", "100", "USD", tax_inclusive=True, rounding=HALF_EVEN)
    # 0.09 x 100/200 = 0.045: half up gives 0.05, half even gives 0.04.
    assert (tie_up.tax, tie_up.net) == (Decimal("0.05"), Decimal("0.04"))
    assert (tie_even.tax, tie_even.net) == (Decimal("0.04"), Decimal("0.05"))


def test_line_amounts_rejects_negative_rates() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        money.line_amounts("1", "10", "-5", "USD")


def test_allocate_splits_exactly_with_the_largest_remainder() -> None:
    assert money.allocate("100.00", [1, 1, 1], "USD") == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    assert money.allocate("0.05", ["1", "1", "1"], "USD") == [
        Decimal("0.02"),
        Decimal("0.02"),
        Decimal("0.01"),
    ]
    # 10 by 1:2 is 3.33.. and 6.66..; the second loses more to rounding, so it gets the cent.
    assert money.allocate("10.00", [1, 2], "USD") == [Decimal("3.33"), Decimal("6.67")]
    assert money.allocate("10", [0, 1, 2], "JPY") == [Decimal(0), Decimal(3), Decimal(7)]


def test_allocate_splits_a_credit_like_an_invoice() -> None:
    assert money.allocate("-0.05", [1, 1, 1], "USD") == [
        Decimal("-0.02"),
        Decimal("-0.02"),
        Decimal("-0.01"),
    ]


@pytest.mark.parametrize(
    ("weights", "message"),
    [([], "at least one weight"), ([0, 0], "above zero"), ([1, -1], "cannot be negative")],
)
def test_allocate_rejects_unusable_weights(weights: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        money.allocate("1.00", weights, "USD")


def test_allocate_needs_a_total_in_whole_minor_units() -> None:
    with pytest.raises(ValueError, match="more decimal places"):
        money.allocate("1.005", [1, 1], "USD")


def test_sum_money_does_not_drift() -> None:
    assert money.sum_money(["0.1"] * 10) == Decimal("1.0")
    assert money.sum_money(["0.1", "0.2"]) == Decimal("0.3")
    # Far beyond the default 28-digit context, where plain Decimal sums would round.
    big = "12345678901234567890123456789.01"
    assert money.sum_money([big, "0.01"]) == Decimal("12345678901234567890123456789.02")
    assert money.sum_money([]) == Decimal(0)


def test_sum_money_rounds_once_at_the_end_not_term_by_term() -> None:
    # Rounding each 0.004 first would give 0.00.
    assert money.sum_money(["0.004", "0.004"], "USD") == Decimal("0.01")


@given(
    total_units=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=20).filter(
        any
    ),
    currency=currencies,
)
def test_allocate_parts_sum_exactly_and_stay_within_one_minor_unit(
    total_units: int, weights: list[int], currency: str
) -> None:
    total = money.from_minor_units(total_units, currency)
    parts = money.allocate(total, weights, currency)
    assert len(parts) == len(weights)
    assert money.sum_money(parts) == total
    unit = money.from_minor_units(1, currency)
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(total) * weight / sum(weights)
        assert abs(Fraction(part) - exact) < Fraction(unit)
        assert part == money.quantize(part, currency)


@given(amount=amounts, currency=currencies, rounding=st.sampled_from([HALF_UP, HALF_EVEN]))
def test_quantize_is_idempotent(amount: Decimal, currency: str, rounding: money.Rounding) -> None:
    once = money.quantize(amount, currency, rounding)
    assert money.quantize(once, currency, rounding) == once
    assert (
        money.quantize(once, currency, HALF_UP) == once == money.quantize(once, currency, HALF_EVEN)
    )
    assert abs(once - amount) <= money.from_minor_units(1, currency) / 2


@given(cents=st.integers(min_value=-(10**9), max_value=10**9))
def test_half_up_and_bankers_rounding_differ_exactly_on_even_x_xx5(cents: int) -> None:
    # x.xx5 lies exactly halfway: half-up goes away from zero, half-even to the even cent, so
    # they disagree exactly when the cent below (in magnitude) is even.
    sign = -1 if cents < 0 else 1
    amount = money.from_minor_units(cents, "USD") + sign * Decimal("0.005")
    up = money.quantize(amount, "USD", HALF_UP)
    even = money.quantize(amount, "USD", HALF_EVEN)
    assert abs(up) == abs(money.from_minor_units(cents, "USD")) + Decimal("0.01")
    assert (up != even) == (abs(cents) % 2 == 0)
    assert money.to_minor_units(even, "USD") % 2 == 0


@given(units=st.integers(min_value=-(10**15), max_value=10**15), currency=currencies)
def test_minor_units_round_trip(units: int, currency: str) -> None:
    assert money.to_minor_units(money.from_minor_units(units, currency), currency) == units


def test_no_model_in_any_installed_app_uses_float_field() -> None:
    # The checkable half of "no floats for money": binary floats cannot store most cents.
    offenders = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.FloatField)
    ]
    assert offenders == [], f"Use DecimalField (or an integer) instead of FloatField: {offenders}"
