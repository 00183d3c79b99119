"""Roles and what each may do: the single source of truth for permissions.

Starts from the reference product's matrices (product-spec §2.2 and §2.3); the decisions we made
where it was silent or weak are written next to each permission.
"""

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ACCOUNT_ADMIN = "account-admin"
    USER = "user"
    MERCHANT_ADMIN = "merchant-admin"
    MERCHANT_USER = "merchant-user"


class Perm(StrEnum):
    # Every signed-in member: the dashboard, their own profile, password, second factor,
    # sessions and personal API tokens (§2.2 "Edit Profile", "Edit User (own profile)").
    VIEW_DASHBOARD = "view-dashboard"
    MANAGE_OWN_PROFILE = "manage-own-profile"
    # Run syncs and read results/statistics, limited to the companies the member can see (§2.2
    # "Sync" rows; `user` only for assigned companies).
    SYNC = "sync"
    # Account screen: name, two-factor policy, PSA credentials and the primary API account
    # (§2.2 "Edit Account Setup", §2.4).
    EDIT_ACCOUNT = "edit-account"
    # Create, edit and delete companies and connect ledgers (§2.2 "Companies").
    MANAGE_COMPANIES = "manage-companies"
    # Ours: see the companies one works with and whether each ledger is still connected (every
    # member, limited to assigned companies for the non-admin roles), so a dead connection is
    # noticed by whoever looks first.
    VIEW_COMPANIES = "view-companies"
    # Users screen and API: invite, edit, assign companies, change role, disable, reset a second
    # factor. The reference product could not change a role; we can, audited (§2.1).
    MANAGE_USERS = "manage-users"
    EMULATE_USERS = "emulate-users"
    # Ours: time-boxed support access for instance staff, the beta switch, the audit log.
    GRANT_SUPPORT_ACCESS = "grant-support-access"
    JOIN_BETA = "join-beta"
    VIEW_AUDIT_LOG = "view-audit-log"
    # Ours (issue 7, screen 8): the API call log, its detailed-logging and retention settings,
    # and "Clear logs". Account-admins only: kept bodies can hold clients' invoice details.
    MANAGE_API_LOG = "manage-api-log"
    # Payments (§2.3): merchant configuration is for merchant admins; payers and payments for
    # both merchant roles. Screens arrive with the payments issues.
    CONFIGURE_MERCHANT = "configure-merchant"
    MANAGE_PAYMENTS = "manage-payments"


@dataclass(frozen=True)
class RoleSpec:
    label: str
    description: str
    permissions: frozenset[Perm]
    # True: every company of the account, including ones created later. False: only the
    # companies assigned to the user.
    all_companies: bool


_EVERY_MEMBER = frozenset({Perm.VIEW_DASHBOARD, Perm.MANAGE_OWN_PROFILE, Perm.VIEW_COMPANIES})

ROLES: dict[Role, RoleSpec] = {
    Role.ACCOUNT_ADMIN: RoleSpec(
        label="Account admin",
        description="Everything in the account, for all companies including ones added later.",
        permissions=frozenset(Perm),
        all_companies=True,
    ),
    Role.USER: RoleSpec(
        label="User",
        description="Syncs and reads results for the companies assigned to them.",
        permissions=_EVERY_MEMBER | {Perm.SYNC},
        all_companies=False,
    ),
    Role.MERCHANT_ADMIN: RoleSpec(
        label="Merchant admin",
        description="Payments: merchant configuration, payers and payments for assigned companies.",
        permissions=_EVERY_MEMBER | {Perm.CONFIGURE_MERCHANT, Perm.MANAGE_PAYMENTS},
        all_companies=False,
    ),
    Role.MERCHANT_USER: RoleSpec(
        label="Merchant user",
        description="Payments: payers and payments for assigned companies; no merchant settings.",
        permissions=_EVERY_MEMBER | {Perm.MANAGE_PAYMENTS},
        all_companies=False,
    ),
}

ROLE_CHOICES = [(role.value, spec.label) for role, spec in ROLES.items()]


def role_has(role: str, perm: Perm) -> bool:
    return perm in ROLES[Role(role)].permissions
