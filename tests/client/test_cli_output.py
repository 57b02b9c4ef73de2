"""The job table a person reads: whatever the terminal's width, every id shows whole (the
columns that do not fit are left out, widest need first), and a wide terminal shows all."""

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from core.enums import JobStatus
from docket.cli_output import JOB_COLUMNS, job_table

WHEN = datetime(2026, 12, 3, 14, 31, 12, tzinfo=UTC)


def job(number: int) -> Any:
    return SimpleNamespace(
        id=f"job_{number:032x}",
        operation="batch_parse",
        status=JobStatus.PARTIALLY_SUCCEEDED,
        created_at=WHEN,
        completed_at=WHEN,
        error="1 of 3 documents failed",
    )


def header(out: str) -> list[str]:
    line = next(line for line in out.splitlines() if " id " in line)
    return [name for name in JOB_COLUMNS if f" {name} " in line]


@pytest.mark.parametrize("columns", [60, 80, 100, 120])
def test_a_narrow_terminal_shows_every_id_whole(
    columns: int, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    jobs = [job(n) for n in range(3)]
    job_table(jobs)
    out = capsys.readouterr().out
    assert all(j.id in out for j in jobs), out
    assert max(len(line) for line in out.splitlines()) <= columns
    assert header(out)[0] == "id" and "…" not in out


def test_a_wide_terminal_shows_every_column(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    job_table([job(1)])
    out = capsys.readouterr().out
    assert header(out) == list(JOB_COLUMNS)
    assert "2026-12-03T14:31:12+00:00" in out and "partially_succeeded" in out
