"""Personal API tokens over the API: the caller's own tokens only."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from ledgerbridge.accounts.access import membership
from ledgerbridge.accounts.actions.tokens import do_create_api_token, do_revoke_api_token
from ledgerbridge.accounts.models import ApiToken, User
from ledgerbridge.accounts.roles import Perm
from ledgerbridge.accounts.views.tokens import token_owner
from ledgerbridge.api.auth import AUTH_ERRORS, ApiError, api_requires

router = Router(tags=["tokens"])


class TokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="The token's first characters, to tell tokens apart.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIn(Schema):
    name: str = Field(min_length=1, max_length=100, description="What will use the token.")


class TokenCreatedOut(TokenOut):
    token: str = Field(description="The token itself. Shown this once; only a hash is kept.")


def _owner(request: HttpRequest) -> User:
    # PermissionDenied becomes a 403 with its message (api.py's handler).
    return token_owner(membership(request))


@router.get("", response={200: list[TokenOut], **AUTH_ERRORS}, summary="List your API tokens")
@api_requires(Perm.MANAGE_OWN_PROFILE, refuse_while_emulating=True)
def list_tokens(request: HttpRequest) -> list[ApiToken]:
    """Your own tokens, newest first, including revoked ones (never their values)."""
    return list(ApiToken.objects.filter(user=_owner(request)))


@router.post(
    "",
    response={201: TokenCreatedOut, 400: ApiError, **AUTH_ERRORS},
    summary="Create an API token",
)
@api_requires(Perm.MANAGE_OWN_PROFILE, refuse_while_emulating=True)
def create_token(request: HttpRequest, payload: TokenIn) -> Status[TokenCreatedOut]:
    """Issue a token with your own permissions. The response carries it once; store it safely."""
    name = payload.name.strip()
    if not name:
        raise HttpError(400, "Give the token a name.")
    issued = do_create_api_token(_owner(request), name, request=request)
    body = TokenCreatedOut(**TokenOut.model_validate(issued.token).model_dump(), token=issued.value)
    return Status(201, body)


@router.post(
    "/{token_id}/revoke",
    response={200: TokenOut, 404: ApiError, **AUTH_ERRORS},
    summary="Revoke an API token",
)
@api_requires(Perm.MANAGE_OWN_PROFILE, refuse_while_emulating=True)
def revoke_token(request: HttpRequest, token_id: int) -> ApiToken:
    """Stop a token working at once. Revoking a revoked token changes nothing."""
    token = ApiToken.objects.filter(pk=token_id, user=_owner(request)).first()
    if token is None:
        raise HttpError(404, "No such token.")
    do_revoke_api_token(token, request=request)
    return token
