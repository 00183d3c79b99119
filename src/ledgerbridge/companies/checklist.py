"""The go-live checklist: what is still missing before a company's invoices can flow.

Computed from what LedgerBridge has stored (no call to the PSA or the ledger), so the dashboard
and the company page can show it on every visit. Each item says, in the finance admin's words,
what is done or what to do, and links to the page where it is fixed.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from ledgerbridge.accounts.models import Account, PsaCredential
from ledgerbridge.accounts.roles import Perm
from ledgerbridge.companies.models import Company, CompanySettings, Mapping, MappingKind
from ledgerbridge.sync.models import SyncRecord, SyncRun

# A run that got as far as posting counts as the test sync, even if some records failed.
TEST_SYNC_STATUSES = (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL)


@dataclass(frozen=True)
class ChecklistItem:
    key: str  # psa, ledger, mappings, onboarding, test_sync
    title: str
    done: bool
    detail: str  # what is done, or what to do next
    fix_url: str
    fix_label: str
    # Who can follow the link: others see the item without it.
    fix_perm: Perm = Perm.MANAGE_COMPANIES


@dataclass(frozen=True)
class CompanyChecklist:
    company: Company
    items: tuple[ChecklistItem, ...]

    @property
    def done_count(self) -> int:
        return sum(1 for item in self.items if item.done)

    @property
    def ready(self) -> bool:
        return all(item.done for item in self.items)

    @property
    def next_item(self) -> ChecklistItem | None:
        return next((item for item in self.items if not item.done), None)


@dataclass(frozen=True)
class AccountChecklist:
    items: tuple[ChecklistItem, ...]  # the account's own steps (PSA, a first company)
    companies: tuple[CompanyChecklist, ...]

    @property
    def ready(self) -> bool:
        return all(item.done for item in self.items) and all(c.ready for c in self.companies)


def credential_of(company: Company, settings: CompanySettings | None) -> PsaCredential | None:
    """The PSA credentials this company reads with: its own choice, else the primary."""
    if settings is not None and settings.psa_credential_id is not None:
        return settings.psa_credential
    return PsaCredential.objects.filter(account_id=company.account_id, is_primary=True).first()


def psa_item(credential: PsaCredential | None) -> ChecklistItem:
    account_page = reverse("accounts:account")
    title = "PSA connected and tested"
    if credential is None:
        return ChecklistItem(
            "psa",
            title,
            False,
            "No PSA credentials yet. Add the API member (ConnectWise) or API user (Autotask) "
            "LedgerBridge signs in as.",
            account_page,
            "Add PSA credentials",
            Perm.EDIT_ACCOUNT,
        )
    if credential.last_test_ok is None:
        return ChecklistItem(
            "psa",
            title,
            False,
            f"“{credential.label}” has not been tested yet. Press Test connectivity beside it.",
            account_page,
            "Test connectivity",
            Perm.EDIT_ACCOUNT,
        )
    if not credential.last_test_ok:
        said = credential.last_test_summary or "The last test did not pass."
        return ChecklistItem(
            "psa",
            title,
            False,
            f"“{credential.label}”: {said}",
            account_page,
            "Fix and re-test",
            Perm.EDIT_ACCOUNT,
        )
    when = f" on {credential.last_tested_at:%d %b %Y}" if credential.last_tested_at else ""
    return ChecklistItem(
        "psa",
        title,
        True,
        f"“{credential.label}” passed its connectivity test{when}.",
        account_page,
        "PSA credentials",
        Perm.EDIT_ACCOUNT,
    )


def mapping_gaps(company: Company, settings: CompanySettings | None) -> list[str]:
    """What still has to be mapped or chosen before invoices can post, in plain words.

    Which PSA values invoices will use is not known before they are read, so beyond the
    essentials (some GL accounts and tax codes mapped, the exempt tax code chosen) a gap is a
    record that failed for want of a mapping. PSA values left unmapped on purpose (balance
    sheet accounts, say) are not counted against the company.
    """
    if settings is None:
        return ["Save the company's settings first (locale, tax codes, default account)."]
    gaps: list[str] = []
    rows = Mapping.objects.filter(company=company)
    mapped = {
        kind: rows.filter(kind=kind).exclude(ledger_value="").count()
        for kind in (MappingKind.ACCOUNT, MappingKind.TAX_CODE)
    }
    if not mapped[MappingKind.ACCOUNT] and not settings.default_account_code:
        gaps.append("No GL account is mapped to a ledger account yet.")
    if settings.tax_source == CompanySettings.TaxSource.PSA_CODE:
        if not mapped[MappingKind.TAX_CODE]:
            gaps.append("No PSA tax code is mapped to a ledger tax code yet.")
    elif not settings.taxable_tax_code:
        gaps.append("Choose the ledger tax code for taxable sales.")
    if not settings.exempt_tax_code:
        gaps.append("Choose the ledger tax code for tax-exempt sales.")
    waiting = SyncRecord.objects.filter(
        company=company, state=SyncRecord.State.FAILED, error_class="mapping"
    ).count()
    if waiting:
        noun = "record is" if waiting == 1 else "records are"
        gaps.append(f"{waiting} {noun} waiting for a mapping.")
    return gaps


def sync_page_of(company: Company) -> str:
    """The Sync screen for the company when this build has one, else the company page."""
    try:
        return reverse("sync:screen", args=[company.pk])
    except NoReverseMatch:
        return reverse("companies:detail", args=[company.pk])


def company_checklist(company: Company) -> CompanyChecklist:
    settings = CompanySettings.objects.filter(company=company).first()
    detail_page = reverse("companies:detail", args=[company.pk])
    settings_page = reverse("companies:settings", args=[company.pk])
    mappings_page = reverse("companies:mappings", args=[company.pk])
    sync_page = sync_page_of(company)

    connection = company.ledger_connection()
    if connection is not None and connection.is_connected:
        ledger = ChecklistItem(
            "ledger",
            "Ledger connected",
            True,
            f"Connected to {connection}.",
            detail_page,
            "Ledger connection",
            Perm.VIEW_COMPANIES,
        )
    elif connection is not None:
        ledger = ChecklistItem(
            "ledger",
            "Ledger connected",
            False,
            connection.disconnect_reason or "The ledger connection has ended. Reconnect it.",
            detail_page,
            "Reconnect",
        )
    else:
        ledger = ChecklistItem(
            "ledger",
            "Ledger connected",
            False,
            "Connect the company to Xero or QuickBooks Online.",
            detail_page,
            "Connect the ledger",
        )

    gaps = mapping_gaps(company, settings)
    mappings = ChecklistItem(
        "mappings",
        "Required mappings complete",
        not gaps,
        " ".join(gaps) if gaps else "GL accounts and tax codes are mapped.",
        settings_page if settings is None else mappings_page,
        "Settings" if settings is None else "Mappings",
    )

    onboarding_date = settings.onboarding_date if settings else None
    onboarding = ChecklistItem(
        "onboarding",
        "Onboarding date set",
        onboarding_date is not None,
        f"Invoices dated from {onboarding_date:%d %b %Y} are posted; older ones are left alone."
        if onboarding_date
        else "Choose the date from which invoices are posted, so older ones already in the "
        "ledger are not posted twice.",
        f"{settings_page}#id_onboarding_date",
        "Set the onboarding date",
    )

    last_run = (
        SyncRun.objects.filter(company=company, status__in=TEST_SYNC_STATUSES)
        .order_by("-created_at")
        .first()
    )
    test_sync = ChecklistItem(
        "test_sync",
        "Test sync done",
        last_run is not None,
        f"A sync finished on {last_run.finished_at or last_run.created_at:%d %b %Y %H:%M}."
        if last_run
        else "Run a first sync and check its results.",
        sync_page,
        "Sync",
        Perm.SYNC,
    )
    items = (psa_item(credential_of(company, settings)), ledger, mappings, onboarding, test_sync)
    return CompanyChecklist(company, items)


def account_checklist(account: Account, companies: Iterable[Company]) -> AccountChecklist:
    """The account's own set-up steps, then each company's checklist."""
    primary = PsaCredential.objects.filter(account=account, is_primary=True).first()
    shown = tuple(company_checklist(company) for company in companies)
    any_company = Company.objects.filter(account=account).exists()
    first_company = ChecklistItem(
        "company",
        "A company set up",
        any_company,
        "Each company is one set of books in Xero or QuickBooks Online."
        if any_company
        else "Create a company for the books LedgerBridge posts into.",
        reverse("companies:list") if any_company else reverse("companies:create"),
        "Companies" if any_company else "New company",
        Perm.VIEW_COMPANIES if any_company else Perm.MANAGE_COMPANIES,
    )
    return AccountChecklist((psa_item(primary), first_company), shown)
