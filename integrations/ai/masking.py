"""Masking personal data out of text before it leaves for an AI provider (GDPR: data minimisation).

Emails become "[email]", phone numbers "[phone]", and every given name (whole words, any case) "[name]".
Emails go first (an address may hold a name), then phone numbers (found by `phonenumbers`, plus any run of 7 or
more digits with the usual separators, so a number the parser rejects still never leaves), then names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"
NAME_MASK = "[name]"

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Seven or more digits, possibly with a leading "+", spaces, dots, dashes, slashes or brackets between them.
_DIGITS = re.compile(r"\+?\(?\d(?:[\s./()-]{0,3}\d){6,}")
_DATE = re.compile(r"(?<!\d)(?:\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{4})(?!\d)")  # dates: not phone numbers
_PHONE_REGION = "GB"
_NAME_MIN = 2


class Masker:
    """Masks emails, phone numbers and the given names in every text it is handed."""

    def __init__(self, names: Iterable[str | None] = ()) -> None:
        words: set[str] = set()
        for name in names:
            for word in re.split(r"[\s,]+", name or ""):
                word = word.strip(".'\"()[]")
                if len(word) >= _NAME_MIN:
                    words.add(word)
        # Longest first, so "Anne-Marie" is masked before "Anne".
        alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        self._names = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if alternatives else None

    def __call__(self, text: str) -> str:
        text = _EMAIL.sub(EMAIL_MASK, text)
        text = _mask_phones(text)
        if self._names is not None:
            text = self._names.sub(NAME_MASK, text)
        return text


def _mask_phones(text: str) -> str:
    """Phone numbers in `text`, leaving dates alone (they are digits with separators too)."""
    out: list[str] = []
    position = 0
    for date in _DATE.finditer(text):
        out += [_mask_phone_numbers(text[position : date.start()]), date.group(0)]
        position = date.end()
    out.append(_mask_phone_numbers(text[position:]))
    return "".join(out)


def _mask_phone_numbers(text: str) -> str:
    spans = [
        (m.start, m.end)
        for m in phonenumbers.PhoneNumberMatcher(text, _PHONE_REGION, leniency=phonenumbers.Leniency.VALID)
    ]
    for start, end in reversed(spans):
        text = text[:start] + PHONE_MASK + text[end:]
    return _DIGITS.sub(PHONE_MASK, text)


def no_mask(text: str) -> str:
    """Used when the settings allow personal data to be sent."""
    return text
