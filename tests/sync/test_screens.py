"""The Sync screen, Results, a record, run history and Statistics, as a finance admin uses them.

The PSA's postable list comes from the ConnectWise simulator in-process (never a real host);
runs are queued through `sync.actions` and their progress is written the way the engine does.
"""

import html
import itertools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from django.test import Client

from ledgerbridge.accounts.models import Account, PsaCredential, User
from ledgerbridge.companies.models import Company, ConnectionStatus, LedgerConnection
from ledgerbridge.connectors import psa
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent
from ledgerbridge.sync import actions, charts, queries
from ledgerbridge.sync import views as sync_views
from ledgerbridge.sync.models import SyncRecord, SyncRun
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.connectwise import app as connectwise_sim
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.state import Simulator

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 14, 10, 0, tzinfo=UTC)
PSA_IDS = itertools.count(1000)
CW_SECRETS = {
    "site": "http://sim.test/connectwise",
    "company_id": "demo",
    "public_key": "demo-public",
    "private_key": "demo-private",
    "client_id": "00000000-0000-4000-8000-000000000001",
}


@pytest.fixture(autouse=True)
def _frozen_clock() -> None:
    clock.set_now(NOW)


@pytest.fixture
def company(account: Account) -> Company:
    return Company.objects.create(account=account, name="Northwind Traders")


