import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.core import audit, clock

MARCH_1 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def admin_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


def _rows(html: str) -> list[str]:
    """The actions listed on an audit log page, top to bottom."""
    return re.findall(r"<td><code>([^<]+)</code></td>", html)


def _csv(response: StreamingHttpResponse) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def history(account: Account, other_account: Account, alice: User, bob: User) -> None:
    """Events over three days in Northwind, and one in Contoso that must never show."""
    staff = User.objects.create_user("ops@ledgerbridge.example", "x" * 16, is_staff=True)
    clock.set_now(MARCH_1)
    audit.record("user.invited", account=account, actor=alice, target=bob, ip="192.0.2.7")
    clock.set_now(MARCH_1 + timedelta(days=1))
    audit.record("sync.started", account=account, actor=alice, acting_as=bob)
    audit.record("profile.updated", account=account, actor=bob)
    clock.set_now(MARCH_1 + timedelta(days=2))
    audit.record("support.entered", account=account, actor=staff, details={"support": True})
    eve = User.objects.create_user("eve@contoso.example", "x" * 16, account=other_account)
    audit.record("contoso.secret_event", account=other_account, actor=eve)


def test_lists_the_accounts_events_newest_first_and_nothing_else(
    admin_client: Client, history: None
) -> None:
    html = admin_client.get(reverse("accounts:audit-log")).content.decode()
    assert _rows(html) == ["support.entered", "profile.updated", "sync.started", "user.invited"]
    assert "contoso" not in html.lower() and "eve@" not in html


def test_shows_who_as_whom_support_target_ip_and_time(admin_client: Client, history: None) -> None:
    html = admin_client.get(reverse("accounts:audit-log")).content.decode()
    assert "as bob@northwind.example" in html
    assert '<span class="badge badge-support">support</span>' in html
    assert "ops@ledgerbridge.example" in html
    assert "192.0.2.7" in html
    assert "2026-03-01 12:00:00" in html
    assert "bob@northwind.example</td>" in html  # the invitation's target


def test_pages_hold_fifty_events(admin_client: Client, account: Account, alice: User) -> None:
    clock.set_now(MARCH_1)
    for number in range(51):
        clock.advance(timedelta(seconds=1))
        audit.record(f"test.event_{number:02}", account=account, actor=alice)
    first = admin_client.get(reverse("accounts:audit-log")).content.decode()
    assert len(_rows(first)) == 50 and _rows(first)[0] == "test.event_50"
    assert "Page 1 of 2" in first
    second = admin_client.get(reverse("accounts:audit-log") + "?page=2").content.decode()
    assert _rows(second) == ["test.event_00"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"user": "bob"}, ["profile.updated", "sync.started"]),
        ({"user": "alice"}, ["sync.started", "user.invited"]),
        ({"user": "support"}, ["support.entered"]),
        ({"action": "sync.started"}, ["sync.started"]),
        ({"date_from": "2026-03-02", "date_to": "2026-03-02"}, ["profile.updated", "sync.started"]),
        ({"date_from": "2026-03-03"}, ["support.entered"]),
        ({"date_to": "2026-03-01"}, ["user.invited"]),
        ({"user": "alice", "date_from": "2026-03-02"}, ["sync.started"]),
    ],
)
def test_filters_by_user_action_and_date(
    admin_client: Client, history: None, alice: User, bob: User, query: dict, expected: list
) -> None:
    users = {"alice": str(alice.pk), "bob": str(bob.pk), "support": "support"}
    if "user" in query:
        query = {**query, "user": users[query["user"]]}
    html = admin_client.get(reverse("accounts:audit-log"), query).content.decode()
    assert _rows(html) == expected
    rows = _csv(admin_client.get(reverse("accounts:audit-log-csv"), query))
    assert [row[4] for row in rows[1:]] == expected


def test_a_backwards_date_range_is_explained_not_ignored(
    admin_client: Client, history: None
) -> None:
    query = {"date_from": "2026-03-03", "date_to": "2026-03-01"}
    html = admin_client.get(reverse("accounts:audit-log"), query).content.decode()
    assert "The “From” date is after the “To” date." in html
    assert _rows(html) == []


def test_another_accounts_member_is_not_a_filter_choice(
    admin_client: Client, history: None, other_account: Account
) -> None:
    eve = User.objects.get(email="eve@contoso.example")
    html = admin_client.get(reverse("accounts:audit-log"), {"user": eve.pk}).content.decode()
    assert "contoso" not in html.lower()
    assert _rows(html) == []


def test_csv_export_has_a_header_and_the_filtered_rows(admin_client: Client, history: None) -> None:
    response = admin_client.get(reverse("accounts:audit-log-csv"))
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-northwind')
    rows = _csv(response)
    assert rows[0][:5] == ["time (UTC)", "user", "acting as", "support", "action"]
    assert len(rows) == 5
    sync = next(row for row in rows if row[4] == "sync.started")
    assert sync[1:4] == ["alice@northwind.example", "bob@northwind.example", ""]
    support = next(row for row in rows if row[4] == "support.entered")
    assert support[3] == "yes"
    assert not any("contoso" in cell for row in rows for cell in row)


def test_csv_cells_cannot_become_formulas(
    admin_client: Client, account: Account, alice: User
) -> None:
    class Target:
        pk = 1
        _meta = Account._meta

        def __str__(self) -> str:
            return '=HYPERLINK("http://evil.example")'

    audit.record("test.formula", account=account, actor=alice, target=Target())  # type: ignore[arg-type]
    audit.record("+1+1", account=account, actor=alice)
    audit.record("-2", account=account, actor=alice)
    audit.record("@SUM(A1)", account=account, actor=alice)
    rows = _csv(admin_client.get(reverse("accounts:audit-log-csv")))
    cells = [cell for row in rows[1:] for cell in row]
    assert '\'=HYPERLINK("http://evil.example")' in cells
    assert {"'+1+1", "'-2", "'@SUM(A1)"} <= set(cells)
    assert not any(cell[:1] in "=+-@" for cell in cells if cell)


def test_only_account_admins_see_the_audit_log(client: Client, bob: User) -> None:
    client.force_login(bob)
    assert client.get(reverse("accounts:audit-log")).status_code == 403
    assert client.get(reverse("accounts:audit-log-csv")).status_code == 403
