"""Issue 7, acceptance 1 and 2: a newcomer's path, in a real browser, against the simulators.

A new MSP's first admin, from the link `createaccount` prints to invoices in the ledger:
choose a password and enrol an authenticator app (codes computed from the setup key shown) →
Account: add the PSA's API credentials and press "Test connectivity" → create a company and
connect its ledger through the simulator's consent page → settings → mappings: accept the
suggestions → Sync screen: Sync All, and watch the run's progress bar fill as a worker posts →
open a record that failed for want of a mapping, follow its hint to the mappings screen, map the
value → back on the record, Retry → it ends posted. Once with ConnectWise and Xero, once with
Autotask and QuickBooks Online.

The books: the PSA simulator generates an MSP's invoices (US-style GL accounts 4000, 4100, …),
and the ledger's chart of accounts is seeded with revenue accounts numbered like the PSA's, as
an MSP's bookkeeper sets them up, except one. Suggestions match the rest by code, so exactly
that PSA account is left for the admin: invoices using it fail with a mapping error.

Acceptance 2 runs throughout: every console error, uncaught page error, failed request and
HTTP response of 400 or more, on any page (LedgerBridge's or the simulator's), fails the test;
every control the admin uses is found by its label; and the key steps are done with the
keyboard (Tab until the control has focus, then Enter or Space), which also proves each
control is in the keyboard order.

A database worker runs in a thread of this process, started only once the run is queued, so
the test sees the bar waiting and then filled by htmx polling (the page is not reloaded).
Drives Debian's Chromium (/usr/bin/chromium) with Playwright; run with `./dev browser`.
"""

import importlib.util
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from django.db import connection
from pytest_django.live_server_helper import LiveServer

from ledgerbridge.accounts.models import PsaCredential
from ledgerbridge.sync.models import SyncRecord, SyncRun
from ledgerbridge_sim.autotask.app import (
    DEFAULT_INTEGRATION_CODE,
    DEFAULT_SECRET,
    DEFAULT_USERNAME,
)
from ledgerbridge_sim.connectwise.auth import DEFAULT_CLIENT_ID, DEFAULT_COMPANY, DEFAULT_PUBLIC_KEY
from tests.companies.conftest import QBO_US, XERO_AU, point_settings_at
from tests.e2e.test_first_login import PASSWORD, create_account, totp_code

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Locator, Page, Response

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
CONNECTWISE_PRIVATE_KEY = "demo-private"  # the simulator's published demo credential

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None,
        reason=(
            "needs Debian's Chromium at /usr/bin/chromium and the playwright package "
            "(./dev browser installs both)"
        ),
    ),
]


# --- the simulators and a worker -------------------------------------------------------------


class Worker:
    """django-tasks-db's worker in a thread, as `ledgerbridge worker` runs it in a process."""

    def __init__(self) -> None:
        from django_tasks_db.management.commands.db_worker import Worker as DbWorker

        self.worker = DbWorker(
            queue_names=["default"],
            interval=0.2,
            batch=False,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="e2e-newcomer",
            excluded_queue_names=[],
        )
        self.thread = threading.Thread(target=self._run, name="db-worker", daemon=True)
        self.crashed: list[BaseException] = []

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as error:  # reported by the test, not lost in a thread
            self.crashed.append(error)
        finally:
            connection.close()

    def start(self) -> None:
        if not self.thread.is_alive():
            self.thread.start()

    def stop(self) -> None:
        self.worker.running = False
        if self.thread.is_alive():
            self.thread.join(30)


@pytest.fixture
def worker(transactional_db: None, live_server: LiveServer) -> Iterator[Worker]:
    handle = Worker()
    try:
        yield handle
    finally:
        handle.stop()
    assert not handle.crashed, f"the worker crashed: {handle.crashed[0]!r}"


def seed(simulator_url: str, body: dict[str, Any]) -> None:
    """Books in the simulators, through their control API (as the demo seeds them)."""
    answer = httpx.post(f"{simulator_url}/_sim/seed", json=body, timeout=30)
    assert answer.status_code == 200, answer.text


# --- what the browser saw --------------------------------------------------------------------


