"""Authentication: who the bearer of a token is; login, customer signup and email verification.

Two kinds of bearer token are accepted: our own (issued by `login`, see integrations/auth/tokens.py) and the
company SSO's OpenID Connect tokens (integrations/auth/oidc.py), told apart by their (unverified) `iss` claim and
then fully verified by their own verifier. Every failure is the same UNAUTHENTICATED answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import phonenumbers
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from db import models
from db.enums import STAFF_ROLES, AuditStatus, Role
from db.loaders import Loaders
from integrations.auth import passwords
from integrations.auth.tokens import TokenError
from resolvers import audit
from resolvers import login_throttle as throttle
from resolvers import users as users_resolvers
from resolvers.context import RequestContext
from resolvers.errors import DomainError, ErrorCode, Unauthenticated, Validation
from resolvers.ids import to_global_id
from resolvers.viewer import Viewer

log = logging.getLogger("customer_graph.auth")

BAD_TOKEN = "Invalid or expired token."
VERIFY_EMAIL_PURPOSE = "verify_email"
VERIFY_EMAIL_TOPIC = "email.verify_email"


# --- bearer tokens -> viewer ---


def _viewer_of(user: models.User) -> Viewer:
    assert user.id is not None
    return Viewer(
        user_id=user.id, role=Role(user.role), customer_id=user.customer_id, email_verified=user.email_verified
    )


async def viewer_from_authorization(header: str | None, *, services: Any, loaders: Loaders) -> Viewer | None:
    """None for no header; the viewer for a valid bearer token; raises Unauthenticated otherwise."""
    if header is None or header == "":
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated("Authorization must be 'Bearer <token>'.")
    oidc = services.oidc
    if oidc is not None and oidc.issuer != services.tokens.issuer and oidc.accepts(token):
        return await _sso_viewer(token, oidc=oidc, loaders=loaders)
    try:
        claims = services.tokens.verify(token)
    except TokenError:
        raise Unauthenticated(BAD_TOKEN)
    sub = str(claims.get("sub", ""))
    if not sub.isdigit() or len(sub) > 18:
        raise Unauthenticated(BAD_TOKEN)
    user = await loaders.by_id(models.User).load(int(sub))
    if user is None or not user.is_active:
        raise Unauthenticated(BAD_TOKEN)
    return _viewer_of(user)


def sso_role(role_values: list[str] | None, *, default: str) -> Role | None:
    """The staff role the provider grants: the claim's first of ADMIN, OPERATOR, SALES (case-insensitive);
    `default` when the claim is absent; None (refused) when the claim names no staff role."""
    if role_values is None:
        return Role(default.upper()) if default.upper() in STAFF_ROLES else None
    given = {value.strip().upper() for value in role_values}
    for role in (Role.ADMIN, Role.OPERATOR, Role.SALES):
        if role.value in given:
            return role
    return None


async def _sso_viewer(token: str, *, oidc: Any, loaders: Loaders) -> Viewer:
    try:
        identity = await oidc.verify(token)
    except TokenError as error:
        log.info("SSO token refused", extra={"reason": str(error)})
        raise Unauthenticated(BAD_TOKEN)
    role = sso_role(identity.role_values, default=oidc.default_role)
    if role is None:
        raise Unauthenticated("Your SSO account has no role in this application.")
    claimed = identity.role_values is not None
    for _attempt in range(2):  # a concurrent first sight may insert the same user: then read it
        try:
            user = await _sso_user(loaders.sessionmaker, identity=identity, role=role, claimed=claimed)
            break
        except IntegrityError:
            continue
    else:
        raise Unauthenticated(BAD_TOKEN)
    if user is None or not user.is_active:
        raise Unauthenticated(BAD_TOKEN)
    loaders.by_id(models.User).prime(user.id, user)
    return _viewer_of(user)


def _sso_names(identity: Any) -> tuple[str, str]:
    first = users_resolvers.clean_name(identity.first_name)
    last = users_resolvers.clean_name(identity.last_name)
    local = (identity.email or "sso").split("@")[0]
    return first or users_resolvers.clean_name(local[:100]) or "SSO", last or "User"


async def _sso_user(
    sessionmaker: async_sessionmaker[AsyncSession], *, identity: Any, role: Role, claimed: bool
) -> models.User | None:
    """The staff user of an SSO subject: found by subject, else linked by email, else created (first sight)."""
    async with sessionmaker() as session, session.begin():
        stmt = select(models.User).where(col(models.User.sso_subject) == identity.subject)
        user = (await session.scalars(stmt)).first()
        if user is None:
            email = users_resolvers.normalize_email(identity.email)
            if email is None:
                return None
            user = await users_resolvers.user_by_email(session, email=email)
            if user is not None:
                if user.role not in STAFF_ROLES or user.sso_subject is not None:
                    return None  # a customer account, or another SSO subject's: never taken over
                user.sso_subject = identity.subject
                user.email_verified = True
                user.updated_at = datetime.now(UTC)
            else:
                first, last = _sso_names(identity)
                user = models.User(
                    email=email,
                    first_name=first,
                    last_name=last,
                    role=role.value,
                    email_verified=True,
                    sso_subject=identity.subject,
                )
                session.add(user)
                await session.flush()
                session.add(
                    models.AuditRecord(
                        action="operator.created",
                        entity_type="Operator",
                        entity_id=to_global_id("Operator", user.id),  # type: ignore[arg-type]
                        actor_id=user.id,
                        actor_label=f"{role.lower()}:{user.id}",
                        details={"source": "sso", "role": role.value},
                    )
                )
                return user
        if claimed and user.role != role.value and user.is_active:
            user.role = role.value  # the provider's claim is the source of truth for SSO users' roles
            user.updated_at = datetime.now(UTC)
        return user


# --- login ---


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: models.User


def _invalid_credentials(retry_after: int | None = None) -> DomainError:
    if retry_after is not None:
        return DomainError.one(
            ErrorCode.INVALID_CREDENTIALS,
            f"Too many failed sign-in attempts. Try again in {retry_after} seconds.",
            retry_after=retry_after,
        )
    return DomainError.one(ErrorCode.INVALID_CREDENTIALS, "Wrong email or password.")


def _limits(ctx: RequestContext, email: str) -> list[throttle.Limit]:
    auth = ctx.settings.auth
    limits = [throttle.Limit(throttle.account_key(email), auth.login_max_failures)]
    if ctx.client_address:
        limits.append(throttle.Limit(throttle.address_key(ctx.client_address), auth.login_max_failures_per_address))
    return limits


def _label(user: models.User) -> str:
    return f"{user.role.lower()}:{user.id}"


async def login(ctx: RequestContext, *, email: str, password: str) -> LoginResult:
    v = Validation()
    # Only the shape: an account created with an address today's rules refuse must still be able to sign in.
    if "@" not in email or len(email.strip()) < 3 or len(email) > users_resolvers.EMAIL_MAX:
        v.add("email", "Enter your email address.")
    if not password or len(password) > passwords.MAX_LENGTH:
        v.add("password", f"Enter your password (at most {passwords.MAX_LENGTH} characters).")
    v.raise_if_any()
    limits = _limits(ctx, email)
    auth = ctx.settings.auth

    async with ctx.sessionmaker() as session:
        wait = await throttle.retry_after(session, keys=[limit.key for limit in limits])
        if wait is not None:  # refused before any password check
            raise _invalid_credentials(wait)
        user = await users_resolvers.user_by_email(session, email=email)
    usable_hash = user.password_hash if user is not None and user.is_active else None
    # Argon2 is CPU-bound: off the event loop. An unknown email verifies against a dummy hash (same cost).
    ok = await anyio.to_thread.run_sync(passwords.verify_password, password, usable_hash)

    if not ok or user is None:
        async with ctx.sessionmaker() as session, session.begin():
            locked = await throttle.record_failure(session, limits=limits, window_seconds=auth.login_window_seconds)
            audit.record(
                session,
                ctx,
                action="user.login_failed",
                entity_type="User",
                entity_id=to_global_id("User", user.id) if user is not None and user.id is not None else None,
                details={"reason": "invalid_credentials"},
                status=AuditStatus.FAILURE,
            )
        raise _invalid_credentials(locked)

    if user.role == Role.CUSTOMER and not user.email_verified:
        raise DomainError.one(
            ErrorCode.EMAIL_NOT_VERIFIED, "Confirm your email address first: follow the link we sent you."
        )

    async with ctx.sessionmaker() as session, session.begin():
        await throttle.clear(session, key=limits[0].key)
        fresh = await session.get(models.User, user.id)
        if fresh is None or not fresh.is_active:
            raise _invalid_credentials()
        if fresh.password_hash and passwords.needs_rehash(fresh.password_hash):
            fresh.password_hash = await anyio.to_thread.run_sync(passwords.hash_password, password)
        row = audit.record(
            session,
            ctx,
            action="user.logged_in",
            entity_type="User",
            entity_id=to_global_id("User", fresh.id),  # type: ignore[arg-type]
            actor_id=fresh.id,
        )
        row.actor_label = _label(fresh)
        user = fresh
    issued = ctx.services.tokens.issue(subject=str(user.id), role=user.role)
    return LoginResult(issued.token, datetime.fromtimestamp(issued.expires_at, UTC), user)


# --- signup and email verification ---


def _e164(phone: str) -> str | None:
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def verification_link(ctx: RequestContext, token: str) -> str:
    return f"{ctx.settings.app.public_url.rstrip('/')}/verify-email?token={token}"


async def signup(
    ctx: RequestContext,
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    phone: str | None = None,
) -> tuple[models.User, models.Customer]:
    """A customer record and its CUSTOMER account (unverified), and the verification email queued in the outbox."""
    v = Validation()
    normalized, first, last = users_resolvers.validate_account(
        v, email=email, password=password, first_name=first_name, last_name=last_name
    )
    e164: str | None = None
    if phone is not None and phone.strip():
        e164 = _e164(phone.strip())
        if e164 is None:
            v.add("phone", "Enter the phone number in international form, e.g. +49 30 1234567.")
    v.raise_if_any()
    password_hash = await anyio.to_thread.run_sync(passwords.hash_password, password)
    conflict = DomainError.one(ErrorCode.CONFLICT, "An account with this email already exists.", ["email"])

    try:
        async with ctx.sessionmaker() as session, session.begin():
            if await users_resolvers.email_taken(session, email=normalized):
                raise conflict
            customer = models.Customer(first_name=first, last_name=last, email=normalized, phone=e164)
            session.add(customer)
            await session.flush()
            user = models.User(
                email=normalized,
                password_hash=password_hash,
                first_name=first,
                last_name=last,
                role=Role.CUSTOMER.value,
                email_verified=False,
                customer_id=customer.id,
            )
            session.add(user)
            await session.flush()
            assert user.id is not None
            await _queue_verification(session, ctx, user=user)
            row = audit.record(
                session,
                ctx,
                action="user.signed_up",
                entity_type="User",
                entity_id=to_global_id("User", user.id),
                details={"customerId": to_global_id("Customer", customer.id), "role": Role.CUSTOMER.value},  # type: ignore[arg-type]
                actor_id=user.id,
            )
            row.actor_label = _label(user)
    except IntegrityError:  # a concurrent signup with the same address won the race
        raise conflict
    return user, customer


async def _queue_verification(session: AsyncSession, ctx: RequestContext, *, user: models.User) -> None:
    ttl = ctx.settings.auth.verification_ttl_seconds
    issued = ctx.services.tokens.issue_for(purpose=VERIFY_EMAIL_PURPOSE, subject=str(user.id), ttl_seconds=ttl)
    expires_at = datetime.fromtimestamp(issued.expires_at, UTC)
    session.add(models.EmailVerificationToken(jti=issued.jti, user_id=user.id, expires_at=expires_at))  # type: ignore[arg-type]
    session.add(
        models.OutboxMessage(
            topic=VERIFY_EMAIL_TOPIC,
            payload={
                "to": user.email,
                "userId": user.id,
                "firstName": user.first_name,
                "verifyUrl": verification_link(ctx, issued.token),
                "token": issued.token,
                "expiresAt": expires_at.isoformat(),
            },
        )
    )


async def verify_email(ctx: RequestContext, *, token: str) -> models.User:
    """Marks the account's email verified; the token is signed, expiring and single-use."""
    invalid = DomainError.one(ErrorCode.TOKEN_INVALID, "This verification link is invalid or has expired.", ["token"])
    try:
        claims = ctx.services.tokens.verify_for(token, purpose=VERIFY_EMAIL_PURPOSE)
    except TokenError:
        raise invalid
    sub, jti = str(claims.get("sub", "")), str(claims.get("jti", ""))
    if not sub.isdigit() or len(sub) > 18 or not jti:
        raise invalid
    async with ctx.sessionmaker() as session, session.begin():
        stmt = (
            select(models.EmailVerificationToken).where(col(models.EmailVerificationToken.jti) == jti).with_for_update()
        )
        record = (await session.scalars(stmt)).first()
        now = datetime.now(UTC)
        if record is None or record.user_id != int(sub) or record.used_at is not None or record.expires_at <= now:
            raise invalid
        user = await session.get(models.User, record.user_id, with_for_update=True)
        if user is None or not user.is_active:
            raise invalid
        record.used_at = now
        was_verified = user.email_verified
        user.email_verified = True
        user.updated_at = now
        row = audit.record(
            session,
            ctx,
            action="user.email_verified",
            entity_type="User",
            entity_id=to_global_id("User", user.id),  # type: ignore[arg-type]
            details={"emailVerified": {"from": was_verified, "to": True}},
            actor_id=user.id,
        )
        row.actor_label = _label(user)
    ctx.loaders.by_id(models.User).clear(user.id)
    return user
