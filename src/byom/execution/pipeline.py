"""Ordered, bounded concurrency over a stream of batches.

``ordered_map`` keeps up to ``limit`` calls in flight and yields their results in
input order, so the rows of a join come back in the order the source gave them
while several model calls overlap. Inputs are read by a task of their own, so the
next source batch is fetched while the client is still being sent the last one,
and the first result goes out as soon as it is ready rather than once ``limit``
calls have started. A call's slot is given back only when its result has been
taken, which carries back-pressure from the client to the model and the source.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

# Put on the queue by the reader when it stops, whatever the reason.
_END = None


async def ordered_map(
    items: AsyncIterator[In],
    call: Callable[[In], Awaitable[Out]],
    limit: int,
) -> AsyncGenerator[Out]:
    """Yield call(item) for each item, in order, with at most limit in flight.

    If the consumer stops early, a call fails or reading fails, the reader and
    every call still in flight are cancelled and the input iterator is closed.
    """
    slots = asyncio.Semaphore(limit)
    started: asyncio.Queue[asyncio.Future[Out] | None] = asyncio.Queue()
    running: set[asyncio.Future[Out]] = set()
    grew = asyncio.Event()

    async def read() -> None:
        try:
            while True:
                await slots.acquire()
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    return
                future = asyncio.ensure_future(call(item))
                running.add(future)
                grew.set()
                started.put_nowait(future)
        finally:
            started.put_nowait(_END)

    reader = asyncio.ensure_future(read())
    head: asyncio.Future[Out] | None = None
    try:
        while (head := await started.get()) is not None:
            await _first_failure_or(head, running, grew)
            running.discard(head)
            slots.release()
            yield head.result()
        # Raises what stopped the reader, if it was not the end of the input.
        await reader
    finally:
        await _stop(reader, head, started)
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()


async def _first_failure_or(
    head: asyncio.Future[Out], running: set[asyncio.Future[Out]], grew: asyncio.Event
) -> None:
    # Wait for head, but fail as soon as any call in flight fails: a user
    # should not wait for a slow batch to learn that a later one broke. Calls
    # started meanwhile are watched too (grew wakes the wait).
    while not head.done():
        grew.clear()
        woken: asyncio.Future[Any] = asyncio.ensure_future(grew.wait())
        watched: set[asyncio.Future[Any]] = {*running, woken}
        try:
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
        for future in running:
            if future.done() and not future.cancelled() and future.exception():
                future.result()


async def _stop(
    reader: asyncio.Future[None],
    head: asyncio.Future[Out] | None,
    started: asyncio.Queue[asyncio.Future[Out] | None],
) -> None:
    reader.cancel()
    pending: list[asyncio.Future[Any]] = [reader]
    if head is not None:
        head.cancel()
        pending.append(head)
    while not started.empty():
        future = started.get_nowait()
        if future is not None:
            future.cancel()
            pending.append(future)
    await asyncio.gather(*pending, return_exceptions=True)