@dataclass
class Problems:
    """Console errors, page errors, failed requests and error responses, as they happen."""

    seen: list[str] = field(default_factory=list)

    def watch(self, page: "Page") -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.seen.append(f"page error: {error} ({page.url})"))
        page.on(
            "requestfailed",
            lambda request: self.seen.append(
                f"request failed: {request.method} {request.url} ({request.failure})"
            ),
        )
        page.on("response", self._response)

    def _console(self, message: "ConsoleMessage") -> None:
        if message.type != "error":
            return
        source = str(message.location.get("url", ""))
        self.seen.append(f"console error: {message.text} ({source})")

    def _response(self, response: "Response") -> None:
        if response.status >= 400:
            self.seen.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def assert_none(self, step: str) -> None:
        assert not self.seen, f"after {step}:\n" + "\n".join(self.seen)


def has_focus(target: "Locator") -> bool:
    return bool(target.evaluate("element => element === document.activeElement"))


def tab_to(page: "Page", target: "Locator", *, limit: int = 250) -> None:
    """Press Tab until `target` has the focus, as a keyboard user reaches it."""
    target.wait_for()
    for _ in range(limit):
        if has_focus(target):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


def press(page: "Page", target: "Locator", key: str = "Enter") -> None:
    """Reach `target` with Tab and press Enter (links, buttons) or Space (boxes, buttons)."""
    tab_to(page, target)
    page.keyboard.press(key)


def pick_radio(page: "Page", target: "Locator") -> None:
    """Choose a radio button as a keyboard user does: Tab into its group (which stops on the
    checked button, or the first), then Space and the arrow keys."""
    name = target.get_attribute("name")
    group = page.locator(f'input[type=radio][name="{name}"]')
    checked = group.locator(":scope:checked")
    tab_to(page, checked.first if checked.count() else group.first)
    if not checked.count():
        page.keyboard.press("Space")
    for _ in range(group.count()):
        if target.is_checked():
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"the arrow keys never checked {target}")


def type_into(page: "Page", label: str | re.Pattern[str], text: str) -> None:
    """Tab to the field with this label and type, as a person does."""
    field_ = (
        page.get_by_label(label, exact=True) if isinstance(label, str) else page.get_by_label(label)
    )
    tab_to(page, field_)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def choose(page: "Page", label: str, option: str) -> None:
    """Pick the option of the select with this label."""
    select = page.get_by_label(label, exact=True)
    select.select_option(label=option)


# --- the path --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pairing:
    """One PSA and one ledger, and what the admin types and chooses for them."""

    company: str
    psa_button: str  # "Add ConnectWise" on the Account screen
    credentials: tuple[tuple[str, str], ...]  # (field label, value) in form order
    ledger: str  # "Xero" / "QuickBooks", as the connect buttons say
    ledger_label: str  # "Xero" / "QuickBooks Online", as the mappings screen says
    consent_path: str  # where the ledger's consent page lives on the simulator
    organisation: str  # ticked or chosen on the consent page
    settings: tuple[tuple[str, str], ...]  # (select label, option) on the settings page
    unmatched_number: str  # the PSA GL account no suggestion can match …
    unmatched_name: str  # … and its name
    map_to: str  # the ledger account option the admin maps it to


def main_nav(page: "Page", name: str) -> "Locator":
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name)


