from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import RequestFactory

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.core import audit, clock
from ledgerbridge.core.models import AuditEvent
from tests.testapp.models import Credential

MOMENT = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def event(account: Account, alice: User) -> AuditEvent:
    return audit.record("invoice.posted", account=account, actor=alice)


def test_record_fills_every_field(account: Account, alice: User, bob: User) -> None:
    target = Credential.objects.create(label="Xero connection for Northwind")
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.9")
    clock.set_now(MOMENT)

    event = audit.record(
        "connection.updated",
        account=account,
        actor=bob,
        acting_as=alice,
        target=target,
        request=request,
        details={"field": "tenant", "from": "a", "to": "b"},
    )

    event = AuditEvent.objects.get(pk=event.pk)
    assert event.action == "connection.updated"
    assert event.account == account
    assert event.actor == bob
    assert event.acting_as == alice
    assert event.target_type == "testapp.credential"
    assert event.target_id == str(target.pk)
    assert event.target_repr == "Xero connection for Northwind"
    assert event.ip_address == "203.0.113.9"
    assert event.created_at == MOMENT
    assert event.details == {"field": "tenant", "from": "a", "to": "b"}


@pytest.mark.django_db
def test_record_needs_only_an_action() -> None:
    event = audit.record("instance.started")
    assert (event.account, event.actor, event.acting_as, event.ip_address) == (
        None,
        None,
        None,
        None,
    )
    assert (event.target_type, event.target_id, event.target_repr) == ("", "", "")
    assert event.details == {}


@pytest.mark.django_db
def test_record_refuses_an_empty_action() -> None:
    with pytest.raises(ValueError, match="needs an action"):
        audit.record("")


@pytest.mark.django_db
def test_target_repr_is_cut_to_300_characters() -> None:
    target = Credential.objects.create(label="x" * 500)
    assert audit.record("credential.created", target=target).target_repr == "x" * 300


@pytest.mark.django_db
def test_explicit_ip_wins_over_the_request() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9")
    event = audit.record("login", request=request, ip="2001:db8::1")
    assert AuditEvent.objects.get(pk=event.pk).ip_address == "2001:db8::1"


@pytest.mark.django_db
def test_a_junk_remote_addr_is_recorded_as_no_ip() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="not-an-ip")
    assert audit.record("login", request=request).ip_address is None


@pytest.mark.django_db
def test_an_explicit_ip_must_be_an_ip() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        audit.record("login", ip="localhost")


@pytest.mark.django_db
def test_money_in_details_is_stored_as_exact_strings() -> None:
    details = {
        "total": Decimal("1234.50"),
        "lines": [{"amount": Decimal("0.10")}, (Decimal("1E+3"), 2)],
        "posted": True,
        "note": None,
    }
    event = audit.record("invoice.posted", details=details)
    assert AuditEvent.objects.get(pk=event.pk).details == {
        "total": "1234.50",
        "lines": [{"amount": "0.10"}, ["1000", 2]],
        "posted": True,
        "note": None,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("details", "message"),
    [
        ({"when": datetime(2031, 1, 1, tzinfo=UTC)}, r"details\['when'\] is a datetime"),
        ({"ids": {1, 2}}, r"details\['ids'\] is a set"),
        ({"nested": {3: "x"}}, "non-string key 3"),
        ({"rate": float("nan")}, "JSON cannot hold"),
        ({"amount": Decimal("NaN")}, "not an amount"),
    ],
)
def test_details_must_be_json_serialisable(details: dict[str, object], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        audit.record("invoice.posted", details=details)
    assert not AuditEvent.objects.exists()


def test_saving_an_existing_event_is_refused(event: AuditEvent) -> None:
    event.action = "something.else"
    with pytest.raises(PermissionError, match="append-only"):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "invoice.posted"


def test_deleting_an_event_is_refused(event: AuditEvent) -> None:
    with pytest.raises(PermissionError, match="append-only"):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_queryset_update_is_refused(event: AuditEvent) -> None:
    with pytest.raises(PermissionError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(action="something.else")
    with pytest.raises(PermissionError, match="append-only"):
        AuditEvent.objects.update(details={})
    assert AuditEvent.objects.get(pk=event.pk).action == "invoice.posted"


def test_queryset_delete_is_refused(event: AuditEvent) -> None:
    with pytest.raises(PermissionError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(PermissionError, match="append-only"):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_events_list_newest_first() -> None:
    clock.set_now(MOMENT)
    first = audit.record("first")
    clock.advance(timedelta(minutes=5))
    third = audit.record("third")
    clock.set_now(MOMENT + timedelta(minutes=1))
    second = audit.record("second")
    # Same instant: the later insert (higher id) comes first.
    second_again = audit.record("second.again")

    assert list(AuditEvent.objects.all()) == [third, second_again, second, first]
