"""The feature flag and the query parameters over HTTP."""

from __future__ import annotations

import pytest
import redis

from tests.serving.api_support import FLAG_ON, SUITE_TTL, bearer, publish, random_items, token
from tests.serving.conftest import AUDIENCE, ISSUER, ApiServer

AUTH = bearer(token(ttl=SUITE_TTL))


@pytest.fixture
def feed(redis_client: redis.Redis) -> str:
    """A published snapshot."""
    return publish(redis_client, random_items(12, 6, seed=31))


@pytest.mark.parametrize(
    ("flags", "status"),
    [
        (["hot_enabled=1"], 200),
        (["other=0, hot_enabled = 1"], 200),
        (["hot_enabled=0,hot_enabled=1"], 200),
        (["hot_enabled=1", "beta=1"], 200),
        (["hot_enabled=0"], 404),
        (["hot_enabled=1,hot_enabled=0"], 404),
        ([""], 404),
        (["hot_enabled"], 404),
        (["hot_enabled=true"], 404),
        (["hot_enabled=yes"], 404),
        (["=1"], 404),
        (["other=1"], 404),
        ([",,;;%%"], 404),
        ([], 404),
    ],
)
def test_feature_flag(api: ApiServer, feed: str, flags: list[str], status: int) -> None:
    headers = [("Authorization", AUTH["Authorization"])]
    headers += [("X-Feature-Flag", value) for value in flags]
    with api.client() as client:
        response = client.get("/api/v1/hot", headers=headers)
    assert response.status_code == status
    if status == 404:
        assert response.json()["error"]["code"] == "feature_disabled"


def test_absent_flag_follows_the_server_default(rsa_api: ApiServer, feed: str) -> None:
    auth = bearer(token(aud=AUDIENCE, iss=ISSUER))
    with rsa_api.client() as client:
        absent = client.get("/api/v1/hot", headers=auth)
        off = client.get("/api/v1/hot", headers={**auth, "X-Feature-Flag": "hot_enabled=0"})
    assert absent.status_code == 200
    assert off.status_code == 404


BAD_PARAMS = [
    ("limit=abc", "limit"),
    ("limit=-1", "limit"),
    ("limit=0", "limit"),
    ("limit=101", "limit"),
    ("limit=99999999999999999999999", "limit"),
    ("limit=", "limit"),
    ("limit=1.5", "limit"),
    ("limit=%2B5", "limit"),
    ("limit=%205", "limit"),
    ("limit=1&limit=2", "limit"),
    ("offset=-1", "offset"),
    ("offset=10000", "offset"),
    ("offset=x", "offset"),
    ("offset=1e3", "offset"),
    ("offset=123456789012345678901234567890", "offset"),
    ("offset=0&offset=0", "offset"),
    ("type=foo", "type"),
    ("type=", "type"),
    ("type=GLOBAL", "type"),
    ("type=global&type=personal", "type"),
    ("snapshot=", "snapshot"),
    ("snapshot=bad%20id", "snapshot"),
    ("snapshot=" + "a" * 200, "snapshot"),
    ("snapshot=a&snapshot=b", "snapshot"),
]


@pytest.mark.parametrize(("query", "param"), BAD_PARAMS)
def test_bad_parameters_are_400_naming_the_parameter(
    api: ApiServer, feed: str, query: str, param: str
) -> None:
    with api.client() as client:
        response = client.get(f"/api/v1/hot?{query}", headers={**AUTH, **FLAG_ON})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == f"invalid_{param}"
    assert error["param"] == param
    assert param in error["message"]


@pytest.mark.parametrize(
    "query", ["limit=1", "limit=100", "offset=0", "offset=9999", "limit=007", "unknown=1"]
)
def test_boundary_parameters_are_accepted(api: ApiServer, feed: str, query: str) -> None:
    with api.client() as client:
        response = client.get(f"/api/v1/hot?{query}", headers={**AUTH, **FLAG_ON})
    assert response.status_code == 200
    body = response.json()
    assert len(body["items"]) <= body["paging"]["limit"]
