"""Unit tests of the pieces without HTTP: coalesced reads, token verification, flags."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hot.settings import Settings
from serving.core.auth import AuthError, TokenVerifier
from serving.domain.feed.services.coalesce import FreshReads
from tests.serving.api_support import token
from tests.serving.test_auth_http import hmac_signed


def test_fresh_reads_never_hand_out_a_read_started_earlier() -> None:
    async def scenario() -> None:
        started = 0
        release = asyncio.Event()

        async def fetch(_: str) -> int:
            nonlocal started
            started += 1
            number = started
            await release.wait()
            return number

        reads = FreshReads(fetch)
        early = asyncio.ensure_future(reads.read("k"))
        await asyncio.sleep(0)
        late = [asyncio.ensure_future(reads.read("k")) for _ in range(10)]
        await asyncio.sleep(0)
        release.set()
        assert await early == 1
        assert await asyncio.gather(*late) == [2] * 10
        assert started == 2

    asyncio.run(scenario())


def test_fresh_reads_propagate_errors_and_recover() -> None:
    async def scenario() -> None:
        calls = 0

        async def fetch(_: str) -> int:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise ConnectionError("down")
            return calls

        reads = FreshReads(fetch)
        with pytest.raises(ConnectionError):
            await reads.read("k")
        assert await reads.read("k") == 2

    asyncio.run(scenario())


def _settings(**changes: object) -> Settings:
    base = Settings(
        data_dir=None,  # type: ignore[arg-type]
        redis_url=None,
        jwt_secret=None,
        jwt_public_key=None,
        jwt_algorithms=("RS256", "ES256"),
        jwt_audience=None,
        jwt_issuer=None,
        jwt_leeway_sec=0,
        creator_cap=2,
        top_n=1000,
        snapshots_retained=5,
        feature_flag_default=False,
        stale_serve_sec=300,
        personal_blend=0.5,
        personal_demote_watched=0.5,
        dev_login=False,
        embed_dim=16,
        embed_every_batches=5,
    )
    return dataclasses.replace(base, **changes)


def test_public_key_only_refuses_hmac_tokens_signed_with_the_public_key() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    verifier = TokenVerifier(_settings(jwt_public_key=pem.decode()))
    assert verifier.verify(token(key=key, alg="RS256")).sub == "u1"
    with pytest.raises(AuthError) as refused:
        verifier.verify(hmac_signed(pem, exp=2**40))
    assert refused.value.code == "algorithm_not_allowed"


def test_a_cached_token_still_expires() -> None:
    now = [time.time()]
    secret = "s" * 40
    verifier = TokenVerifier(
        _settings(jwt_secret=secret, jwt_algorithms=("HS256",)), clock=lambda: now[0]
    )
    value = token(key=secret, ttl=10)
    assert verifier.verify(value).sub == "u1"
    assert verifier.verify(value).sub == "u1"
    now[0] += 11
    with pytest.raises(AuthError) as expired:
        verifier.verify(value)
    assert expired.value.code == "token_expired"
