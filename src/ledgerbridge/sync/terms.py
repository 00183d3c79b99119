"""Due dates from a PSA billing term's cross-reference ("Terms XRef").

Two forms, as the reference product documents them:

- A whole number of days after the invoice date: `30` → net 30.
- An end-of-month construct `M<offset>:D<day>`: move `offset` months from the invoice's month,
  then take day `day` of that month. The day overflows forward the way calendar arithmetic does
  (day 30 of February is 2 March in a non-leap year), and `D-0` (day 0) is the day before the
  1st, i.e. the last day of the month before. Worked examples for an invoice of 15 Jan 2022:
  `M+1:D30` ("30 days EOM") → 2 Mar 2022; `M+1:D20` → 20 Feb; `M0:D20` → 20 Jan;
  `M+1:D-0` → 31 Jan (the last day of the invoice month).
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta

from ledgerbridge.connectors.base import LedgerTerm, TermKind

_DAYS = re.compile(r"^\s*(?P<days>\d{1,4})\s*$")
_END_OF_MONTH = re.compile(
    r"^\s*M\s*(?P<months>[+-]?\s*\d{1,3})\s*:\s*D\s*(?P<day>[+-]?\s*\d{1,3})\s*$", re.IGNORECASE
)


class TermsError(ValueError):
    """A cross-reference LedgerBridge cannot read; the message says what it expected."""


@dataclass(frozen=True)
class DueRule:
    """How to get from an invoice date to its due date."""

    days: int = 0  # net days after the invoice date (when `months` is None)
    months: int | None = None  # month offset of an end-of-month rule
    day: int = 0  # day of the target month (0 and below count back from its 1st)

    def due_on(self, issued_on: date) -> date:
        if self.months is None:
            return issued_on + timedelta(days=self.days)
        month_index = issued_on.year * 12 + issued_on.month - 1 + self.months
        first = date(month_index // 12, month_index % 12 + 1, 1)
        return first + timedelta(days=self.day - 1)

    def describe(self) -> str:
        if self.months is None:
            return f"{self.days} days after the invoice date"
        which = {0: "this month", 1: "next month"}.get(self.months, f"month +{self.months}")
        if self.day <= 0:
            return f"{-self.day + 1} day(s) before the 1st of {which}"
        return f"day {self.day} of {which}"


def parse_xref(text: str) -> DueRule:
    """Read a Terms XRef: `30`, `M+1:D20`, `M0:D20`, `M+1:D-0`."""
    if match := _DAYS.match(text):
        return DueRule(days=int(match["days"]))
    if match := _END_OF_MONTH.match(text):
        months = int(match["months"].replace(" ", ""))
        day = int(match["day"].replace(" ", ""))
        if months < 0:
            raise TermsError(f"Terms XRef {text!r}: a due date cannot be in an earlier month.")
        return DueRule(months=months, day=day)
    raise TermsError(
        f"Terms XRef {text!r} is not a number of days (like 30) or an end-of-month rule "
        "(like M+1:D20 for the 20th of next month)."
    )


def rule_for_ledger_term(term: LedgerTerm) -> DueRule:
    """The due-date rule a ledger's own term record describes (QuickBooks Terms)."""
    if term.kind == TermKind.NET_DAYS:
        return DueRule(days=term.days)
    if term.kind == TermKind.DAYS_AFTER_END_OF_MONTH:
        return DueRule(months=1, day=term.days)
    if term.kind == TermKind.DAY_OF_FOLLOWING_MONTH:
        return DueRule(months=1, day=term.days)
    return DueRule(months=0, day=term.days)
