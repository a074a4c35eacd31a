"""The ``time_zone`` session variable, with the values real MySQL clients send.

Stock mysql-mimic stores any ``SET time_zone = '...'`` and then fails every later
statement of the connection unless the value is ``UTC`` or ``±HH:MM``. Drivers
and tools send ``SYSTEM`` and named zones (``Europe/Paris``), so byom checks the
value when it is SET (an unknown zone is refused there with MySQL's own error,
1298, and the connection carries on) and resolves names through ``zoneinfo``.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, timedelta, timezone, tzinfo
from functools import lru_cache

from mysql_mimic.errors import MysqlError

UNKNOWN_TIME_ZONE = 1298
SYSTEM = "SYSTEM"

# byom reports system_time_zone as UTC, so SYSTEM means UTC.
_SYSTEM_ZONE = UTC
_OFFSET = re.compile(r"^(?P<sign>[+-])(?P<hours>\d{1,2}):(?P<minutes>\d\d)$")
# MySQL accepts offsets from -13:59 to +14:00.
_LARGEST_OFFSET = timedelta(hours=14)


def checked_time_zone(value: object) -> str:
    """The value to store for ``SET time_zone = value``, or error 1298."""
    text = str(value).strip()
    resolve_time_zone(text)
    return SYSTEM if text.upper() == SYSTEM else text


@lru_cache(maxsize=64)
def resolve_time_zone(name: str) -> tzinfo:
    """The tzinfo a time_zone value stands for: SYSTEM, an offset or a zone name."""
    if name.upper() == SYSTEM:
        return _SYSTEM_ZONE
    if name.upper() == "UTC":
        return UTC

    offset = _OFFSET.match(name)
    if offset is not None:
        return _fixed_offset(name, offset)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _unknown(name) from None


def _fixed_offset(name: str, match: re.Match[str]) -> tzinfo:
    delta = timedelta(hours=int(match["hours"]), minutes=int(match["minutes"]))
    if match["sign"] == "-":
        delta = -delta
    if int(match["minutes"]) > 59 or not -_LARGEST_OFFSET < delta <= _LARGEST_OFFSET:
        raise _unknown(name)
    return timezone(delta)


def _unknown(name: str) -> MysqlError:
    # Mimic's ErrorCode enum lacks 1298; its packets accept any integer code.
    return MysqlError(
        f"Unknown or incorrect time zone: '{name}'",
        UNKNOWN_TIME_ZONE,  # type: ignore[arg-type]
    )