def sign_up(page: "Page", link: str) -> None:
    """The printed link → a password → authenticator enrolment → recovery codes → dashboard."""
    from playwright.sync_api import expect

    page.goto(link)
    type_into(page, re.compile(r"^New password:?$"), PASSWORD)
    type_into(page, re.compile(r"^New password confirmation:?$"), PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/"))
    secret = page.locator("#authenticator_secret").inner_text().strip()
    type_into(page, re.compile(r"^Authenticator code"), totp_code(secret, time.time()))
    page.keyboard.press("Enter")
    expect(page.locator("#recovery_codes li").first).to_be_visible()
    press(page, page.get_by_role("link", name=re.compile("continue", re.IGNORECASE)))
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    # The go-live checklist arrives in place: what is left before invoices flow.
    expect(page.get_by_test_id("account-checklist")).to_be_visible()


def add_psa_credentials(page: "Page", pairing: Pairing) -> None:
    from playwright.sync_api import expect

    press(page, main_nav(page, "Account"))
    expect(page.get_by_role("heading", name="Account", exact=True)).to_be_visible()
    press(page, page.get_by_role("link", name=pairing.psa_button))
    for label, value in pairing.credentials:
        type_into(page, label, value)
    press(page, page.get_by_role("button", name="Save"))
    expect(page.get_by_text("it is the primary API account")).to_be_visible()
    # Test connectivity answers in place (htmx) with the PSA's own findings.
    press(page, page.get_by_role("button", name=re.compile("^Test connectivity")))
    expect(page.get_by_test_id("psa-test-result")).to_contain_text("Passed", timeout=30_000)


def create_company(page: "Page", name: str) -> None:
    from playwright.sync_api import expect

    press(page, main_nav(page, "Companies"))
    press(page, page.get_by_role("link", name="New company"))
    type_into(page, "Company name", name)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def connect_ledger(page: "Page", pairing: Pairing, simulator_url: str) -> None:
    """The wizard's first step, through the simulator's consent page."""
    from playwright.sync_api import expect

    company_page = page.url
    press(page, page.get_by_role("button", name=f"Connect to {pairing.ledger}").first)
    page.wait_for_url(re.compile(re.escape(simulator_url + pairing.consent_path)))
    organisation = page.get_by_label(pairing.organisation)
    if organisation.get_attribute("type") == "radio":
        pick_radio(page, organisation)
    else:
        press(page, organisation, "Space")
    expect(organisation).to_be_checked()
    press(page, page.get_by_role("button", name="Allow access"))
    page.wait_for_url(company_page)
    expect(page.get_by_test_id("connection-status")).to_contain_text(pairing.organisation)


def save_settings(page: "Page", pairing: Pairing) -> None:
    from playwright.sync_api import expect

    press(page, page.get_by_role("link", name="Open settings"))
    expect(page.get_by_role("heading", name=re.compile("^Set up:"))).to_be_visible()
    expect(page.get_by_text("It cannot be changed later")).to_be_visible()
    # One ledger tax code for taxable sales and one for exempt: a radio, chosen with the keys.
    fixed = page.get_by_label("One ledger tax code for taxable sales, one for exempt")
    pick_radio(page, fixed)
    expect(fixed).to_be_checked()
    for label, option in pairing.settings:
        choose(page, label, option)
    press(page, page.get_by_role("button", name="Save and continue to mappings"))
    expect(page.get_by_role("heading", name=re.compile("^Mappings:"))).to_be_visible()


def accept_suggestions(page: "Page", pairing: Pairing) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="GL accounts")).to_be_visible()
    press(page, page.get_by_role("button", name=re.compile(r"^Accept all suggestions \(\d+\)")))
    expect(page.get_by_text(re.compile(r"Accepted \d+ suggestions?\."))).to_be_visible()
    # What no suggestion could match stays unmapped, highlighted and counted.
    unmatched = page.get_by_test_id("mapping-row").filter(has_text=pairing.unmatched_name)
    expect(unmatched).to_have_class(re.compile("is-unmapped"))
    expect(unmatched).to_contain_text("Not mapped")
    expect(page.get_by_test_id("unmapped-count")).to_contain_text("not mapped")


def progress_of(bar: "Locator") -> tuple[str, str]:
    return (bar.get_attribute("value") or "", bar.get_attribute("max") or "")


def sync_all_and_watch(page: "Page", worker: Worker, pairing: Pairing) -> list[tuple[str, str]]:
    """Sync All, then watch the invoice bar until the run finishes; every value it showed."""
    from playwright.sync_api import expect

    press(page, main_nav(page, "Sync"))
    expect(page.get_by_role("heading", name="Sync", exact=True)).to_be_visible()
    # The PSA's invoices ready to post arrive in place, read live.
    expect(page.locator("#postable table")).to_be_visible(timeout=30_000)
    press(page, page.get_by_role("button", name="Sync All", exact=True))
    expect(page.get_by_text(f"Sync All started for {pairing.company}")).to_be_visible()
    run = page.get_by_test_id("run").first
    status = run.get_by_role("status")
    expect(status).to_have_text("Waiting to start")
    bar = run.get_by_label("Invoices")
    seen = [progress_of(bar)]
    worker.start()
    # htmx polls the run every 2 seconds; the page is never reloaded.
    deadline = time.monotonic() + 90
    while not status.inner_text().startswith("Finished"):
        assert time.monotonic() < deadline, f"the run did not finish; the bar showed {seen}"
        if progress_of(bar) != seen[-1]:
            seen.append(progress_of(bar))
        page.wait_for_timeout(50)
    if progress_of(bar) != seen[-1]:
        seen.append(progress_of(bar))
    return seen


