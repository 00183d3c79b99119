"""The log hook stores every call cheaply, never loses the last ones, and never keeps a secret."""

import base64
import gc
import json
from typing import Any

import pytest
from django.db import DatabaseError
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from ledgerbridge.accounts.models import Account, PsaKind
from ledgerbridge.apilog import hooks
from ledgerbridge.apilog.hooks import ApiCallRecorder, hook_for
from ledgerbridge.apilog.models import ApiCallRecord
from ledgerbridge.companies.models import Company, CompanySettings
from ledgerbridge.connectors.base import Customer
from ledgerbridge.connectors.http import ApiCall
from ledgerbridge.connectors.ledgers import ledger_for
from ledgerbridge.connectors.psa import source_for
from ledgerbridge.sync.models import SyncRun
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.state import Simulator
from tests.apilog.conftest import AT_SECRETS, CW_SECRETS, credential
from tests.companies.conftest import QBO_US, XERO_AU, make_connection

pytestmark = pytest.mark.django_db


def a_call(path: str = "/api.xro/2.0/Accounts", status: int | None = 200) -> ApiCall:
    return ApiCall(
        vendor="Xero",
        method="GET",
        path=path,
        status=status,
        duration_ms=12.6,
        attempt=1,
        outcome="ok" if status == 200 else "transient",
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def recorder(account: Account, **options: Any) -> ApiCallRecorder:
    return ApiCallRecorder(
        account_id=account.pk,
        company_id=None,
        connection="Xero: Demo MSP (AU)",
        detailed=False,
        **options,
    )


# --- batching -------------------------------------------------------------------------------


def test_calls_are_written_in_batches_with_one_insert_each(account: Account) -> None:
    hook = recorder(account, batch_size=3, monotonic=FakeClock())
    with CaptureQueriesContext(db_connection) as queries:
        hook(a_call("/one"))
        hook(a_call("/two"))
        assert ApiCallRecord.objects.count() == 0  # still waiting in memory
        writes_before = len(queries)
        hook(a_call("/three"))
        assert len(queries) == writes_before + 1  # the batch is one INSERT
    assert writes_before == 1  # only the count() above: the hook itself read nothing
    stored = ApiCallRecord.objects.order_by("pk")
    assert [call.path for call in stored] == ["/one", "/two", "/three"]
    first = stored[0]
    assert (first.connection, first.vendor, first.status, first.duration_ms) == (
        "Xero: Demo MSP (AU)",
        "Xero",
        200,
        13,
    )


def test_a_quiet_connection_still_writes_within_the_delay(account: Account) -> None:
    clock = FakeClock()
    hook = recorder(account, batch_size=50, max_delay=1.0, monotonic=clock)
    hook(a_call("/first"))
    clock.now += 0.4
    hook(a_call("/second"))
    assert ApiCallRecord.objects.count() == 0
    clock.now += 0.7  # the oldest waiting call is now over a second old
    hook(a_call("/third"))
    assert ApiCallRecord.objects.count() == 3


def test_the_last_calls_are_written_when_the_hook_is_dropped(account: Account) -> None:
    hook = recorder(account, batch_size=50, monotonic=FakeClock())
    hook(a_call("/last-one"))
    hook(a_call("/last-two", status=None))
    assert ApiCallRecord.objects.count() == 0
    del hook
    gc.collect()
    stored = ApiCallRecord.objects.order_by("pk")
    assert [(call.path, call.status, call.status_class) for call in stored] == [
        ("/last-one", 200, "2xx"),
        ("/last-two", None, "none"),
    ]


def test_close_writes_what_is_waiting_and_only_once(account: Account) -> None:
    hook = recorder(account, batch_size=50, monotonic=FakeClock())
    hook(a_call())
    hook.close()
    hook.close()
    del hook
    gc.collect()
    assert ApiCallRecord.objects.count() == 1


def test_a_failing_write_never_breaks_the_call_it_reports(
    account: Account, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise DatabaseError("database is locked")

    monkeypatch.setattr(ApiCallRecord.objects, "bulk_create", refuse)
    hook = recorder(account, batch_size=1, monotonic=FakeClock())
    hook(a_call())  # must not raise
    assert "Could not store 1 API log entries" in caplog.text


# --- real clients against the simulators, detailed logging on -------------------------------


def stored_text() -> str:
    """Everything the log keeps, as one string to search for secrets."""
    rows = ApiCallRecord.objects.values()
    return json.dumps([{key: str(value) for key, value in row.items()} for row in rows])


def assert_no_secret(secrets: list[str]) -> None:
    text = stored_text()
    leaked = [secret for secret in secrets if secret and secret in text]
    assert not leaked, f"the API log kept secrets: {leaked}"


@pytest.mark.parametrize(("system", "organisation"), [("xero", XERO_AU), ("qbo", QBO_US)])
def test_ledger_calls_are_logged_with_bodies_and_without_tokens(
    ledgers: Simulator, account: Account, company: Company, system: str, organisation: Any
) -> None:
    account.detailed_api_logging = True
    account.save()
    connection = make_connection(ledgers, company, system, organisation)
    hook = hook_for(account, company, hooks.ledger_label(company))
    ledger = ledger_for(company, log_hook=hook, detailed_logging=True)
    assert list(ledger.list_accounts())
    ledger.ensure_customer(Customer(psa_id="C-1", name="Fabrikam Dental", email="ap@fab.example"))
    hook.flush()

    calls = ApiCallRecord.objects.filter(account=account).order_by("pk")
    assert calls.count() >= 2
    assert {call.connection for call in calls} == {str(connection)}
    assert all(call.company_id == company.pk and call.detailed for call in calls)
    assert any(call.response_body for call in calls)
    write = next(call for call in calls if call.method in ("POST", "PUT"))
    assert "Fabrikam Dental" in write.request_body
    assert 200 <= (write.status or 0) < 300
    connection.refresh_from_db()
    assert_no_secret(
        [
            connection.access_token or "",
            connection.refresh_token or "",
            "demo-xero-client-secret",
            "demo-qbo-client-secret",
        ]
    )


def test_connectwise_calls_keep_no_key(
    ledgers: Simulator, transport: InProcessTransport, account: Account, company: Company
) -> None:
    account.detailed_api_logging = True
    account.save()
    stored = credential(account, PsaKind.CONNECTWISE, CW_SECRETS)
    hook = hook_for(account, company, hooks.psa_label(stored))
    source = source_for(stored, log_hook=hook, detailed_logging=True, transport=transport)
    assert source.test_connectivity().ok
    list(source.list_gl_accounts())
    hook.flush()

    calls = ApiCallRecord.objects.filter(account=account)
    assert calls.exists()
    assert {call.connection for call in calls} == {"ConnectWise PSA: Main"}
    assert any(call.response_body for call in calls)
    basic = f"{CW_SECRETS['company_id']}+{CW_SECRETS['public_key']}:{CW_SECRETS['private_key']}"
    assert_no_secret(
        [
            CW_SECRETS["private_key"],
            CW_SECRETS["public_key"],
            base64.b64encode(basic.encode()).decode(),
        ]
    )


def test_autotask_calls_keep_no_secret(
    ledgers: Simulator, transport: InProcessTransport, account: Account, company: Company
) -> None:
    account.detailed_api_logging = True
    account.save()
    stored = credential(account, PsaKind.AUTOTASK, AT_SECRETS)
    hook = hook_for(account, company, hooks.psa_label(stored))
    source = source_for(stored, log_hook=hook, detailed_logging=True, transport=transport)
    assert source.test_connectivity().ok
    list(source.list_tax_codes())
    hook.flush()

    calls = ApiCallRecord.objects.filter(account=account)
    assert calls.count() >= 2
    assert {call.vendor for call in calls} == {"Autotask"}
    assert any(call.response_body for call in calls)
    assert_no_secret([AT_SECRETS["secret"], AT_SECRETS["integration_code"]])


def test_without_detailed_logging_only_the_summary_is_kept(
    ledgers: Simulator, account: Account, company: Company
) -> None:
    make_connection(ledgers, company, "xero", XERO_AU)
    hook = hook_for(account, company, hooks.ledger_label(company))
    ledger = ledger_for(company, log_hook=hook, detailed_logging=account.detailed_api_logging)
    list(ledger.list_accounts())
    hook.flush()

    call = ApiCallRecord.objects.get(account=account)
    assert (call.method, call.status, call.detailed) == ("GET", 200, False)
    assert call.path.endswith("/Accounts")
    assert (call.query, call.request_body, call.response_body) == ("", "", "")
    assert call.response_headers is None


# --- wired into every sync run ---------------------------------------------------------------


@pytest.fixture
def tasks_run_at_once(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def test_a_sync_runs_calls_are_all_logged_when_its_task_ends(
    ledgers: Simulator,
    transport: InProcessTransport,
    account: Account,
    company: Company,
    monkeypatch: pytest.MonkeyPatch,
    tasks_run_at_once: None,
) -> None:
    from ledgerbridge.sync.tasks import execute_sync_run

    account.detailed_api_logging = True
    account.save()
    make_connection(ledgers, company, "xero", XERO_AU)
    credential(account, PsaKind.CONNECTWISE, CW_SECRETS)
    CompanySettings.objects.create(company=company, locale="AU")

    def source_through_simulator(*args: Any, **kwargs: Any) -> Any:
        return source_for(*args, transport=transport, **kwargs)

    # PSA credentials take no in-process transport from settings; hand the simulator's in.
    monkeypatch.setattr("ledgerbridge.sync.context.source_for", source_through_simulator)
    run = SyncRun.objects.create(
        company=company, trigger="manual", record_types=["invoice", "payment"]
    )

    # Without the garbage collector: the task's end, not a finaliser, writes the last calls.
    gc.disable()
    try:
        execute_sync_run.enqueue(run.pk)
        logged = {
            label: list(ApiCallRecord.objects.filter(account=account, connection=label))
            for label in ("Xero: Demo MSP (AU)", "ConnectWise PSA: Main")
        }
    finally:
        gc.enable()

    run.refresh_from_db()
    assert run.finished, run.status
    # Every API call the simulators answered is in the log (token calls are OAuth's, not the
    # ledger connection's).
    sent = {
        "Xero: Demo MSP (AU)": [r for r in ledgers.requests if "/api.xro/" in r.path],
        "ConnectWise PSA: Main": [r for r in ledgers.requests if r.system == "connectwise"],
    }
    for label, calls in logged.items():
        assert calls, f"nothing logged for {label}"
        assert len(calls) == len(sent[label])
        assert all(call.company_id == company.pk and call.detailed for call in calls)
