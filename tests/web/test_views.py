import re

import pytest
from django.conf import settings
from django.core import mail
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from ledgerbridge import urls as project_urls
from ledgerbridge.accounts.models import User


def _explode(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(f"database password is {settings.SECRET_KEY}")


# The project's URLs plus a view that fails, for the 500 page; used via pytest.mark.urls.
urlpatterns = [path("test-only/explode/", _explode), *project_urls.urlpatterns]
handler404 = project_urls.handler404
handler500 = project_urls.handler500


def _csrf_token(client: Client, url: str) -> str:
    page = client.get(url)
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert match, f"no CSRF token on {url}"
    return match.group(1).decode()


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_the_login_page(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    login = client.get(response["Location"])
    assert login.status_code == 200
    assert b"LedgerBridge" in login.content
    assert b'name="password"' in login.content


@pytest.mark.django_db
def test_login_page_renders_in_our_layout_not_allauths(client: Client) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    templates = [template.name for template in response.templates]
    assert "allauth/layouts/entrance.html" in templates
    assert "base.html" in templates
    html = response.content.decode()
    assert "Menu:" not in html
    assert "/static/web/ledgerbridge.css" in html
    assert 'class="card auth-card"' in html
    assert "<title>" in html and "Sign In" in html
    # htmx is served by django-htmx from our own static files, never a CDN.
    assert re.search(r'<script src="/static/django_htmx/[^"]*htmx[^"]*\.js"', html)
    assert "unpkg.com" not in html and "cdn" not in html.lower()


def test_logging_in_with_email_and_password_reaches_the_dashboard(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    token = _csrf_token(client, "/accounts/login/")
    response = client.post(
        "/accounts/login/",
        {
            "csrfmiddlewaretoken": token,
            "login": "Alice@Northwind.example",
            "password": "correct horse battery",
        },
        follow=True,
    )
    assert response.redirect_chain[-1] == ("/", 302)
    assert response.status_code == 200
    assert b"No companies connected yet" in response.content
    assert b"alice@northwind.example" in response.content


def test_a_wrong_password_is_refused_on_the_login_page(client: Client, alice: User) -> None:
    response = client.post(
        "/accounts/login/", {"login": "alice@northwind.example", "password": "not it at all"}
    )
    assert response.status_code == 200
    assert b'class="alert alert-error"' in response.content
    assert "_auth_user_id" not in client.session


def test_signed_in_user_sees_the_empty_dashboard(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "No companies connected yet" in html
    assert "alice@northwind.example" in html
    assert '<a href="/" aria-current="page">Dashboard</a>' in html


def test_navigation_only_links_to_pages_that_exist(client: Client, alice: User) -> None:
    client.force_login(alice)
    html = client.get("/").content.decode()
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.DOTALL)
    assert nav
    links = re.findall(r'href="([^"]+)"', nav.group(0))
    assert links
    for link in links:
        assert client.get(link).status_code == 200, link


def test_logout_is_a_post_that_ends_the_session(client: Client, alice: User) -> None:
    client.force_login(alice)
    dashboard = client.get("/").content.decode()
    assert 'action="/accounts/logout/"' in dashboard
    # Signing out by GET only asks for confirmation; a link must not end a session.
    assert client.get("/accounts/logout/").status_code == 200
    assert "_auth_user_id" in client.session
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_signup_page_renders_in_our_layout(client: Client) -> None:
    response = client.get("/accounts/signup/")
    assert response.status_code == 200
    assert b'class="card auth-card"' in response.content
    assert b'name="account_name"' in response.content


def test_password_reset_from_email_link_to_new_password(client: Client, alice: User) -> None:
    page = client.get("/accounts/password/reset/")
    assert page.status_code == 200
    assert b'class="card auth-card"' in page.content

    response = client.post("/accounts/password/reset/", {"email": "alice@northwind.example"})
    assert response.status_code == 302
    done = client.get(response["Location"])
    assert done.status_code == 200
    assert b'class="card auth-card"' in done.content
    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+(/accounts/password/reset/key/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body

    # allauth moves the key out of the URL into the session, then shows the form.
    form_url = client.get(link.group(1))["Location"]
    form = client.get(form_url)
    assert form.status_code == 200
    assert b'class="card auth-card"' in form.content
    changed = client.post(
        form_url,
        {"password1": "a new and long passphrase", "password2": "a new and long passphrase"},
        follow=True,
    )
    assert changed.status_code == 200
    alice.refresh_from_db()
    assert alice.check_password("a new and long passphrase")


def test_account_pages_use_the_app_layout(client: Client, alice: User) -> None:
    client.force_login(alice)
    for url in ("/accounts/password/change/", "/accounts/2fa/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b'class="card manage-card"' in response.content, url
        assert b'<nav class="mainnav"' in response.content, url


@pytest.mark.django_db
def test_unknown_page_is_a_plain_404(client: Client) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert b"Traceback" not in response.content
    assert b"no/such/page" not in response.content
    assert b"/static/web/ledgerbridge.css" in response.content
    assert response["X-Request-ID"]


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_an_exception_shows_our_500_page_and_nothing_else(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    assert settings.DEBUG is False
    client.raise_request_exception = False
    response = client.get("/test-only/explode/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert "/static/web/ledgerbridge.css" in html
    for leak in ("Traceback", "RuntimeError", "database password", settings.SECRET_KEY, "_explode"):
        assert leak not in html
    # The page names the request id so support can find the logged traceback.
    assert response["X-Request-ID"] in html
    logged = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    assert logged, "the exception must be logged"


@pytest.mark.django_db
def test_static_css_is_served_by_whitenoise(client: Client) -> None:
    response = client.get("/static/web/ledgerbridge.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert b"--brand" in body


@pytest.mark.django_db
def test_a_stale_form_gets_our_csrf_page_without_the_reason() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"login": "a@b.example", "password": "x"})
    assert response.status_code == 403
    assert b"This form has expired" in response.content
    assert b"CSRF cookie not set" not in response.content


@pytest.mark.django_db
def test_an_unknown_host_gets_our_400_page(client: Client) -> None:
    response = client.get("/accounts/login/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert b"Bad request" in response.content
    assert b"evil.example" not in response.content
    assert b"ALLOWED_HOSTS" not in response.content


def test_the_dashboard_lists_companies_with_their_ledger_once_there_are_some(
    alice: User,
) -> None:
    from ledgerbridge.companies.models import Company, LedgerConnection

    assert alice.account is not None
    company = Company.objects.create(account=alice.account, name="Northwind AU")
    LedgerConnection.objects.create(
        company=company, system="xero", organisation_id="t1", organisation_name="Demo MSP (AU)"
    )
    client = Client()
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert "Northwind AU" in html and "Xero: Demo MSP (AU)" in html
    assert "No companies connected yet" not in html
