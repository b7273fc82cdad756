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
from sqlalchemy import select
from sqlmodel import col

from db import models
from db.enums import STAFF_ROLES, AuditStatus, Role
from db.loaders import Loaders
from db.refs import entity_ref
from integrations.auth import passwords
from integrations.auth.tokens import TokenError
from resolvers import events, outbox, validators
from resolvers import login_throttle as throttle
from resolvers import users as users_resolvers
from resolvers.context import RequestContext, Services
from resolvers.errors import DomainError, ErrorCode, Unauthenticated, Validation
from resolvers.unit_of_work import Actor, UnitOfWork, changes, system_unit_of_work, unit_of_work
from resolvers.viewer import Viewer

log = logging.getLogger("customer_graph.auth")

BAD_TOKEN = "Invalid or expired token."
VERIFY_EMAIL_PURPOSE = "verify_email"
VERIFY_EMAIL_TOPIC = outbox.VERIFY_EMAIL


# --- bearer tokens -> viewer ---


def _viewer_of(user: models.User) -> Viewer:
    assert user.id is not None
    return Viewer(
        user_id=user.id, role=Role(user.role), customer_id=user.customer_id, email_verified=user.email_verified
    )


async def viewer_from_authorization(header: str | None, *, services: Services, loaders: Loaders) -> Viewer | None:
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
            user = await _sso_user(loaders, identity=identity, role=role, claimed=claimed)
            break
        except DomainError:  # CONFLICT: the unique email or subject was taken meanwhile
            continue
    else:
        raise Unauthenticated(BAD_TOKEN)
    if user is None or not user.is_active:
        raise Unauthenticated(BAD_TOKEN)
    loaders.prime(models.User, user)
    return _viewer_of(user)


def _sso_names(identity: Any) -> tuple[str, str]:
    first = validators.parse_name(identity.first_name)
    last = validators.parse_name(identity.last_name)
    local = (identity.email or "sso").split("@")[0]
    return first or validators.parse_name(local[:100]) or "SSO", last or "User"


def _acting(user: models.User) -> Actor:
    assert user.id is not None
    return Actor.user(user_id=user.id, role=user.role)


async def _sso_user(loaders: Loaders, *, identity: Any, role: Role, claimed: bool) -> models.User | None:
    """The staff user of an SSO subject: found by subject, else linked by email, else created (first sight).

    Each write (creation, linking, a role the provider changed) is audited; the user acts on itself."""
    async with system_unit_of_work(loaders.sessionmaker, label="sso") as uow:
        session = uow.session
        stmt = select(models.User).where(col(models.User.sso_subject) == identity.subject)
        user = (await session.scalars(stmt)).first()
        if user is None:
            email = validators.parse_email(identity.email)
            if email is None:
                return None
            user = await users_resolvers.user_by_email(session, email=email)
            if user is None:
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
                uow.audit(
                    action="operator.created",
                    entity="Operator",
                    entity_id=user.id,
                    details={"source": "sso", "role": role.value},
                    actor=_acting(user),
                )
                return user
            if user.role not in STAFF_ROLES or user.sso_subject is not None:
                return None  # a customer account, or another SSO subject's: never taken over
            before = {"sso_linked": False, "email_verified": user.email_verified}
            user.sso_subject = identity.subject
            user.email_verified = True
            user.updated_at = datetime.now(UTC)
            uow.audit(
                action="operator.sso_linked",
                entity="Operator",
                entity_id=user.id,
                details={
                    "source": "sso",
                    "changes": changes(before, {"sso_linked": True, "email_verified": True}, before),
                },
                actor=_acting(user),
            )
        if claimed and user.role != role.value and user.is_active:
            before_role = user.role
            user.role = role.value  # the provider's claim is the source of truth for SSO users' roles
            user.updated_at = datetime.now(UTC)
            uow.audit(
                action="operator.role_changed",
                entity="Operator",
                entity_id=user.id,
                details={"source": "sso", "changes": {"role": {"from": before_role, "to": role.value}}},
                actor=_acting(user),
            )
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


def _acting_in(ctx: RequestContext, user: models.User) -> Actor:
    """The user acting on its own account (login, signup, verification) within this request."""
    assert user.id is not None
    return Actor.user(user_id=user.id, role=user.role, request_id=ctx.request_id)


