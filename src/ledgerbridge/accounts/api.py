"""The users API: what the Users screen does, for scripts. Account admins only.

Errors answer {"detail": "..."} with the same words the Users screen shows: 400 for input that
cannot be used, 409 when the account's state refuses the change (email taken, last admin, no
pending invitation), 404 for ids outside the caller's account.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router, Schema, Status

from ledgerbridge.accounts.access import get_in_account_or_404, membership
from ledgerbridge.accounts.actions.users import (
    EmailInUseError,
    InvitationStateError,
    LastAdminError,
    UserAdminError,
    UserStatus,
    do_disable_user,
    do_edit_user,
    do_enable_user,
    do_invite_user,
    do_resend_invitation,
    do_revoke_invitation,
    user_status,
)
from ledgerbridge.accounts.models import User
from ledgerbridge.accounts.roles import Perm, Role
from ledgerbridge.api.auth import api_requires

router = Router(tags=["users"])


class CompanyRef(Schema):
    id: int
    name: str


class UserOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    role: Role
    status: UserStatus
    # True for roles that work with every company (then `companies` is empty).
    all_companies: bool
    companies: list[CompanyRef]
    last_login: datetime | None
    invited_at: datetime | None
    date_joined: datetime


class InviteIn(Schema):
    email: str
    first_name: str
    last_name: str
    role: Role = Role.USER
    # Company ids; ignored for roles that work with every company.
    companies: list[int] = []


class UserPatch(Schema):
    """Only the fields sent change. Companies are ignored for roles that see every company."""

    first_name: str | None = None
    last_name: str | None = None
    role: Role | None = None
    companies: list[int] | None = None


class ErrorOut(Schema):
    detail: str


class InvalidBodyOut(Schema):
    """django-ninja's answer when the body does not fit the schema (a role that does not exist)."""

    detail: list[dict[str, Any]]


_AUTH_ERRORS = {401: ErrorOut, 403: ErrorOut}
_ONE = {200: UserOut, 404: ErrorOut, **_AUTH_ERRORS}
_CHANGE = {200: UserOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut, **_AUTH_ERRORS}
_WITH_BODY = {**_CHANGE, 422: InvalidBodyOut}


def _out(member: User) -> UserOut:
    spec = member.role_spec
    return UserOut(
        id=member.pk,
        email=member.email,
        first_name=member.first_name,
        last_name=member.last_name,
        role=Role(member.role),
        status=user_status(member),
        all_companies=spec.all_companies,
        companies=[]
        if spec.all_companies
        else [CompanyRef(id=c.pk, name=c.name) for c in member.companies.all()],
        last_login=member.last_login,
        invited_at=member.invited_at,
        date_joined=member.date_joined,
    )


def _error(error: UserAdminError) -> Status[ErrorOut]:
    conflict = isinstance(error, EmailInUseError | LastAdminError | InvitationStateError)
    return Status(409 if conflict else 400, ErrorOut(detail=error.message))


def _members() -> QuerySet[User]:
    return User.objects.prefetch_related("companies")


def _member(request: HttpRequest, user_id: int) -> User:
    return get_in_account_or_404(request, _members(), pk=user_id)


def _acting_user(request: HttpRequest) -> User | None:
    return membership(request).real_user


@router.get("", response={200: list[UserOut], **_AUTH_ERRORS})
@api_requires(Perm.MANAGE_USERS, refuse_while_emulating=True)
def list_users(request: HttpRequest) -> list[UserOut]:
    """Every member of the account, disabled ones included (users are never deleted)."""
    account = membership(request).account
    return [_out(member) for member in _members().filter(account=account).order_by("email")]


@router.post(
    "",
    response={201: UserOut, 400: ErrorOut, 409: ErrorOut, 422: InvalidBodyOut, **_AUTH_ERRORS},
)
@api_requires(Perm.MANAGE_USERS, refuse_while_emulating=True)
def invite_user(request: HttpRequest, body: InviteIn) -> Status[UserOut] | Status[ErrorOut]:
    """Invite a member: they are emailed a set-password link that works once, for 48 hours."""
    account = membership(request).account
    assert account is not None
    try:
        member = do_invite_user(
            account,
            email=body.email,
            first_name=body.first_name,
            last_name=body.last_name,
            role=body.role,
            companies=body.companies,
            acting_user=_acting_user(request),
            request=request,
        )
    except UserAdminError as error:
        return _error(error)
    return Status(201, _out(_member(request, member.pk)))


@router.get("/{user_id}", response=_ONE)
@api_requires(Perm.MANAGE_USERS, refuse_while_emulating=True)
def get_user(request: HttpRequest, user_id: int) -> UserOut:
    return _out(_member(request, user_id))


@router.patch("/{user_id}", response=_WITH_BODY)
@api_requires(Perm.MANAGE_USERS, refuse_while_emulating=True)
def update_user(
    request: HttpRequest, user_id: int, body: UserPatch
) -> Status[UserOut] | Status[ErrorOut]:
    """Change names, role (audited) and assigned companies; all of it is saved or none."""
    member = _member(request, user_id)
    try:
        do_edit_user(
            member,
            first_name=body.first_name,
            last_name=body.last_name,
            role=body.role,
            companies=body.companies,
            acting_user=_acting_user(request),
            request=request,
        )
    except UserAdminError as error:
        return _error(error)
    return Status(200, _out(_member(request, user_id)))


def _apply(
    request: HttpRequest, user_id: int, act: Callable[..., None]
) -> Status[UserOut] | Status[ErrorOut]:
    member = _member(request, user_id)
    try:
        act(member, acting_user=_acting_user(request), request=request)
    except UserAdminError as error:
        return _error(error)
    return Status(200, _out(_member(request, user_id)))


@router.post("/{user_id}/disable", response=_CHANGE)
@api_requires(Perm.MANAGE_USERS, refuse_while_emulating=True)
def disable_user(request: HttpRequest, user_id: int) -> Status[UserOut] | Status[ErrorOut]:
    """Disable a member: their sessions end and their API tokens are revoked at once."""
    return _apply(request, user_id, do_disable_user)


@router.post("/{user_id}/enable", response=_CHANGE)
@api_requires(Perm.MANAGE_USERS, refuse_while_emulating=True)
def enable_user(request: HttpRequest, user_id: int) -> Status[UserOut] | Status[ErrorOut]:
    """Let a disabled member sign in again."""
    return _apply(request, user_id, do_enable_user)


@router.post("/{user_id}/resend-invitation", response=_CHANGE)
@api_requires(Perm.MANAGE_USERS, refuse_while_emulating=True)
def resend_invitation(request: HttpRequest, user_id: int) -> Status[UserOut] | Status[ErrorOut]:
    """Email a fresh set-password link; the earlier one stops working."""
    return _apply(request, user_id, do_resend_invitation)


@router.post("/{user_id}/revoke-invitation", response=_CHANGE)
@api_requires(Perm.MANAGE_USERS, refuse_while_emulating=True)
def revoke_invitation(request: HttpRequest, user_id: int) -> Status[UserOut] | Status[ErrorOut]:
    """Withdraw a pending invitation: the link stops working and the member is disabled."""
    return _apply(request, user_id, do_revoke_invitation)
