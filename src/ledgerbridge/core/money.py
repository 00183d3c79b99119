"""Money is Decimal, never float.

Every function here takes `Decimal | int | str` and refuses float at runtime too: 0.1 + 0.2 is
not 0.3 in binary floating point, and an invoice that is a cent out does not reconcile. Amounts
are rounded to the currency's ISO 4217 minor unit only where a ledger needs a final figure, with
the rounding named (half-up, as most ledgers round tax, or half-even, the banker's rounding).
"""

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from fractions import Fraction
from types import MappingProxyType
from typing import Final, Literal

type Amount = Decimal | int | str
type Rounding = Literal["ROUND_HALF_UP", "ROUND_HALF_EVEN"]

HALF_UP: Final = "ROUND_HALF_UP"
HALF_EVEN: Final = "ROUND_HALF_EVEN"
assert (HALF_UP, HALF_EVEN) == (ROUND_HALF_UP, ROUND_HALF_EVEN)

# ISO 4217 exponents: digits after the decimal point in the currency's minor unit.
MINOR_UNITS: Final[Mapping[str, int]] = MappingProxyType(
    {
        # Where MSPs bill.
        "USD": 2,
        "CAD": 2,
        "AUD": 2,
        "NZD": 2,
        "GBP": 2,
        "EUR": 2,
        "ZAR": 2,
        "SGD": 2,
        # Other common two-decimal currencies.
        "AED": 2,
        "BRL": 2,
        "CHF": 2,
        "CNY": 2,
        "CZK": 2,
        "DKK": 2,
        "HKD": 2,
        "HUF": 2,
        "ILS": 2,
        "INR": 2,
        "MXN": 2,
        "MYR": 2,
        "NOK": 2,
        "PHP": 2,
        "PLN": 2,
        "SAR": 2,
        "SEK": 2,
        "THB": 2,
        # No minor unit.
        "CLP": 0,
        "ISK": 0,
        "JPY": 0,
        "KRW": 0,
        "VND": 0,
        # Three decimals.
        "BHD": 3,
        "JOD": 3,
        "KWD": 3,
        "OMR": 3,
        "TND": 3,
    }
)

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def minor_units(currency: str) -> int:
    """Digits after the decimal point for `currency` (2 for USD, 0 for JPY, 3 for KWD)."""
    code = currency.strip().upper()
    try:
        return MINOR_UNITS[code]
    except KeyError:
        raise ValueError(
            f"Unknown currency {currency!r}: add its ISO 4217 minor units to "
            "ledgerbridge.core.money.MINOR_UNITS"
        ) from None


def to_decimal(amount: Amount) -> Decimal:
    """`amount` as an exact Decimal. Floats are refused: they cannot hold most cents exactly."""
    if isinstance(amount, float):
        raise TypeError(
            f"Money must not be a float (got {amount!r}): pass a str such as '0.10', an int or "
            "a Decimal"
        )
    if isinstance(amount, bool):
        raise TypeError(f"Money must be a Decimal, int or str, not a bool ({amount!r})")
    if isinstance(amount, Decimal):
        if not amount.is_finite():
            raise ValueError(f"{amount} is not an amount of money")
        return amount
    if isinstance(amount, int):
        return Decimal(amount)
    if isinstance(amount, str):
        text = amount.strip()
        # Decimal() would also take "1_000", "1e3" and "NaN"; amounts in documents are plain.
        if not _PLAIN_NUMBER.fullmatch(text):
            raise ValueError(f"{amount!r} is not an amount (expected digits like '1234.50')")
        return Decimal(text)
    raise TypeError(f"Money must be a Decimal, int or str, not {type(amount).__name__}")


def _check_rounding(rounding: str) -> None:
    if rounding not in (HALF_UP, HALF_EVEN):
        raise ValueError(f"Rounding must be money.HALF_UP or money.HALF_EVEN, not {rounding!r}")


def _exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def _exactly(*, allow_rounding: bool = False) -> AbstractContextManager[Context]:
    """Unlimited precision, so only an explicit quantize ever rounds.

    Without `allow_rounding`, a rounded result raises decimal.Inexact instead of passing
    silently (the default context would quietly keep only 28 digits).
    """
    traps = [InvalidOperation, DivisionByZero, Overflow]
    if not allow_rounding:
        traps.append(Inexact)
    return localcontext(Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=traps))


def quantize(amount: Amount, currency: str, rounding: Rounding = HALF_UP) -> Decimal:
    """`amount` rounded to the currency's minor unit, e.g. Decimal('2.68') for ('2.675', 'USD')."""
    _check_rounding(rounding)
    value = to_decimal(amount)
    with _exactly(allow_rounding=True):
        # Adding zero turns "-0.00" into "0.00", which nobody wants on an invoice.
        return value.quantize(_exponent(currency), rounding=rounding) + 0


