"""Model call statistics per predictor, shown as the table ``mindsdb.call_stats``.

Every train and predict call is measured where the backends are called (see
``formats.Backends``): one call is one batch, whatever its HTTP retries. The
HTTP client reports each retry through ``note_retry``, which finds the call
under way in a context variable, so the wire-format code needs no extra
arguments. Figures live in memory and start again at zero when the server
restarts; latency percentiles cover the last ``LATENCY_WINDOW`` calls.

    SELECT name, kind, calls, rows_sent, retries, errors, p50_ms, p99_ms
    FROM mindsdb.call_stats;
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

from byom.catalog.records import Predictor
from byom.errors import ByomError

LATENCY_WINDOW = 1000

CallKind = Literal["train", "predict"]


@dataclass
class _Call:
    retries: int = 0


_CURRENT: ContextVar[_Call | None] = ContextVar("byom_model_call", default=None)


def note_retry() -> None:
    """Count one retry against the model call under way, if one is measured."""
    call = _CURRENT.get()
    if call is not None:
        call.retries += 1


def _window() -> deque[float]:
    return deque(maxlen=LATENCY_WINDOW)


@dataclass
class _Counters:
    name: str
    calls: int = 0
    rows: int = 0
    retries: int = 0
    errors: int = 0
    latencies: deque[float] = field(
        default_factory=lambda: deque(maxlen=LATENCY_WINDOW)
    )


class CallStats:
    """Counters per predictor and kind of call, since the server started."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str, CallKind], _Counters] = {}

    @asynccontextmanager
    async def measure(
        self, predictor: Predictor, kind: CallKind, rows: int
    ) -> AsyncIterator[None]:
        """Measure one call: its latency, retries, and whether it failed.

        A call that fails with an error for the client counts as an error; one
        cancelled by KILL or a closed client is not counted at all, since
        nobody learnt whether the model would have answered.
        """
        call = _Call()
        token = _CURRENT.set(call)
        started = time.monotonic()
        try:
            yield
        except ByomError:
            self._record(predictor, kind, rows, call, True, started)
            raise
        else:
            self._record(predictor, kind, rows, call, False, started)
        finally:
            _CURRENT.reset(token)

    def _record(
        self,
        predictor: Predictor,
        kind: CallKind,
        rows: int,
        call: _Call,
        failed: bool,
        started: float,
    ) -> None:
        key = (predictor.project.lower(), predictor.name.lower(), kind)
        counters = self._counters.setdefault(key, _Counters(predictor.name))
        counters.calls += 1
        counters.rows += rows
        counters.retries += call.retries
        counters.errors += failed
        counters.latencies.append(time.monotonic() - started)

    def forget(self, predictor: Predictor) -> None:
        """Drop a predictor's figures (it was dropped or replaced)."""
        project, name = predictor.project.lower(), predictor.name.lower()
        for key in [k for k in self._counters if k[:2] == (project, name)]:
            del self._counters[key]

    def rows(self) -> list[tuple[Any, ...]]:
        """Rows of ``mindsdb.call_stats``, by predictor name and kind."""
        found = []
        for (_, _, kind), c in sorted(self._counters.items()):
            latencies = sorted(c.latencies)
            found.append(
                (
                    c.name,
                    kind,
                    c.calls,
                    c.rows,
                    c.retries,
                    c.errors,
                    _percentile_ms(latencies, 0.50),
                    _percentile_ms(latencies, 0.99),
                )
            )
        return found


def _percentile_ms(ordered: list[float], share: float) -> float | None:
    # Nearest rank: the smallest latency at or above the share of calls.
    if not ordered:
        return None
    rank = max(1, math.ceil(share * len(ordered)))
    return round(ordered[rank - 1] * 1000, 3)
