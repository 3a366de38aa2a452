"""Bearer-JWT authentication: verify tokens, expose the principal, guard roles, mint tokens.

Reuse from any controller:

* ``authenticate(request)`` in a handler: the verified ``Principal`` (401 otherwise), or
* ``guards=[require_role("moderator")]`` on a handler / controller (403 ``forbidden``).

Both authenticate once per request (the principal is kept in the request scope).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from hot.settings import Settings
from serving.core.errors import ApiError

VERIFIER_STATE_KEY = "token_verifier"
"""Key of the app's :class:`TokenVerifier` in ``app.state``."""

_PRINCIPAL_SCOPE_KEY = "hot_principal"
_CACHE_SIZE = 4096
_HMAC_ALGS = frozenset({"HS256", "HS384", "HS512"})
_KEY_ALGS: tuple[tuple[type, frozenset[str]], ...] = (
    (rsa.RSAPublicKey, frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})),
    (ec.EllipticCurvePublicKey, frozenset({"ES256", "ES384", "ES512"})),
    ((ed25519.Ed25519PublicKey, ed448.Ed448PublicKey), frozenset({"EdDSA"})),
)
_JWT_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "token_expired"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid"),
    (jwt.InvalidAudienceError, "invalid_audience"),
    (jwt.InvalidIssuerError, "invalid_issuer"),
    (jwt.InvalidSignatureError, "invalid_signature"),
    (jwt.InvalidKeyError, "invalid_signature"),
    (jwt.InvalidAlgorithmError, "algorithm_not_allowed"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.DecodeError, "malformed_token"),
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: the token's ``sub`` and ``roles`` claims."""

    sub: str
    roles: frozenset[str]
    claims: Mapping[str, Any]

    def has_role(self, role: str) -> bool:
        """Whether the token grants ``role``."""
        return role in self.roles


class AuthError(ApiError):
    """401 with ``WWW-Authenticate: Bearer`` and a reason code."""

    def __init__(self, code: str, message: str) -> None:
        if code == "missing_token":
            challenge = 'Bearer realm="hot"'
        elif code == "invalid_scheme":
            challenge = 'Bearer realm="hot", error="invalid_request"'
        else:
            challenge = f'Bearer realm="hot", error="invalid_token", error_description="{code}"'
        super().__init__(401, code, message, headers={"WWW-Authenticate": challenge})


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    exp: float
    nbf: float


class TokenVerifier:
    """Verifies bearer tokens against the configured key and algorithm allow-list.

    An algorithm is accepted only if it is in ``settings.jwt_algorithms`` *and* matches the
    kind of key configured for it (HMAC secret for HS*, the public key's type otherwise), so
    ``alg: none`` and HS/RS confusion are refused before any signature check. Verified
    tokens are cached by the exact header value; ``exp``/``nbf`` are re-checked on every use.
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._clock = clock
        self._leeway = float(settings.jwt_leeway_sec)
        self._keys: dict[str, Any] = {}
        allowed = set(settings.jwt_algorithms)
        if settings.jwt_secret:
            for alg in allowed & _HMAC_ALGS:
                self._keys[alg] = settings.jwt_secret
        if settings.jwt_public_key:
            public_key = load_pem_public_key(settings.jwt_public_key.encode())
            for key_type, algs in _KEY_ALGS:
                if isinstance(public_key, key_type):
                    for alg in allowed & algs:
                        self._keys[alg] = public_key
        self._required = ["exp", "sub"]
        if settings.jwt_audience:
            self._required.append("aud")
        if settings.jwt_issuer:
            self._required.append("iss")
        self._cache: dict[str, _Verified] = {}

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization`` header value, or :class:`AuthError`."""
        cached = self._cache.get(authorization)  # type: ignore[arg-type]
        if cached is not None:
            self._check_times(cached)
            return cached.principal
        if authorization is None or not authorization.strip():
            raise AuthError("missing_token", "an Authorization: Bearer token is required")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise AuthError("invalid_scheme", "the Authorization scheme must be Bearer")
        verified = self._decode(token.strip())
        self._remember(authorization, verified)
        return verified.principal

    def verify(self, token: str) -> Principal:
        """The principal of a compact JWT, or :class:`AuthError` with the reason."""
        return self.authenticate(f"Bearer {token}")

    def _remember(self, authorization: str, verified: _Verified) -> None:
        if len(self._cache) >= _CACHE_SIZE:
            del self._cache[next(iter(self._cache))]
        self._cache[authorization] = verified

    def _check_times(self, verified: _Verified) -> None:
        now = self._clock()
        if verified.exp <= now - self._leeway:
            raise AuthError("token_expired", "the token has expired")
        if verified.nbf > now + self._leeway:
            raise AuthError("token_not_yet_valid", "the token is not valid yet")

    def _decode(self, token: str) -> _Verified:
        if not token or token.count(".") != 2 or " " in token:
            raise AuthError("malformed_token", "the bearer token is not a compact JWT")
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except Exception as exc:
            raise AuthError("malformed_token", "the token header cannot be decoded") from exc
        if not isinstance(alg, str) or alg not in self._keys:
            raise AuthError("algorithm_not_allowed", f"algorithm {alg!r} is not accepted")
        try:
            claims = jwt.decode(
                token,
                self._keys[alg],
                algorithms=[alg],
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                leeway=self._leeway,
                options={"require": self._required},
            )
        except Exception as exc:
            raise _auth_error(exc) from exc
        return _Verified(
            principal=_principal(claims),
            exp=float(claims["exp"]),
            nbf=float(claims.get("nbf", float("-inf"))),
        )


