"""Long statements are read in a worker thread, so that one client cannot stall others.

Every connection is served by the one event loop, and sqlglot tokenizes, parses
and evaluates in pure Python at about 4-9 µs per character of SQL: a generated
600 KB ``IN (...)`` list took 2 s to parse, and ``SELECT 1+1+...`` with 20,000
terms 4 s to evaluate, while no other connection got an answer. Work on a
statement of ``LONG_STATEMENT`` characters or more (cutting it into statements,
its USING clause, parsing it, evaluating it when it reads no table) therefore
runs in a thread; the loop goes on serving the others, the GIL switching between
them every few milliseconds. Shorter statements stay on the loop, where they
take under about 35 ms and the hop to a thread would cost more than it saves.

A thread cannot be interrupted: KILL QUERY answers at once, but the parse it
interrupted runs to its end in the background, its result unused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Characters. Measured: about 15-35 ms of parsing at this size, 0.1-0.3 ms for
# the hop to a thread and back.
LONG_STATEMENT = 4096


async def run_off_loop(sql: str, work: Callable[..., T], *args: object) -> T:
    """``work(*args)``, in a worker thread when sql is a long statement."""
    if len(sql) < LONG_STATEMENT:
        return work(*args)
    return await asyncio.to_thread(work, *args)
