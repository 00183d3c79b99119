"""The consent page a browser sees at the authorize endpoint: plain HTML, one real form.

No JavaScript and nothing fetched from elsewhere, so it works offline and in any test browser.
Xero lets the user tick several organisations; QuickBooks connects exactly one company.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from ledgerbridge_sim.organisations import Organisation

VENDOR_NAMES: Final = {"xero": "Xero", "qbo": "QuickBooks"}
SCOPE_DESCRIPTIONS: Final = {
    "openid": "Confirm who you are",
    "profile": "See your name",
    "email": "See your email address",
    "phone": "See your phone number",
    "address": "See your address",
    "offline_access": "Keep access while you are away",
    "com.intuit.quickbooks.accounting": "Read and change your company's accounting data",
    "com.intuit.quickbooks.payment": "Process payments for your company",
}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1b2733}
main{max-width:34rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:.5rem;
box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.4rem}fieldset{border:1px solid #c8d1da;border-radius:.4rem;margin:1rem 0}
.choice{margin:.4rem 0}.problem{color:#a11d1d;font-weight:600}
.actions{display:flex;gap:1rem;margin-top:1.5rem}
button{font-size:1rem;padding:.5rem 1.2rem;border-radius:.3rem;border:1px solid #1b2733}
button[value=allow]{background:#13b5ea;border-color:#0d8bb3;color:#fff}
"""


@dataclass(frozen=True)
class ConsentRequest:
    """What the authorize request asked for; the form carries it back on Allow or Cancel."""

    system: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None


def describe_scope(scope: str) -> str:
    if scope in SCOPE_DESCRIPTIONS:
        return SCOPE_DESCRIPTIONS[scope]
    # Xero's accounting scopes read well from their own names: accounting.invoices.read.
    words = scope.removeprefix("accounting.").split(".")
    if words[-1] == "read":
        return f"View your {' '.join(words[:-1])}"
    return f"View and manage your {' '.join(words)}"


def page(
    asked: ConsentRequest,
    *,
    app_name: str,
    action: str,
    offered: Sequence[Organisation],
    chosen: Sequence[str] = (),
    problem: str = "",
) -> str:
    vendor = VENDOR_NAMES[asked.system]
    many = asked.system == "xero"
    hidden = {
        "response_type": "code",
        "client_id": asked.client_id,
        "redirect_uri": asked.redirect_uri,
        "scope": " ".join(asked.scopes),
    }
    if asked.state is not None:
        hidden["state"] = asked.state
    hidden_inputs = "\n".join(
        f'<input type="hidden" name="{name}" value="{escape(value)}">'
        for name, value in hidden.items()
    )
    kind = "checkbox" if many else "radio"
    choices = "\n".join(
        f'<div class="choice"><input type="{kind}" id="organisation-{number}" '
        f'name="organisation" value="{escape(org.id)}"{" checked" if org.id in chosen else ""}>'
        f' <label for="organisation-{number}">{escape(org.name)}</label></div>'
        for number, org in enumerate(offered, start=1)
    )
    legend = "Organisations to connect" if many else "Company to connect (choose one)"
    scopes = "\n".join(f"<li>{escape(describe_scope(scope))}</li>" for scope in asked.scopes)
    problem_html = f'<p class="problem" role="alert">{escape(problem)}</p>' if problem else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Connect {escape(app_name)} to {vendor}</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<h1>{escape(app_name)} wants to connect to {vendor}</h1>
<p>Simulated {vendor} consent page. {escape(app_name)} is asking to:</p>
<ul>
{scopes}
</ul>
{problem_html}
<form method="post" action="{escape(action)}">
{hidden_inputs}
<fieldset>
<legend>{legend}</legend>
{choices}
</fieldset>
<div class="actions">
<button type="submit" name="decision" value="allow">Allow access</button>
<button type="submit" name="decision" value="cancel">Cancel</button>
</div>
</form>
</main>
</body>
</html>
"""


def refusal_page(system: str, message: str) -> str:
    """Shown instead of redirecting when the app or its redirect URI cannot be trusted."""
    vendor = VENDOR_NAMES[system]
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>{vendor} sign-in problem</title><style>{_STYLE}</style></head>
<body><main><h1>This app cannot connect to {vendor}</h1>
<p class="problem" role="alert">{escape(message)}</p></main></body>
</html>
"""
