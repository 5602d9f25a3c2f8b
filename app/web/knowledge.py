"""Knowledge pages: an article (its history for the office, restore for writers), the editor (new
and existing articles), and the ticket page's knowledge actions (page forms with CSRF: the API
refuses changes made with the page cookie). Search and browse: ``kb_list.py``.

- ``POST /desk/tickets/{id}/kb/{article_id}/solved``: "This solved it" (resolves the ticket with the
  article and mails the customer the resolution; first-contact resolution recorded when it applies).
  Only with ``confirmed=1``: without it the ticket page answers with the question (Confirm / Cancel);
  kb-suggest.js sends it after its own confirm dialog, so the scripted path asks once. The button
  sends the reply form, so the reply typed stays in its box on every page that answers (unsent);
- ``POST /desk/tickets/{id}/kb/{article_id}/not-helpful``: a button of the reply form too, so the reply
  and the knowledge box's text (``symptom``, a field of that form) come back in their boxes;
- ``POST /desk/tickets/{id}/kb-article``: "Create an article from this ticket" (a prefilled draft).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.knowledge import articles, feedback, from_ticket, search
from app.knowledge.markdown import render_markdown
from app.models import KbArticle, Role, Ticket, User
from app.platform.errors import AppError, Forbidden
from app.web import ticket_page
from app.web.messages import field_label, names_to_labels, page_error
from app.web.shared import (
    DeskPageUser,
    PageDb,
    PageRoute,
    PageUser,
    error_page,
    field_errors,
    invalid,
    render,
    require_csrf,
    too_long,
)
from app.web.ticket_page import FormState

router = APIRouter(route_class=PageRoute)
CHANNEL = "desk"


@router.post("/desk/tickets/{ticket_id}/kb/{article_id}/{verdict}", response_model=None)
def record_verdict(
    ticket_id: int,
    article_id: int,
    verdict: Literal["solved", "not-helpful"],
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    csrf: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
    cancel: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    symptom: Annotated[str | None, Form()] = None,
) -> Response:
    """ "This solved it" (``solved``) or "Not helpful" (``not-helpful``) for a suggested article.

    "This solved it" resolves the ticket and mails the customer, so the server asks first unless the
    form says the agent already confirmed: the page's buttons work before the deferred script has
    run (a slow phone, a busy server) and without scripts, and only the script asks in the browser.

    "This solved it", "Not helpful", Confirm and Cancel send the reply form (``text``: the reply box
    as typed; ``symptom``: the knowledge box, a field of that form), so every page answering them
    draws both boxes with that text: the reply is not sent (the customer gets the resolution mail,
    not the reply) and not lost; the agent sends or discards it."""
    require_csrf(request, csrf)
    try:
        kept = _kept_input(db, ticket_id, text=text, symptom=symptom)
        if verdict == "solved" and cancel == "1":
            return _cancelled(request, db, ticket_id=ticket_id, kept=kept)
        if verdict == "solved" and confirmed != "1":
            return _confirm_solved(
                request, db, ticket_id=ticket_id, article_id=article_id, user=user, kept=kept
            )
        if verdict == "solved":
            row = feedback.mark_solved(
                db, ticket_id=ticket_id, article_id=article_id, actor=user, channel=CHANNEL
            )
            done = "kb_fcr" if row.first_contact else "kb_solved"
        else:
            feedback.mark_not_helpful(db, ticket_id=ticket_id, article_id=article_id, actor=user)
            done = "kb_not_helpful"
    except AppError as exc:
        db.rollback()
        return error_page(request, exc.status_code, "Not saved", page_error(exc))
    db.commit()  # the browser follows the redirect at once and must see the change
    if done != "kb_not_helpful":
        kept.pop("kb", None)  # the symptom's work is done once an article solved it (its draft goes too)
    if kept:
        # Answered here, not redirected: the unsent input has nowhere else to survive (the page's
        # drafts need scripts, and a URL is no place for 20,000 characters). A reload re-sends the
        # form, and a repeated verdict is recorded once (feedback.mark_solved, mark_not_helpful).
        flash = f"{ticket_page.FLASH[done]} {REPLY_KEPT}" if "reply" in kept else ticket_page.FLASH[done]
        ticket = tickets.get_ticket(db, ticket_id)
        return ticket_page.view(request, db, ticket, forms=kept, flash=flash, saved=done)
    return RedirectResponse(f"/desk/tickets/{ticket_id}?done={done}#kb-title", status_code=303)


REPLY_KEPT = "Your reply was not sent: it is still in the reply box."
SYMPTOM_MAX = 300  # the knowledge box's maxlength, and the suggestions API's for ``subject``


def _kept_input(db: Session, ticket_id: int, *, text: str, symptom: str | None) -> dict[str, FormState]:
    """The agent's input a knowledge button carried, as the ticket page's forms: the reply box when
    it holds text, the knowledge box when it holds other words than the ticket's subject (which it
    starts with; an emptied box asks for the subject's suggestions too, as the script does)."""
    kept: dict[str, FormState] = {}
    if text.strip():
        kept["reply"] = {"input": {"text": text}}
    # Only a forged form passes the box's maxlength: a search hint, clipped rather than refused.
    typed = (symptom or "")[:SYMPTOM_MAX]
    if typed.strip() and typed.strip() != tickets.get_ticket(db, ticket_id).subject.strip():
        kept["kb"] = {"input": {"symptom": typed}}
    return kept


