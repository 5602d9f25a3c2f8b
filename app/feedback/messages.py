"""The survey e-mail: the CSAT scale as one-click links, and an unsubscribe link.

Each rating link opens the public form with that rating preselected (opening it records
nothing: mail scanners follow links); the customer submits the form to answer.
"""

from __future__ import annotations

from email.message import EmailMessage
from html import escape

from app.feedback import tokens, wording
from app.platform import i18n
from app.platform.config import get_settings
from app.platform.mail import new_message
from surveys import TEMPLATES

PATH = "/survey"


def answer_url(token: str, csat: int | None = None) -> str:
    base = f"{get_settings().public_url}{PATH}/{token}"
    return base if csat is None else f"{base}?csat={csat}"


def unsubscribe_url(token: str) -> str:
    return f"{get_settings().public_url}{PATH}/unsubscribe/{token}"


def compose(
    *,
    survey_id: int,
    template_id: str,
    to: str,
    contact_name: str,
    case_ref: str,
    reminder: bool,
    language: str = i18n.DEFAULT,
) -> EmailMessage:
    """The mail in the account's `language` (app.platform.i18n; its questions: app.feedback.wording)."""
    template = wording.localized(TEMPLATES[template_id], language)
    csat = template.questions[0]  # every template leads with the CSAT rating (docs/surveys.md)
    answer = tokens.make(survey_id, "answer")
    unsub = unsubscribe_url(tokens.make(survey_id, "unsubscribe"))
    links = [(n, answer_url(answer, n)) for n in range(csat.low, csat.high + 1)]

    def say(key: str, **params: object) -> str:
        return i18n.text(language, f"survey.mail.{key}", **params)

    subject = f"{template.title} ({case_ref})"
    msg = new_message(to=to, subject=say("reminder", subject=subject) if reminder else subject)
    msg["List-Unsubscribe"] = f"<{unsub}>"
    greeting = say("greeting", name=contact_name) if contact_name else say("greeting_anonymous")
    ends = {"low": csat.low, "low_label": csat.low_label, "high": csat.high, "high_label": csat.high_label}
    lines = [
        greeting,
        "",
        say("click", label=csat.label, **ends),
        "",
        *[f"  {n}: {url}" for n, url in links],
        "",
        say("how"),
        "",
        f"{say('no_more')}: {unsub}",
    ]
    msg.set_content("\n".join(lines) + "\n")
    buttons = " ".join(
        f'<a href="{escape(url)}" style="display:inline-block;padding:8px 14px;margin:2px;'
        f'border:1px solid #888;border-radius:4px;text-decoration:none">{n}</a>'
        for n, url in links
    )
    msg.add_alternative(
        f"<p>{escape(greeting)}</p><p>{escape(csat.label)}</p><p>{buttons}</p>"
        f"<p><small>{csat.low} = {escape(csat.low_label)}, {csat.high} = {escape(csat.high_label)}. "
        f"{escape(say('how'))}</small></p>"
        f'<p><small><a href="{escape(unsub)}">{escape(say("no_more"))}</a></small></p>',
        subtype="html",
    )
    return msg
