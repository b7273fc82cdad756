"""Text rules shared by the customer, operator and request resolvers (API.md, "Decisions").

Each checker returns the cleaned value, or records a problem on a `Validation` and returns None.
"""

from __future__ import annotations

from collections.abc import Sequence

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from resolvers.errors import Validation

# A number without a leading "+" is read as a UK number (the company's home market); a number
# written with "+" and its country code works from anywhere.
DEFAULT_PHONE_REGION = "GB"

NAME_MAX = 100
COMPANY_MAX = 200
TITLE_MAX = 200
BODY_MAX = 10_000


def text(
    errors: Validation, field: str | Sequence[str], value: str | None, *, label: str, maximum: int, minimum: int = 1
) -> str | None:
    """`value` trimmed, when its length is within [minimum, maximum]; else a VALIDATION problem on `field`."""
    cleaned = (value or "").strip()
    if not cleaned and minimum > 0:
        errors.add(field, f"{label} must not be empty.")
        return None
    if len(cleaned) < minimum:
        errors.add(field, f"{label} must be at least {minimum:,} characters.")
        return None
    if len(cleaned) > maximum:
        errors.add(field, f"{label} must be at most {maximum:,} characters; it has {len(cleaned):,}.")
        return None
    return cleaned


def name(errors: Validation, field: str, value: str | None, *, label: str) -> str | None:
    return text(errors, field, value, label=label, maximum=NAME_MAX)


def email(errors: Validation, field: str, value: str) -> str | None:
    """The normalised address (domain lower-cased), or a VALIDATION problem."""
    candidate = value.strip()
    if len(candidate) > 320:
        errors.add(field, "Email must be at most 320 characters long.")
        return None
    try:
        return validate_email(candidate, check_deliverability=False).normalized
    except EmailNotValidError as error:
        errors.add(field, f"Email is not valid: {error}")
        return None


def parse_phone(value: str) -> str | None:
    """E.164 form of a valid number, else None."""
    try:
        number = phonenumbers.parse(value, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone(errors: Validation, field: str, value: str) -> str | None:
    parsed = parse_phone(value.strip()) if len(value) <= 64 else None
    if parsed is None:
        errors.add(
            field,
            "Phone is not a valid number; write it with its country code (+44 20 8366 1171) or as a UK number.",
        )
    return parsed


def optional_text(errors: Validation, field: str, value: str | None, *, label: str, maximum: int) -> str | None:
    """Blank means none."""
    if value is None or not value.strip():
        return None
    return text(errors, field, value, label=label, maximum=maximum)