def _confirm_solved(
    request: Request,
    db: Session,
    *,
    ticket_id: int,
    article_id: int,
    user: User,
    kept: dict[str, FormState],
) -> Response:
    """The ticket page with the question in its knowledge panel and the boxes as typed; nothing is
    changed. Confirm and Cancel sit in the panel like the buttons (drafts.js lets the symptom draft
    go once it is saved) and send the reply form, so the reply and the symptom go along again."""
    ticket = tickets.get_ticket(db, ticket_id)
    article = articles.get_article(db, article_id, reader=user)
    question = {"article_id": article.id, "title": article.title}  # the page words it (mail or not)
    return ticket_page.view(request, db, ticket, forms={"kb_solved": {"input": question}} | kept)


def _cancelled(request: Request, db: Session, *, ticket_id: int, kept: dict[str, FormState]) -> Response:
    """Cancel of the question: the ticket page again, unchanged, with the boxes as typed."""
    if not kept:
        return RedirectResponse(f"/desk/tickets/{ticket_id}#kb-title", status_code=303)
    return ticket_page.view(request, db, tickets.get_ticket(db, ticket_id), forms=kept)


@router.post("/desk/tickets/{ticket_id}/kb-article", response_model=None)
def article_from_ticket(
    ticket_id: int, request: Request, db: PageDb, user: DeskPageUser, csrf: Annotated[str, Form()] = ""
) -> Response:
    require_csrf(request, csrf)
    tickets.get_ticket(db, ticket_id)
    if not articles.can_write(user):
        raise Forbidden("Writing knowledge articles needs one of the roles: admin, agent, manager.")
    article, new = from_ticket.draft_from_ticket(db, ticket_id=ticket_id, actor=user)
    db.commit()
    done = "draft" if new else "draft-again"
    return RedirectResponse(f"/kb/articles/{article.id}/edit?done={done}", status_code=303)


@router.get("/kb/articles/{article_id}")
def article_page(
    article_id: int, request: Request, db: PageDb, user: PageUser, done: str = ""
) -> HTMLResponse:
    """One article, its Markdown rendered safely; engineers see published articles only (else 404).
    The office roles see its history too (who changed which fields), writers restore from it."""
    article = articles.get_article(db, article_id, reader=user)
    return render(
        request,
        "kb/article.html",
        {
            "nav": "kb",
            "article": article,
            "body_html": render_markdown(article.body),
            "flash": FLASH.get(done, ""),
            "can_write": articles.can_write(user),
            "history": _history(db, article) if user.role != Role.engineer.value else None,
        },
    )


@dataclass(frozen=True, slots=True)
class HistoryRow:
    number: int
    at: datetime
    who: str
    action: str
    changed: list[str]
    current: bool  # this version's fields are the article's now: nothing to restore


def _history(db: Session, article: KbArticle) -> list[HistoryRow]:
    rows = articles.versions(db, article)
    names = dict(
        db.execute(select(User.id, User.name).where(User.id.in_({r.actor_id for r in rows if r.actor_id})))
        .tuples()
        .all()
    )
    now = articles.snapshot(article)
    return [
        HistoryRow(
            number=r.number,
            at=r.at,
            who=names.get(r.actor_id, f"user {r.actor_id}") if r.actor_id else "an import or the system",
            action=r.action,
            changed=r.changed,
            current=all(articles.same_value(r.snapshot.get(name), value) for name, value in now.items()),
        )
        for r in rows
    ]


@router.get("/kb/articles/{article_id}/versions/{number}")
def version_page(article_id: int, number: int, request: Request, db: PageDb, user: PageUser) -> HTMLResponse:
    """What version ``number`` said, field by field, marked where it differs from the article now:
    so a writer sees what "Restore" would bring back before pressing it. The office roles only (the
    history is theirs; an engineer reads the published article)."""
    article = articles.get_article(db, article_id, reader=user)
    if user.role == Role.engineer.value:
        raise Forbidden("The history of an article is for the office roles.")
    old = articles.get_version(db, article, number)
    now = articles.snapshot(article)
    then = {name: old.snapshot.get(name) for name in articles.FIELDS}
    return render(
        request,
        "kb/version.html",
        {
            "nav": "kb",
            "article": article,
            "number": number,
            "then": then,
            "differs": {name for name in articles.FIELDS if not articles.same_value(then[name], now[name])},
            "body_html": render_markdown(str(then.get("body") or "")),
            "can_write": articles.can_write(user),
        },
    )


