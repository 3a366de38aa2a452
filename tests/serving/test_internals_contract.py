"""The contract of the API's one adapter to a dependency's internals.

``serving/core/_redis_internals.py`` re-sets every response callback of a cluster client so that
its MULTI/EXEC path, which hands callbacks the routing-only ``keys`` option, works. When an
upgrade moves the callback table, this fails with one line saying so.
"""

from __future__ import annotations

import pytest
from redis.asyncio.cluster import RedisCluster

from serving.core._redis_internals import drop_routing_keys_in_callbacks

ADAPTER = "serving/core/_redis_internals.py"


def test_a_cluster_client_keeps_its_callbacks_in_a_table_it_lets_us_set() -> None:
    client = RedisCluster.from_url("redis://127.0.0.1:1")  # never connects: no command is sent
    table = getattr(client, "response_callbacks", None)
    if not hasattr(table, "items") or not hasattr(client, "set_response_callback"):
        pytest.fail(f"RedisCluster's response callback table moved: fix {ADAPTER}", pytrace=False)
    if "SMEMBERS" not in table:
        pytest.fail(
            f"RedisCluster has no SMEMBERS callback any more: check {ADAPTER}", pytrace=False
        )


def test_the_adapted_callbacks_take_the_routing_keys_and_parse_as_before() -> None:
    client = RedisCluster.from_url("redis://127.0.0.1:1")
    drop_routing_keys_in_callbacks(client)
    assert client.response_callbacks["SMEMBERS"]([b"a", b"b"], keys=["k"]) == {b"a", b"b"}
