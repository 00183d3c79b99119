"""Helpers for the OAuth simulator tests: a browser's view of the consent form, client auth."""

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from ledgerbridge_sim.state import Simulator

XERO_CLIENT = ("demo-xero-client-id", "demo-xero-client-secret")
QBO_CLIENT = ("demo-qbo-client-id", "demo-qbo-client-secret")
CLIENTS = {"xero": XERO_CLIENT, "qbo": QBO_CLIENT}
AUTHORIZE_PATHS = {"xero": "/xero/identity/connect/authorize", "qbo": "/qbo/connect/oauth2"}
TOKEN_PATHS = {"xero": "/xero/identity/connect/token", "qbo": "/qbo/oauth2/v1/tokens/bearer"}
CALLBACK = "http://localhost:8765/connect/done"
XERO_SCOPE = "openid profile email offline_access accounting.invoices accounting.contacts"
QBO_SCOPE = "com.intuit.quickbooks.accounting openid email"


@pytest.fixture(autouse=True)
def frozen_clock(sim: Simulator) -> datetime:
    """Each test starts at a known moment; lifetimes are then moved on by hand."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    sim.clock.set(start)
    return start


def basic(client: tuple[str, str]) -> dict[str, str]:
    raw = f"{client[0]}:{client[1]}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Control:
    tag: str
    attrs: dict[str, str]
    text: str = ""


class ConsentPage(HTMLParser):
    """The consent page as a browser reads it: its form, controls, labels and any scripts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.form_action = self.form_method = ""
        self.controls: list[Control] = []
        self.label_targets: dict[str, str] = {}
        self.scripts = 0
        self.external_references: list[str] = []
        self._open_label: str | None = None
        self._open_button: Control | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        for name in ("src", "href"):
            if found.get(name, "").startswith(("http:", "https:", "//")):
                self.external_references.append(found[name])
        if tag == "script":
            self.scripts += 1
        elif tag == "form":
            self.form_action, self.form_method = found.get("action", ""), found.get("method", "")
        elif tag == "input":
            self.controls.append(Control(tag, found))
        elif tag == "button":
            self._open_button = Control(tag, found)
            self.controls.append(self._open_button)
        elif tag == "label":
            self._open_label = found.get("for", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._open_label = None
        elif tag == "button":
            self._open_button = None

    def handle_data(self, data: str) -> None:
        if self._open_label:
            self.label_targets[self._open_label] = (
                self.label_targets.get(self._open_label, "") + data.strip()
            )
        if self._open_button is not None:
            self._open_button.text += data.strip()

    def choices(self) -> dict[str, str]:
        """Organisation choices: label text → value."""
        return {
            self.label_targets[c.attrs["id"]]: c.attrs["value"]
            for c in self.controls
            if c.attrs.get("type") in ("checkbox", "radio")
        }

    def submission(self, button: str, ticked: list[str]) -> list[tuple[str, str]]:
        """The form fields a browser posts after ticking `ticked` (values) and pressing `button`."""
        fields: list[tuple[str, str]] = []
        for control in self.controls:
            kind = control.attrs.get("type", "")
            name, value = control.attrs.get("name", ""), control.attrs.get("value", "")
            posted = (
                kind == "hidden"
                or (kind in ("checkbox", "radio") and value in ticked)
                or (control.tag == "button" and control.text == button)
            )
            if posted:
                fields.append((name, value))
        return fields


def open_consent(
    http: httpx.Client,
    system: str,
    *,
    scope: str | None = None,
    state: str = "st-123",
    client_id: str | None = None,
    redirect_uri: str = CALLBACK,
) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": client_id or CLIENTS[system][0],
        "redirect_uri": redirect_uri,
        "scope": scope or (XERO_SCOPE if system == "xero" else QBO_SCOPE),
        "state": state,
    }
    return http.get(AUTHORIZE_PATHS[system], params=params)


def submit_consent(
    http: httpx.Client, page: ConsentPage, button: str, ticked: list[str]
) -> httpx.Response:
    assert page.form_method == "post"
    return http.post(
        page.form_action,
        content=urlencode(page.submission(button, ticked)),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def callback_params(response: httpx.Response, redirect_uri: str = CALLBACK) -> dict[str, str]:
    """Follow the redirect as far as the app would: the query of its callback URL."""
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(redirect_uri + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def consent_code(http: httpx.Client, system: str, labels: list[str], **params: Any) -> str:
    """Click through the consent page ticking the organisations named in `labels`."""
    page = ConsentPage(open_consent(http, system, **params).text)
    chosen = [page.choices()[label] for label in labels]
    return callback_params(submit_consent(http, page, "Allow access", chosen))["code"]


def exchange(
    http: httpx.Client,
    system: str,
    code: str,
    *,
    client: tuple[str, str] | None = None,
    redirect_uri: str = CALLBACK,
) -> httpx.Response:
    return http.post(
        TOKEN_PATHS[system],
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        headers=basic(client or CLIENTS[system]),
    )


def refresh(http: httpx.Client, system: str, refresh_token: str) -> httpx.Response:
    return http.post(
        TOKEN_PATHS[system],
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers=basic(CLIENTS[system]),
    )
