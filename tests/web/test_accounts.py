"""Human accounts: sign-in, cookies, CSRF, throttling, sign-out, password change, roles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from earlywarn.app.cli import app as cli_app
from earlywarn.auth import accounts
from earlywarn.auth.account_models import LoginFailure, User, WebSession
from earlywarn.db import session_scope
from earlywarn.settings import get_settings
from earlywarn.types import Role

from .conftest import PASSWORD, TestClient, form_token, sign_in, web_settings


def test_login_page_has_the_named_inputs_and_anonymous_pages_redirect_to_it(
    new_client: Callable[[], TestClient],
) -> None:
    client = new_client()
    page = client.get("/login")
    assert page.status_code == 200
    assert 'name="email"' in page.text
    assert 'name="password"' in page.text
    assert 'type="password"' in page.text
    for path in ("/", "/account", "/admin/users"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=" + path)


def test_sign_in_sets_a_protected_cookie_and_leads_to_the_page_asked_for(
    new_client: Callable[[], TestClient], users: dict[Role, str]
) -> None:
    client = new_client()
    response = sign_in(client, users[Role.ANALYST], next_path="/account")
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    cookie = response.headers["set-cookie"]
    assert "ew_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # plain http on the test server
    account = client.get("/account")
    assert account.status_code == 200
    assert users[Role.ANALYST] in account.text


def test_the_address_is_matched_without_case_and_next_cannot_leave_the_site(
    new_client: Callable[[], TestClient], users: dict[Role, str]
) -> None:
    client = new_client()
    response = sign_in(client, users[Role.ADMIN].upper(), next_path="//evil.example/x")
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_cookies_are_secure_when_served_over_https(
    engine: Engine, configuration: object, tmp_path: Path, users: dict[Role, str]
) -> None:
    from earlywarn.app.factory import create_app

    https_app = create_app(
        settings=web_settings(tmp_path, public_base_url="https://earlywarn.example.org"),
        engine=engine,
        configuration=configuration,  # type: ignore[arg-type]
    )
    with TestClient(https_app, base_url="https://testserver", follow_redirects=False) as client:
        response = sign_in(client, users[Role.ANALYST])
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_wrong_password_unknown_address_and_missing_csrf_are_refused(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
) -> None:
    client = new_client()
    wrong = sign_in(client, users[Role.ANALYST], password="not the password at all")
    assert wrong.status_code == 401
    assert "wrong e-mail address or password" in wrong.text
    unknown = sign_in(client, "nobody@example.org")
    assert unknown.status_code == 401
    assert "wrong e-mail address or password" in unknown.text  # does not say which
    assert "ew_session" not in client.cookies

    # A form posted from elsewhere has no matching token cookie.
    forged = new_client().post(
        "/login",
        data={"email": users[Role.ANALYST], "password": PASSWORD, "csrf_token": "x"},
    )
    assert forged.status_code == 400
    assert "ew_session" not in forged.headers.get("set-cookie", "")
    with session_factory() as session:
        assert len(list(session.scalars(select(LoginFailure)))) == 2


def test_sign_in_is_throttled_after_repeated_failures(
    new_client: Callable[[], TestClient], users: dict[Role, str]
) -> None:
    client = new_client()
    for _ in range(accounts.MAX_FAILURES_PER_EMAIL):
        assert sign_in(client, users[Role.ANALYST], password="guess-guess-guess").status_code == 401
    # Even the right password is refused while the window is full.
    throttled = sign_in(client, users[Role.ANALYST])
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert "too many failed sign-ins" in throttled.text
    # Another account from another client is not affected.
    assert sign_in(new_client(), users[Role.ADMIN]).status_code == 303


def test_every_form_needs_the_session_csrf_token_and_logout_ends_the_session(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
) -> None:
    client = new_client()
    sign_in(client, users[Role.ANALYST])
    page = client.get("/account")
    assert client.post("/logout").status_code == 403
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert client.get("/account").status_code == 200  # still signed in
    token = form_token(page.text)
    out = client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert client.get("/account").status_code == 303
    with session_factory() as session:
        assert list(session.scalars(select(WebSession))) == []


def test_password_change_checks_the_current_one_and_ends_other_sessions(
    new_client: Callable[[], TestClient], users: dict[Role, str]
) -> None:
    email = users[Role.FOCAL_POINT]
    here, elsewhere = new_client(), new_client()
    sign_in(here, email)
    sign_in(elsewhere, email)
    token = form_token(here.get("/account").text)

    def change(current: str, new: str, confirm: str | None = None) -> int:
        data = {
            "csrf_token": token,
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
        }
        return here.post("/account/password", data=data).status_code

    assert change("wrong password here", "a brand new passphrase") == 400
    assert change(PASSWORD, "short") == 400
    assert change(PASSWORD, "a brand new passphrase", "another one entirely") == 400
    assert change(PASSWORD, "a brand new passphrase") == 200
    assert here.get("/account").status_code == 200
    assert elsewhere.get("/account").status_code == 303  # signed out there
    assert sign_in(new_client(), email).status_code == 401
    assert sign_in(new_client(), email, password="a brand new passphrase").status_code == 303


def test_only_an_admin_manages_users_and_a_disabled_user_cannot_sign_in(
    new_client: Callable[[], TestClient], users: dict[Role, str], focal_point_id: int
) -> None:
    analyst = new_client()
    sign_in(analyst, users[Role.ANALYST])
    refused = analyst.get("/admin/users")
    assert refused.status_code == 403
    assert "may not admin" in refused.text
    token = form_token(analyst.get("/account").text)
    assert (
        analyst.post(
            "/admin/users",
            data={"csrf_token": token, "email": "x@example.org", "password": PASSWORD,
                  "role": "admin"},
        ).status_code
        == 403
    )  # fmt: skip

    admin = new_client()
    sign_in(admin, users[Role.ADMIN])
    page = admin.get("/admin/users")
    assert page.status_code == 200
    assert all(email in page.text for email in users.values())
    token = form_token(page.text)
    bad = admin.post(
        "/admin/users",
        data={"csrf_token": token, "email": "fp2@example.org", "password": PASSWORD,
              "role": "focal_point", "focal_point_id": ""},
    )  # fmt: skip
    assert bad.status_code == 400
    assert "needs a focal point" in bad.text
    made = admin.post(
        "/admin/users",
        data={"csrf_token": token, "email": "fp2@example.org", "password": PASSWORD,
              "role": "focal_point", "focal_point_id": str(focal_point_id)},
    )  # fmt: skip
    assert made.status_code == 200
    assert "Created fp2@example.org" in made.text
    assert sign_in(new_client(), "fp2@example.org").status_code == 303

    # Disabling ends the analyst's session at once and refuses new sign-ins.
    with_ids = admin.get("/admin/users").text
    analyst_id = _user_id(with_ids, users[Role.ANALYST])
    assert (
        admin.post(f"/admin/users/{analyst_id}/disable", data={"csrf_token": token}).status_code
        == 303
    )
    assert analyst.get("/account").status_code == 303
    assert sign_in(new_client(), users[Role.ANALYST]).status_code == 401
    admin.post(f"/admin/users/{analyst_id}/enable", data={"csrf_token": token})
    assert sign_in(new_client(), users[Role.ANALYST]).status_code == 303


def _user_id(html: str, email: str) -> int:
    import re

    row = html[html.index(email) :]
    match = re.search(r'action="/admin/users/(\d+)/disable"', row)
    assert match
    return int(match.group(1))


def test_create_user_command_reads_the_password_from_stdin(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    focal_point_id: int,
) -> None:
    monkeypatch.setenv("EARLYWARN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("EARLYWARN_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        ok = runner.invoke(
            cli_app,
            ["create-user", "Desk2@Example.org", "--role", "focal_point",
             "--focal-point-id", str(focal_point_id)],
            input=PASSWORD + "\n",
        )  # fmt: skip
        assert ok.exit_code == 0, ok.output
        short = runner.invoke(
            cli_app, ["create-user", "a@example.org", "--role", "analyst"], input="short\n"
        )
        assert short.exit_code == 1
        assert "at least 12 characters" in short.output
        missing = runner.invoke(
            cli_app, ["create-user", "b@example.org", "--role", "focal_point"], input=PASSWORD
        )
        assert missing.exit_code == 1
    finally:
        get_settings.cache_clear()
    with session_scope(session_factory) as session:
        user = session.scalars(select(User)).one()
        assert (user.email, user.role, user.focal_point_id) == (
            "desk2@example.org",
            Role.FOCAL_POINT,
            focal_point_id,
        )
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash


def test_the_migration_builds_the_account_tables_as_the_models_declare(engine: Engine) -> None:
    from earlywarn.app.models_registry import Base

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    ours = {"users", "web_sessions", "login_failures"}
    mentioned = [d for d in diff if ours & set(str(d).replace("'", " ").split())]
    assert mentioned == []


def test_static_files_are_served_without_signing_in(
    new_client: Callable[[], TestClient],
) -> None:
    response = new_client().get("/static/style.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
