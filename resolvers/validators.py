"""The one validation vocabulary: names, emails, phones, texts and passwords, for every mutation (API.md, "Decisions").

Every mutation that takes one of these values checks it here, so the same input gets the same answer everywhere
(`createCustomer`, `updateCustomer`, `signup`, `createOperator`, `create-admin`, …).

Each checker takes a `Validation`, the field's path and the raw value, and returns the cleaned value, or records a
VALIDATION problem and returns None. The `parse_*` functions are the same rules without a field, for values that
come from elsewhere (an SSO provider's claims, a search term).
"""

from __future__ import annotations

from collections.abc import Sequence

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from integrations.auth import passwords
from resolvers.errors import Validation

# A number without a leading "+" is read as a UK number (the company's home market); a number
# written with "+" and its country code works from anywhere.
DEFAULT_PHONE_REGION = "GB"

NAME_MAX = 100
COMPANY_MAX = 200
TITLE_MAX = 200
BODY_MAX = 10_000
EMAIL_MAX = 320
PHONE_INPUT_MAX = 64
PASSWORD_MIN = passwords.MIN_LENGTH
PASSWORD_MAX = passwords.MAX_LENGTH

Field = str | Sequence[str]


# --- texts and names ---


def text(
    errors: Validation, field: Field, value: str | None, *, label: str, maximum: int, minimum: int = 1
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


def optional_text(errors: Validation, field: Field, value: str | None, *, label: str, maximum: int) -> str | None:
    """Blank means none."""
    if value is None or not value.strip():
        return None
    return text(errors, field, value, label=label, maximum=maximum)


def name(errors: Validation, field: Field, value: str | None, *, label: str) -> str | None:
    """A person's first or last name: 1-100 characters after trimming."""
    return text(errors, field, value, label=label, maximum=NAME_MAX)


def parse_name(value: str | None) -> str | None:
    """The trimmed name when it is 1-100 characters, else None (the `name` rule without a field)."""
    return name(Validation(), "name", value, label="Name") if isinstance(value, str) else None


# --- emails ---


def email(errors: Validation, field: Field, value: str | None) -> str | None:
    """The normalised address (domain lower-cased, IDN handled), or a VALIDATION problem."""
    candidate = value.strip() if isinstance(value, str) else ""
    if not candidate:
        errors.add(field, "Email must not be empty.")
        return None
    if len(candidate) > EMAIL_MAX:
        errors.add(field, f"Email must be at most {EMAIL_MAX} characters long.")
        return None
    try:
        normalized = validate_email(candidate, check_deliverability=False).normalized
    except EmailNotValidError as error:
        errors.add(field, f"Email is not valid: {error}")
        return None
    if len(normalized) > EMAIL_MAX:
        errors.add(field, f"Email must be at most {EMAIL_MAX} characters long.")
        return None
    return normalized


def optional_email(errors: Validation, field: Field, value: str | None) -> str | None:
    """Blank means none."""
    if value is None or not value.strip():
        return None
    return email(errors, field, value)


def parse_email(value: str | None) -> str | None:
    """The normalised address, or None when it is not valid (the `email` rule without a field)."""
    return email(Validation(), "email", value)


# --- phones ---


def parse_phone(value: str | None) -> str | None:
    """E.164 form of a valid number (read as a UK number without "+"), else None."""
    if not isinstance(value, str) or len(value) > PHONE_INPUT_MAX:
        return None
    try:
        number = phonenumbers.parse(value.strip(), DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone(errors: Validation, field: Field, value: str | None) -> str | None:
    parsed = parse_phone(value)
    if parsed is None:
        errors.add(
            field,
            "Phone is not a valid number; write it with its country code (+44 20 8366 1171) or as a UK number.",
        )
    return parsed


def optional_phone(errors: Validation, field: Field, value: str | None) -> str | None:
    """Blank means none."""
    if value is None or not value.strip():
        return None
    return phone(errors, field, value)


# --- passwords ---


def password(errors: Validation, field: Field, value: str | None) -> str | None:
    """A new password: 10-1,000 characters, taken as typed (never trimmed)."""
    if not isinstance(value, str) or len(value) < PASSWORD_MIN:
        errors.add(field, f"Password must be at least {PASSWORD_MIN:,} characters.")
        return None
    if len(value) > PASSWORD_MAX:
        errors.add(field, f"Password must be at most {PASSWORD_MAX:,} characters.")
        return None
    return value


# --- a whole account ---


def account(
    errors: Validation,
    *,
    email_value: str | None,
    password_value: str | None,
    first_name: str | None,
    last_name: str | None,
) -> tuple[str, str, str]:
    """Email, password, first and last name of a new account (signup, create-admin); every problem goes to
    `errors`. Returns (email, first name, last name) cleaned, meaningful only when there are no problems."""
    address = email(errors, "email", email_value)
    password(errors, "password", password_value)
    first = name(errors, "firstName", first_name, label="First name")
    last = name(errors, "lastName", last_name, label="Last name")
    return address or "", first or "", last or ""
