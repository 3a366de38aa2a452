"""Schemathesis against the app's own OpenAPI document: no 5xx, no schema violation."""

from __future__ import annotations

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from hot.local.redis_server import EmbeddedRedis
from tests.serving.api_support import bearer, publish, random_items, token
from tests.serving.conftest import AUDIENCE, ISSUER, ApiServer


@pytest.fixture(scope="module")
def published(rsa_api: ApiServer, redis_server: EmbeddedRedis) -> str:
    """A snapshot published once for the whole run (the flag is on by default there)."""
    return publish(redis.Redis.from_url(redis_server.url), random_items(50, 10, seed=51))


@pytest.fixture(scope="module")
def api_schema(rsa_api: ApiServer, published: str) -> schemathesis.BaseSchema:
    """The schema the server publishes, with the checks' expectations for this API.

    A syntactically valid but unknown ``snapshot`` is 410 (gone), so 410 is an accepted
    answer to valid data.
    """
    config = schemathesis.Config.from_dict(
        {
            "headers": bearer(token(aud=AUDIENCE, iss=ISSUER, ttl=3600)),
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "410"]
                }
            },
        }
    )
    return schemathesis.openapi.from_url(f"{rsa_api.url}/schema/openapi.json", config=config)


def test_api_conforms_to_its_schema(api_schema: schemathesis.BaseSchema) -> None:
    cases = api_schema.as_strategy(GenerationMode.POSITIVE) | api_schema.as_strategy(
        GenerationMode.NEGATIVE
    )

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=cases)
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate()

    run()
