"""Putting byom's versions in place of mysql-mimic's methods, in one way.

Most fixes over mysql-mimic replace a method of one of its classes at start-up
(``compat.apply``). Assigning to a method is what mypy rightly flags in normal
code; doing it through this one function says the replacement is deliberate and
keeps every such swap easy to find.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def replace_methods(owner: type, **methods: Callable[..., Any]) -> None:
    """Set each keyword's function as the method of that name on owner.

    >>> replace_methods(Connection, handle_query=_handle_query)
    """
    for name, function in methods.items():
        setattr(owner, name, function)