@pytest.fixture
def admin(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def sim() -> Simulator:
    simulator = Simulator()
    connectwise_sim.generate(simulator, invoices=5, seed=3)  # four of them ready to post
    return simulator


@pytest.fixture
def psa_through_sim(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """PSA calls made by the screens go to the in-process simulator."""
    transport = InProcessTransport(build_app(sim))
    monkeypatch.setattr(sync_views, "source_for", partial(psa.source_for, transport=transport))
    yield sim
    transport.close()


def credential(account: Account, **secrets: str) -> PsaCredential:
    return PsaCredential.objects.create(
        account=account,
        psa="connectwise",
        label="Sync API member",
        secrets={**CW_SECRETS, **secrets},
        is_primary=True,
    )


def connect_ledger(company: Company, *, status: str = ConnectionStatus.CONNECTED) -> None:
    LedgerConnection.objects.create(
        company=company,
        system="xero",
        organisation_id="tenant-1",
        organisation_name="Northwind (AU)",
        status=status,
        disconnect_reason="" if status == "connected" else "Xero ended the sign-in; reconnect.",
    )


def make_records(company: Company, count: int, **fields: Any) -> list[SyncRecord]:
    made = []
    for n in range(count):
        values: dict[str, Any] = {
            "state": "acknowledged",
            "number": f"INV-{n:04}",
            "customer_name": "Acme Pty",
            "issued_on": date(2026, 3, 1) + timedelta(days=n % 28),
        }
        values.update(fields)
        made.append(
            SyncRecord.objects.create(
                company=company,
                record_type="invoice",
                psa_id=f"P{next(PSA_IDS)}",
                **values,
            )
        )
    return made


def text_of(response: Any) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def section(page: str, title_id: str) -> str:
    found = re.search(rf'<section[^>]*aria-labelledby="{title_id}".*?</section>', page)
    assert found is not None, f"no section {title_id}"
    return found.group(0)


def numbers_on(page: str) -> list[str]:
    return re.findall(r'data-testid="record-row".*?<strong>([^<]+)</strong>', page)


# --- the Sync screen -----------------------------------------------------------------------


def test_sync_screen_lists_the_psas_postable_invoices_with_what_ledgerbridge_knows(
    admin: Client, account: Account, company: Company, psa_through_sim: Simulator
) -> None:
    credential(account)
    connect_ledger(company)
    SyncRecord.objects.create(
        company=company,
        record_type="invoice",
        psa_id="1002",
        number="11002",
        state="failed",
        error_class="mapping",
        error_message="Tax code 'GST-EX' has no Xero tax rate.",
    )
    screen = text_of(admin.get(f"/sync/{company.pk}/"))
    assert "Sync All" in screen
    assert f'hx-get="/sync/{company.pk}/postable/"' in screen

    partial_page = text_of(admin.get(f"/sync/{company.pk}/postable/"))
    for number in ("11001", "11002", "11003", "11004"):
        assert f">{number}</label>" in partial_page
    assert "Needs attention" in partial_page and "GST-EX" in partial_page
    assert partial_page.count(">New<") == 3
    # Both connections answered, so the refreshed panel is collapsed.
    panel = re.search(r"<details id=\"connections\"[^>]*>", partial_page)
    assert panel and "hx-swap-oob" in panel.group(0) and " open" not in panel.group(0)


def test_sync_selected_queues_a_run_for_just_the_ticked_invoices(
    admin: Client, company: Company
) -> None:
    response = admin.post(
        f"/sync/{company.pk}/start/", {"record_type": "invoice", "psa_id": ["1001", "1003"]}
    )
    run = SyncRun.objects.get(company=company)
    assert response.status_code == 302 and response["Location"].endswith(f"#run-{run.pk}")
    assert (run.trigger, run.record_types, run.only_psa_ids) == (
        "manual",
        ["invoice"],
        ["1001", "1003"],
    )


def test_sync_selected_with_nothing_ticked_says_so_and_queues_nothing(
    admin: Client, company: Company
) -> None:
    response = admin.post(f"/sync/{company.pk}/start/", {"record_type": "invoice"}, follow=True)
    assert "Tick the invoices to sync first." in text_of(response)
    assert not SyncRun.objects.exists()


def test_sync_all_queues_invoices_then_payments(admin: Client, company: Company) -> None:
    admin.post(f"/sync/{company.pk}/start/", {"everything": "on"})
    run = SyncRun.objects.get(company=company)
    assert (run.trigger, run.record_types, run.only_psa_ids) == (
        "sync_all",
        ["invoice", "payment"],
        [],
    )


def test_sync_all_is_hidden_and_refused_when_the_account_setting_is_off(
    admin: Client, account: Account, company: Company
) -> None:
    account_page = text_of(admin.get("/account/"))
    assert 'name="show_sync_all"' in account_page and "checked" in account_page

    admin.post("/sync/options/sync-all/", {})  # the checkbox left unticked
    account.refresh_from_db()
    assert account.show_sync_all is False
    assert AuditEvent.objects.filter(action="account.sync_all_hidden").count() == 1
    screen = text_of(admin.get(f"/sync/{company.pk}/"))
    assert ">Sync All</button>" not in screen
    refused = admin.post(f"/sync/{company.pk}/start/", {"everything": "on"}, follow=True)
    assert "Sync All is switched off" in text_of(refused)
    assert not SyncRun.objects.exists()

    admin.post("/sync/options/sync-all/", {"show_sync_all": "on"})
    assert ">Sync All</button>" in text_of(admin.get(f"/sync/{company.pk}/"))


def test_only_an_account_admin_changes_the_sync_all_setting(
    bob: User, account: Account, company: Company
) -> None:
    bob.companies.add(company)
    client = Client()
    client.force_login(bob)
    assert client.post("/sync/options/sync-all/", {}).status_code == 403
    account.refresh_from_db()
    assert account.show_sync_all is True


def test_connection_panel_opens_with_a_reconnect_button_when_the_ledger_is_disconnected(
    admin: Client, account: Account, company: Company
) -> None:
    credential(account)
    connect_ledger(company, status=ConnectionStatus.DISCONNECTED)
    screen = text_of(admin.get(f"/sync/{company.pk}/"))
    panel = re.search(r"<details id=\"connections\".*?</details>", screen)
    assert panel is not None
    assert " open" in panel.group(0).split(">")[0]
    assert "Xero ended the sign-in; reconnect." in panel.group(0)
    assert f'action="/companies/{company.pk}/connect/xero/"' in panel.group(0)
    assert "Reconnect to Xero" in panel.group(0)


def test_a_member_who_cannot_reconnect_is_told_whom_to_ask(
    bob: User, account: Account, company: Company
) -> None:
    bob.companies.add(company)
    connect_ledger(company, status=ConnectionStatus.DISCONNECTED)
    client = Client()
    client.force_login(bob)
    screen = text_of(client.get(f"/sync/{company.pk}/"))
    assert "Ask an account admin to reconnect it." in screen
    assert "/connect/xero/" not in screen


def test_a_psa_that_refuses_the_keys_opens_the_panel_with_the_fix(
    admin: Client, account: Account, company: Company, psa_through_sim: Simulator
) -> None:
    found = credential(account, private_key="wrong-key")
    connect_ledger(company)
    partial_page = text_of(admin.get(f"/sync/{company.pk}/postable/"))
    assert 'role="alert"' in partial_page
    panel = re.search(r"<details id=\"connections\".*?</details>", partial_page)
    assert panel is not None and " open" in panel.group(0).split(">")[0]
    assert f'href="/account/psa-credentials/{found.pk}/edit/"' in panel.group(0)
    assert "Reconnect: update the credentials" in panel.group(0)


def test_a_company_without_psa_credentials_says_where_to_add_them(
    admin: Client, company: Company
) -> None:
    connect_ledger(company)
    screen = text_of(admin.get(f"/sync/{company.pk}/"))
    assert "No PSA credentials to read invoices from." in screen
    assert "Add PSA credentials" in screen


# --- progress ------------------------------------------------------------------------------


def test_progress_partial_follows_the_run_and_stops_polling_when_it_finishes(
    admin: Client, company: Company
) -> None:
    run = actions.request_run(company, trigger="sync_all", enqueue=False)
    url = f"/sync/runs/{run.pk}/progress/"
    waiting = text_of(admin.get(url))
    assert 'hx-trigger="every 2s"' in waiting and "Waiting to start" in waiting

    SyncRun.objects.filter(pk=run.pk).update(
        status="running", started_at=NOW, progress={"invoice": {"done": 40, "total": 120}}
    )
    running = text_of(admin.get(url))
    assert 'hx-trigger="every 2s"' in running
    assert 'max="120" value="40"' in running and "40 of 120" in running

    SyncRun.objects.filter(pk=run.pk).update(
        status="partial",
        finished_at=NOW + timedelta(seconds=95),
        progress={"invoice": {"done": 120, "total": 120}, "payment": {"done": 3, "total": 3}},
        counts={"posted": 118, "failed": 2},
    )
    finished = text_of(admin.get(url))
    assert "hx-trigger" not in finished and "hx-get" not in finished
    assert "120 of 120" in finished and "3 of 3" in finished
    assert "118 posted" in finished and "2 need attention" in finished
    assert "1 min 35 s" in finished
    assert "See the records that need attention" in finished


def test_someone_elses_run_is_not_found(admin: Client, other_account: Account) -> None:
    theirs = Company.objects.create(account=other_account, name="Contoso")
    run = actions.request_run(theirs, trigger="manual", enqueue=False)
    assert admin.get(f"/sync/runs/{run.pk}/progress/").status_code == 404


# --- Results: filters and paging -------------------------------------------------------------


def test_results_pages_newest_first_and_back_again_at_the_boundaries(
    admin: Client, company: Company
) -> None:
    made = make_records(company, 120)
    newest = [r.number for r in reversed(made)]
    url = f"/sync/{company.pk}/results/"

    first = text_of(admin.get(url))
    assert numbers_on(first) == newest[:50]
    assert "Newer" not in first
    older = re.search(r'href="(\?before=\d+)" rel="next"', first)
    assert older is not None

    second = text_of(admin.get(url + older.group(1)))
    assert numbers_on(second) == newest[50:100]
    third_link = re.search(r'href="(\?before=\d+)" rel="next"', second)
    assert third_link is not None
    third = text_of(admin.get(url + third_link.group(1)))
    assert numbers_on(third) == newest[100:]
    assert 'rel="next"' not in third  # the oldest page has no "Older"

    back = re.search(r'href="(\?after=\d+)" rel="prev"', third)
    assert back is not None
    assert numbers_on(text_of(admin.get(url + back.group(1)))) == newest[50:100]
    back_again = re.search(r'href="(\?after=\d+)" rel="prev"', second)
    assert back_again is not None
    page_one = text_of(admin.get(url + back_again.group(1)))
    assert numbers_on(page_one) == newest[:50] and 'rel="prev"' not in page_one


def test_exactly_one_page_of_records_has_no_older_link(admin: Client, company: Company) -> None:
    make_records(company, sync_views.PAGE_SIZE)
    page = text_of(admin.get(f"/sync/{company.pk}/results/"))
    assert len(numbers_on(page)) == sync_views.PAGE_SIZE
    assert 'rel="next"' not in page and 'rel="prev"' not in page


def test_results_filter_by_state_problem_dates_and_search(admin: Client, company: Company) -> None:
    make_records(company, 6)
    failing = make_records(
        company,
        3,
        state="failed",
        error_class="mapping",
        number="MAP",
        error_message="GL account 4000 from ConnectWise has no Xero account.",
        error_hint="Map it under Company → GL accounts.",
    )
    SyncRecord.objects.filter(pk=failing[0].pk).update(
        number="ZED-9", customer_name="Zenith Ltd", issued_on=date(2026, 4, 30)
    )
    url = f"/sync/{company.pk}/results/"

    failed = text_of(admin.get(url, {"state": "failed"}))
    assert len(numbers_on(failed)) == 3
    assert "Missing mapping" in failed and "Map it under Company → GL accounts." in failed
    assert "Fix the mapping" in failed and f'href="/companies/{company.pk}/' in failed
    assert len(numbers_on(text_of(admin.get(url, {"problem": "mapping"})))) == 3
    assert numbers_on(text_of(admin.get(url, {"problem": "validation"}))) == []

    # Date bounds are inclusive on both ends.
    on_the_day = admin.get(url, {"issued_from": "2026-04-30", "issued_to": "2026-04-30"})
    assert numbers_on(text_of(on_the_day)) == ["ZED-9"]
    assert numbers_on(text_of(admin.get(url, {"issued_from": "2026-05-01"}))) == []
    assert numbers_on(text_of(admin.get(url, {"search": "zenith"}))) == ["ZED-9"]
    assert numbers_on(text_of(admin.get(url, {"search": "zed-9"}))) == ["ZED-9"]
    assert numbers_on(text_of(admin.get(url, {"search": failing[1].psa_id}))) == ["MAP"]

    nothing = text_of(admin.get(url, {"search": "no such invoice"}))
    assert "No records match these filters" in nothing and "Clear filters" in nothing
    backwards = admin.get(url, {"issued_from": "2026-05-01", "issued_to": "2026-04-01"})
    assert backwards.status_code == 200
    assert "after the “Issued to” date" in text_of(backwards)


def test_results_show_the_ledger_number_and_link(admin: Client, company: Company) -> None:
    make_records(
        company,
        1,
        ledger_number="INV-0457",
        ledger_url="https://sim.test/xero/invoice/abc",
        total=Decimal("1210.5000"),
        currency="AUD",
    )
    page = text_of(admin.get(f"/sync/{company.pk}/results/"))
    assert 'href="https://sim.test/xero/invoice/abc"' in page and "INV-0457" in page
    assert "1210.50 AUD" in page


def test_results_start_empty_with_the_way_to_the_sync_screen(
    admin: Client, company: Company
) -> None:
    page = text_of(admin.get(f"/sync/{company.pk}/results/"))
    assert "Nothing synced yet" in page and f'href="/sync/{company.pk}/"' in page


def test_a_user_sees_only_the_companies_assigned_to_them(
    bob: User, account: Account, company: Company
) -> None:
    other = Company.objects.create(account=account, name="Fabrikam")
    make_records(other, 1)
    bob.companies.add(company)
    client = Client()
    client.force_login(bob)
    assert client.get(f"/sync/{company.pk}/results/").status_code == 200
    assert client.get(f"/sync/{other.pk}/results/").status_code == 404
    record = SyncRecord.objects.get(company=other)
    assert client.get(f"/sync/records/{record.pk}/").status_code == 404
    # With one company, the picker goes straight to it.
    assert client.get("/sync/")["Location"] == f"/sync/{company.pk}/"


# --- record actions ----------------------------------------------------------------------


def test_retry_queues_a_run_and_the_record_waits_for_it(admin: Client, company: Company) -> None:
    (record,) = make_records(company, 1, state="failed", error_class="mapping")
    here = f"/sync/{company.pk}/results/?state=failed"
    response = admin.post(f"/sync/records/{record.pk}/retry/", {"next": here})
    assert response["Location"] == here
    record.refresh_from_db()
    assert (record.state, record.error_class) == ("pending", "")
    run = SyncRun.objects.get(company=company)
    assert (run.trigger, run.only_psa_ids) == ("retry", [record.psa_id])


def test_exclude_include_and_mark_posted_go_through_the_actions(
    admin: Client, company: Company
) -> None:
    (record,) = make_records(company, 1, state="failed", error_class="validation")
    admin.post(f"/sync/records/{record.pk}/exclude/", {"reason": "Billed in the old system"})
    record.refresh_from_db()
    assert (record.state, record.manual_note) == ("excluded", "Billed in the old system")

    admin.post(f"/sync/records/{record.pk}/include/")
    record.refresh_from_db()
    assert record.state == "pending"

    refused = admin.post(f"/sync/records/{record.pk}/mark-posted/", {"ledger_number": " "})
    assert refused.status_code == 400
    assert "Give the ledger's number" in text_of(refused)
    admin.post(f"/sync/records/{record.pk}/mark-posted/", {"ledger_number": "INV-0099"})
    record.refresh_from_db()
    assert (record.state, record.ledger_number) == ("posted", "INV-0099")

    again = admin.post(f"/sync/records/{record.pk}/retry/", follow=True)
    assert "only failed records are retried" in text_of(again)
    record.refresh_from_db()
    assert record.state == "posted"


def test_the_record_page_offers_only_what_its_state_allows(admin: Client, company: Company) -> None:
    (failed,) = make_records(company, 1, state="failed", error_hint="Map it.", number="F-1")
    (done,) = make_records(company, 1, number="D-1")
    failed_page = text_of(admin.get(f"/sync/records/{failed.pk}/"))
    assert "Retry" in failed_page and "Mark as posted" in failed_page
    assert "How to fix it: Map it." in failed_page
    done_page = text_of(admin.get(f"/sync/records/{done.pk}/"))
    assert "/retry/" not in done_page and "/mark-posted/" not in done_page


def test_repost_shows_for_a_changed_record_only_while_the_action_exists(
    admin: Client, company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    (changed,) = make_records(company, 1, state="changed", ledger_id="L-1", number="C-1")
    repost_button = f'action="/sync/records/{changed.pk}/repost/"'
    calls: list[SyncRecord] = []

    def fake_repost(record: SyncRecord, *, user: User | None = None) -> SyncRun:
        calls.append(record)
        return actions.request_run(record.company, trigger="manual", enqueue=False)

    monkeypatch.setattr(actions, "repost_record", fake_repost, raising=False)
    assert repost_button in text_of(admin.get(f"/sync/{company.pk}/results/"))
    admin.post(f"/sync/records/{changed.pk}/repost/")
    assert [record.pk for record in calls] == [changed.pk]

    monkeypatch.delattr(actions, "repost_record", raising=False)
    assert repost_button not in text_of(admin.get(f"/sync/{company.pk}/results/"))
    refused = admin.post(f"/sync/records/{changed.pk}/repost/", follow=True)
    assert "Re-posting is not available" in text_of(refused)


# --- run history ---------------------------------------------------------------------------


def test_run_history_shows_durations_and_counts(admin: Client, company: Company) -> None:
    run = actions.request_run(company, trigger="sync_all", enqueue=False)
    SyncRun.objects.filter(pk=run.pk).update(
        status="succeeded",
        started_at=NOW,
        finished_at=NOW + timedelta(seconds=42),
        counts={"posted": 12, "acknowledged": 12},
    )
    page = text_of(admin.get(f"/sync/{company.pk}/runs/"))
    assert "Sync all" in page and "42 s" in page
    assert "12 posted" in page and "12 marked in the PSA" in page


# --- Statistics ----------------------------------------------------------------------------


def test_statistics_match_the_records(admin: Client, account: Account, company: Company) -> None:
    other = Company.objects.create(account=account, name="Fabrikam")
    this_month, march = NOW, datetime(2026, 3, 9, tzinfo=UTC)
    make_records(company, 7, posted_at=this_month)
    make_records(company, 4, posted_at=march, number="MAR")
    make_records(other, 2, posted_at=march, number="FAB")
    make_records(company, 3, state="failed", error_class="mapping", number="MAP")
    make_records(company, 1, state="failed", error_class="ledger_rejected", number="REJ")
    page = text_of(admin.get(f"/sync/{company.pk}/statistics/"))

    synced_table = section(page, "synced-title")
    assert '<th scope="row">May 2026</th><td class="num">7</td>' in synced_table
    assert '<th scope="row">March 2026</th><td class="num">4</td>' in synced_table
    assert '<th scope="row">April 2026</th><td class="num">0</td>' in synced_table
    assert '<th scope="row">Twelve months</th><td class="num">11</td>' in synced_table
    assert '<title id="synced-chart-title">' in synced_table
    assert "11 documents in all" in synced_table

    errors = section(page, "errors-title")
    assert "Missing mapping" in errors and "Refused by the ledger" in errors
    assert '<th scope="row">May 2026</th><td class="num">3</td><td class="num">1</td>' in errors

    companies = section(page, "companies-title")
    assert re.search(r"Fabrikam</a></th>(<td class=\"num\">\d+</td>){6}", companies)
    fabrikam = re.search(r"Fabrikam</a></th>((?:<td class=\"num\">\d+</td>){6})", companies)
    # Six months, December to May: Fabrikam synced two in March.
    assert re.findall(r'<th scope="col" class="num">(\w+ \d+)</th>', companies)[:6] == [
        "Dec 2025",
        "Jan 2026",
        "Feb 2026",
        "Mar 2026",
        "Apr 2026",
        "May 2026",
    ]
    assert fabrikam and re.findall(r">(\d+)<", fabrikam.group(1)) == ["0", "0", "0", "2", "0", "0"]


def test_statistics_without_failures_say_so(admin: Client, company: Company) -> None:
    page = text_of(admin.get(f"/sync/{company.pk}/statistics/"))
    assert "Nothing is failing." in page and "errors-chart" not in page


# --- the parts on their own -----------------------------------------------------------------


def test_record_page_query_walks_both_ways_without_gaps(company: Company) -> None:
    records = make_records(company, 7)
    ids = [r.pk for r in reversed(records)]
    everything = queries.filtered_records(company, queries.RecordFilter())
    first = queries.record_page(everything, limit=3)
    assert [r.pk for r in first.records] == ids[:3]
    assert first.newer_than is None and first.older_than == ids[2]
    second = queries.record_page(everything, before=first.older_than, limit=3)
    last = queries.record_page(everything, before=second.older_than, limit=3)
    assert [r.pk for r in last.records] == ids[6:] and last.older_than is None
    assert last.newer_than == ids[6]
    back = queries.record_page(everything, after=last.newer_than, limit=3)
    assert [r.pk for r in back.records] == ids[3:6]
    assert back.newer_than == ids[3] and back.older_than == ids[5]


@pytest.mark.parametrize(
    ("tallest", "top"), [(0, 4), (3, 4), (5, 8), (41, 80), (120, 200), (1001, 2000)]
)
def test_chart_scale_rounds_up_to_four_even_gridlines(tallest: int, top: int) -> None:
    assert charts.nice_ceiling(tallest) == top


def test_chart_bars_are_as_tall_as_their_values() -> None:
    months = [date(2026, m, 1) for m in (1, 2, 3)]
    chart = charts.monthly_bar_chart(
        title="Synced",
        months=months,
        series=[(charts.Series("a", "A"), [10, 20, 0]), (charts.Series("b", "B"), [10, 0, 0])],
        unit="documents",
    )
    plot = chart.baseline - chart.ticks[-1].y  # the height of the scale's top value (20)
    assert chart.ticks[-1].value == 20
    first, second, third = chart.columns
    assert [s.height for s in first.segments] == [plot / 2, plot / 2]
    assert [s.height for s in second.segments] == [plot]
    assert third.segments == () and third.total == 0
    assert first.segments[1].y + first.segments[1].height == first.segments[0].y
    assert "40 documents in all" in chart.description
