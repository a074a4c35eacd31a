"""The character sets and collations byom reports (SHOW CHARSET, SHOW COLLATION).

Only the character sets a client can usefully choose for text from byom are
listed, each with the collations mysql-mimic knows for it; descriptions and
lengths are MySQL 8's own.
"""

from __future__ import annotations

from mysql_mimic.charset import CharacterSet, Collation

from byom.types import SqlType

CHARSET_COLUMNS = [
    ("Charset", SqlType.VAR_STRING),
    ("Description", SqlType.VAR_STRING),
    ("Default collation", SqlType.VAR_STRING),
    ("Maxlen", SqlType.LONGLONG),
]
COLLATION_COLUMNS = [
    ("Collation", SqlType.VAR_STRING),
    ("Charset", SqlType.VAR_STRING),
    ("Id", SqlType.LONGLONG),
    ("Default", SqlType.VAR_STRING),
    ("Compiled", SqlType.VAR_STRING),
    ("Sortlen", SqlType.LONGLONG),
    ("Pad_attribute", SqlType.VAR_STRING),
]

# name: (description, bytes per character at most)
_CHARSETS = {
    "ascii": ("US ASCII", 1),
    "binary": ("Binary pseudo charset", 1),
    "latin1": ("cp1252 West European", 1),
    "utf8mb4": ("UTF-8 Unicode", 4),
}


def charset_rows() -> list[tuple[str, str, str, int]]:
    """One SHOW CHARACTER SET row per character set, by name."""
    return [
        (name, description, CharacterSet[name].default_collation.name, length)
        for name, (description, length) in sorted(_CHARSETS.items())
    ]


def collation_rows() -> list[tuple[str, str, int, str, str, int, str]]:
    """One SHOW COLLATION row per collation of the listed character sets."""
    rows = []
    for collation in Collation:
        charset = collation.charset
        if charset.name not in _CHARSETS:
            continue
        default = "Yes" if charset.default_collation is collation else ""
        rows.append(
            (
                collation.name,
                charset.name,
                int(collation.value),
                default,
                "Yes",
                _sort_length(collation.name),
                "NO PAD" if _no_pad(collation.name) else "PAD SPACE",
            )
        )
    return sorted(rows)


def _sort_length(name: str) -> int:
    if "_0900_" in name:
        return 0
    return 8 if "unicode" in name else 1


def _no_pad(name: str) -> bool:
    return "_0900_" in name or name == "binary"
