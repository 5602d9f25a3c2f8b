"""Sign-in, sign-out, the signed-out redirect, CSRF refusal and the desk's role check."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User
from app.platform.deps import SESSION_COOKIE
from tests import factories as f
from tests.web.conftest import csrf_of


def _login_form(client: TestClient, next_url: str = "/") -> str:
    r = client.get("/login", params={"next": next_url})
    assert r.status_code == 200
    return csrf_of(r.text)


def test_signed_out_page_redirects_to_login_with_next(client: TestClient) -> None:
    r = client.get("/desk/search?q=acme", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fdesk%2Fsearch%3Fq%3Dacme"


def test_login_sets_httponly_lax_cookie_and_goes_to_next(client: TestClient, db: Session) -> None:
    f.make_user(db, role="agent", email="ann@test.example", password="s3cret-pass")
    db.commit()
    token = _login_form(client)
    r = client.post(
        "/login",
        data={"email": "Ann@Test.example ", "password": "s3cret-pass", "csrf": token, "next": "/?q=x"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/?q=x"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/" in cookie
    home = client.get("/")
    assert home.status_code == 200
    assert "Find a customer" in home.text and "Sign out" in home.text


def test_next_cannot_leave_the_site(client: TestClient, db: Session) -> None:
    f.make_user(db, role="agent", email="bob@test.example", password="s3cret-pass")
    db.commit()
    token = _login_form(client)
    r = client.post(
        "/login",
        data={
            "email": "bob@test.example",
            "password": "s3cret-pass",
            "csrf": token,
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_wrong_password_is_a_readable_message_and_keeps_the_email(client: TestClient, db: Session) -> None:
    f.make_user(db, role="agent", email="cat@test.example", password="s3cret-pass")
    db.commit()
    r = client.post(
        "/login", data={"email": "cat@test.example", "password": "nope", "csrf": _login_form(client)}
    )
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("text/html")
    assert "Wrong e-mail or password." in r.text
    assert 'value="cat@test.example"' in r.text
    assert SESSION_COOKIE not in client.cookies


def test_throttled_login_shows_the_429_message(client: TestClient, db: Session) -> None:
    f.make_user(db, role="agent", email="dan@test.example", password="s3cret-pass")
    db.commit()
    codes = []
    for _ in range(11):
        r = client.post(
            "/login", data={"email": "dan@test.example", "password": "bad", "csrf": _login_form(client)}
        )
        codes.append(r.status_code)
    assert codes == [401] * 10 + [429]
    assert "Too many failed sign-in attempts" in r.text
    assert r.headers["retry-after"] == "60"
    # the right password is refused too while throttled
    r = client.post(
        "/login", data={"email": "dan@test.example", "password": "s3cret-pass", "csrf": _login_form(client)}
    )
    assert r.status_code == 429


def test_login_without_the_form_token_is_refused(client: TestClient, db: Session) -> None:
    f.make_user(db, role="agent", email="eve@test.example", password="s3cret-pass")
    db.commit()
    _login_form(client)  # has the nonce cookie, but posts a forged token
    r = client.post("/login", data={"email": "eve@test.example", "password": "s3cret-pass", "csrf": "x"})
    assert r.status_code == 403
    assert "sign-in form had expired" in r.text
    assert SESSION_COOKIE not in client.cookies


def test_logout_needs_csrf_then_clears_the_session(client: TestClient, db: Session) -> None:
    f.make_user(db, role="agent", email="fay@test.example", password="s3cret-pass")
    db.commit()
    data = {"email": "fay@test.example", "password": "s3cret-pass", "csrf": _login_form(client)}
    page = client.post("/login", data=data)
    assert page.status_code == 200 and "Sign out" in page.text
    refused = client.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "did not come from Fieldline" in refused.text
    assert client.get("/").status_code == 200  # still signed in
    r = client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?signed_out=1"
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/", follow_redirects=False).status_code == 303
    assert "You have been signed out." in client.get("/login?signed_out=1").text


def test_csrf_token_of_another_session_is_refused(client: TestClient, sign_in: Callable[..., User]) -> None:
    sign_in("agent")
    other_token = csrf_of(client.get("/").text)
    sign_in("agent")  # a new session cookie: the old form's token no longer matches
    r = client.post("/logout", data={"csrf": other_token}, follow_redirects=False)
    assert r.status_code == 403


def test_engineer_gets_a_readable_403_on_the_desk(client: TestClient, sign_in: Callable[..., User]) -> None:
    sign_in("engineer", email="eng@test.example")
    home = client.get("/", follow_redirects=False)  # the start page sends engineers to their route
    assert home.status_code == 303 and home.headers["location"] == "/field"
    r = client.get("/desk/search?q=acme")
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert "The service desk is for agents" in r.text and "eng@test.example" in r.text


def test_expired_or_forged_cookie_redirects_to_login(client: TestClient) -> None:
    client.cookies.set(SESSION_COOKIE, "not-a-token")
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2F")
    assert "Sign in" in client.get(r.headers["location"]).text


def test_secure_cookie_can_be_forced(
    client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.platform.config import get_settings

    f.make_user(db, role="agent", email="gil@test.example", password="s3cret-pass")
    db.commit()
    token = _login_form(client)
    monkeypatch.setattr(get_settings(), "session_cookie_secure", True)
    r = client.post(
        "/login",
        data={"email": "gil@test.example", "password": "s3cret-pass", "csrf": token},
        follow_redirects=False,
    )
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "="))
    assert "Secure" in cookie


def test_form_posted_after_the_session_ended_returns_to_its_page(client: TestClient) -> None:
    r = client.post(
        "/desk/tickets/5/reply",
        data={"text": "hi"},
        headers={"referer": "http://testserver/desk/tickets/5"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fdesk%2Ftickets%2F5"
    foreign = client.post(
        "/desk/tickets/5/reply",
        data={"text": "hi"},
        headers={"referer": "https://evil.example/x"},
        follow_redirects=False,
    )
    assert foreign.headers["location"] == "/login?next=%2F"


def test_unknown_desk_address_is_a_readable_page(client: TestClient) -> None:
    r = client.get("/desk/nothing/here")
    assert r.status_code == 404
    assert (
        r.headers["content-type"].startswith("text/html")
        and "There is no page at /desk/nothing/here" in r.text
    )