def _auth_error(exc: Exception) -> AuthError:
    for error_type, code in _JWT_ERRORS:
        if isinstance(exc, error_type):
            return AuthError(code, f"the token was refused: {code.replace('_', ' ')}")
    return AuthError("invalid_token", "the token was refused")


def _principal(claims: Mapping[str, Any]) -> Principal:
    sub = claims.get("sub")
    roles = claims.get("roles", [])
    if isinstance(roles, str):
        roles = roles.split()
    if not isinstance(sub, str) or not sub:
        raise AuthError("invalid_claims", "the sub claim must be a non-empty string")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise AuthError("invalid_claims", "the roles claim must be a list of strings")
    return Principal(sub=sub, roles=frozenset(roles), claims=claims)


def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The request's principal (verified once per request), or :class:`AuthError`."""
    scope = connection.scope
    principal = scope.get(_PRINCIPAL_SCOPE_KEY)  # type: ignore[misc]
    if principal is None:
        verifier: TokenVerifier = connection.app.state[VERIFIER_STATE_KEY]
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        principal = verifier.authenticate(authorization)
        scope[_PRINCIPAL_SCOPE_KEY] = principal  # type: ignore[literal-required]
    return principal


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


def require_role(role: str) -> Guard:
    """A guard: 401 without a valid token, 403 ``forbidden`` without ``role``; ``OPTIONS``
    passes (Litestar's own handler, listing the path's methods: a CORS preflight carries no
    credentials)."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if connection.scope.get("method") == "OPTIONS":
            return
        if not authenticate(connection).has_role(role):
            raise ApiError(403, "forbidden", f"the {role!r} role is required")

    return guard


def mint_token(settings: Settings, sub: str, roles: tuple[str, ...] = (), ttl: int = 3600) -> str:
    """A token for ``sub`` with ``roles``, valid ``ttl`` seconds, signed with the HMAC secret.

    Only an HMAC secret can sign here: with a public key alone tokens come from the issuer.
    """
    alg = next((a for a in settings.jwt_algorithms if a in _HMAC_ALGS), None)
    if not settings.jwt_secret or alg is None:
        raise ValueError("minting needs HOT_JWT_SECRET and an HS* algorithm in HOT_JWT_ALGORITHMS")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "roles": list(roles),
        "iat": now,
        "nbf": now,
        "exp": now + int(ttl),
        "jti": secrets.token_hex(8),
    }
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.jwt_secret, algorithm=alg)
