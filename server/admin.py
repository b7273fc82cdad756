"""`customer-graph create-admin`: create an ADMIN user, or reset an existing staff user to ADMIN with a new password.

The password is prompted for (twice, without echo) when not given. The change and its audit record are written in
one unit of work (resolvers/unit_of_work.py). Prints one line; returns the process exit status.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from datetime import UTC, datetime

from db import models
from db.engine import create_engine, create_sessionmaker
from db.enums import Role
from integrations.auth import passwords
from resolvers import users as users_resolvers
from resolvers import validators
from resolvers.errors import Validation
from resolvers.unit_of_work import system_unit_of_work

ACTOR = "system:create-admin"


def _prompt_password() -> str | None:
    first = getpass.getpass("Password for the admin (10-1000 characters): ")
    second = getpass.getpass("Repeat the password: ")
    return first if first == second else None


async def _upsert_admin(url: str, *, email: str, first_name: str, last_name: str, password_hash: str) -> str:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        sessionmaker = create_sessionmaker(engine)
        async with system_unit_of_work(sessionmaker, label=ACTOR) as uow:
            session = uow.session
            user = await users_resolvers.user_by_email(session, email=email)
            now = datetime.now(UTC)
            if user is not None and user.role == Role.CUSTOMER:
                raise ValueError(f"{email} belongs to a customer account; use another email")
            if user is None:
                user = models.User(email=email, first_name=first_name, last_name=last_name, role=Role.ADMIN.value)
                session.add(user)
                action, verb = "operator.created", "created"
            else:
                action, verb = "operator.updated", "reset"
            before = {"role": user.role, "isActive": user.is_active}
            user.first_name, user.last_name = first_name, last_name
            user.role = Role.ADMIN.value
            user.password_hash = password_hash
            user.email_verified = True
            user.is_active = True
            user.updated_at = now
            await session.flush()
            assert user.id is not None
            uow.audit(
                action=action,
                entity="Operator",
                entity_id=user.id,
                details={"source": "create-admin", "role": Role.ADMIN.value}
                | ({"before": before, "passwordChanged": True} if verb == "reset" else {}),
            )
            return f"{verb} admin {user.email} (id {user.id})"
    finally:
        await engine.dispose()


def create_admin(url: str, *, email: str, first_name: str, last_name: str, password: str | None) -> int:
    """Create or reset the ADMIN `email`; 0 on success, 2 on invalid input (the reason on stderr)."""
    if password is None:
        password = _prompt_password()
        if password is None:
            print("customer-graph: the passwords do not match", file=sys.stderr)
            return 2
    v = Validation()
    normalized, first, last = validators.account(
        v, email_value=email, password_value=password, first_name=first_name, last_name=last_name
    )
    if v.problems:
        reasons = "; ".join(f"{'.'.join(p.field or [])}: {p.message}" for p in v.problems)
        print(f"customer-graph: {reasons}", file=sys.stderr)
        return 2
    password_hash = passwords.hash_password(password)
    try:
        line = asyncio.run(
            _upsert_admin(url, email=normalized, first_name=first, last_name=last, password_hash=password_hash)
        )
    except ValueError as error:
        print(f"customer-graph: {error}", file=sys.stderr)
        return 2
    print(line)
    return 0
