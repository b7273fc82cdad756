"""Our own access tokens: signed JWTs (authlib JOSE). HS256 in development; RS256 or EdDSA from PEM keys.

(Skeleton: the identity issue hardens and extends this.)
"""

from __future__ import annotations

import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

with warnings.catch_warnings():
    # authlib.jose warns that joserfc is its successor; the stack names authlib, and its API is stable to 2.0.
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebToken
    from authlib.jose.errors import JoseError


class TokenError(Exception):
    """The token is not one we accept (any reason); callers answer UNAUTHENTICATED."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: int


class TokenService:
    def __init__(
        self,
        *,
        algorithm: str,
        secret: str | None,
        private_key: str | None,
        public_key: str | None,
        issuer: str,
        audience: str,
        ttl_seconds: int,
    ) -> None:
        self.algorithm = algorithm
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        if algorithm == "HS256":
            if not secret:
                raise ValueError("HS256 needs AUTH_JWT_SECRET")
            self._sign_key: Any = secret.encode()
            self._verify_key: Any = secret.encode()
        else:
            if not (private_key and public_key):
                raise ValueError(f"{algorithm} needs AUTH_JWT_PRIVATE_KEY and AUTH_JWT_PUBLIC_KEY")
            self._sign_key = private_key.encode()
            self._verify_key = public_key.encode()
        self._jwt = JsonWebToken([algorithm])  # only our algorithm: `alg: none` and others are refused

    def issue(self, *, subject: str, role: str, extra: dict[str, Any] | None = None) -> IssuedToken:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "role": role,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
            **(extra or {}),
        }
        token = self._jwt.encode({"alg": self.algorithm, "typ": "JWT"}, claims, self._sign_key)
        return IssuedToken(token.decode(), claims["exp"])

    def verify(self, token: str) -> dict[str, Any]:
        try:
            claims = self._jwt.decode(
                token,
                self._verify_key,
                claims_options={
                    "iss": {"essential": True, "value": self.issuer},
                    "aud": {"essential": True, "value": self.audience},
                    "sub": {"essential": True},
                    "exp": {"essential": True},
                },
            )
            claims.validate(leeway=5)
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise TokenError(str(error)) from error
        return dict(claims)
