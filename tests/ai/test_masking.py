"""The mask applied to every text that leaves for the AI provider."""

from __future__ import annotations

import pytest

from integrations.ai.masking import Masker


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail ada.lovelace+bills@Example.co.uk now", "Mail [email] now"),
        ("Call 020 7946 0019 or +44 20 7946 0958", "Call [phone] or [phone]"),
        ("Mobile 07700 900123, fax (020) 7946-0018", "Mobile [phone], fax [phone]"),
        ("An odd number: 1234 5678 9012", "An odd number: [phone]"),
        ("Ada LOVELACE and ada, not Adam or Lovelaceville", "[name] [name] and [name], not Adam or Lovelaceville"),
        ("Order 12345 on 2026-03-01 (01.03.2026), GB 123", "Order 12345 on 2026-03-01 (01.03.2026), GB 123"),
        ("Anne-Marie O'Neil said hi", "[name] [name] said hi"),
    ],
)
def test_emails_phones_and_given_names_are_masked(text, expected):
    assert Masker(["Ada Lovelace", "Anne-Marie O'Neil", None, "X"])(text) == expected


def test_without_names_only_emails_and_phones_are_masked():
    assert Masker()("Ada at ada@example.com, 020 7946 0019") == "Ada at [email], [phone]"
