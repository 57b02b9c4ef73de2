"""`--wait` in a terminal: a live bar fed by the job's events (succeeded, failed,
cancelled and pending children, rate, ETA); Ctrl-C asks whether to cancel the job."""

import logging
from typing import TYPE_CHECKING

from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from api.schemas import BatchParseProgress, JobEntity
from docket.client import Docket, JobEvent

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger(__name__)

COUNTS = (
    "[green]{task.fields[succeeded]} ok[/] [red]{task.fields[failed]} failed[/] "
    "[dim]{task.fields[cancelled]} cancelled[/] [yellow]{task.fields[pending]} pending[/]"
)


class RateColumn(ProgressColumn):
    """Documents finished per second (rich's own speed columns count bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- docs/s" if speed is None else f"{speed:.1f} docs/s", style="blue")


def bar(out: "Console") -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f}"),
        TextColumn(COUNTS),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=out,
    )


class Tracker:
    """Moves the bar as events arrive (from the stream, or polling's status changes)."""

    def __init__(self, progress: Progress, job: JobEntity) -> None:
        self.progress = progress
        total = job.progress.total if job.progress else 1
        self.task = progress.add_task(
            job.id,
            total=total,
            succeeded=0,
            failed=0,
            cancelled=0,
            pending=total,
        )
        self.show(job)

    def __call__(self, event: JobEvent) -> None:
        self.show(event.data if isinstance(event.data, JobEntity | BatchParseProgress) else None)

    def show(self, data: JobEntity | BatchParseProgress | None) -> None:
        counts = data.progress if isinstance(data, JobEntity) else data
        if counts is not None:
            self.update(counts.succeeded, counts.failed, counts.cancelled, counts.pending)
        elif isinstance(data, JobEntity) and data.status.is_terminal:
            ok, failed, cancelled = (
                int(data.status.value == name) for name in ("succeeded", "failed", "cancelled")
            )
            self.update(ok, failed, cancelled, 0)

    def update(self, succeeded: int, failed: int, cancelled: int, pending: int) -> None:
        finished = succeeded + failed + cancelled
        self.progress.update(
            self.task,
            completed=finished,
            succeeded=succeeded,
            failed=failed,
            cancelled=cancelled,
            pending=pending,
        )


def wait_with_bar(
    docket: Docket, job: JobEntity, timeout: float | None, out: "Console"
) -> JobEntity:
    """Wait for `job`, drawing the bar on `out` (a terminal) meanwhile."""
    with bar(out) as progress:
        tracker = Tracker(progress, job)
        final = docket.jobs.wait(job, timeout=timeout, on_event=tracker)
        tracker.show(final)
        return final


def ask_to_cancel(out: "Console", job: JobEntity) -> bool:
    from rich.prompt import Confirm

    question = f"Cancel job {job.id}? (it keeps running otherwise)"
    try:
        return Confirm.ask(question, console=out, default=False)
    except (EOFError, KeyboardInterrupt):
        return False
