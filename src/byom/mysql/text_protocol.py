"""Whether the statement being answered sends its rows in MySQL's text protocol.

A COM_QUERY answer is written as text: every cell is the bytes of its printed
value. A prepared statement's answer (COM_STMT_EXECUTE) is binary: cells are
typed numbers and structs, encoded from Python values. A source that reads
MySQL's own text protocol can hand its cells on untouched when the answer goes
out as text, which saves parsing each value and printing it again, and gives
the client the source's own spelling of every value. Only the command loop
knows which protocol an answer uses, so it marks the text one here, and the
session asks when it starts a query.

>>> rows_in_text()
False
>>> with answering_in_text():
...     rows_in_text()
True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Per task: each connection runs in its own asyncio task, so one connection's
# COM_QUERY never marks another's prepared statement.
_TEXT = ContextVar("byom_text_protocol", default=False)


@contextmanager
def answering_in_text() -> Iterator[None]:
    """Mark the statement started inside as answered in the text protocol."""
    token = _TEXT.set(True)
    try:
        yield
    finally:
        _TEXT.reset(token)


def rows_in_text() -> bool:
    """Whether the statement being started sends its rows as text."""
    return _TEXT.get()
