"""A private asyncio loop on a thread, with one NATS connection, for synchronous callers.

The eventsourcing library is synchronous and calls recorders from many threads;
nats-py is asyncio. A `Runner` owns one daemon thread running one event loop
and one connection (`bus.connection.connect`); `call()` submits a coroutine
with `run_coroutine_threadsafe` and waits for it at most `timeout` seconds, so
many caller threads share one connection and their requests interleave on it.
`close()` closes the connection, cancels calls still in flight (their callers
get `StoreClosed` at once instead of waiting out their timeout), stops the
loop and joins the thread. Calling
`call()` from the loop's own thread would deadlock and raises instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine, TypeVar

from eventsourcing.persistence import ProgrammingError
from nats.aio.client import Client

from bus.connection import connect
from bus.eventstore.errors import StoreClosed, StoreTimeout
from bus.settings import Settings

T = TypeVar("T")


class Runner:
    def __init__(self, url: str, settings: Settings | None = None, *, name: str = "tessera-eventstore",
                 connect_timeout: float = 30.0) -> None:
        self.url = url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=f"{name}-loop", daemon=True)
        self._closed = False
        self._lock = threading.Lock()
        self._thread.start()
        try:
            self.nc: Client = self.call(connect(url, settings or Settings(), name=name), connect_timeout)
        except BaseException:
            self._stop_loop()
            raise

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @property
    def closed(self) -> bool:
        return self._closed

    def call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        if self._closed:
            coro.close()
            raise StoreClosed("the JetStream recorder is closed")
        if threading.current_thread() is self._thread:
            coro.close()
            raise ProgrammingError("a recorder method was called from its own event loop thread")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.CancelledError:
            raise StoreClosed("the JetStream recorder was closed while the call was running") from None
        except concurrent.futures.TimeoutError:
            if future.done():  # the coroutine itself raised TimeoutError
                raise
            future.cancel()
            raise StoreTimeout(f"recorder call did not finish within {timeout:.1f}s") from None

    def spawn(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run `coro` on the loop without waiting (background work such as subscriptions)."""
        if self._closed:
            coro.close()
            raise StoreClosed("the JetStream recorder is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout)
        finally:  # a failing close still stops the loop and its thread
            self._stop_loop()

    async def _shutdown(self) -> None:
        if not self.nc.is_closed:
            await self.nc.close()
        me = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not me]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _stop_loop(self) -> None:
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
