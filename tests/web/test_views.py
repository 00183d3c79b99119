import pytest
from django.test import Client

from ledgerbridge.accounts.models import User


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_the_login_page(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    login = client.get(response["Location"])
    assert login.status_code == 200
    assert b"LedgerBridge" in login.content
    assert b'name="password"' in login.content


def test_signed_in_user_sees_the_empty_dashboard(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.get("/")
    assert response.status_code == 200
    assert b"No companies connected yet" in response.content
    assert b"alice@northwind.example" in response.content


@pytest.mark.django_db
def test_unknown_page_is_a_plain_404(client: Client) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert b"Traceback" not in response.content
    assert response["X-Request-ID"]
