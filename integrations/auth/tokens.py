"""Our own signed JWTs (authlib JOSE): access tokens and single-purpose tokens (email verification).

RS256 or EdDSA from PEM keys (preferred); HS256 with a shared secret for development. Every token carries a
`kid` derived from the verification key, so a token from another key is refused before any signature check,
and only the configured algorithm is accepted: `alg: none`, HS256-with-the-public-key and other algorithm
confusions fail. Access tokens and verification tokens use different audiences, so neither passes as the other.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any, Protocol

import authlib.deprecate  # noqa: F401  (installs an "always" filter: must precede our "ignore" below)

with warnings.catch_warnings():
    # authlib.jose warns that joserfc is its successor; the stack names authlib, and its API is stable to 2.0.
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, JsonWebToken

from integrations.auth.known_secrets import is_known_secret

LEEWAY_SECONDS = 5
MAX_TOKEN_LENGTH = 8192


class TokenError(Exception):
    """The token is not one we accept (any reason); callers answer UNAUTHENTICATED."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: int  # seconds since the epoch
    jti: str = ""


def _b64json(segment: str) -> dict[str, Any]:
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a compact JWS WITHOUT checking anything: only to route a token to its verifier."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise TokenError("malformed token")
    head, body, _sig = token.split(".")
    try:
        return _b64json(head), _b64json(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise TokenError("malformed token") from error


class Tokens(Protocol):
    """What the server asks of its token service: our access tokens and single-purpose tokens, issued and
    verified. `TokenService` satisfies it structurally."""

    @property
    def issuer(self) -> str:
        """The `iss` claim of every token we issue."""
        ...

    def issue(self, *, subject: str, role: str, extra: dict[str, Any] | None = None) -> IssuedToken:
        """An access token for user `subject`."""
        ...

    def issue_for(self, *, purpose: str, subject: str, ttl_seconds: int) -> IssuedToken:
        """A token valid only for `purpose` (its own audience)."""
        ...

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token; `TokenError` otherwise."""
        ...

    def verify_for(self, token: str, *, purpose: str) -> dict[str, Any]:
        """The claims of a valid `purpose` token; `TokenError` otherwise."""
        ...


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
            if is_known_secret(secret):
                raise ValueError("refusing a publicly known HS256 key (a placeholder or an example value)")
            self._sign_key: Any = secret.encode()
            self._verify_key: Any = secret.encode()
            self.kid = "hs-" + hashlib.sha256(b"kid:" + secret.encode()).hexdigest()[:16]
        elif algorithm in ("RS256", "EdDSA"):
            if not (private_key and public_key):
                raise ValueError(f"{algorithm} needs AUTH_JWT_PRIVATE_KEY and AUTH_JWT_PUBLIC_KEY")
            self._sign_key = private_key.encode()
            self._verify_key = public_key.encode()
            self.kid = JsonWebKey.import_key(self._verify_key).thumbprint()
        else:
            raise ValueError(f"unsupported AUTH_JWT_ALGORITHM {algorithm!r}")
        self._jwt = JsonWebToken([algorithm])  # only our algorithm: `alg: none` and all others are refused

    # --- issuing ---

    def _encode(self, claims: dict[str, Any]) -> str:
        header = {"alg": self.algorithm, "typ": "JWT", "kid": self.kid}
        encoded: bytes = self._jwt.encode(header, claims, self._sign_key, check=False)
        return encoded.decode()

    def issue(self, *, subject: str, role: str, extra: dict[str, Any] | None = None) -> IssuedToken:
        """An access token for user `subject` (the user's primary key as a string)."""
        now = int(time.time())
        jti = uuid.uuid4().hex
        claims = {
            **(extra or {}),
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "role": role,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": jti,
        }
        return IssuedToken(self._encode(claims), claims["exp"], jti)

    def purpose_audience(self, purpose: str) -> str:
        return f"{self.audience}#{purpose}"

    def issue_for(self, *, purpose: str, subject: str, ttl_seconds: int) -> IssuedToken:
        """A single-purpose token (e.g. "verify_email"); its `jti` is what the caller records for single use."""
        now = int(time.time())
        jti = uuid.uuid4().hex
        claims = {
            "iss": self.issuer,
            "aud": self.purpose_audience(purpose),
            "sub": subject,
            "purpose": purpose,
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": jti,
        }
        return IssuedToken(self._encode(claims), now + ttl_seconds, jti)

    # --- verifying ---

    def _load_key(self, header: Any, payload: Any) -> Any:
        kid = header.get("kid")
        if kid is not None and kid != self.kid:
            raise TokenError("unknown kid")
        return self._verify_key

    def _decode(self, token: str, audience: str, essential: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise TokenError("malformed token")
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": audience},
        }
        for name in ("sub", "exp", "iat", *essential):
            options.setdefault(name, {"essential": True})
        try:
            claims = self._jwt.decode(token, self._load_key, claims_options=options)
            claims.validate(leeway=LEEWAY_SECONDS)
        except TokenError:
            raise
        except Exception as error:  # any failure to parse or verify is simply "not a token we accept"
            raise TokenError(type(error).__name__) from error
        return dict(claims)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token; TokenError otherwise."""
        claims = self._decode(token, self.audience, ("role",))
        if "purpose" in claims:
            raise TokenError("not an access token")
        return claims

    def verify_for(self, token: str, *, purpose: str) -> dict[str, Any]:
        """The claims of a valid single-purpose token; TokenError otherwise (expired, forged, other purpose...)."""
        claims = self._decode(token, self.purpose_audience(purpose), ("jti", "purpose"))
        if claims.get("purpose") != purpose:
            raise TokenError("wrong purpose")
        return claims
