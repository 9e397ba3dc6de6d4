"""Every route of the application enforces the permission it declares.

Routes are enumerated from the application itself, so a router added to ``create_app`` later is
covered without touching this file. Each route must depend on exactly one of ``Reader``,
``Acknowledger`` or ``Admin`` (``auth/deps.py``) unless it is one of the public routes below;
then it is called with no key (401), with every role lacking the permission (403) and with the
least privileged role that has it (anything but 401/403 and below 500).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import create_engine
from starlette.routing import BaseRoute, Mount, Route

from earlywarn.app.factory import create_app
from earlywarn.auth.deps import Acknowledger, Admin, Reader, require
from earlywarn.auth.service import ROLE_PERMISSIONS
from earlywarn.framework.config import load_configuration
from earlywarn.settings import Settings
from earlywarn.types import Role

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"

PUBLIC_API_PATHS = {"/healthz", "/livez", "/readyz", "/metrics"}
# Authorised by a secret in the URL instead of a key: an unknown one is a 404.
URL_TOKEN_PATHS = {"/feeds/cap/{token}"}
DOCS_PATHS = {"/docs", "/docs/oauth2-redirect", "/openapi.json"}
DOCS_ASSETS = "/docs-assets"  # Swagger UI's own files, served by the app (no CDN), public
PLACEHOLDER_INT = "1"
PLACEHOLDER_STR = "SDN"

# Every closure ``require(...)`` returns shares one code object; its cell holds the permission.
_REQUIRE_CODE = require("read").__code__


def _effective_routes(app: FastAPI) -> Iterator[Any]:
    """The routes as served, with router prefixes and router-level dependencies applied."""
    iter_contexts: Callable[[list[BaseRoute]], Iterator[Any]] | None = getattr(
        fastapi.routing, "iter_route_contexts", None
    )
    # Newer FastAPI keeps included routers as nodes of app.routes; older versions flatten them.
    yield from (iter_contexts(app.routes) if iter_contexts is not None else app.routes)


def _is_docs_assets(route: Any) -> bool:
    return isinstance(route, Mount) and route.path == DOCS_ASSETS


def _is_web_route(route: Any) -> bool:
    """The pages (earlywarn.web) sign in with a session, not a key; tests/web checks them."""
    original = getattr(route, "original_route", route)
    endpoint = getattr(original, "endpoint", None)
    return getattr(endpoint, "__module__", "").startswith("earlywarn.web.") or (
        getattr(original, "path", None) == "/static"
    )


def _is_api_route(route: Any) -> bool:
    original = getattr(route, "original_route", route)
    # The docs pages are APIRoutes too (fastapi-offline serves them), public and outside the API.
    return (
        isinstance(original, APIRoute)
        and not _is_web_route(route)
        and original.path not in DOCS_PATHS
    )


def _permission_of(call: Any) -> str | None:
    explicit = getattr(call, "permission", None)
    if isinstance(explicit, str):
        return explicit
    code = getattr(call, "__code__", None)
    if code is _REQUIRE_CODE and call.__closure__ is not None:
        cell = call.__closure__[code.co_freevars.index("permission")]
        permission = cell.cell_contents
        return permission if isinstance(permission, str) else None
    return None


def permissions_required(route: Any) -> set[str]:
    found: set[str] = set()

    def walk(dependant: Any) -> None:
        for sub in dependant.dependencies:
            permission = _permission_of(sub.call)
            if permission is not None:
                found.add(permission)
            walk(sub)

    walk(route.dependant)
    return found


def _collection_app() -> FastAPI:
    # Only to list the routes at collection time: the engine is never connected.
    return create_app(
        settings=Settings(_env_file=None, scheduler_enabled=False, bootstrap_admin_key=None),
        engine=create_engine("sqlite://"),
        configuration=load_configuration(CONFIG_DIR),
    )


def _api_operations(app: FastAPI) -> list[tuple[str, str]]:
    operations = {
        (method, route.path)
        for route in _effective_routes(app)
        if _is_api_route(route)
        for method in route.methods
    }
    return sorted(operations, key=lambda op: (op[1], op[0]))


OPERATIONS = _api_operations(_collection_app())


def _find(app: FastAPI, method: str, path: str) -> Any:
    for route in _effective_routes(app):
        if _is_api_route(route) and route.path == path and method in route.methods:
            return route
    raise AssertionError(f"{method} {path} not found")


def _url(route: Any) -> str:
    values: dict[str, str] = {}
    for param in route.dependant.path_params:
        annotation = param.field_info.annotation
        values[param.name] = PLACEHOLDER_INT if annotation is int else PLACEHOLDER_STR
    return str(route.path_format.format(**values))


def _roles_with(permission: str) -> list[Role]:
    return [role for role in Role if permission in ROLE_PERMISSIONS[role]]


def _least_privileged(roles: list[Role]) -> Role:
    return min(roles, key=lambda role: len(ROLE_PERMISSIONS[role]))


def test_routes_were_found() -> None:
    paths = {path for _, path in OPERATIONS}
    assert {"/healthz", "/api-keys", "/focal-points", "/outbox"} <= paths


def test_only_docs_routes_are_not_api_routes() -> None:
    app = _collection_app()
    others = {
        getattr(route, "path", repr(route))
        for route in _effective_routes(app)
        if not _is_api_route(route) and not _is_web_route(route)
    }
    allowed = DOCS_PATHS | {DOCS_ASSETS}
    assert others <= allowed, f"routes outside the API rules: {others - allowed}"
    assert all(
        isinstance(getattr(route, "original_route", route), Route)
        or _is_docs_assets(getattr(route, "original_route", route))
        for route in _effective_routes(app)
        if not _is_api_route(route) and not _is_web_route(route)
    )


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_route_enforces_its_permission(
    method: str, path: str, app: FastAPI, client: Any, keys: dict[Role, str]
) -> None:
    route = _find(app, method, path)
    permissions = permissions_required(route)
    url = _url(route)
    body = {} if route.body_field is not None else None

    def call(role: Role | None) -> Any:
        headers = {"X-API-Key": keys[role]} if role is not None else {}
        return client.request(method, url, json=body, headers=headers)

    if path in URL_TOKEN_PATHS:
        assert permissions == set(), f"{method} {path} takes its token in the URL"
        assert call(None).status_code == 404
        assert call(Role.ADMIN).status_code == 404, "a key is not a feed token"
        return

    if path in PUBLIC_API_PATHS:
        assert permissions == set(), f"{method} {path} is public but requires {permissions}"
        response = call(None)
        assert response.status_code < 400, response.text
        return

    assert len(permissions) == 1, (
        f"{method} {path} must depend on exactly one of Reader, Acknowledger, Admin "
        f"(found permissions {sorted(permissions)})"
    )
    (permission,) = permissions
    allowed = _roles_with(permission)

    anonymous = call(None)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json()["detail"]

    for role in Role:
        if role in allowed:
            continue
        denied = call(role)
        assert denied.status_code == 403, f"{role}: {denied.text}"
        assert permission in denied.json()["detail"]

    permitted = call(_least_privileged(allowed))
    assert permitted.status_code not in (401, 403), permitted.text
    assert permitted.status_code < 500, permitted.text


def test_admin_routes_deny_analyst_and_focal_point_keys() -> None:
    # Guards the role table the walk relies on: if it changed, the walk would test less.
    assert _roles_with("admin") == [Role.ADMIN]
    assert _roles_with("acknowledge") == [Role.FOCAL_POINT, Role.ADMIN]
    assert _roles_with("read") == list(Role)


def test_permission_detection_sees_each_principal_and_its_absence() -> None:
    # The walk is only as good as this detection: an unprotected route must read as empty.
    probe = FastAPI()

    @probe.get("/read")
    def read(principal: Reader) -> None: ...

    @probe.post("/ack")
    def ack(principal: Acknowledger) -> None: ...

    @probe.delete("/admin")
    def admin(principal: Admin) -> None: ...

    @probe.get("/open")
    def open_route() -> None: ...

    found = {
        route.path: permissions_required(route)
        for route in _effective_routes(probe)
        if _is_api_route(route)
    }
    assert found == {
        "/read": {"read"},
        "/ack": {"acknowledge"},
        "/admin": {"admin"},
        "/open": set(),
    }
