"""Coalescing concurrent reads without serving anything older than the caller.

A caller joins the *next* read of its key, never one already in flight (which may have
been sent before the caller's own request arrived): so every result reflects the store as
of some moment after the call began (read-your-writes for e.g. a takedown), yet under load
all callers arriving during one round trip share the following one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class FreshReads(Generic[K, V]):
    """Runs ``fetch(key)`` at most once at a time per key; concurrent callers share a round."""

    def __init__(self, fetch: Callable[[K], Awaitable[V]]) -> None:
        self._fetch = fetch
        self._running: set[K] = set()
        self._queued: dict[K, asyncio.Future[V]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def read(self, key: K) -> V:
        """The result of a fetch of ``key`` that started after this call."""
        loop = asyncio.get_running_loop()
        if key in self._running:
            future = self._queued.get(key)
            if future is None:
                future = self._queued[key] = loop.create_future()
        else:
            future = loop.create_future()
            self._launch(key, future)
        return await asyncio.shield(future)

    def _launch(self, key: K, future: asyncio.Future[V]) -> None:
        self._running.add(key)
        task = asyncio.get_running_loop().create_task(self._run(key, future))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: K, future: asyncio.Future[V]) -> None:
        try:
            result = await self._fetch(key)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: the waiters may all have gone
        else:
            future.set_result(result)
        finally:
            self._running.discard(key)
            queued = self._queued.pop(key, None)
            if queued is not None:
                if self._closed:
                    queued.cancel()
                else:
                    self._launch(key, queued)

    async def close(self) -> None:
        """Cancel the reads in flight (application shutdown)."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
