"""What the API relies on inside redis-py beyond its public API, in one place.

redis-py 8.1's asyncio cluster MULTI/EXEC hands each command's routing-only ``keys`` option
to the command's response callback (its other paths drop it first), so e.g. SMEMBERS in a
transaction raises ``TypeError``. There is no public switch for it: every callback of the
client's table is set again, through the public ``set_response_callback``, wrapped to drop
``keys``. The contract test (tests/serving/test_internals_contract.py) says in one line when an
upgrade moves what this relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.asyncio.cluster import RedisCluster


def drop_routing_keys_in_callbacks(client: RedisCluster) -> None:
    """Make the response callbacks of ``client`` ignore the routing-only ``keys`` option
    (the table is the client's own, shared with its nodes)."""
    for command, callback in list(client.response_callbacks.items()):
        client.set_response_callback(command, _ignoring_keys(callback))


def _ignoring_keys(callback: Callable[..., Any]) -> Callable[..., Any]:
    def call(response: Any, **options: Any) -> Any:
        options.pop("keys", None)
        return callback(response, **options)

    return call
