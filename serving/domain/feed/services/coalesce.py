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
    """Runs ``fetch(key)`` at most once at a time per key; concurrent callers share a round.

    Each caller waits on its own future, so a cancelled caller never cancels the others.
    """

    def __init__(self, fetch: Callable[[K], Awaitable[V]]) -> None:
        self._fetch = fetch
        self._running: set[K] = set()
        self._queued: dict[K, list[asyncio.Future[V]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def read(self, key: K) -> asyncio.Future[V]:
        """The result, to await, of a fetch of ``key`` that started after this call.

        A plain method handing back the caller's future: one coroutine less per request on
        the feed's hot path than an ``async def`` awaiting it.
        """
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        if key in self._running:
            self._queued.setdefault(key, []).append(future)
        else:
            self._launch(key, [future])
        return future

    def _launch(self, key: K, waiters: list[asyncio.Future[V]]) -> None:
        self._running.add(key)
        task = asyncio.get_running_loop().create_task(self._run(key, waiters))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: K, waiters: list[asyncio.Future[V]]) -> None:
        try:
            result = await self._fetch(key)
        except asyncio.CancelledError:
            for waiter in waiters:
                waiter.cancel()
            raise
        except Exception as exc:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
        else:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(result)
        finally:
            self._running.discard(key)
            queued = self._queued.pop(key, None)
            if queued:
                if self._closed:
                    for waiter in queued:
                        waiter.cancel()
                else:
                    self._launch(key, queued)

    async def close(self) -> None:
        """Cancel the reads in flight (application shutdown)."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
