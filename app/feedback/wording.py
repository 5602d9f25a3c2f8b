"""The surveys library's templates and answer errors in the customer's language.

The library's wording is the English (its templates are data the app renders); another language's
catalogue in app.platform.i18n replaces each text by key (`survey.q.<key>.label`, ...), and a text
it lacks stays the library's. The question keys, kinds, scales and chip codes never change, so
answers parse and count alike in every language.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from sqlalchemy.orm import Session

from app.models import Account
from app.platform import i18n
from surveys import Chip, FieldError, Question, Template


def language_of(session: Session, account_id: int | None) -> str:
    """The language the account is written to; English when there is none."""
    account = session.get(Account, account_id) if account_id is not None else None
    return account.language if account is not None else i18n.DEFAULT


def _question(language: str, q: Question) -> Question:
    def say(part: str, default: str) -> str:
        return i18n.text(language, f"survey.q.{q.key}.{part}", default) if default else default

    return replace(
        q,
        label=say("label", q.label),
        name=say("name", q.name),
        low_label=say("low_label", q.low_label),
        high_label=say("high_label", q.high_label),
        chips=tuple(Chip(c.code, i18n.text(language, f"survey.chip.{c.code}", c.label)) for c in q.chips),
    )


@cache
def localized(template: Template, language: str) -> Template:
    """`template` with the customer's wording (the same template in English)."""
    if language == i18n.DEFAULT:
        return template
    return replace(
        template,
        title=i18n.text(language, f"survey.title.{template.id}", template.title),
        questions=tuple(_question(language, q) for q in template.questions),
    )


def error(language: str, template: Template, e: FieldError) -> FieldError:
    """`e` (made by the library, or the app's `repeated`) in the customer's language; its English
    message when the catalogue has no text for its code."""
    q = template.question(e.field)
    if language == i18n.DEFAULT or q is None or not e.code:
        return e
    message = i18n.text(
        language,
        f"survey.error.{e.code}",
        e.message,
        name=q.name,
        low=q.low,
        high=q.high,
        max_chars=q.max_chars,
        value=e.value,
    )
    return replace(e, message=message)


def library_keys() -> set[str]:
    """The keys a catalogue other than English must carry for the library's texts (the tests check)."""
    from surveys import QUESTIONS, TEMPLATES
    from surveys.answers import ERROR_CODES

    keys = {f"survey.title.{t}" for t in TEMPLATES}
    for q in QUESTIONS.values():
        keys |= {
            f"survey.q.{q.key}.{p}" for p in ("label", "name", "low_label", "high_label") if getattr(q, p)
        }
        keys |= {f"survey.chip.{c.code}" for c in q.chips}
    return keys | {f"survey.error.{code}" for code in (*ERROR_CODES, "repeated")}
