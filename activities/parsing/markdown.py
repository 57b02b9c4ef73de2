"""Small markdown rendering helpers shared by the DOCX and HTML readers."""

from __future__ import annotations

from collections.abc import Sequence


def collapse_whitespace(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    # A pipe or a newline inside a cell would break the table's row/column structure.
    return collapse_whitespace(text).replace("|", "\\|")


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """Render rows as a GitHub-flavoured markdown table; the first row becomes the header.

    Ragged rows (merged or missing cells) are padded so every row has the same column count.
    Returns "" for a table without any text so callers can skip it.
    """
    cleaned = [[_cell(cell) for cell in row] for row in rows if row]
    if not any(cell for row in cleaned for cell in row):
        return ""
    width = max(len(row) for row in cleaned)
    padded = [row + [""] * (width - len(row)) for row in cleaned]
    lines = ["| " + " | ".join(padded[0]) + " |", "|" + " --- |" * width]
    lines.extend("| " + " | ".join(row) + " |" for row in padded[1:])
    return "\n".join(lines)