def to_minor_units(amount: Amount, currency: str, *, rounding: Rounding | None = None) -> int:
    """Whole minor units (cents) for APIs like Stripe's: to_minor_units('12.34', 'USD') == 1234.

    An amount finer than the currency allows is an error unless `rounding` says how to round it,
    so a stray fraction of a cent is never dropped silently.
    """
    value = to_decimal(amount)
    rounded = quantize(value, currency, rounding or HALF_UP)
    if rounding is None and rounded != value:
        raise ValueError(
            f"{value} has more decimal places than {currency.upper()} allows "
            f"({minor_units(currency)}); round it with money.quantize first"
        )
    with _exactly():
        return int(rounded.scaleb(minor_units(currency)))


def from_minor_units(units: int, currency: str) -> Decimal:
    """The amount `units` minor units make: from_minor_units(1234, 'USD') == Decimal('12.34')."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise TypeError(f"Minor units must be an int, not {type(units).__name__}")
    with _exactly():
        return Decimal(units).scaleb(-minor_units(currency))


def sum_money(amounts: Iterable[Amount], currency: str | None = None) -> Decimal:
    """The exact sum of `amounts`; with `currency`, rounded once at the end (not term by term)."""
    with _exactly():
        total = sum((to_decimal(amount) for amount in amounts), Decimal(0))
    return total if currency is None else quantize(total, currency)


@dataclass(frozen=True)
class LineAmounts:
    """One invoice line's figures, each rounded to the currency; net + tax == gross exactly."""

    net: Decimal
    tax: Decimal
    gross: Decimal


def line_tax(
    net: Amount, rate_percent: Amount, currency: str, rounding: Rounding = HALF_UP
) -> Decimal:
    """Tax on a tax-exclusive amount at `rate_percent` (15 means 15 %), rounded to the currency."""
    value, rate = to_decimal(net), to_decimal(rate_percent)
    with _exactly():
        # Multiplying by 0.01 rather than dividing by 100 keeps the product exact.
        tax = value * rate * Decimal("0.01")
    return quantize(tax, currency, rounding)


def line_amounts(
    quantity: Amount,
    unit_price: Amount,
    rate_percent: Amount,
    currency: str,
    *,
    tax_inclusive: bool = False,
    rounding: Rounding = HALF_UP,
) -> LineAmounts:
    """Net, tax and gross for quantity x unit price at `rate_percent`.

    Tax-exclusive prices (most PSAs) add tax to the net; tax-inclusive prices (common in AU/NZ
    Xero organisations) take the tax out of the gross, so net is whatever is left.
    """
    qty, price, rate = to_decimal(quantity), to_decimal(unit_price), to_decimal(rate_percent)
    if rate < 0:
        raise ValueError(f"A tax rate cannot be negative ({rate} %)")
    with _exactly():
        extended = qty * price
    amount = quantize(extended, currency, rounding)
    if not tax_inclusive:
        tax = line_tax(amount, rate, currency, rounding)
        return LineAmounts(net=amount, tax=tax, gross=sum_money([amount, tax]))
    # gross * rate / (100 + rate) rarely terminates, so compute it exactly as a fraction.
    share = Fraction(amount) * Fraction(rate) / (100 + Fraction(rate))
    tax = _round_fraction(share, currency, rounding)
    with _exactly():
        net = amount - tax
    return LineAmounts(net=net, tax=tax, gross=amount)


def _round_fraction(value: Fraction, currency: str, rounding: Rounding) -> Decimal:
    scaled = value * 10 ** minor_units(currency)
    floor = math.floor(scaled)
    remainder = scaled - floor
    if remainder > Fraction(1, 2):
        units = floor + 1
    elif remainder < Fraction(1, 2):
        units = floor
    elif rounding == HALF_UP:
        # Half away from zero, as Decimal's ROUND_HALF_UP does for negatives.
        units = floor + 1 if value >= 0 else floor
    else:
        units = floor if floor % 2 == 0 else floor + 1
    return from_minor_units(units, currency)


def allocate(total: Amount, weights: Sequence[Amount], currency: str) -> list[Decimal]:
    """Split `total` in proportion to `weights` into parts that add up to `total` exactly.

    Each part is rounded down to the minor unit, then the cents left over go one each to the parts
    that lost most in rounding (largest remainder; ties to the earlier part). `total` must already
    be a whole number of minor units. allocate('100', [1, 1, 1], 'USD') == [33.34, 33.33, 33.33].
    """
    units = to_minor_units(total, currency)
    exact_weights = [Fraction(to_decimal(weight)) for weight in weights]
    if not exact_weights:
        raise ValueError("allocate needs at least one weight")
    if any(weight < 0 for weight in exact_weights):
        raise ValueError("allocate weights cannot be negative")
    weight_sum = sum(exact_weights, Fraction(0))
    if weight_sum == 0:
        raise ValueError("allocate needs at least one weight above zero")
    # Work on the magnitude so a negative total (a credit) splits exactly like a positive one.
    magnitude = abs(units)
    shares = [magnitude * weight / weight_sum for weight in exact_weights]
    parts = [math.floor(share) for share in shares]
    left_over = magnitude - sum(parts)
    by_remainder = sorted(range(len(shares)), key=lambda i: (parts[i] - shares[i], i))
    for index in by_remainder[:left_over]:
        parts[index] += 1
    sign = -1 if units < 0 else 1
    return [from_minor_units(sign * part, currency) for part in parts]
