"""Company SSO: bearer tokens from an OpenID Connect provider, verified against its JWKS (authlib JOSE).

The key set is fetched with httpx (from `jwks_url`, or the `jwks_uri` of the issuer's discovery document) and
cached for `cache_seconds`. A token whose `kid` is not in the cached set triggers one refetch (key rotation);
such forced refetches happen at most once per `min_refresh_seconds`, so tokens with made-up `kid`s cannot make
us hammer the provider. Only asymmetric algorithms are accepted (never `none`, never HMAC: the JWKS is public).
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from integrations.auth.tokens import MAX_TOKEN_LENGTH, TokenError, unverified_parts

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, JsonWebToken
    from authlib.jose.rfc7517 import KeySet

log = logging.getLogger("customer_graph.auth.oidc")
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class SSOIdentity:
    """Who the provider says the bearer is."""

    subject: str
    email: str | None
    first_name: str | None
    last_name: str | None
    role_values: list[str] | None  # None when the role claim is absent
    claims: dict[str, Any] = field(default_factory=dict)


def claim_path(claims: dict[str, Any], path: str) -> Any:
    """A claim by dotted path ("realm_access.roles"); None when absent."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


class OIDCVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        role_claim: str = "role",
        default_role: str = "OPERATOR",
        cache_seconds: int = 3600,
        min_refresh_seconds: float = 10.0,
        http_timeout: float = 5.0,
        algorithms: Sequence[str] = ALGORITHMS,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.role_claim = role_claim
        self.default_role = default_role
        self.cache_seconds = cache_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self.http_timeout = http_timeout
        self.algorithms = tuple(a for a in algorithms if a in ALGORITHMS)
        self._jwt = JsonWebToken(list(self.algorithms))
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._forced_at: float | None = None
        self._failed_at: float | None = None
        self._lock: asyncio.Lock | None = None
        self.fetch_count = 0  # observable in tests and logs

    # --- the key set ---

    async def _discover_jwks_url(self, client: httpx.AsyncClient) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        response = await client.get(url)
        response.raise_for_status()
        jwks_uri = response.json().get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise TokenError("the discovery document has no jwks_uri")
        return jwks_uri

    async def _fetch(self) -> KeySet:
        async with httpx.AsyncClient(timeout=self.http_timeout, follow_redirects=False) as client:
            url = self.jwks_url or await self._discover_jwks_url(client)
            response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        usable = [
            k
            for k in body.get("keys", [])
            if isinstance(k, dict) and k.get("kty") in ("RSA", "EC", "OKP") and k.get("use", "sig") == "sig"
        ]
        self.fetch_count += 1
        return JsonWebKey.import_key_set({"keys": usable})

    async def _key_set(self, *, force: bool = False) -> KeySet | None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = time.monotonic()
            fresh = self._keys is not None and now - self._fetched_at < self.cache_seconds
            if fresh and not force:
                return self._keys
            recently = self._forced_at is not None and now - self._forced_at < self.min_refresh_seconds
            if force and self._keys is not None and recently:
                return self._keys  # refetched a moment ago: the kid is simply unknown
            if self._failed_at is not None and now - self._failed_at < self.min_refresh_seconds:
                return self._keys  # the provider failed a moment ago: do not make every request wait for it
            try:
                keys = await self._fetch()
            except Exception as error:  # provider unreachable or answering nonsense: keep what we had
                self._failed_at = now
                log.warning("JWKS fetch failed", extra={"error": type(error).__name__})
                if self._keys is None:
                    raise TokenError(f"JWKS unavailable: {type(error).__name__}") from error
                return self._keys
            self._keys, self._failed_at = keys, None
            self._fetched_at = now
            if force:
                self._forced_at = now
            return self._keys

    @staticmethod
    def _find(keys: KeySet | None, kid: str | None, alg: str) -> Any:
        if keys is None:
            return None
        candidates = [k for k in keys.keys if k.kid == kid] if kid is not None else list(keys.keys)
        if kid is None and len(candidates) != 1:
            return None
        for key in candidates:
            designed = key.tokens.get("alg")
            if designed is None or designed == alg:
                return key
        return None

    # --- tokens ---

    def accepts(self, token: str) -> bool:
        """Whether the token claims to come from this provider (unverified: only for routing)."""
        try:
            _header, claims = unverified_parts(token)
        except TokenError:
            return False
        return claims.get("iss") == self.issuer

    async def verify(self, token: str) -> SSOIdentity:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise TokenError("malformed token")
        header, _claims = unverified_parts(token)
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.algorithms:
            raise TokenError("algorithm not accepted")
        if kid is not None and not isinstance(kid, str):
            raise TokenError("malformed kid")
        key = self._find(await self._key_set(), kid, alg)
        if key is None:
            key = self._find(await self._key_set(force=True), kid, alg)
        if key is None:
            raise TokenError("unknown kid")
        try:
            claims = self._jwt.decode(
                token,
                key,
                claims_options={
                    "iss": {"essential": True, "value": self.issuer},
                    "aud": {"essential": True, "value": self.audience},
                    "sub": {"essential": True},
                    "exp": {"essential": True},
                },
            )
            claims.validate(leeway=LEEWAY_SECONDS)
        except Exception as error:  # any failure to verify is "not a token we accept"
            raise TokenError(type(error).__name__) from error
        return self._identity(dict(claims))

    def _identity(self, claims: dict[str, Any]) -> SSOIdentity:
        raw_role = claim_path(claims, self.role_claim)
        if raw_role is None:
            roles: list[str] | None = None
        elif isinstance(raw_role, str):
            roles = [raw_role]
        elif isinstance(raw_role, list):
            roles = [r for r in raw_role if isinstance(r, str)]
        else:
            roles = []
        email = claims.get("email")
        first, last = claims.get("given_name"), claims.get("family_name")
        name = claims.get("name")
        if not (isinstance(first, str) and first.strip()) and isinstance(name, str) and name.strip():
            first, _, rest = name.strip().partition(" ")
            last = last if isinstance(last, str) and last.strip() else rest
        return SSOIdentity(
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) else None,
            first_name=first if isinstance(first, str) else None,
            last_name=last if isinstance(last, str) else None,
            role_values=roles,
            claims=claims,
        )


def verifier_from_settings(auth: Any) -> OIDCVerifier | None:
    """The SSO verifier when AUTH_OIDC_ISSUER and AUTH_OIDC_AUDIENCE are set, else None (SSO off)."""
    if not (auth.oidc_issuer and auth.oidc_audience):
        return None
    return OIDCVerifier(
        issuer=auth.oidc_issuer,
        audience=auth.oidc_audience,
        jwks_url=auth.oidc_jwks_url,
        role_claim=auth.oidc_role_claim,
        default_role=auth.oidc_default_role,
        cache_seconds=auth.oidc_jwks_cache_seconds,
    )