@router.post("/kb/articles/{article_id}/versions/{number}/restore", response_model=None)
def restore_version(
    article_id: int,
    number: int,
    request: Request,
    db: PageDb,
    user: PageUser,
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Make an old version's fields current (a new version; history is never rewritten). The form
    carries the article's version it was shown with: a stale one restores nothing (409)."""
    require_csrf(request, csrf)
    articles.require_writer(user)
    article = articles.get_article(db, article_id, reader=user)
    if version.strip() != str(article.version):
        return error_page(request, 409, "Changed by someone else", RESTORE_STALE)
    changed = articles.restore_version(db, article, number=number, actor=user)
    db.commit()
    done = "restored" if changed else "unchanged"
    return RedirectResponse(f"/kb/articles/{article_id}?done={done}#history-title", status_code=303)


RESTORE_STALE = (
    "This article was changed after you opened its history, so nothing was restored. Go back, reload "
    "the article and choose the version again."
)
FLASH = {
    "draft": "Draft created from the ticket: check it, complete it and publish it.",
    "draft-again": "This ticket's draft, written earlier: complete it and publish it.",
    "created": "Article created.",
    "restored": "The old version is restored: it is the newest version now.",
    "saved": "Article saved.",
    "unchanged": "Nothing to save: no field was changed.",
}
LIST_FIELDS = ("product_models", "fault_codes", "tags")  # comma-separated in the form
# The editor's labels (kb/edit.html): a refused save names fields as the writer sees them, not as
# the API does ("Product models: HP-VC205: …", not "product_models: HP-VC205: …").
LABELS = {
    "title": "Title",
    "symptom": "Symptom",
    "body": "Body",
    "resolution_steps": "Resolution steps",
    "product_models": "Product models",
    "fault_codes": "Fault codes",
    "tags": "Tags",
    "language": "Language",
    "status": "Status",
    "visibility": "Visibility",
}
TEXT_LIMITS = {"title": 300, "symptom": 20000, "body": 200000, "resolution_steps": 20000}
for _name in LIST_FIELDS:
    TEXT_LIMITS[_name] = 2000
STALE = (
    "Someone else changed this article while you were editing it, so nothing was saved. Your text is "
    "kept below; the form now carries the current version: check it and save again."
)


def _not_saved(exc: AppError) -> str:
    """The banner of a refused save: each problem after its field's label in the editor."""
    errors = exc.errors or []
    if not errors:
        return page_error(exc)
    problems = "; ".join(
        f"{LABELS.get(str(e.get('field', ''))) or field_label(str(e.get('field', '')))}: "
        f"{names_to_labels(str(e.get('message', '')))}"
        for e in errors
    )
    return f"The article was not saved: {problems.rstrip('.')}."


def _form_of(article: KbArticle) -> dict[str, str]:
    return {
        "title": article.title,
        "symptom": article.symptom,
        "body": article.body,
        "resolution_steps": "\n".join(article.resolution_steps),
        **{name: ", ".join(getattr(article, name)) for name in LIST_FIELDS},
        "language": article.language,
        "status": article.status,
        "visibility": article.visibility,
        "version": str(article.version),
    }


def article_form(
    title: Annotated[str, Form()] = "",
    symptom: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    resolution_steps: Annotated[str, Form()] = "",
    product_models: Annotated[str, Form()] = "",
    fault_codes: Annotated[str, Form()] = "",
    tags: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    visibility: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
) -> dict[str, str]:
    """The editor's fields as typed (the new-article form has no version)."""
    return {
        "title": title,
        "symptom": symptom,
        "body": body,
        "resolution_steps": resolution_steps,
        "product_models": product_models,
        "fault_codes": fault_codes,
        "tags": tags,
        "language": language,
        "status": status,
        "visibility": visibility,
        "version": version,
    }


ArticleForm = Annotated[dict[str, str], Depends(article_form)]


def _values(form: dict[str, str]) -> dict[str, Any]:
    """The form's text as the article service's fields (lists split; a blank language: detect it)."""
    return {
        "title": form["title"],
        "symptom": form["symptom"],
        "body": form["body"],
        "resolution_steps": form["resolution_steps"].splitlines(),
        **{name: form[name].split(",") for name in LIST_FIELDS},
        "language": form["language"] or None,
        "status": form["status"],
        "visibility": form["visibility"],
    }


def _edit_view(
    request: Request,
    article: KbArticle | None,
    form: dict[str, str],
    *,
    error: str = "",
    fields: dict[str, str] | None = None,
    flash: str = "",
    status_code: int = 200,
    same_title: Sequence[SameTitle] = (),
) -> HTMLResponse:
    state = {"input": form, "error": error, "fields": fields or {}}
    return render(
        request,
        "kb/edit.html",
        {
            "nav": "kb",
            "article": article,
            "form": state,
            "flash": flash,
            "languages": articles.LANGUAGE_NAMES,
            "same_title": same_title,
            "same_title_ids": ",".join(str(a.id) for a in same_title),
        },
        status_code=status_code,
    )


@router.get("/kb/articles/{article_id}/edit")
def edit_page(article_id: int, request: Request, db: PageDb, user: PageUser, done: str = "") -> HTMLResponse:
    articles.require_writer(user)
    article = articles.get_article(db, article_id, reader=user)
    return _edit_view(request, article, _form_of(article), flash=FLASH.get(done, ""))


@router.post("/kb/articles/{article_id}/edit", response_model=None)
def edit_article(
    article_id: int,
    request: Request,
    db: PageDb,
    user: PageUser,
    form: ArticleForm,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Save the article form; based on an old version it answers 409 and keeps what was typed."""
    require_csrf(request, csrf)
    articles.require_writer(user)
    article = articles.get_article(db, article_id, reader=user)
    errors = too_long(form, TEXT_LIMITS)
    if errors:
        return _edit_view(
            request, article, form, error=_not_saved(invalid(errors)), fields=errors, status_code=422
        )
    if form["version"].strip() != str(article.version):
        return _edit_view(
            request, article, {**form, "version": str(article.version)}, error=STALE, status_code=409
        )
    try:
        changed = articles.update_article(db, article, values=_values(form), actor=user)
        db.flush()
    except AppError as exc:
        db.rollback()
        article = articles.get_article(db, article_id, reader=user)
        return _edit_view(
            request,
            article,
            form,
            error=_not_saved(exc),
            fields=field_errors(exc),
            status_code=exc.status_code,
        )
    db.commit()
    return RedirectResponse(
        f"/kb/articles/{article_id}?done={'saved' if changed else 'unchanged'}", status_code=303
    )


NEW_FORM = {
    **{name: "" for name in ("title", "symptom", "body", "resolution_steps", *LIST_FIELDS, "language")},
    "status": "draft",
    "visibility": "internal",
    "version": "",
}


@router.get("/kb/new")
def new_page(request: Request, user: PageUser) -> HTMLResponse:
    """An empty editor: a draft, internal, its language detected from the text unless chosen."""
    articles.require_writer(user)
    return _edit_view(request, None, dict(NEW_FORM))


@router.post("/kb/new", response_model=None)
def new_article(
    request: Request,
    db: PageDb,
    user: PageUser,
    form: ArticleForm,
    csrf: Annotated[str, Form()] = "",
    same_title: Annotated[str, Form()] = "",
) -> Response:
    """Create from the editor; a refused form comes back with everything typed kept. A title that
    an article of the same language already has (case, spacing, accents aside; archived ones do not
    count) is not saved at once: the editor names those articles and asks. "Save anyway" sends their
    ids, so it saves only while no other article with that title has appeared since (409 until then)."""
    require_csrf(request, csrf)
    articles.require_writer(user)
    errors = too_long(form, TEXT_LIMITS)
    if errors:
        return _edit_view(
            request, None, form, error=_not_saved(invalid(errors)), fields=errors, status_code=422
        )
    try:
        article = articles.create_article(db, values=_values(form), actor=user)
        db.flush()
    except AppError as exc:
        db.rollback()
        return _edit_view(
            request, None, form, error=_not_saved(exc), fields=field_errors(exc), status_code=exc.status_code
        )
    # Checked on the article as it would be saved (trimmed title, detected language), then undone.
    others = [SameTitle(a.id, a.title, a.status) for a in articles.same_title(db, article)]
    if {a.id for a in others} - _ids(same_title):
        db.rollback()
        return _edit_view(request, None, form, same_title=others, status_code=409)
    db.commit()
    return RedirectResponse(f"/kb/articles/{article.id}?done=created", status_code=303)


@dataclass(frozen=True, slots=True)
class SameTitle:
    """An article the new one would share its title with (read before the save is rolled back)."""

    id: int
    title: str
    status: str


def _ids(text: str) -> set[int]:
    return {int(part) for part in text.split(",") if part.strip().isdecimal()}


def visit_articles(db: Session, ticket: Ticket | None) -> list[KbArticle]:
    """The published articles for the visit's asset model and the ticket's fault code."""
    if ticket is None:
        return []
    context = search.ticket_context(db, ticket)
    return search.for_visit(db, product_model=context.product_model, fault_code=context.fault_code)
