"""Hostile input against sign-in and sessions: revocation, login throttling, equal work for unknown
accounts, the cookie's limits on the API, and the account rules of `fieldline create-user`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import models as m
from app.cli import cli
from app.platform import auth
from app.platform.auth import authenticate, deactivate_user, issue_token, set_password
from app.platform.config import get_settings
from app.platform.deps import SESSION_COOKIE
from app.platform.errors import TooManyRequests, Unauthorized
from tests import factories as f

PASSWORD = "s3cret-pass-word"


def _token(client: TestClient, email: str, password: str = PASSWORD) -> str:
    r = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _me(client: TestClient, token: str) -> int:
    return client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code


# --- revocation --------------------------------------------------------------------------------


def test_logout_revokes_every_token_of_the_user(client: TestClient, db: Session) -> None:
    f.make_user(db, role="agent", email="leo@test.example", password=PASSWORD)
    db.commit()
    phone, laptop = _token(client, "leo@test.example"), _token(client, "leo@test.example")
    assert _me(client, phone) == 200 and _me(client, laptop) == 200
    r = client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {phone}"})
    assert r.status_code == 204
    assert _me(client, phone) == 401 and _me(client, laptop) == 401
    assert _me(client, _token(client, "leo@test.example")) == 200  # signing in again works


def test_page_logout_revokes_a_copied_cookie(client: TestClient, db: Session) -> None:
    from tests.web.conftest import csrf_of

    user = f.make_user(db, role="agent", email="mia@test.example")
    db.commit()
    cookie = issue_token(user)
    client.cookies.set(SESSION_COOKIE, cookie)
    page = client.get("/")
    assert page.status_code == 200
    r = client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    # The stolen copy (e.g. kept by an attacker) no longer works, on the pages or the API.
    client.cookies.set(SESSION_COOKIE, cookie)
    assert client.get("/", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/auth/me").status_code == 401


def test_password_change_and_deactivation_revoke_tokens(client: TestClient, db: Session) -> None:
    user = f.make_user(db, role="agent", email="ned@test.example", password=PASSWORD)
    db.commit()
    before = issue_token(user)
    set_password(db, user, "a much better passphrase")
    db.commit()
    assert _me(client, before) == 401
    after = _token(client, "ned@test.example", "a much better passphrase")
    assert _me(client, after) == 200
    deactivate_user(db, user)
    db.commit()
    assert _me(client, after) == 401
    r = client.post("/api/v1/auth/token", data={"username": "ned@test.example", "password": PASSWORD})
    assert r.status_code == 401


def test_set_password_refuses_a_weak_one(db: Session) -> None:
    user = f.make_user(db, role="agent")
    version = user.token_version
    with pytest.raises(ValueError, match="at least 10"):
        set_password(db, user, "short")
    assert user.token_version == version


# --- login: equal work, throttling by address and account ----------------------------------------


def test_unknown_email_costs_the_same_verification(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    user = f.make_user(db, role="agent", email="ola@test.example", password=PASSWORD)
    db.commit()
    verified: list[str] = []
    real = auth.verify_password

    def counting(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    with pytest.raises(Unauthorized) as unknown:
        authenticate(email="nobody@test.example", password="whatever", client="198.51.100.1")
    assert verified == [auth.dummy_hash()]
    with pytest.raises(Unauthorized) as wrong:
        authenticate(email="ola@test.example", password="wrong", client="198.51.100.1")
    assert verified[1] == user.password_hash
    assert unknown.value.detail == wrong.value.detail  # the answer does not tell them apart
    user.is_active = False
    db.commit()
    with pytest.raises(Unauthorized):
        authenticate(email="ola@test.example", password=PASSWORD, client="198.51.100.1")
    assert len(verified) == 3  # an inactive account is verified too


@pytest.fixture
def low_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    # Small limits keep the test fast (each try is a real argon2 verification).
    monkeypatch.setattr(get_settings(), "login_attempts_per_minute", 3)
    monkeypatch.setattr(get_settings(), "login_client_attempts_per_minute", 5)


def _fail(email: str, client: str) -> None:
    with pytest.raises(Unauthorized):
        authenticate(email=email, password="guess", client=client)


def test_guessing_from_one_address_cannot_lock_the_owner_out(db: Session, low_limits: None) -> None:
    owner = f.make_user(db, role="manager", email="pia@test.example", password=PASSWORD)
    db.commit()
    for _ in range(3):
        _fail("pia@test.example", "203.0.113.66")
    with pytest.raises(TooManyRequests):  # the attacker is stopped, even with the right password
        authenticate(email="pia@test.example", password=PASSWORD, client="203.0.113.66")
    assert authenticate(email="pia@test.example", password=PASSWORD, client="192.0.2.10") == owner.id


def test_spraying_many_accounts_from_one_address_is_limited(db: Session, low_limits: None) -> None:
    victim = f.make_user(db, role="agent", email="quinn@test.example", password=PASSWORD)
    db.commit()
    for i in range(5):  # one try per account: the per-account limit never triggers
        _fail(f"user{i}@test.example", "203.0.113.77")
    with pytest.raises(TooManyRequests):
        authenticate(email="quinn@test.example", password="guess", client="203.0.113.77")
    assert authenticate(email="quinn@test.example", password=PASSWORD, client="192.0.2.11") == victim.id
    attempts = db.scalar(
        select(func.count()).select_from(m.LoginAttempt).where(m.LoginAttempt.client == "203.0.113.77")
    )
    assert attempts == 5  # refused tries are not even verified or counted


def test_throttled_login_is_problem_json_with_retry_after(
    client: TestClient, db: Session, low_limits: None
) -> None:
    f.make_user(db, role="agent", email="rae@test.example", password=PASSWORD)
    db.commit()
    for _ in range(3):
        bad = client.post("/api/v1/auth/token", data={"username": "rae@test.example", "password": "x"})
        assert bad.status_code == 401
    r = client.post("/api/v1/auth/token", data={"username": "rae@test.example", "password": PASSWORD})
    assert r.status_code == 429 and r.headers["retry-after"] == "60"
    assert r.headers["content-type"].startswith("application/problem+json")


# --- the session cookie on the API ---------------------------------------------------------------


def test_cookie_reads_the_api_but_cannot_change_anything(client: TestClient, db: Session) -> None:
    manager = f.make_user(db, role="manager")
    db.commit()
    before = db.scalar(select(func.count()).select_from(m.Account))
    client.cookies.set(SESSION_COOKIE, issue_token(manager))
    # What the customer search script does: a same-origin GET with the cookie.
    assert client.get("/api/v1/customers", params={"q": "acme"}).status_code == 200
    forged = client.post(
        "/api/v1/imports/customers",
        content=b"external_id,name\nX-1,Forged GmbH\n",
        headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
    )
    assert forged.status_code == 403, forged.text
    assert forged.headers["content-type"].startswith("application/problem+json")
    assert "bearer token" in forged.json()["detail"]
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(m.Account)) == before
    client.cookies.clear()
    ok = client.post(
        "/api/v1/imports/customers",
        content=b"external_id,name\nX-1,Real GmbH\n",
        headers={"Content-Type": "text/csv", **f.bearer(manager)},
    )
    assert ok.status_code == 200, ok.text


# --- the Secure flag behind a proxy --------------------------------------------------------------


@pytest.fixture
def proxied_app(connection: Connection, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from app.main import create_app

    monkeypatch.setattr(get_settings(), "forwarded_allow_ips", "172.16.0.0/12")
    yield create_app()


def _login_cookie(app: object, client_ip: str, proto: str) -> str:
    with TestClient(app, client=(client_ip, 40000)) as c:  # type: ignore[arg-type]
        r = c.get("/login", headers={"X-Forwarded-Proto": proto, "X-Forwarded-For": "198.51.100.9"})
        assert r.status_code == 200
        return r.headers["set-cookie"]


def test_secure_cookie_behind_a_proxy_in_another_container(proxied_app: object, db: Session) -> None:
    # The proxy container (172.18.0.5 on the compose network) terminates TLS.
    assert "secure" in _login_cookie(proxied_app, "172.18.0.5", "https").lower()
    # The same header from anywhere else is not believed.
    assert "secure" not in _login_cookie(proxied_app, "192.0.2.50", "https").lower()
    assert "secure" not in _login_cookie(proxied_app, "172.18.0.5", "http").lower()


def test_login_throttle_sees_the_client_behind_the_trusted_proxy(proxied_app: object, db: Session) -> None:
    with TestClient(proxied_app, client=("172.18.0.5", 40000)) as c:  # type: ignore[arg-type]
        r = c.post(
            "/api/v1/auth/token",
            data={"username": "sam@test.example", "password": "x"},
            headers={"X-Forwarded-For": "198.51.100.9"},
        )
    assert r.status_code == 401
    clients = db.scalars(select(m.LoginAttempt.client).where(m.LoginAttempt.email == "sam@test.example"))
    assert list(clients) == ["198.51.100.9"]


# --- fieldline create-user ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("not an email", "a fine long passphrase", "not a valid e-mail"),
        ("", "a fine long passphrase", "e-mail address is required"),
        ("tom@test.example", "12345678", "at least 10"),
        ("tom@test.example", "password", "at least 10"),
        ("tom@test.example", "qwertyuiop", "commonly used"),
        ("tom@test.example", "tom@test.example", "e-mail address"),
    ],
)
def test_create_user_refuses_bad_email_and_weak_passwords(
    db: Session, email: str, password: str, message: str
) -> None:
    r = CliRunner().invoke(cli, ["create-user", "--email", email, "--password-stdin"], input=password + "\n")
    assert r.exit_code == 1, r.output
    assert message in r.output.replace("\n", " ")
    assert db.scalar(select(func.count()).select_from(m.User)) == 0


def test_create_user_takes_the_password_from_stdin_or_a_hidden_prompt(db: Session) -> None:
    assert "--password " not in CliRunner().invoke(cli, ["create-user", "--help"]).output
    refused = CliRunner().invoke(cli, ["create-user", "--email", "a@test.example", "--password", "x"])
    assert refused.exit_code == 2 and "No such option" in refused.output
    piped = CliRunner().invoke(
        cli,
        ["create-user", "--email", "Uma@Test.example", "--password-stdin"],
        input="a fine long passphrase\n",
    )
    assert piped.exit_code == 0, piped.output
    prompted = CliRunner().invoke(
        cli,
        ["create-user", "--email", "vic@test.example", "--role", "admin"],
        input="another fine passphrase\nanother fine passphrase\n",
    )
    assert prompted.exit_code == 0, prompted.output
    assert "another fine passphrase" not in prompted.output  # the prompt does not echo it
    users = {u.email: u for u in db.scalars(select(m.User))}
    assert auth.verify_password(users["uma@test.example"].password_hash, "a fine long passphrase")
    assert users["vic@test.example"].role == "admin"


def test_the_demo_password_works_in_demo_mode_only(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = f.make_user(db, role="agent", email="agent@demo.example", password="demo")
    db.commit()
    with pytest.raises(Unauthorized):
        authenticate(email="agent@demo.example", password="demo", client="192.0.2.20")
    monkeypatch.setattr(get_settings(), "demo_mode", True)
    assert authenticate(email="agent@demo.example", password="demo", client="192.0.2.20") == demo.id
