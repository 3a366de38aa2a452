"""Bearer-JWT authentication over HTTP: every refusal is a 401 with a reason, never a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hot.settings import get_settings
from serving.core.auth import mint_token
from tests.serving.api_support import (
    FLAG_ON,
    SECRET,
    SUITE_TTL,
    bearer,
    publish,
    random_items,
    token,
)
from tests.serving.conftest import AUDIENCE, ISSUER, ApiServer

NOW = int(time.time())  # collection time: only for margins of an hour (parametrize)


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned(alg: str = "none", **claims: Any) -> str:
    """A token with ``alg`` in its header and no signature."""
    payload = {"sub": "u1", "exp": int(time.time()) + SUITE_TTL, **claims}
    return f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(payload)}."


def hmac_signed(key: bytes, **claims: Any) -> str:
    """An HS256 token signed with ``key`` by hand (pyjwt refuses PEM keys as HMAC secrets)."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64({'sub': 'u1', **claims})}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def tampered() -> str:
    header, _, signature = token(sub="u1").split(".")
    return f"{header}.{_b64({'sub': 'admin', 'exp': int(time.time()) + SUITE_TTL})}.{signature}"


@pytest.fixture
def feed(redis_client: redis.Redis) -> str:
    """A published snapshot (so that accepted requests answer 200)."""
    return publish(redis_client, random_items(10, 5, seed=21))


def _refused(server: ApiServer, authorization: str | None, headers: dict | None = None) -> dict:
    request_headers = dict(headers if headers is not None else FLAG_ON)
    if authorization is not None:
        request_headers["Authorization"] = authorization
    with server.client() as client:
        response = client.get("/api/v1/hot", headers=request_headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert set(error) == {"code", "message"}
    return {"code": error["code"], "challenge": response.headers["www-authenticate"]}


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "missing_token"),
        ("", "missing_token"),
        ("Basic dXNlcjpwYXNz", "invalid_scheme"),
        ("Token abc", "invalid_scheme"),
        ("Bearer", "malformed_token"),
        ("Bearer garbage", "malformed_token"),
        ("Bearer a.b.c", "malformed_token"),
        ("Bearer a.b.c.d", "malformed_token"),
        (f"Bearer {unsigned()}", "algorithm_not_allowed"),
        (f"Bearer {unsigned('None')}", "algorithm_not_allowed"),
        (f"Bearer {token(exp=NOW - 3600)}", "token_expired"),
        (f"Bearer {token(nbf=NOW + 3600, ttl=SUITE_TTL)}", "token_not_yet_valid"),
        (f"Bearer {token(key='another-secret-' + 'y' * 32, ttl=SUITE_TTL)}", "invalid_signature"),
        (f"Bearer {tampered()}", "invalid_signature"),
        (f"Bearer {token(exp=None)}", "missing_claim"),
        (f"Bearer {token(sub=None, ttl=SUITE_TTL)}", "missing_claim"),
        (f"Bearer {token(roles=5, ttl=SUITE_TTL)}", "invalid_claims"),
    ],
)
def test_refusals_on_the_hs256_api(
    api: ApiServer, feed: str, authorization: str | None, code: str
) -> None:
    refused = _refused(api, authorization)
    assert refused["code"] == code
    if code not in {"missing_token", "invalid_scheme"}:
        assert 'error="invalid_token"' in refused["challenge"]


def test_an_rs256_token_is_refused_by_an_hs256_only_api(
    api: ApiServer, feed: str, rsa_key: rsa.RSAPrivateKey
) -> None:
    forged = token(key=rsa_key, alg="RS256")
    assert _refused(api, f"Bearer {forged}")["code"] == "algorithm_not_allowed"


def test_auth_is_checked_before_the_flag(api: ApiServer, feed: str) -> None:
    assert _refused(api, None, headers={"X-Feature-Flag": "hot_enabled=0"})["code"] == (
        "missing_token"
    )


def test_leeway_accepts_a_just_expired_token(api: ApiServer, feed: str) -> None:
    with api.client() as client:
        response = client.get(
            "/api/v1/hot", headers={**bearer(token(exp=int(time.time()) - 5)), **FLAG_ON}
        )
    assert response.status_code == 200


def test_minted_tokens_are_accepted(
    api: ApiServer, hot_env: Path, redis_client: redis.Redis
) -> None:
    publish(redis_client, random_items(10, 5, seed=22))
    minted = mint_token(get_settings(), sub="alice", roles=("moderator",), ttl=60)
    claims = jwt.decode(minted, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice"
    assert claims["roles"] == ["moderator"]
    assert claims["exp"] - claims["iat"] == 60
    with api.client() as client:
        response = client.get("/api/v1/hot", headers={**bearer(minted), **FLAG_ON})
    assert response.status_code == 200


def _rs256(rsa_key: rsa.RSAPrivateKey, **claims: Any) -> str:
    return token(key=rsa_key, alg="RS256", **{"aud": AUDIENCE, "iss": ISSUER, **claims})


def test_rs256_with_audience_and_issuer_is_accepted(
    rsa_api: ApiServer, feed: str, rsa_key: rsa.RSAPrivateKey
) -> None:
    with rsa_api.client() as client:
        response = client.get("/api/v1/hot", headers=bearer(_rs256(rsa_key)))
    assert response.status_code == 200
    assert response.json()["snapshotId"] == feed


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"aud": "someone-else"}, "invalid_audience"),
        ({"iss": "https://evil.example"}, "invalid_issuer"),
        ({"aud": None}, "missing_claim"),
        ({"exp": NOW - 3600}, "token_expired"),
    ],
)
def test_rs256_refusals(
    rsa_api: ApiServer, feed: str, rsa_key: rsa.RSAPrivateKey, claims: dict, code: str
) -> None:
    assert _refused(rsa_api, f"Bearer {_rs256(rsa_key, **claims)}", headers={})["code"] == code


def test_rs256_signed_by_another_key_is_refused(rsa_api: ApiServer, feed: str) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert _refused(rsa_api, f"Bearer {_rs256(other)}", headers={})["code"] == ("invalid_signature")


def test_hs_rs_confusion_is_refused(rsa_api: ApiServer, feed: str, public_pem: bytes) -> None:
    forged = hmac_signed(public_pem, aud=AUDIENCE, iss=ISSUER, exp=int(time.time()) + 600)
    assert _refused(rsa_api, f"Bearer {forged}", headers={})["code"] == "invalid_signature"


def test_algorithms_outside_the_allow_list_are_refused(rsa_api: ApiServer, feed: str) -> None:
    es_key = ec.generate_private_key(ec.SECP256R1())
    es256 = token(key=es_key, alg="ES256", aud=AUDIENCE, iss=ISSUER)
    assert _refused(rsa_api, f"Bearer {es256}", headers={})["code"] == "algorithm_not_allowed"
    none = unsigned(aud=AUDIENCE, iss=ISSUER)
    assert _refused(rsa_api, f"Bearer {none}", headers={})["code"] == "algorithm_not_allowed"
