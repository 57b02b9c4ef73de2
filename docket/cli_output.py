"""How the client sub-commands answer a shell: exit codes, JSON lines for scripts, rich
tables for people."""

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from core.enums import JobStatus

if TYPE_CHECKING:
    from rich.console import Console

    from api.schemas import JobEntity, ParseResult

# Exit codes (README, "SDK and CLI quick start"); argparse itself exits 2 on bad usage.
EXIT_OK = 0  # done; for a waited job: it succeeded
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_JOB_PARTIAL = 4  # a batch where some documents failed or were cancelled
EXIT_JOB_CANCELLED = 5
EXIT_REJECTED = 6  # the server refused the request (400, 401, 403, 409, 413, 422, 507)
EXIT_UNAVAILABLE = 7  # the server could not be reached, or kept answering 503
EXIT_TIMEOUT = 8  # --timeout passed before the job ended
EXIT_INTERRUPTED = 130  # Ctrl-C (the shell convention, 128 + SIGINT)

EXIT_OF_STATUS = {
    JobStatus.SUCCEEDED: EXIT_OK,
    JobStatus.FAILED: EXIT_JOB_FAILED,
    JobStatus.PARTIALLY_SUCCEEDED: EXIT_JOB_PARTIAL,
    JobStatus.CANCELLED: EXIT_JOB_CANCELLED,
}
STATUS_STYLE = {
    JobStatus.PENDING: "yellow",
    JobStatus.RUNNING: "cyan",
    JobStatus.SUCCEEDED: "green",
    JobStatus.PARTIALLY_SUCCEEDED: "magenta",
    JobStatus.FAILED: "red",
    JobStatus.CANCELLED: "dim",
}
# The width of tables written into a pipe or a file (a terminal gives its own).
PIPED_WIDTH = 160
JOB_COLUMNS = ("id", "operation", "status", "created_at", "completed_at", "error")
# What a job table leaves out first when the terminal is too narrow for all of it.
NARROW_DROPS = ("error", "completed_at", "created_at", "operation", "status")
# What rich's default table adds per column: a border and a space either side.
TABLE_CELL_PADDING = 3


def console(stderr: bool = False) -> "Console":
    from rich.console import Console

    found = Console(stderr=stderr, highlight=False)
    if not found.is_terminal and "COLUMNS" not in os.environ:
        found.width = PIPED_WIDTH  # rich's 80 columns would cut a table of ids and times
    return found


def write_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    """One JSON document on stdout (models as their wire JSON)."""
    if isinstance(value, BaseModel):
        data: Any = value.model_dump(mode="json")
    elif isinstance(value, dict):
        data = value
    else:
        data = [item.model_dump(mode="json") for item in value]
    sys.stdout.write(json.dumps(data) + "\n")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat(timespec="seconds"))
    return str(value)


def status_text(status: JobStatus) -> str:
    return f"[{STATUS_STYLE[status]}]{status.value}[/]"


def job_table(jobs: Iterable["JobEntity"]) -> None:
    from rich.table import Column, Table

    rows = []
    for job in jobs:
        row = {column: cell(getattr(job, column)) for column in JOB_COLUMNS}
        rows.append((row, status_text(job.status)))
    out = console()
    shown = fitting_columns([row for row, _ in rows], out.width)
    # Ids, statuses and times are what a reader copies or compares: never cut or wrapped
    # (columns that do not fit are left out instead); the error text wraps.
    table = Table(*(Column(name, no_wrap=name != "error") for name in shown))
    for row, status in rows:
        table.add_row(*(status if name == "status" else row[name] for name in shown))
    out.print(table)


def fitting_columns(rows: list[dict[str, str]], width: int) -> list[str]:
    """JOB_COLUMNS less the ones NARROW_DROPS names first, until a table of `rows` fits
    `width` (the id column always stays)."""
    shown = list(JOB_COLUMNS)

    def needed() -> int:
        widths = [
            max([len(name), *(len(row[name]) for row in rows)]) if name != "error" else len(name)
            for name in shown
        ]
        return sum(widths) + TABLE_CELL_PADDING * len(shown) + 1

    for name in NARROW_DROPS:
        if needed() <= width:
            break
        shown.remove(name)
    return shown


def job_details(job: "JobEntity") -> None:
    from rich.table import Table

    out = console()
    facts = Table.grid(padding=(0, 2))
    for name in ("id", "project_id", "operation", "source_id", "created_at", "started_at"):
        facts.add_row(name, cell(getattr(job, name)))
    facts.add_row("completed_at", cell(job.completed_at))
    facts.add_row("status", status_text(job.status))
    for name in ("result", "error"):
        if getattr(job, name) is not None:
            facts.add_row(name, cell(getattr(job, name)))
    if job.progress is not None:
        p = job.progress
        counts = f"{p.succeeded} succeeded, {p.failed} failed, {p.cancelled} cancelled"
        facts.add_row("progress", f"{counts}, {p.pending} pending of {p.total}")
    out.print(facts)
    history = Table("timestamp", "step", "status", "details", title="history")
    for event in job.history or []:
        details = json.dumps(event.details) if event.details else ""
        history.add_row(cell(event.timestamp), event.step, cell(event.status), details)
    out.print(history)


def result_ids(job: "JobEntity") -> list[str]:
    """The parse results a finished parse, rechunk or batch produced."""
    if job.progress is not None:
        return [c.parse_result_id for c in job.progress.child_jobs if c.parse_result_id]
    found = (job.result or {}).get("parse_result_id")
    return [str(found)] if found else []


def result_summary(result: "ParseResult") -> None:
    from rich.table import Table

    facts = Table.grid(padding=(0, 2))
    for name in ("id", "source_document_id", "job_id", "engine", "created_at", "page_count"):
        facts.add_row(name, cell(getattr(result, name)))
    facts.add_row("chunks", str(len(result.chunks)))
    console().print(facts)


def error(message: str) -> None:
    from rich.markup import escape

    console(stderr=True).print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
