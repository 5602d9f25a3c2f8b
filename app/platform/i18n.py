"""The customer's language: what customers read (visit notices, survey mails, the survey pages and
their busy page) in English or German; staff pages stay English (docs/customers.md, "Language").

One catalogue per language, plain data in this one module: a translator reads and writes one
file, a new language is one more dict in `CATALOGUES` (and a test holds every catalogue to the
same keys), and the kernel knows no domain, only keys. The survey questions' English wording is
the `surveys` library's own (its templates are the English source); a catalogue for another
language carries them under `survey.q.*`, `survey.chip.*`, `survey.title.*` and `survey.error.*`
(app/feedback/wording.py applies them).

A key missing from a catalogue falls back to English, then to the caller's default: a customer
never gets an error for a missing translation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

DEFAULT = "en"

EN: dict[str, str] = {
    "language.name": "English",
    "date.weekdays": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
    "date.weekdays_short": "Mon Tue Wed Thu Fri Sat Sun",
    "date.months": "January February March April May June July August September October November December",
    "date.months_short": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    "date.day": "{weekday_short} {dd} {month_short} {year}",
    "date.datetime": "{weekday_short} {dd} {month_short}, {time}",
    # --- visit notices (app/planning/notify.py)
    "notice.when": "{when} ({zone})",
    "notice.greeting": "Hello {name},",
    "notice.subject.planned": "Your service visit {number}: engineer arrives {eta}",
    "notice.subject.eta_changed": "New arrival time for your service visit {number}: {eta}",
    "notice.subject.unplanned": "Your service visit {number} needs a new time",
    "notice.subject.cancelled": "Your service visit {number} is cancelled",
    "notice.body.cancelled": (
        "the visit {number} at {address} announced for {previous} is cancelled: no engineer will "
        "come. If the problem is still there, answer this message and we will take care of it."
    ),
    "notice.body.unplanned": (
        "the visit {number} at {address} could not be kept at {previous}. We will tell you the new "
        "time as soon as it is planned."
    ),
    "notice.body.planned": "our engineer is expected at {address} around {eta}.",
    "notice.body.eta_changed": "our engineer is expected at {address} around {eta} (before: {previous}).",
    # --- a ticket's replies and resolution, mailed (app/integrations/inbound_email/outbound.py);
    # the agent's text goes between greeting and footer as it was typed
    "reply.greeting": "Hello {name},",
    "reply.greeting_anonymous": "Hello,",
    "reply.footer": (
        "Kind regards\nYour service team\n\n"
        "To add to your request {number}, answer this e-mail and keep [{number}] in the subject."
    ),
    # --- a resolution from the knowledge base ("This solved it", app/knowledge/feedback.py): an
    # internal article goes out as a reference only, a customer-visible one with its title
    "kb.resolved.internal": "Solved by our service desk (reference KB-{id}).",
    "kb.resolved.article": "Solved with knowledge article “{title}” (KB-{id}).",
    # --- survey mails (app/feedback/messages.py)
    "survey.mail.reminder": "Reminder: {subject}",
    "survey.mail.greeting": "Hello {name},",
    "survey.mail.greeting_anonymous": "Hello,",
    "survey.mail.click": "{label} Click a rating ({low} = {low_label}, {high} = {high_label}):",
    "survey.mail.how": "The link opens a short form; your answer counts once you send it.",
    "survey.mail.no_more": "No more surveys",
    # --- survey pages (app/web/templates/survey/survey.html)
    "survey.page.title": "Survey",
    "survey.page.skip": "Skip to content",
    "survey.page.about_visit": "About the visit",
    "survey.page.about_visit_on": "About the visit on {day}",
    "survey.page.about_request": "About your request",
    "survey.page.about_request_on": "About your request on {day}",
    "survey.page.about_subject": ": “{subject}”",
    "survey.page.invalid_title": "This link does not work",
    "survey.page.invalid_text": (
        "The survey link is incomplete or was changed. Please open it again from the e-mail, or copy "
        "the whole address."
    ),
    "survey.page.expired_title": "This survey has closed",
    "survey.page.expired_text": (
        "The link is too old to answer any more. Thank you for opening it all the same."
    ),
    "survey.page.cancelled_title": "No answer needed",
    "survey.page.cancelled_text": (
        "The case this survey was about was reopened or cancelled, so we no longer ask about it."
    ),
    "survey.page.unsubscribed_title": "You will get no more surveys",
    "survey.page.unsubscribed_text": "We will not send survey e-mails to this address again.",
    "survey.page.unsubscribe_title": "Stop survey e-mails?",
    "survey.page.unsubscribe_text": "we will not ask you again.",
    "survey.page.unsubscribe_text_company": "Surveys about service for {company}: we will not ask you again.",
    "survey.page.unsubscribe_button": "Stop survey e-mails",
    "survey.page.thanks_title": "Thank you!",
    "survey.page.thanks_text": "Your answer was saved. We read every one.",
    "survey.page.answered_title": "Already answered",
    "survey.page.answered_text": "We have your answer to this survey already; it was not changed. Thank you!",
    "survey.page.company": "Service for {company}",
    "survey.page.check": "Please check your answer:",
    "survey.page.required": "(required)",
    "survey.page.optional": "(optional)",
    "survey.page.optional_any": "(optional, pick any)",
    "survey.page.yes": "Yes",
    "survey.page.no": "No",
    "survey.page.send": "Send answer",
    # generic error pages under /survey/ (app/web/shared.error_page), in the browser's language
    "survey.page.unreadable_title": "Please check your answer",
    "survey.page.unreadable_text": (
        "The form could not be read. Nothing was saved: open the link from the e-mail again and send "
        "your answer once more."
    ),
    "survey.page.error_title": "Something went wrong",
    "survey.page.error_text": (
        "Your request could not be handled. Please open the link from the e-mail again."
    ),
    # the 413 page under /survey/ (app/platform/body_limit.py): no template, no database
    "survey.page.too_large_title": "Your answer is too long",
    "survey.page.too_large_text": (
        "What you sent is larger than this page accepts ({kib} KiB). Nothing was saved: go back in "
        "your browser, shorten your answer and send it again."
    ),
    # --- the survey's busy page (app/platform/admission.py); *_html: markup, arguments escaped
    "survey.busy.title": "Busy, please try again",
    "survey.busy.heading": "We are busy right now",
    "survey.busy.text": (
        "Many people are answering at the same moment. Please try again in a moment: your link stays valid."
    ),
    "survey.busy.posted_html": (
        "Your answers have <strong>not</strong> been saved yet. Please go back and send them again in "
        "a moment; your browser keeps what you entered."
    ),
    "survey.busy.retry_html": (
        "This page will try again by itself in a few seconds, or <a href='{target}'>try again now</a>."
    ),
}

DE: dict[str, str] = {
    "language.name": "Deutsch",
    "date.weekdays": "Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag",
    "date.weekdays_short": "Mo Di Mi Do Fr Sa So",
    "date.months": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "date.months_short": "Jan. Feb. März Apr. Mai Juni Juli Aug. Sept. Okt. Nov. Dez.",
    "date.day": "{weekday}, {day}. {month} {year}",
    "date.datetime": "{weekday}, {day}. {month} {year}, {time}",
    # The region's local time, as the customer reads a clock: no zone name.
    "notice.when": "{when} Uhr",
    "notice.greeting": "Guten Tag {name},",
    "reply.greeting": "Guten Tag {name},",
    "reply.greeting_anonymous": "Guten Tag,",
    "reply.footer": (
        "Mit freundlichen Grüßen\nIhr Service-Team\n\n"
        "Um etwas zu Ihrer Anfrage {number} zu ergänzen, antworten Sie auf diese E-Mail; "
        "[{number}] bleibt dabei im Betreff."
    ),
    "kb.resolved.internal": "Von unserem Service-Desk gelöst (Referenz KB-{id}).",
    "kb.resolved.article": "Gelöst mit dem Wissensartikel „{title}“ (KB-{id}).",
    "notice.subject.planned": "Ihr Servicetermin {number}: Unser Techniker kommt am {eta}",
    "notice.subject.eta_changed": "Neue Ankunftszeit für Ihren Servicetermin {number}: {eta}",
    "notice.subject.unplanned": "Ihr Servicetermin {number} muss neu geplant werden",
    "notice.subject.cancelled": "Ihr Servicetermin {number} wurde abgesagt",
    "notice.body.cancelled": (
        "der für {previous} angekündigte Servicetermin {number} ({address}) wurde abgesagt: Es kommt "
        "kein Techniker. Falls das Problem weiterhin besteht, antworten Sie bitte auf diese Nachricht, "
        "wir kümmern uns darum."
    ),
    "notice.body.unplanned": (
        "der Servicetermin {number} ({address}) am {previous} kann leider nicht eingehalten werden. "
        "Wir teilen Ihnen den neuen Termin mit, sobald er geplant ist."
    ),
    "notice.body.planned": "unser Techniker kommt voraussichtlich am {eta} zu Ihnen ({address}).",
    "notice.body.eta_changed": (
        "unser Techniker kommt voraussichtlich am {eta} zu Ihnen ({address}); bisher angekündigt war "
        "{previous}."
    ),
    "survey.mail.reminder": "Erinnerung: {subject}",
    "survey.mail.greeting": "Guten Tag {name},",
    "survey.mail.greeting_anonymous": "Guten Tag,",
    "survey.mail.click": (
        "{label} Klicken Sie auf eine Bewertung ({low} = {low_label}, {high} = {high_label}):"
    ),
    "survey.mail.how": "Der Link öffnet ein kurzes Formular; Ihre Antwort zählt, sobald Sie es absenden.",
    "survey.mail.no_more": "Keine weiteren Umfragen",
    "survey.page.title": "Umfrage",
    "survey.page.skip": "Zum Inhalt springen",
    "survey.page.about_visit": "Zu unserem Besuch",
    "survey.page.about_visit_on": "Zu unserem Besuch am {day}",
    "survey.page.about_request": "Zu Ihrer Anfrage",
    "survey.page.about_request_on": "Zu Ihrer Anfrage vom {day}",
    "survey.page.about_subject": ": „{subject}“",
    "survey.page.invalid_title": "Dieser Link funktioniert nicht",
    "survey.page.invalid_text": (
        "Der Link zur Umfrage ist unvollständig oder wurde verändert. Bitte öffnen Sie ihn erneut aus "
        "der E-Mail oder kopieren Sie die vollständige Adresse."
    ),
    "survey.page.expired_title": "Diese Umfrage ist beendet",
    "survey.page.expired_text": (
        "Der Link ist zu alt, um noch zu antworten. Vielen Dank, dass Sie ihn trotzdem geöffnet haben."
    ),
    "survey.page.cancelled_title": "Keine Antwort nötig",
    "survey.page.cancelled_text": (
        "Der Vorgang, um den es in dieser Umfrage ging, wurde wieder geöffnet oder storniert. Daher "
        "fragen wir nicht mehr danach."
    ),
    "survey.page.unsubscribed_title": "Sie erhalten keine Umfragen mehr",
    "survey.page.unsubscribed_text": "Wir senden keine Umfrage-E-Mails mehr an diese Adresse.",
    "survey.page.unsubscribe_title": "Keine Umfrage-E-Mails mehr erhalten?",
    "survey.page.unsubscribe_text": "Wir fragen Sie dann nicht mehr.",
    "survey.page.unsubscribe_text_company": (
        "Umfragen zum Service für {company}: Wir fragen Sie dann nicht mehr."
    ),
    "survey.page.unsubscribe_button": "Keine Umfrage-E-Mails mehr",
    "survey.page.thanks_title": "Vielen Dank!",
    "survey.page.thanks_text": "Ihre Antwort wurde gespeichert. Wir lesen jede einzelne.",
    "survey.page.answered_title": "Bereits beantwortet",
    "survey.page.answered_text": (
        "Ihre Antwort auf diese Umfrage liegt uns bereits vor; sie wurde nicht geändert. Vielen Dank!"
    ),
    "survey.page.company": "Service für {company}",
    "survey.page.check": "Bitte prüfen Sie Ihre Angaben:",
    "survey.page.required": "(Pflichtangabe)",
    "survey.page.optional": "(optional)",
    "survey.page.optional_any": "(optional, Mehrfachauswahl möglich)",
    "survey.page.yes": "Ja",
    "survey.page.no": "Nein",
    "survey.page.send": "Antwort senden",
    "survey.page.unreadable_title": "Bitte prüfen Sie Ihre Antwort",
    "survey.page.unreadable_text": (
        "Das Formular konnte nicht gelesen werden. Es wurde nichts gespeichert: Öffnen Sie den Link "
        "aus der E-Mail erneut und senden Sie Ihre Antwort noch einmal."
    ),
    "survey.page.error_title": "Etwas ist schiefgegangen",
    "survey.page.error_text": (
        "Ihre Anfrage konnte nicht bearbeitet werden. Bitte öffnen Sie den Link aus der E-Mail erneut."
    ),
    "survey.page.too_large_title": "Ihre Antwort ist zu lang",
    "survey.page.too_large_text": (
        "Was Sie gesendet haben, ist größer, als diese Seite annimmt ({kib} KiB). Es wurde nichts "
        "gespeichert: Gehen Sie in Ihrem Browser zurück, kürzen Sie Ihre Antwort und senden Sie sie "
        "erneut."
    ),
    "survey.busy.title": "Gerade ausgelastet, bitte versuchen Sie es erneut",
    "survey.busy.heading": "Gerade sind wir stark ausgelastet",
    "survey.busy.text": (
        "Im Moment antworten sehr viele Menschen gleichzeitig. Bitte versuchen Sie es gleich noch "
        "einmal: Ihr Link bleibt gültig."
    ),
    "survey.busy.posted_html": (
        "Ihre Antworten wurden <strong>noch nicht</strong> gespeichert. Bitte gehen Sie zurück und "
        "senden Sie sie gleich noch einmal; Ihr Browser behält Ihre Eingaben."
    ),
    "survey.busy.retry_html": (
        "Diese Seite versucht es in wenigen Sekunden von selbst erneut, oder "
        "<a href='{target}'>versuchen Sie es jetzt</a>."
    ),
    # --- the surveys library's templates (English: the library's own wording)
    "survey.title.post_visit": "Wie war unser Besuch?",
    "survey.title.post_visit_contract": "Wie war unser Besuch?",
    "survey.title.post_resolution": "Wie haben wir Ihre Anfrage bearbeitet?",
    "survey.title.all": "Umfrage",
    "survey.q.csat.label": "Wie zufrieden sind Sie mit unserem Service?",
    "survey.q.csat.name": "Bewertung",
    "survey.q.csat.low_label": "Sehr unzufrieden",
    "survey.q.csat.high_label": "Sehr zufrieden",
    "survey.q.nps.label": (
        "Wie wahrscheinlich ist es, dass Sie uns einem Kollegen oder einer Kollegin empfehlen?"
    ),
    "survey.q.nps.name": "Weiterempfehlung",
    "survey.q.nps.low_label": "Sehr unwahrscheinlich",
    "survey.q.nps.high_label": "Äußerst wahrscheinlich",
    "survey.q.ces.label": "Wie einfach war es, Ihr Anliegen erledigen zu lassen?",
    "survey.q.ces.name": "Aufwand",
    "survey.q.ces.low_label": "Sehr schwierig",
    "survey.q.ces.high_label": "Sehr einfach",
    "survey.q.solved.label": "Wurde Ihr Problem gelöst?",
    "survey.q.solved.name": "Gelöst",
    "survey.q.reasons.label": "Was ist schiefgelaufen?",
    "survey.q.reasons.name": "Gründe",
    "survey.q.comment.label": "Möchten Sie uns noch etwas mitteilen?",
    "survey.q.comment.name": "Kommentar",
    "survey.chip.late": "Der Techniker kam zu spät",
    "survey.chip.not_fixed": "Das Problem ist nicht behoben",
    "survey.chip.part_missing": "Ein Ersatzteil fehlte",
    "survey.chip.unfriendly": "Jemand war unfreundlich",
    "survey.chip.other": "Etwas anderes",
    "survey.error.required": "{name}: Bitte wählen Sie eine Antwort aus.",
    "survey.error.scale": "{name}: Bitte wählen Sie eine ganze Zahl von {low} bis {high}.",
    "survey.error.yes_no": "{name}: Bitte antworten Sie mit Ja oder Nein.",
    "survey.error.chips": "{name}: Bitte wählen Sie aus den angebotenen Möglichkeiten.",
    "survey.error.chip_unknown": "{name}: „{value}“ ist keine der angebotenen Möglichkeiten.",
    "survey.error.text": "{name}: Bitte geben Sie einen Text ein.",
    "survey.error.text_control": "{name} enthält Zeichen, die nicht gespeichert werden können.",
    "survey.error.text_too_long": (
        "{name} ist zu lang: höchstens {max_chars} Zeichen, eingegeben wurden {value}."
    ),
    "survey.error.repeated": "{name} wurde {value}-mal gesendet: Bitte wählen Sie eine Antwort aus.",
}

CATALOGUES: dict[str, Mapping[str, str]] = {"en": EN, "de": DE}
LANGUAGES: tuple[str, ...] = tuple(CATALOGUES)


def check(code: str) -> str:
    """A language code as stored ("DE " → "de"); ValueError naming the choices when unknown."""
    value = code.strip().lower()
    if value not in CATALOGUES:
        raise ValueError(f"unknown language; use one of {', '.join(LANGUAGES)}")
    return value


def text(language: str, key: str, default: str | None = None, /, **params: object) -> str:
    """The text of `key` in `language` (else English, else `default`), formatted with `params`."""
    found = CATALOGUES.get(language, EN).get(key) or EN.get(key) or default
    if found is None:
        raise KeyError(key)  # a caller's typo, not a customer's doing: found by the tests
    return found.format(**params) if params else found


def _parts(language: str, day: date) -> dict[str, object]:
    def names(key: str) -> list[str]:
        return text(language, key).split(" ")

    return {
        "weekday": names("date.weekdays")[day.weekday()],
        "weekday_short": names("date.weekdays_short")[day.weekday()],
        "day": day.day,
        "dd": f"{day.day:02d}",
        "month": names("date.months")[day.month - 1],
        "month_short": names("date.months_short")[day.month - 1],
        "year": day.year,
    }


def format_day(language: str, day: date) -> str:
    """ "Tue 08 Dec 2026" / "Dienstag, 8. Dezember 2026"."""
    return text(language, "date.day", **_parts(language, day))


def format_datetime(language: str, at: datetime) -> str:
    """A local time as the customer reads it: "Tue 08 Dec, 14:30" / "Dienstag, 8. Dezember 2026,
    14:30" (the caller converts to the region's zone first)."""
    return text(language, "date.datetime", time=at.strftime("%H:%M"), **_parts(language, at.date()))


def negotiate(accept_language: str) -> str:
    """The catalogue a browser asks for most (`Accept-Language: de-DE,de;q=0.9,en;q=0.8`), for a page
    that cannot look up the customer (the survey's busy page has no database); else English."""
    best, best_q = DEFAULT, 0.0
    for i, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        code = tag.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        # equal weights: the first listed wins (a tiny tiebreak by position)
        score = q - i * 1e-6
        if code in CATALOGUES and score > best_q:
            best, best_q = code, score
    return best
