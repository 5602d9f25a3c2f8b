"""The public survey pages behind the e-mail links: no login, the signed token is the key.

GET shows the form (a clicked rating preselected) and records nothing, because mail scanners
open links; POST records. Every outcome — answered before, expired, tampered — is a readable
page with a fitting status, never a 500.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.feedback import answering
from app.feedback.answering import Page
from app.web.shared import PageDb, PageRoute, render

router = APIRouter(route_class=PageRoute)

STATUS = {"invalid": 404, "expired": 410, "cancelled": 410, "answered": 200, "errors": 422}
# Referrer: the token is in the URL, so it must not leak to any other site.
HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def _show(
    request: Request, page: Page, token: str, values: dict[str, object], view: str = "form"
) -> HTMLResponse:
    errors = {e.field: e.message for e in page.errors}
    return render(
        request,
        "survey/survey.html",
        {"page": page, "token": token, "values": values, "errors": errors, "view": view},
        status_code=STATUS.get(page.outcome, 200),
        headers=HEADERS,
    )


@router.get("/survey/{token}")
def survey_form(request: Request, token: str, db: PageDb, csat: str | None = None) -> HTMLResponse:
    page = answering.open_form(db, token)
    return _show(request, page, token, {"csat": csat or ""})


@router.post("/survey/{token}")
async def survey_submit(request: Request, token: str, db: PageDb) -> HTMLResponse:
    form = await request.form()
    values: dict[str, object] = {k: v for k, v in form.items() if k != "reasons" and isinstance(v, str)}
    values["reasons"] = [v for v in form.getlist("reasons") if isinstance(v, str)]
    page = answering.submit(db, token, values)
    return _show(request, page, token, values)


@router.get("/survey/unsubscribe/{token}")
def unsubscribe_form(request: Request, token: str, db: PageDb) -> HTMLResponse:
    return _show(request, answering.open_unsubscribe(db, token), token, {}, view="unsubscribe")


@router.post("/survey/unsubscribe/{token}")
def unsubscribe(request: Request, token: str, db: PageDb) -> HTMLResponse:
    return _show(request, answering.unsubscribe(db, token), token, {}, view="unsubscribe")
