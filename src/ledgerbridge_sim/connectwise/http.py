"""Request plumbing shared by every ConnectWise route: the call object, routing, replies."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import URL, Headers, QueryParams

from ledgerbridge_sim import jsonio
from ledgerbridge_sim.connectwise.errors import CwError
from ledgerbridge_sim.state import Simulator, SystemState

SYSTEM = "connectwise"


@dataclass
class Call:
    """One API request as a handler sees it (already authenticated and within capacity)."""

    sim: Simulator
    method: str
    path: str  # after `apis/3.0/`, as sent
    url: URL
    query: QueryParams
    headers: Headers
    raw_body: bytes
    member: dict[str, Any]
    path_params: dict[str, int] = field(default_factory=dict)

    @property
    def state(self) -> SystemState:
        return self.sim.system(SYSTEM)

    def param(self, name: str) -> str | None:
        """A query parameter by name, ignoring case as the API's model binding does."""
        value = self.query.get(name)
        if value is not None:
            return value
        lowered = name.lower()
        for key, candidate in self.query.multi_items():
            if key.lower() == lowered:
                return candidate
        return None

    def json(self) -> Any:
        if not self.raw_body.strip():
            raise CwError(400, "InvalidObject", "The request body is empty.")
        try:
            return jsonio.loads(self.raw_body)
        except ValueError as error:
            # pyconnectwise's fixtures show body-conversion failures as ConnectWiseApi errors.
            raise CwError(
                400, "ConnectWiseApi", f"Error converting the request body: {error}"
            ) from error

    def now_text(self) -> str:
        return self.sim.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


type Handler = Callable[[Call], Reply]

# Security levels by verb, as CW's security roles grant them.
LEVELS = {"GET": "Inquire", "POST": "Add", "PUT": "Edit", "PATCH": "Edit", "DELETE": "Delete"}


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    permission: str | None  # "Module/Function", checked against the member's security role
    level: str | None


class Router:
    """Routes on the lower-cased path, so `glAccounts` and `glaccounts` both match."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        template: str,
        handler: Handler,
        permission: str | None,
        level: str | None = None,
    ) -> None:
        parts = re.split(r"\{(\w+)\}", template)  # literals at even places, names at odd
        regex = "".join(
            re.escape(part.lower()) if index % 2 == 0 else f"(?P<{part}>\\d+)"
            for index, part in enumerate(parts)
        )
        self.routes.append(
            Route(
                method,
                re.compile(f"^{regex}/?$"),
                handler,
                permission,
                level or LEVELS.get(method),
            )
        )

    def match(self, method: str, path: str) -> tuple[Route, dict[str, int]]:
        lowered = path.lower()
        allowed = False
        for route in self.routes:
            found = route.pattern.match(lowered)
            if found is None:
                continue
            if route.method == method:
                return route, {key: int(value) for key, value in found.groupdict().items()}
            allowed = True
        if allowed:
            raise CwError(
                405,
                "MethodNotAllowed",
                f"The requested resource does not support http method '{method}'.",
            )
        raise CwError(404, "NotFound", f"No resource found at /{path}")
