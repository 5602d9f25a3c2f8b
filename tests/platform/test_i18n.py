"""The catalogues: every language says everything English says (and the surveys library's texts),
dates read as each language writes them, a browser's preference picks a catalogue."""

from __future__ import annotations

import string
from datetime import date, datetime

import pytest

from app.feedback.wording import library_keys
from app.platform import i18n

DATE_PARTS = {"weekday", "weekday_short", "day", "dd", "month", "month_short", "year", "time"}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", [c for c in i18n.LANGUAGES if c != i18n.DEFAULT])
def test_every_catalogue_has_every_text_with_the_same_placeholders(language: str) -> None:
    catalogue = i18n.CATALOGUES[language]
    assert set(catalogue) == set(i18n.EN) | library_keys()
    # A text may leave out what English says (German times name no zone), never ask for more:
    # a placeholder the caller does not pass would be an error in front of a customer.
    for key, english in i18n.EN.items():
        allowed = DATE_PARTS if key in ("date.day", "date.datetime") else _fields(english)
        assert _fields(catalogue[key]) <= allowed, key
    for key in library_keys():
        assert _fields(catalogue[key]) <= {"name", "low", "high", "max_chars", "value"}, key
    for key in ("date.weekdays", "date.weekdays_short"):
        assert len(catalogue[key].split(" ")) == 7
    for key in ("date.months", "date.months_short"):
        assert len(catalogue[key].split(" ")) == 12


def test_dates_as_each_language_writes_them() -> None:
    at = datetime(2026, 12, 8, 14, 30)
    assert i18n.format_datetime("de", at) == "Dienstag, 8. Dezember 2026, 14:30"
    assert i18n.format_datetime("en", at) == at.strftime("%a %d %b, %H:%M") == "Tue 08 Dec, 14:30"
    assert i18n.format_day("de", date(2027, 3, 1)) == "Montag, 1. März 2027"
    assert i18n.format_day("en", date(2027, 3, 1)) == "Mon 01 Mar 2027"


def test_a_language_code_is_checked_and_normalised() -> None:
    assert i18n.check(" DE") == "de"
    with pytest.raises(ValueError, match="unknown language; use one of en, de"):
        i18n.check("de-AT")


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("en-US,en;q=0.9,de;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,de;q=0.5", "de"),
        ("fr", "en"),
        ("", "en"),
        ("de;q=abc,en;q=0.1", "en"),
        ("en;q=0.2,de;q=0.8", "de"),
    ],
)
def test_a_browser_preference_picks_a_catalogue(header: str, language: str) -> None:
    assert i18n.negotiate(header) == language
