"""Suggested mappings: which ledger value a PSA value most likely posts as.

The mappings screen lists the PSA's values beside a choice of the ledger's, pre-filled with what
these functions suggest. Matching is deliberately conservative, because a wrong suggestion that
an admin accepts in bulk posts to the wrong account: an exact code first, then the same name
(ignoring case), and for tax codes the same percentage as a last resort, only when exactly one
ledger rate has it. Anything else stays unmapped and is highlighted for a person to decide.
Billing terms become a Terms XRef ("30") from the PSA term's days, plus the QuickBooks term
with the same number of days where there is one.

`read_psa_values` and `read_ledger_choices` turn what the connectors list into the plain values
matched here (and cached by the screen).
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ledgerbridge.companies.models import MappingKind
from ledgerbridge.connectors.base import Ledger, PsaSource, TermKind

# PSA dimensions a tracking mapping can key on (the engine also accepts a line's own names).
TRACKING_DIMENSIONS = (("location", "Location"), ("department", "Department"))


@dataclass(frozen=True)
class PsaValue:
    """One value the PSA can put on an invoice, as a mapping is keyed."""

    value: str  # the mapping key: GL account number, tax code id, product id, term id, …
    label: str = ""  # how the admin knows it ("Managed Services Revenue", "NY-NYC")
    code: str = ""  # the PSA's short code, when it has one (account number, tax identifier)
    rate: Decimal | None = None  # tax codes: the total percentage
    days: int | None = None  # billing terms: net days
    xref: str = ""  # billing terms: the Terms XRef the MSP set in the PSA
    dimension: str = ""  # tracking: location, department, …


@dataclass(frozen=True)
class LedgerChoice:
    """One value the ledger offers for a mapping."""

    value: str  # stored as the mapping's `ledger_value`
    label: str  # what the admin sees in the choice
    code: str = ""  # account code, tax type / code id, item code
    name: str = ""
    rate: Decimal | None = None  # tax rates
    days: int | None = None  # net-days terms
    category: str = ""  # tracking: the category the option belongs to (`ledger_extra`)

    @property
    def key(self) -> str:
        """What a form's <option> carries: tracking needs the category as well as the option."""
        return json.dumps([self.category, self.value]) if self.category else self.value


@dataclass(frozen=True)
class Suggestion:
    ledger_value: str
    ledger_label: str
    ledger_extra: str = ""
    reason: str = ""  # said on the screen: "same code", "same name", …
    key: str = ""  # the matching LedgerChoice's key ("" for an XRef-only term)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _suggested(choice: LedgerChoice, reason: str) -> Suggestion:
    return Suggestion(choice.value, choice.label, choice.category, reason, choice.key)


def suggest(kind: str, psa: PsaValue, choices: Sequence[LedgerChoice]) -> Suggestion | None:
    """The ledger value `psa` most likely maps to, or None when nothing matches clearly."""
    if kind == MappingKind.TERM:
        return _suggest_term(psa, choices)
    if kind == MappingKind.TRACKING:
        return _by_name(choices, (psa.label, psa.value))
    code = psa.code or psa.value
    for choice in choices:
        if choice.code and choice.code == code:
            return _suggested(choice, "same code")
    names = (psa.label, code) if kind in (MappingKind.TAX_CODE, MappingKind.ITEM) else (psa.label,)
    found = _by_name(choices, names)
    if found is not None or kind != MappingKind.TAX_CODE or psa.rate is None:
        return found
    same_rate = [c for c in choices if c.rate is not None and c.rate == psa.rate]
    # Two ledger rates of the same percentage (say 0% "Exempt" and 0% "Zero rated") are a
    # decision for the admin, not a guess.
    if len(same_rate) == 1:
        return _suggested(same_rate[0], "same rate")
    return None


def _by_name(choices: Sequence[LedgerChoice], names: Iterable[str]) -> Suggestion | None:
    wanted = {_fold(name) for name in names if name.strip()}
    for choice in choices:
        if _fold(choice.name or choice.label) in wanted or (
            choice.code and _fold(choice.code) in wanted
        ):
            return _suggested(choice, "same name")
    return None


def _suggest_term(psa: PsaValue, choices: Sequence[LedgerChoice]) -> Suggestion | None:
    xref = psa.xref or (str(psa.days) if psa.days is not None else "")
    same_days = [c for c in choices if c.days is not None and c.days == psa.days]
    if same_days:
        choice = same_days[0]
        return Suggestion(choice.value, choice.label, xref, "same number of days", choice.key)
    if xref:
        return Suggestion("", "", xref, "due date from the PSA term's days")
    return None


# --- what the two sides list, as plain values --------------------------------------------------


def read_psa_values(kind: str, source: PsaSource) -> list[PsaValue]:
    """The PSA's active values of one kind. Tracking values are not listed by PSAs: the screen
    takes them from saved mappings and the admin's own additions."""
    if kind == MappingKind.ACCOUNT:
        return [
            PsaValue(value=a.account_number, label=a.name, code=a.account_number)
            for a in source.list_gl_accounts()
            if a.active and a.account_number
        ]
    if kind == MappingKind.TAX_CODE:
        return [
            PsaValue(value=t.psa_id, label=t.identifier, code=t.identifier, rate=t.rate)
            for t in source.list_tax_codes()
            if t.active
        ]
    if kind == MappingKind.ITEM:
        # The engine looks products up by the PSA's identifier (its item id / SKU).
        return [
            PsaValue(value=p.identifier, label=p.description, code=p.identifier)
            for p in source.list_products()
            if p.active and p.identifier
        ]
    if kind == MappingKind.TERM:
        return [
            PsaValue(value=t.psa_id, label=t.name, days=t.due_days, xref=t.xref)
            for t in source.list_payment_terms()
            if t.active
        ]
    return []


def read_ledger_choices(kind: str, ledger: Ledger, *, system: str) -> list[LedgerChoice]:
    """The ledger's active values of one kind that a mapping may point at."""
    if kind == MappingKind.ACCOUNT:
        return [
            LedgerChoice(value=a.code, label=f"{a.code} · {a.name}", code=a.code, name=a.name)
            for a in ledger.list_accounts()
            if a.active and a.code
        ]
    if kind == MappingKind.TAX_CODE:
        return [
            LedgerChoice(
                value=r.ledger_id,
                label=r.name + (f" ({r.rate.normalize():f}%)" if r.rate is not None else ""),
                code=r.ledger_id,
                name=r.name,
                rate=r.rate,
            )
            for r in ledger.list_tax_rates()
            if r.active and r.for_sales
        ]
    if kind == MappingKind.ITEM:
        return [
            LedgerChoice(
                value=i.code,
                label=i.code + (f" · {i.name}" if i.name and i.name != i.code else ""),
                code=i.code,
                name=i.name,
            )
            for i in ledger.list_items()
            if i.active and i.code
        ]
    if kind == MappingKind.TRACKING:
        return [
            LedgerChoice(
                value=option.name,
                label=f"{category.name}: {option.name}",
                name=option.name,
                category=category.name,
            )
            for category in ledger.list_tracking_categories()
            if category.active
            for option in category.options
            if option.active
        ]
    if kind == MappingKind.TERM and system == "qbo":
        # Xero keeps no term records (LedgerBridge sends the due date it works out from the
        # XRef), so only QuickBooks offers terms to choose.
        return [
            LedgerChoice(
                value=t.ledger_id,
                label=t.name,
                name=t.name,
                days=t.days if t.kind == TermKind.NET_DAYS else None,
            )
            for t in ledger.list_terms()
            if t.active
        ]
    return []
