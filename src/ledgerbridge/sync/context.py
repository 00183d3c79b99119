"""Builds a run's `SyncContext` from the company's settings, mappings and connections.

A company without settings, PSA credentials or a live ledger connection cannot sync: the run
fails at once with a message saying which, so the admin knows where to go.
"""

import collections.abc
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

from ledgerbridge.accounts.models import PsaCredential
from ledgerbridge.apilog import hooks as apilog_hooks
from ledgerbridge.companies.models import (
    Company,
    CompanySettings,
    ExclusionRule,
    Mapping,
    MappingKind,
)
from ledgerbridge.connectors.base import (
    ConnectorError,
    NameClashRule,
    ProductIdPolicy,
    PsaSource,
)
from ledgerbridge.connectors.ledgers import ledger_for
from ledgerbridge.connectors.psa import source_for
from ledgerbridge.sync.engine import RunStoppedError, SyncContext
from ledgerbridge.sync.models import SyncRun
from ledgerbridge.sync.policy import (
    DetailLevel,
    Mappings,
    MissingTracking,
    ReferenceSource,
    SyncPolicy,
    TaxCodeSource,
    TermTarget,
)
from ledgerbridge.sync.policy import ExclusionRule as ExclusionRuleValue


def policy_for(settings: CompanySettings, rules: list[ExclusionRule] | None = None) -> SyncPolicy:
    if rules is None:
        rules = list(settings.company.exclusion_rules.all())
    return SyncPolicy(
        locale=settings.locale,
        timezone=settings.timezone,
        post_as_draft=settings.post_as_draft,
        mark_as_sent=settings.mark_as_sent,
        detail_level=DetailLevel(settings.detail_level),
        tax_source=TaxCodeSource(settings.tax_source),
        taxable_tax_code=settings.taxable_tax_code,
        exempt_tax_code=settings.exempt_tax_code,
        tracking_enabled=settings.tracking_enabled,
        missing_tracking=MissingTracking(settings.missing_tracking),
        reference_source=ReferenceSource(settings.reference_source),
        adjustment_item_code=settings.adjustment_item_code,
        adjustment_account_code=settings.adjustment_account_code,
        adjustment_tax_code=settings.adjustment_tax_code,
        max_minor_adjustment=Decimal(settings.max_minor_adjustment),
        product_id_policy=ProductIdPolicy(settings.product_id_policy),
        name_clash=NameClashRule(settings.name_clash),
        post_zero_invoices=settings.post_zero_invoices,
        onboarding_date=settings.onboarding_date,
        payment_cutoff=settings.payment_cutoff,
        number_override_until=settings.number_override_until,
        exclusions=tuple(ExclusionRuleValue(r.prefix, r.record_type, r.mark_paid) for r in rules),
    )


def mappings_for(company: Company, settings: CompanySettings | None = None) -> Mappings:
    accounts: dict[str, str] = {}
    tax_codes: dict[str, str] = {}
    items: dict[str, str] = {}
    tracking: dict[tuple[str, str], tuple[str, str]] = {}
    terms: dict[str, TermTarget] = {}
    labels = {
        (kind, value): label
        for kind, value, label in Mapping.objects.filter(company=company)
        .exclude(psa_label="")
        .values_list("kind", "psa_value", "psa_label")
    }
    for row in Mapping.objects.filter(company=company).exclude(ledger_value="", ledger_extra=""):
        if row.kind == MappingKind.ACCOUNT and row.ledger_value:
            accounts[row.psa_value] = row.ledger_value
        elif row.kind == MappingKind.TAX_CODE and row.ledger_value:
            tax_codes[row.psa_value] = row.ledger_value
        elif row.kind == MappingKind.ITEM and row.ledger_value:
            items[row.psa_value] = row.ledger_value
        elif row.kind == MappingKind.TRACKING and row.ledger_value and row.ledger_extra:
            tracking[(row.dimension, row.psa_value)] = (row.ledger_extra, row.ledger_value)
        elif row.kind == MappingKind.TERM:
            terms[row.psa_value] = TermTarget(
                ledger_term_id=row.ledger_value, xref=row.ledger_extra
            )
    return Mappings(
        labels=labels,
        accounts=accounts,
        tax_codes=tax_codes,
        items=items,
        tracking=tracking,
        terms=terms,
        default_account=settings.default_account_code if settings else "",
    )


def _with_psa_names(mappings: Mappings, source: PsaSource) -> Mappings:
    """Name PSA tax codes in messages as the admin knows them, not by the PSA's internal id
    (read from the PSA only if a message needs one)."""
    return replace(mappings, labels=_PsaNames(dict(mappings.labels), source))


class _PsaNames(collections.abc.Mapping[tuple[str, str], str]):
    def __init__(self, known: dict[tuple[str, str], str], source: PsaSource) -> None:
        self._known, self._source, self._loaded = known, source, False

    def _load(self) -> None:
        self._loaded = True
        try:
            for code in self._source.list_tax_codes():
                self._known.setdefault(("tax_code", code.psa_id), code.identifier)
        except ConnectorError:
            pass  # names are a nicety; the run itself reports a PSA that is down

    def __getitem__(self, key: tuple[str, str]) -> str:
        if key not in self._known and not self._loaded:
            self._load()
        return self._known[key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        if not self._loaded:
            self._load()
        return iter(self._known)

    def __len__(self) -> int:
        if not self._loaded:
            self._load()
        return len(self._known)


def credential_for(company: Company, settings: CompanySettings) -> PsaCredential:
    if settings.psa_credential_id is not None:
        assert settings.psa_credential is not None
        return settings.psa_credential
    primary = PsaCredential.objects.filter(account=company.account, is_primary=True).first()
    if primary is None:
        raise RunStoppedError(
            "No PSA connection to read from: add the PSA's API credentials under Account and "
            "make them the primary API account, or choose credentials in the company's settings."
        )
    return primary


def build_context(company: Company, run: SyncRun) -> SyncContext:
    settings = CompanySettings.objects.filter(company=company).first()
    if settings is None:
        raise RunStoppedError(
            f"{company.name} has no sync settings yet: open the company and complete its "
            "settings (locale, timezone, tax codes) first."
        )
    credential = credential_for(company, settings)
    try:
        source = source_for(
            credential,
            location_ids=[int(level) for level in settings.gl_owner_levels],
            currency=settings.effective_currency,
            detail_level=settings.detail_level,
            **apilog_hooks.psa_logging(company, credential),
        )
        ledger = ledger_for(company, **apilog_hooks.ledger_logging(company))
    except ConnectorError as error:
        raise RunStoppedError(f"{error.message} {error.hint}".strip()) from error
    connection = company.ledger_connection()
    assert connection is not None  # ledger_for refused otherwise
    return SyncContext(
        company_id=company.pk,
        run=run,
        source=source,
        ledger=ledger,
        policy=policy_for(settings),
        mappings=_with_psa_names(mappings_for(company, settings), source),
        ledger_target=f"{connection.system}:{connection.organisation_id}",
        psa_target=f"psa:{credential.pk}",
    )
