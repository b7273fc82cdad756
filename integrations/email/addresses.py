"""Recipient checks before anything is sent: a missing or malformed address can never be delivered."""

from __future__ import annotations

from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email

from integrations.email import PermanentFailure


def recipients(addresses: Iterable[object]) -> tuple[str, ...]:
    """The normalized addresses; `PermanentFailure` naming the problem when one is missing or invalid."""
    found: list[str] = []
    for address in addresses:
        if not isinstance(address, str) or not address.strip():
            raise PermanentFailure("recipient missing")
        try:
            checked = validate_email(address.strip(), check_deliverability=False)
        except EmailNotValidError as error:
            raise PermanentFailure(f"recipient invalid: {error}")
        found.append(checked.normalized)
    if not found:
        raise PermanentFailure("recipient missing: no address to send to")
    return tuple(dict.fromkeys(found))
