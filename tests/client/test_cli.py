"""The client CLI against the live stack: every command with --json (what scripts read),
exit codes, and the progress bar and Ctrl-C prompt through a real pty."""

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pexpect
import pytest

from docket.cli import build_parser
from docket.client import AsyncDocket
from tests.client.conftest import DOCKET, Creds

NOTES = b"# CLI notes\n\nThe CLI parses markdown.\n"
RUN_SECONDS = 90.0
TERMINAL = {"TERM": "xterm-256color", "COLUMNS": "200", "LINES": "40"}
# Exit codes documented in docket/cli_output.py and the README.
OK, FAILED_JOB, USAGE, NOT_FOUND, CANCELLED_JOB, REJECTED, INTERRUPTED = 0, 1, 2, 3, 5, 6, 130


class Cli:
    """Runs `docket` client commands in this process (a thread, off the loop that serves the
    API), as `docket` parses them, against the live stack's credentials; the pty tests
    below run the real console script."""

    def __init__(self, creds: Creds, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
        for name, value in creds.env().items():
            if name.startswith("DOCKET_"):
                monkeypatch.setenv(name, value)
        monkeypatch.delenv("DOCKET_PROJECT", raising=False)
        self.capsys = capsys

    async def __call__(self, *argv: str) -> tuple[int, str, str]:
        def invoke() -> int:
            try:
                args = build_parser().parse_args(argv)
            except SystemExit as exit:  # argparse: usage errors
                return int(exit.code or 0)
            code: int = args.run(None, args)
            return code

        self.capsys.readouterr()
        code = await asyncio.to_thread(invoke)
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    async def json(self, *argv: str, code: int = OK) -> Any:
        returned, out, err = await self(*argv, "--json")
        assert returned == code, (returned, out, err)
        return json.loads(out)


@pytest.fixture
def cli(creds: Creds, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Cli:
    return Cli(creds, monkeypatch, capsys)


def documents(folder: Path, count: int) -> list[str]:
    names = []
    for i in range(count):
        path = folder / f"doc{i}.md"
        path.write_bytes(NOTES + f"\nDocument {i}.\n".encode())
        names.append(str(path))
    return names


async def test_client_commands_log_no_line_per_http_request(
    cli: Cli, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # A request answered 404 (the project lookup) is a request too.
    code, _, _ = await cli("jobs", "list", "--project", "no-such-project")
    assert code == NOT_FOUND
    assert not [r for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]


async def test_parse_jobs_results_with_json(cli: Cli, tmp_path: Path) -> None:
    one = await cli.json("parse", *documents(tmp_path, 1), "--wait")
    assert one["operation"] == "parse" and one["status"] == "succeeded", one
    project = one["project_id"]

    batch = await cli.json("parse", *documents(tmp_path, 3), "--wait")
    assert batch["operation"] == "batch_parse" and batch["project_id"] == project
    assert (batch["progress"]["total"], batch["progress"]["succeeded"]) == (3, 3)

    listed = await cli.json("jobs", "list", "--operation", "batch_parse")
    assert [job["id"] for job in listed] == [batch["id"]]
    succeeded = await cli.json("jobs", "list", "--status", "succeeded")
    assert len(succeeded) == 5  # the parse, the batch and its 3 children

    got = await cli.json("jobs", "get", batch["id"])
    assert got["id"] == batch["id"] and got["history"], got
    watched_code, watched, _ = await cli("jobs", "watch", one["id"], "--json")
    assert (
        watched_code == OK and json.loads(watched.splitlines()[-1])["data"]["status"] == "succeeded"
    )

    refused = await cli.json("jobs", "cancel", one["id"], code=REJECTED)
    assert refused["meaning"] == "already finished (succeeded)"

    result_id = one["result"]["parse_result_id"]
    result = await cli.json("results", "get", result_id)
    assert result["id"] == result_id and result["chunks"]
    code, markdown, _ = await cli("results", "get", result_id, "--markdown")
    assert code == OK and "The CLI parses markdown." in markdown

    # The same commands for people: tables and plain lines.
    code, table, _ = await cli("jobs", "list")
    assert code == OK and batch["id"] in table and "succeeded" in table
    code, details, _ = await cli("jobs", "get", one["id"])
    assert code == OK and "history" in details and "Job created" in details, details
    code, summary, _ = await cli("results", "get", result_id)
    assert code == OK and "page_count" in summary and result_id in summary
    code, lines, _ = await cli("parse", *documents(tmp_path, 1), "--wait")
    assert code == OK and "succeeded" in lines and "pres_" in lines, lines

    code, _, err = await cli("jobs", "get", "job_" + "0" * 32)
    assert code == NOT_FOUND and "not found" in err
    code, _, err = await cli("results", "get", "pres_nope", "--project", project)
    assert code == NOT_FOUND
    code, _, err = await cli("jobs", "list", "--project", "no-such-project")
    assert code == NOT_FOUND
    code, _, _ = await cli("jobs", "frobnicate")
    assert code == USAGE
    code, _, err = await cli("parse", str(tmp_path / "missing.md"))
    assert code == USAGE and "no such file" in err


async def test_cancel_a_running_job(cli: Cli, tmp_path: Path, big_pdf: bytes) -> None:
    pdf = tmp_path / "big.pdf"
    pdf.write_bytes(big_pdf)
    job = await cli.json("parse", str(pdf), "--project", "cancels")
    answer = await cli.json("jobs", "cancel", job["id"], "--reason", "test")
    assert answer["meaning"].startswith(("cancelled", "cancellation requested")), answer
    code, out, err = await cli("jobs", "watch", job["id"], "--json")
    assert code == CANCELLED_JOB, (out, err)
    assert json.loads(out.splitlines()[-1])["data"]["status"] == "cancelled"


def in_pty(creds: Creds, cwd: Path, args: list[str]) -> pexpect.spawn:
    env = {**creds.env(), **TERMINAL}
    return pexpect.spawn(
        DOCKET[0],
        [*DOCKET[1:], *args],
        env=env,
        cwd=str(cwd),
        encoding="utf-8",
        dimensions=(40, 200),
        timeout=RUN_SECONDS,
    )


async def test_progress_bar_renders_in_a_terminal(creds: Creds, tmp_path: Path) -> None:
    def run() -> tuple[str, int]:
        child = in_pty(creds, tmp_path, ["parse", *documents(tmp_path, 4), "--wait"])
        child.expect(r"docs/s")  # the bar's rate column, drawn while the batch runs
        child.expect(pexpect.EOF)
        child.close()
        return child.before, child.exitstatus

    tail, code = await asyncio.to_thread(run)
    assert code == OK, tail
    assert "4 ok" in tail and "0 pending" in tail, tail
    assert tail.count("pres_") == 4, tail  # the result ids, printed after the bar


@pytest.mark.parametrize("answer", ["y", ""])
async def test_ctrl_c_asks_whether_to_cancel(
    creds: Creds, tmp_path: Path, big_pdf: bytes, answer: str
) -> None:
    pdf = tmp_path / "big.pdf"
    pdf.write_bytes(big_pdf)

    def run() -> tuple[str, str, int]:
        child = in_pty(creds, tmp_path, ["parse", str(pdf), "--wait", "--project", "ctrl-c"])
        child.expect(r"ETA")
        child.sendintr()
        child.expect(r"Cancel job (job_\w+)\?")
        job_id = child.match.group(1)
        child.sendline(answer)
        child.expect(pexpect.EOF)
        child.close()
        return job_id, child.before, child.exitstatus

    job_id, tail, code = await asyncio.to_thread(run)
    assert code == INTERRUPTED, tail
    async with AsyncDocket(creds.url, creds.api_key, creds.account_id) as docket:
        project = next(iter([p async for p in docket.projects.list(name="ctrl-c")]))
        job = await docket.jobs.get(project.id, job_id)
        if answer == "y":
            assert "cancel" in tail, tail
            statuses = {event.status for event in job.history or []}
            assert job.status == "cancelled" or "cancel_requested" in statuses, job
        else:
            assert "keeps running" in tail, tail
            assert not job.status.is_terminal, job  # left running, as the default says
            await docket.jobs.cancel(project.id, job_id)  # not to load the shared worker