def fix_and_retry(page: "Page", pairing: Pairing) -> str:
    """A failed record → its hint → the mapping → back to the record → Retry → posted."""
    from playwright.sync_api import expect

    press(page, page.get_by_role("link", name="See the records that need attention"))
    expect(page.get_by_role("heading", name="Results", exact=True)).to_be_visible()
    problem = page.locator("tr.problem-row").filter(
        has_text=f"PSA GL account {pairing.unmatched_number} has no ledger account"
    )
    record_link = problem.first.locator("xpath=preceding-sibling::tr[1]").get_by_role("link")
    press(page, record_link.first)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(f"Map GL account {pairing.unmatched_number}")
    record_url = page.url

    press(page, alert.get_by_role("link", name="Fix the mapping"))
    expect(page.get_by_role("heading", name=re.compile("^Mappings:"))).to_be_visible()
    expect(page.get_by_role("heading", name="GL accounts")).to_be_visible()
    choose(page, f"{pairing.ledger_label} value for {pairing.unmatched_name}", pairing.map_to)
    press(page, page.get_by_role("button", name="Save GL accounts"))
    expect(page.get_by_text("Saved 1 mapping.")).to_be_visible()

    press(page, page.get_by_role("link", name="Back to the record to retry it"))
    page.wait_for_url(record_url)
    press(page, page.get_by_role("button", name=re.compile("^Retry")))
    expect(page.get_by_text("is queued to post again")).to_be_visible()
    # The page follows the retry by itself (no reload) until the record settles: in the ledger
    # and marked as posted in the PSA.
    expect(page.get_by_test_id("record-state")).to_have_text("Done", timeout=60_000)
    expect(page.get_by_text("In the ledger and marked as posted in the PSA.")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    in_ledger = page.get_by_role("row", name=re.compile("^In the ledger"))
    expect(in_ledger).not_to_contain_text("Not yet")
    return record_url


def walk(
    page: "Page",
    problems: Problems,
    *,
    live_server: LiveServer,
    simulator_url: str,
    worker: Worker,
    pairing: Pairing,
) -> None:
    sign_up(page, create_account(live_server))
    problems.assert_none("signing up")
    add_psa_credentials(page, pairing)
    problems.assert_none("adding the PSA credentials")
    create_company(page, pairing.company)
    connect_ledger(page, pairing, simulator_url)
    save_settings(page, pairing)
    accept_suggestions(page, pairing)
    problems.assert_none("setting the company up")

    seen = sync_all_and_watch(page, worker, pairing)
    run = SyncRun.objects.get(trigger=SyncRun.Trigger.SYNC_ALL)
    total = run.progress["invoice"]["total"]
    assert total >= 2, run.progress
    # The bar was watched from empty to full.
    assert seen[0] == ("0", "1"), seen
    assert seen[-1] == (str(total), str(total)), seen
    assert run.status == SyncRun.Status.PARTIAL, (run.status, run.counts, run.error)
    problems.assert_none("Sync All")

    failing = SyncRecord.objects.filter(state=SyncRecord.State.FAILED)
    assert failing.exists() and all(r.error_class == "mapping" for r in failing), [
        (r.number, r.error_message) for r in failing
    ]
    posted_before = SyncRecord.objects.filter(state__in=POSTED).count()
    assert posted_before >= 1

    record_url = fix_and_retry(page, pairing)
    problems.assert_none("fixing the mapping and retrying")
    retried = SyncRecord.objects.get(pk=int(record_url.rstrip("/").rsplit("/", 1)[1]))
    assert retried.state == SyncRecord.State.ACKNOWLEDGED and retried.ledger_number
    assert SyncRecord.objects.filter(state__in=POSTED).count() == posted_before + 1


POSTED = ("posted", "acknowledged")


@pytest.fixture
def browser_page(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple["Page", Problems]]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test reads rows between
    # steps (the server runs in its own thread), which Django allows when told.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(15_000)
        problems = Problems()
        problems.watch(page)
        yield page, problems
        browser.close()


def aim_at(settings: Any, simulator_url: str) -> None:
    """LedgerBridge's ledger addresses, and the address it trusts as the simulators'."""
    point_settings_at(settings, simulator_url)
    settings.LEDGER_SIM_URL = simulator_url


@pytest.mark.django_db(transaction=True)
def test_connectwise_and_xero_from_a_new_account_to_a_retried_invoice_posted(
    live_server: LiveServer,
    simulator_url: str,
    worker: Worker,
    settings: Any,
    browser_page: tuple["Page", Problems],
) -> None:
    aim_at(settings, simulator_url)
    seed(simulator_url, {"generate": {"system": "connectwise", "invoices": 12, "seed": 1}})
    # The MSP's Xero chart has revenue accounts numbered like its ConnectWise GL accounts,
    # except reimbursed expenses (4400).
    revenue = [
        ("4000", "Managed Services Revenue"),
        ("4100", "Professional Services Revenue"),
        ("4200", "Hardware Sales"),
        ("4300", "Software and Licensing"),
    ]
    seed(
        simulator_url,
        {
            "xero": {
                "tenant": XERO_AU[0],
                "Accounts": [
                    {"Code": code, "Name": name, "Type": "REVENUE", "TaxType": "OUTPUT"}
                    for code, name in revenue
                ],
            }
        },
    )
    pairing = Pairing(
        company="Fabrikam Sydney",
        psa_button="Add ConnectWise PSA",
        credentials=(
            ("Label", "ConnectWise sync member"),
            ("Site", f"{simulator_url}/connectwise"),
            ("Company ID", DEFAULT_COMPANY),
            ("Public key", DEFAULT_PUBLIC_KEY),
            ("Private key", CONNECTWISE_PRIVATE_KEY),
            ("Client ID", DEFAULT_CLIENT_ID),
        ),
        ledger="Xero",
        ledger_label="Xero",
        consent_path="/xero/identity/connect/",
        organisation=XERO_AU[1],
        settings=(
            ("Locale", "Australia"),
            ("Time zone", "Australia/Sydney"),
            ("Product ids too long for the ledger", "Shorten it with a stable suffix"),
            ("Default revenue account", "200 · Sales"),
            ("Tax code for taxable sales", "GST on Income (10%)"),
            ("Tax code for tax-exempt sales", "GST Free Income (0%)"),
            ("Adjustment tax code", "GST Free Income (0%)"),
        ),
        unmatched_number="4400",
        unmatched_name="Reimbursed Expenses",
        map_to="260 · Other Revenue",
    )
    page, problems = browser_page
    walk(
        page,
        problems,
        live_server=live_server,
        simulator_url=simulator_url,
        worker=worker,
        pairing=pairing,
    )
    credential = PsaCredential.objects.get()
    assert credential.secrets["site"] == f"{simulator_url}/connectwise"


@pytest.mark.django_db(transaction=True)
def test_autotask_and_quickbooks_from_a_new_account_to_a_retried_invoice_posted(
    live_server: LiveServer,
    simulator_url: str,
    worker: Worker,
    settings: Any,
    browser_page: tuple["Page", Problems],
) -> None:
    aim_at(settings, simulator_url)
    seed(simulator_url, {"generate": {"system": "autotask", "invoices": 20, "seed": 2}})
    # The MSP's QuickBooks income accounts carry its Autotask GL numbers, except professional
    # services (4010).
    income = [
        ("4000", "Managed Services Revenue"),
        ("4020", "Project Revenue"),
        ("4100", "Hardware Sales"),
        ("4110", "Software and Licensing Sales"),
        ("4200", "Reimbursed Expenses"),
    ]
    seed(
        simulator_url,
        {
            "qbo": {
                "realm": QBO_US[0],
                "Account": [
                    {"AcctNum": number, "Name": name, "AccountType": "Income"}
                    for number, name in income
                ],
            }
        },
    )
    pairing = Pairing(
        company="Fabrikam Columbus",
        psa_button="Add Datto Autotask",
        credentials=(
            ("Label", "Autotask API user"),
            ("API user", DEFAULT_USERNAME),
            ("Secret", DEFAULT_SECRET),
            ("Tracking identifier", DEFAULT_INTEGRATION_CODE),
            (
                "Zone lookup address (optional)",
                f"{simulator_url}/autotask/atservicesrest/v1.0/zoneInformation",
            ),
        ),
        ledger="QuickBooks",
        ledger_label="QuickBooks Online",
        consent_path="/qbo/connect/oauth2",
        organisation=QBO_US[1],
        settings=(
            ("Locale", "United States"),
            ("Time zone", "America/New_York"),
            ("Default revenue account", "Services · Services"),
            ("Tax code for taxable sales", "Taxable"),
            ("Tax code for tax-exempt sales", "Non-taxable"),
            ("Adjustment tax code", "Non-taxable"),
        ),
        unmatched_number="4010",
        unmatched_name="Professional Services Revenue",
        map_to="Services · Services",
    )
    page, problems = browser_page
    walk(
        page,
        problems,
        live_server=live_server,
        simulator_url=simulator_url,
        worker=worker,
        pairing=pairing,
    )
    credential = PsaCredential.objects.get()
    assert credential.secrets["zone_lookup_url"].startswith(simulator_url)