async def login(ctx: RequestContext, *, email: str, password: str) -> LoginResult:
    v = Validation()
    # Only the shape: an account created with an address today's rules refuse must still be able to sign in.
    if "@" not in email or len(email.strip()) < 3 or len(email) > validators.EMAIL_MAX:
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
        async with unit_of_work(ctx) as uow:
            locked = await throttle.record_failure(uow.session, limits=limits, window_seconds=auth.login_window_seconds)
            uow.audit(
                action="user.login_failed",
                entity="User",
                entity_id=user.id if user is not None else None,
                details={"reason": "invalid_credentials"},
                status=AuditStatus.FAILURE,
            )
        raise _invalid_credentials(locked)

    if user.role == Role.CUSTOMER and not user.email_verified:
        raise DomainError.one(
            ErrorCode.EMAIL_NOT_VERIFIED, "Confirm your email address first: follow the link we sent you."
        )

    async with unit_of_work(ctx) as uow:
        await throttle.clear(uow.session, key=limits[0].key)
        fresh = await uow.session.get(models.User, user.id)
        if fresh is None or not fresh.is_active:
            raise _invalid_credentials()
        if fresh.password_hash and passwords.needs_rehash(fresh.password_hash):
            fresh.password_hash = await anyio.to_thread.run_sync(passwords.hash_password, password)
        uow.audit(action="user.logged_in", entity="User", entity_id=fresh.id, actor=_acting_in(ctx, fresh))
        user = fresh
    issued = ctx.services.tokens.issue(subject=str(user.id), role=user.role)
    return LoginResult(issued.token, datetime.fromtimestamp(issued.expires_at, UTC), user)


# --- signup and email verification ---


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
    normalized, first, last = validators.account(
        v, email_value=email, password_value=password, first_name=first_name, last_name=last_name
    )
    e164 = validators.optional_phone(v, "phone", phone)
    v.raise_if_any()
    password_hash = await anyio.to_thread.run_sync(passwords.hash_password, password)
    conflict = DomainError.one(ErrorCode.CONFLICT, "An account with this email already exists.", ["email"])

    # Any unique violation here (users' or live customers' email) is a concurrent signup with the same address.
    async with unit_of_work(
        ctx, conflicts={"uq_users_email_lower": conflict, "uq_customers_email_live": conflict}
    ) as uow:
        session = uow.session
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
        assert user.id is not None and customer.id is not None
        _queue_verification(uow, ctx, user=user)
        uow.outbox(*outbox.customer_created(customer, source="signup"))
        uow.audit(
            action="user.signed_up",
            entity="User",
            entity_id=user.id,
            details={"customerId": entity_ref("Customer", customer.id), "role": Role.CUSTOMER.value},
            actor=_acting_in(ctx, user),
        )
        uow.prime(models.Customer, customer)
        uow.prime(models.User, user)
        await events.customer_created(uow, customer)
    return user, customer


def _queue_verification(uow: UnitOfWork, ctx: RequestContext, *, user: models.User) -> None:
    ttl = ctx.settings.auth.verification_ttl_seconds
    issued = ctx.services.tokens.issue_for(purpose=VERIFY_EMAIL_PURPOSE, subject=str(user.id), ttl_seconds=ttl)
    expires_at = datetime.fromtimestamp(issued.expires_at, UTC)
    uow.session.add(models.EmailVerificationToken(jti=issued.jti, user_id=user.id, expires_at=expires_at))
    uow.outbox(
        VERIFY_EMAIL_TOPIC,
        {
            "to": user.email,
            "userId": user.id,
            "firstName": user.first_name,
            "verifyUrl": verification_link(ctx, issued.token),
            "token": issued.token,
            "expiresAt": expires_at.isoformat(),
        },
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
    async with unit_of_work(ctx) as uow:
        session = uow.session
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
        uow.audit(
            action="user.email_verified",
            entity="User",
            entity_id=user.id,
            details={"emailVerified": {"from": was_verified, "to": True}},
            actor=_acting_in(ctx, user),
        )
        uow.prime(models.User, user)
    return user
