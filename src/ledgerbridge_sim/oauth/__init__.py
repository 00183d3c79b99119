"""OAuth 2 for the ledger simulators (Xero and QuickBooks Online): authorize, token, refresh,
revoke, Xero `/connections`, the QuickBooks discovery document, and bearer checks for the APIs.

CONTRACT (used by the Xero and QuickBooks simulators; the bodies are filled in by the OAuth work):

- `routes(sim, system)` → Starlette routes served under that system's prefix (`/xero`, `/qbo`),
  ahead of the API routes.
- `authenticate(sim, system, authorization)` → the live `AccessGrant` behind an
  `Authorization: Bearer …` header value, or None when it is missing, unknown, expired on the
  virtual clock or revoked. The API simulator answers None with its vendor's 401 body.
- `issue_tokens(sim, system, organisation_ids)` → a token response without consent (for tests).
- `grant_code(sim, system, spec)` backs `POST /_sim/oauth/{system}/grant` (scripted consent).
- `revoke_all(sim, system, client_id=…, organisation_id=…)` backs
  `POST /_sim/oauth/{system}/revoke-all` (the user disconnects the app).

Demo apps: Xero `demo-xero-client-id` / `demo-xero-client-secret`; QuickBooks
`demo-qbo-client-id` / `demo-qbo-client-secret`. Other apps, lifetimes and the redirect-URI
rule: see `core`'s docstring.
"""

from ledgerbridge_sim.oauth.core import (
    AccessGrant,
    authenticate,
    grant_code,
    issue_tokens,
    revoke_all,
    routes,
)

__all__ = ["AccessGrant", "authenticate", "grant_code", "issue_tokens", "revoke_all", "routes"]
