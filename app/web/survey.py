"""The public survey pages behind the e-mail links: no login, the signed token is the key.

GET shows the form (a clicked rating preselected) and records nothing, because mail scanners
open links; POST records and redirects (303) to the thank-you page, so that Reload or Back does
not ask to send the form again. Every outcome — answered before, expired, tampered — is a
readable page with a fitting status, never a 500.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from app.feedback import answering
from app.feedback.answering import Page
from app.platform import i18n
from app.web.shared import PageDb, PageRoute, render

router = APIRouter(route_class=PageRoute)

STATUS = {"invalid": 404, "expired": 410, "cancelled": 410, "answered": 200, "errors": 422}
# Referrer: the token is in the URL, so it must not leak to any other site.
HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def _show(
    request: Request, page: Page, token: str, values: dict[str, object], view: str = "form"
) -> HTMLResponse:
    errors = {e.field: e.message for e in page.errors}
    # The account's language; a broken link names no account: the browser's then.
    language = page.language or i18n.negotiate(request.headers.get("accept-language", ""))

    def say(key: str, **params: object) -> str:
        return i18n.text(language, f"survey.page.{key}", **params)

    context = {"page": page, "token": token, "values": values, "errors": errors, "view": view}
    return render(
        request,
        "survey/survey.html",
        {
            **context,
            "say": say,
            "day": lambda d: i18n.format_day(language, d),
            "page_lang": language,
            "skip_text": say("skip"),
        },
        status_code=STATUS.get(page.outcome, 200),
        headers=HEADERS,
    )


@router.get("/survey/{token}")
def survey_form(request: Request, token: str, db: PageDb, csat: str | None = None) -> HTMLResponse:
    page = answering.open_form(db, token)
    return _show(request, page, token, {"csat": csat or ""})


async def _posted_form(request: Request) -> FormData:
    """The posted form, read on the event loop: the handler that records it is a plain def."""
    return await request.form()


@router.post("/survey/{token}")
def survey_submit(
    request: Request, token: str, db: PageDb, form: Annotated[FormData, Depends(_posted_form)]
) -> Response:
    # A plain def on purpose: FastAPI runs it in the thread pool. As an async def, `submit` ran on
    # the event loop and, while another request's transaction held the lock it needed (SQLite's
    # write lock, held until that request's commit; on PostgreSQL the survey's row), it blocked the
    # whole server — including the commit it was waiting for: 30 s and a 503 on SQLite, a hang on
    # PostgreSQL, for two customers (or one double click) posting at the same moment.
    values: dict[str, object] = {k: v for k, v in form.items() if k != "reasons" and isinstance(v, str)}
    values["reasons"] = [v for v in form.getlist("reasons") if isinstance(v, str)]
    repeated = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in set(form.keys())}
    repeated = {k: v for k, v in repeated.items() if len(v) > 1}
    page = answering.submit(db, token, values, repeated=repeated)
    if page.outcome == "recorded":
        # the page_db session commits after the response is made, before it is sent
        return RedirectResponse(f"/survey/{token}/thanks", status_code=303, headers=HEADERS)
    for key in repeated.keys() - {"reasons"}:
        values[key] = ""  # which one was meant is the customer's to choose again
    return _show(request, page, token, values)


@router.get("/survey/{token}/thanks")
def survey_thanks(request: Request, token: str, db: PageDb) -> Response:
    """After the POST: thanks for an answered survey, only with its valid token; a survey not yet
    answered goes back to its form."""
    page = answering.open_form(db, token)
    if page.outcome == "form":
        return RedirectResponse(f"/survey/{token}", status_code=303, headers=HEADERS)
    return _show(request, page, token, {}, view="thanks")


@router.get("/survey/unsubscribe/{token}")
def unsubscribe_form(request: Request, token: str, db: PageDb) -> HTMLResponse:
    return _show(request, answering.open_unsubscribe(db, token), token, {}, view="unsubscribe")


@router.post("/survey/unsubscribe/{token}")
def unsubscribe(request: Request, token: str, db: PageDb) -> HTMLResponse:
    return _show(request, answering.unsubscribe(db, token), token, {}, view="unsubscribe")
