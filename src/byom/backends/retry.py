"""When a failed model call is worth another try, and how long to wait first.

A model endpoint that is restarting, overloaded or behind a busy proxy answers
408, 429, 500, 502, 503 or 504, or refuses the connection for a moment; one more
try a little later usually succeeds. Waits grow exponentially with random jitter,
so that the calls of many queries failing together do not come back together::

    try 1 fails -> wait backoff * [0.5, 1)  -> try 2 fails -> wait 2 * backoff * ...

A ``Retry-After`` header in the answer replaces the computed wait, within
``max_wait``.
"""

from __future__ import annotations

import email.utils
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime

# Statuses that say "not now" rather than "never": a later try may succeed.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# Statuses that prove the endpoint did not act on the request (it timed out
# reading it, or refused it for rate), so even a call with effects may repeat.
NOT_PROCESSED_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How often to try one call and how long to wait between tries.

    ``tries`` counts the first call; 1 means never retry.
    """

    tries: int = 3
    backoff: float = 0.2
    max_wait: float = 5.0

    def wait(self, failed_try: int, retry_after: float | None = None) -> float:
        """Seconds to wait after try number ``failed_try`` (1-based) failed."""
        if retry_after is not None:
            return min(retry_after, self.max_wait)

        ceiling = min(self.backoff * 2.0 ** (failed_try - 1), self.max_wait)
        # Half fixed, half random: waits stay near the schedule but spread out.
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def retryable_status(status: int, repeatable: bool) -> bool:
    """Whether an HTTP status is worth another try.

    A call that must not run twice (``repeatable`` false: a training) is tried
    again only when the endpoint surely did not act on it.
    """
    if repeatable:
        return status in RETRY_STATUSES
    return status in NOT_PROCESSED_STATUSES


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait; None when absent or malformed.

    >>> parse_retry_after("2")
    2.0
    """
    if value is None:
        return None
    text = value.strip()
    seconds: float | None
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until(text, now or datetime.now(UTC))
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _seconds_until(http_date: str, now: datetime) -> float | None:
    # The other form the header may take: an HTTP date.
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
