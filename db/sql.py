"""Small helpers for passing values to SQL statements."""

import json
from typing import Any


def dumps(value: Any) -> str | None:
    """A value as a `$n::jsonb` parameter (None stays SQL NULL)."""
    return None if value is None else json.dumps(value)


def quoted(items: list[str]) -> str:
    """Constant text values (enum members, never user input) as a SQL list: 'a', 'b'."""
    return ", ".join("'" + item.replace("'", "''") + "'" for item in items)
