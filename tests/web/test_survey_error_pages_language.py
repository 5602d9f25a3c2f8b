"""Generic error pages on the customer's survey addresses (an unreadable form body, an unknown path
under /survey/) follow the browser's Accept-Language, as the busy page does: no account is known
there. Staff addresses keep the English pages."""

from __future__ import annotations

from fastapi.testclient import TestClient

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.8"}


def test_an_unreadable_survey_form_is_answered_in_the_browsers_language(client: TestClient) -> None:
    headers = {**GERMAN, "Content-Type": "multipart/form-data"}  # no boundary: unreadable
    r = client.post("/survey/some-token", content=b"csat=5", headers=headers)
    assert r.status_code == 422
    assert '<html lang="de">' in r.text
    assert "Das Formular konnte nicht gelesen werden" in r.text
    assert "Start page" not in r.text and "Check your input" not in r.text
    assert r.headers["Referrer-Policy"] == "no-referrer"

    english = client.post(
        "/survey/some-token", content=b"csat=5", headers={"Content-Type": "multipart/form-data"}
    )
    assert english.status_code == 422 and "The form could not be read" in english.text


def test_an_unknown_survey_address_is_answered_in_the_browsers_language(client: TestClient) -> None:
    r = client.get("/survey/a/b/c/d", headers=GERMAN)
    assert r.status_code == 404
    assert '<html lang="de">' in r.text
    assert "Dieser Link funktioniert nicht" in r.text and "Page not found" not in r.text


def test_staff_pages_keep_their_english_error_pages(client: TestClient) -> None:
    r = client.get("/no-such-page", headers=GERMAN)
    assert r.status_code == 404 and "Page not found" in r.text


def test_a_too_large_survey_answer_is_refused_in_the_browsers_language(client: TestClient) -> None:
    # refused by the body limit before anything runs (app/platform/body_limit.py): no template
    big = b"comment=" + b"x" * (1024 * 1024)
    r = client.post(
        "/survey/some-token",
        content=big,
        headers={**GERMAN, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "<html lang='de'>" in r.text
    assert "Ihre Antwort ist zu lang" in r.text and "1024 KiB" in r.text
    assert "File too large" not in r.text and "Start page" not in r.text and 'href="/"' not in r.text
    assert r.headers["Referrer-Policy"] == "no-referrer"

    english = client.post(
        "/survey/some-token", content=big, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert english.status_code == 413 and "Your answer is too long" in english.text


def test_a_too_large_staff_form_keeps_the_english_page(client: TestClient) -> None:
    r = client.post("/desk/tickets/new", content=b"x" * (1024 * 1024 + 1), headers=GERMAN)
    assert r.status_code == 413 and "File too large" in r.text and "Start page" in r.text
