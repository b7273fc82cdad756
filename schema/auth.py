"""Login, customer signup and email verification: the mutations anonymous callers may run."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolvers import auth as auth_resolvers
from resolvers.errors import DomainError
from schema.base import Info, UserError, user_errors
from schema.customers import Customer
from schema.users import User


@strawberry.input(description="Credentials for `login`.")
class LoginInput:
    email: str = strawberry.field(description="The account's email (case-insensitive).")
    password: str = strawberry.field(description="The account's password.")


@strawberry.type(description="The result of `login`: an access token and the signed-in user, or `errors`.")
class LoginPayload:
    token: str | None = strawberry.field(
        default=None, description="A signed JWT; send it as `Authorization: Bearer <token>`."
    )
    expires_at: datetime | None = strawberry.field(default=None, description="When the token stops being accepted.")
    user: User | None = strawberry.field(default=None, description="The signed-in user.")
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="INVALID_CREDENTIALS (with `retryAfter` when throttled), EMAIL_NOT_VERIFIED or VALIDATION.",
    )


@strawberry.input(description="A customer's self-registration.")
class SignupInput:
    email: str = strawberry.field(description="Email; a verification link is sent there.")
    password: str = strawberry.field(description="Password, 10 to 1,000 characters.")
    first_name: str = strawberry.field(description="First name, 1-100 characters after trimming.")
    last_name: str = strawberry.field(description="Last name, 1-100 characters after trimming.")
    phone: str | None = strawberry.field(default=None, description="Phone in international form; stored as E.164.")


@strawberry.type(description="The result of `signup`: the new (unverified) account and its customer record.")
class SignupPayload:
    user: User | None = strawberry.field(default=None, description="The new CUSTOMER account (not yet verified).")
    customer: Customer | None = strawberry.field(
        default=None, description="The customer record created with the account."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="VALIDATION (with the field's path) or CONFLICT (email taken)."
    )


@strawberry.type(description="The result of `verifyEmail`.")
class VerifyEmailPayload:
    user: User | None = strawberry.field(default=None, description="The account, now verified.")
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="TOKEN_INVALID when the token is forged, expired or already used."
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Sign in with email and password; returns a JWT. Repeated failures are throttled per account "
        "and per client address."
    )
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        try:
            result = await auth_resolvers.login(info.context, email=input.email, password=input.password)
        except DomainError as error:
            return LoginPayload(errors=user_errors(error))
        return LoginPayload(token=result.token, expires_at=result.expires_at, user=User.from_row(result.user))

    @strawberry.mutation(
        description="Register as a customer: creates the customer record and its account, and emails a "
        "verification link. The account can sign in once the email is verified."
    )
    async def signup(self, info: Info, input: SignupInput) -> SignupPayload:
        try:
            user, customer = await auth_resolvers.signup(
                info.context,
                email=input.email,
                password=input.password,
                first_name=input.first_name,
                last_name=input.last_name,
                phone=input.phone,
            )
        except DomainError as error:
            return SignupPayload(errors=user_errors(error))
        return SignupPayload(user=User.from_row(user), customer=Customer.from_row(customer))

    @strawberry.mutation(description="Confirm an email address with the token from the verification link.")
    async def verify_email(
        self,
        info: Info,
        token: Annotated[str, strawberry.argument(description="The token from the verification link.")],
    ) -> VerifyEmailPayload:
        try:
            user = await auth_resolvers.verify_email(info.context, token=token)
        except DomainError as error:
            return VerifyEmailPayload(errors=user_errors(error))
        return VerifyEmailPayload(user=User.from_row(user))
