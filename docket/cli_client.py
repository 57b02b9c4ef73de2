"""The client sub-commands of `docket` (parse, jobs, results): the SDK driven from a
shell. Exit codes are in docket/cli_output.py; --json prints one JSON document."""

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.enums import JobOperationType, JobStatus
from docket import cli_output as out

if TYPE_CHECKING:
    from docket.client import Docket, JobEntity

log = logging.getLogger(__name__)

PROJECT_VARIABLE = "DOCKET_PROJECT"
DEFAULT_PROJECT = "default"
DEFAULT_LIST_LIMIT = 50
CANCEL_MEANING = {
    JobStatus.CANCELLED: "cancelled",
    JobStatus.PENDING: "cancellation requested",
    JobStatus.RUNNING: "cancellation requested (the job stops at its next unit of work)",
}

Command = Callable[["Docket", argparse.Namespace], int]
# The HTTP client's loggers: a line per request is noise in a shell (DOCKET_LOG_LEVEL=debug
# brings it back).
HTTP_LOGGERS = ("httpx", "httpcore")


def resolve_project(docket: "Docket", given: str | None, create: bool) -> str:
    """The id of the project named or identified by `given` (else DOCKET_PROJECT, else
    "default"); `create` makes a missing one (parse), otherwise it is NotFound."""
    from docket.client import NotFound

    wanted = given or os.environ.get(PROJECT_VARIABLE) or DEFAULT_PROJECT
    if wanted.startswith("proj_"):
        return docket.projects.get(wanted).id
    for project in docket.projects.list(name=wanted):
        if project.name.lower() == wanted.lower():
            return project.id
    if not create:
        raise NotFound(f"404 project {wanted!r} not found")
    return docket.projects.create(wanted).id


def projects_to_search(docket: "Docket", given: str | None) -> Iterator[str]:
    """With --project (or DOCKET_PROJECT): that one; otherwise every project of the account
    (ids are unique across projects, so the first that knows the id is its project)."""
    if given or os.environ.get(PROJECT_VARIABLE):
        yield resolve_project(docket, given, create=False)
        return
    for project in docket.projects.list(include_archived=True):
        yield project.id


def locate(docket: "Docket", given: str | None, fetch: Callable[[str], Any]) -> Any:
    from docket.client import NotFound

    for project_id in projects_to_search(docket, given):
        try:
            return fetch(project_id)
        except NotFound:
            continue
    raise NotFound("404 not found in any project of the account (try --project)")


def cmd_parse(docket: "Docket", args: argparse.Namespace) -> int:
    missing = [name for name in args.files if not Path(name).is_file()]
    if missing:
        out.error(f"no such file: {', '.join(missing)}")
        return out.EXIT_USAGE
    project_id = resolve_project(docket, args.project, create=True)
    ids = [docket.files.upload(project_id, Path(name)).id for name in args.files]
    if len(ids) == 1:
        job = docket.parse.create(project_id, ids[0])
    else:
        job = docket.parse.batch(project_id, ids)
    if not args.wait:
        return report(job, args.json)
    return wait_and_report(docket, job, args)


def wait_and_report(docket: "Docket", job: "JobEntity", args: argparse.Namespace) -> int:
    from docket.cli_progress import ask_to_cancel, wait_with_bar

    terminal = out.console(stderr=True)
    try:
        if terminal.is_terminal and not args.json:
            final = wait_with_bar(docket, job, args.timeout, terminal)
        else:
            final = docket.jobs.wait(job, timeout=args.timeout)
    except KeyboardInterrupt:
        if args.cancel_on_interrupt or (terminal.is_terminal and ask_to_cancel(terminal, job)):
            cancelled = docket.jobs.cancel(job.project_id, job.id, reason="interrupted in CLI")
            terminal.print(f"job {job.id}: {CANCEL_MEANING.get(cancelled.status, 'finished')}")
        else:
            terminal.print(f"job {job.id} keeps running: docket jobs watch {job.id}")
        return out.EXIT_INTERRUPTED
    return report(final, args.json)


def report(job: "JobEntity", as_json: bool) -> int:
    if as_json:
        out.write_json(job)
    else:
        text = out.console()
        text.print(f"job {job.id} {out.status_text(job.status)}")
        if job.error:
            text.print(f"error: {job.error}", markup=False)
        for result_id in out.result_ids(job):
            text.print(result_id, markup=False)
    return out.EXIT_OF_STATUS.get(job.status, out.EXIT_OK)


def cmd_jobs_list(docket: "Docket", args: argparse.Namespace) -> int:
    project_id = resolve_project(docket, args.project, create=False)
    found = docket.jobs.list(project_id, status=args.status, operation=args.operation)
    jobs = list(islice(found, args.limit))
    if args.json:
        out.write_json(jobs)
    else:
        out.job_table(jobs)
    return out.EXIT_OK


def find_job(docket: "Docket", args: argparse.Namespace) -> "JobEntity":
    job: JobEntity = locate(docket, args.project, lambda pid: docket.jobs.get(pid, args.job_id))
    return job


def cmd_jobs_get(docket: "Docket", args: argparse.Namespace) -> int:
    job = find_job(docket, args)
    if args.json:
        out.write_json(job)
    else:
        out.job_details(job)
    return out.EXIT_OK


def cmd_jobs_cancel(docket: "Docket", args: argparse.Namespace) -> int:
    from docket.client import BadRequest

    job = find_job(docket, args)
    try:
        answer = docket.jobs.cancel(job.project_id, job.id, reason=args.reason)
    except BadRequest:
        answer = docket.jobs.get(job.project_id, job.id)
        meaning, code = f"already finished ({answer.status.value})", out.EXIT_REJECTED
    else:
        meaning, code = CANCEL_MEANING.get(answer.status, answer.status.value), out.EXIT_OK
    if args.json:
        out.write_json({"meaning": meaning, "job": answer.model_dump(mode="json")})
    else:
        out.console().print(f"job {answer.id}: {meaning}", markup=False)
    return code


def cmd_jobs_watch(docket: "Docket", args: argparse.Namespace) -> int:
    from docket.client import JobEntity, JobEvent

    job = find_job(docket, args)
    text = out.console()

    def show(event: JobEvent) -> None:
        if args.json:
            payload = {
                "event": event.kind,
                "id": event.id,
                "data": event.data.model_dump(mode="json"),
            }
            out.write_json(payload)
            sys.stdout.flush()
        elif isinstance(event.data, JobEntity):
            text.print(f"status   {out.status_text(event.data.status)}")
        else:
            text.print(f"{event.kind:<8} {event.data.model_dump_json()}", markup=False)

    if job.status.is_terminal:  # nothing more will happen: its final state, once
        show(JobEvent("status", job))
    try:
        final = docket.jobs.wait(job, timeout=args.timeout, on_event=show)
    except KeyboardInterrupt:
        return out.EXIT_INTERRUPTED
    return out.EXIT_OF_STATUS.get(final.status, out.EXIT_OK)


def cmd_results_get(docket: "Docket", args: argparse.Namespace) -> int:
    result = locate(docket, args.project, lambda pid: docket.results.get(pid, args.result_id))
    if args.json:
        out.write_json(result)
    elif args.markdown:
        sys.stdout.write("\n\n".join(chunk.content for chunk in result.chunks) + "\n")
    else:
        out.result_summary(result)
    return out.EXIT_OK


def exit_code_of(err: Exception) -> int:
    """The exit code of an SDK error (the first class in this order that matches)."""
    from docket.client import DocketError, MissingCredentials, NotFound, Unavailable, WaitTimeout

    order: list[tuple[type[Exception], int]] = [
        (MissingCredentials, out.EXIT_USAGE),
        (WaitTimeout, out.EXIT_TIMEOUT),
        (NotFound, out.EXIT_NOT_FOUND),
        (Unavailable, out.EXIT_UNAVAILABLE),
        (DocketError, out.EXIT_REJECTED),
    ]
    return next(code for kind, code in order if isinstance(err, kind))


def run_client(command: Command) -> Callable[[Any, argparse.Namespace], int]:
    """A client command as `docket` runs sub-commands: SDK errors become exit codes."""

    def run(settings: Any, args: argparse.Namespace) -> int:
        from docket.client import Docket, DocketError, MissingCredentials

        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            for name in HTTP_LOGGERS:
                logging.getLogger(name).setLevel(logging.WARNING)
        try:
            with Docket(args.url) as docket:
                return command(docket, args)
        except (MissingCredentials, DocketError) as err:
            out.error(str(err))
            return exit_code_of(err)

    return run


def add_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    common.add_argument("--url", help="API base URL (env DOCKET_API_URL)")
    common.add_argument("--project", help="project name or id (env DOCKET_PROJECT)")
    waits = argparse.ArgumentParser(add_help=False)
    waits.add_argument("--timeout", type=float, help="seconds to wait at most (exit 8 after)")

    parse = sub.add_parser("parse", parents=[common, waits], help="upload and parse files")
    parse.add_argument("files", nargs="+", metavar="FILE")
    parse.add_argument("--wait", action="store_true", help="wait, with a progress bar")
    parse.add_argument(
        "--cancel-on-interrupt", action="store_true", help="Ctrl-C cancels without asking"
    )
    parse.set_defaults(run=run_client(cmd_parse))

    jobs = sub.add_parser("jobs", help="list, inspect, cancel and watch jobs")
    tasks = jobs.add_subparsers(dest="jobs", required=True)
    listed = tasks.add_parser("list", parents=[common], help="jobs of a project, newest first")
    listed.add_argument("--status", choices=[s.value for s in JobStatus])
    listed.add_argument("--operation", choices=[o.value for o in JobOperationType])
    listed.add_argument("--limit", type=int, default=DEFAULT_LIST_LIMIT)
    listed.set_defaults(run=run_client(cmd_jobs_list))
    for name, command, help_text in (
        ("get", cmd_jobs_get, "one job with its history"),
        ("cancel", cmd_jobs_cancel, "cancel a job (prints what the answer means)"),
        ("watch", cmd_jobs_watch, "print the job's events until it ends"),
    ):
        task = tasks.add_parser(name, parents=[common, waits], help=help_text)
        task.add_argument("job_id", metavar="ID")
        task.set_defaults(run=run_client(command))
        if name == "cancel":
            task.add_argument("--reason", help="recorded in the job's history")

    results = sub.add_parser("results", help="parse results")
    result_tasks = results.add_subparsers(dest="results", required=True)
    got = result_tasks.add_parser("get", parents=[common], help="one parse result")
    got.add_argument("result_id", metavar="ID")
    got.add_argument("--markdown", action="store_true", help="print the chunks as markdown")
    got.set_defaults(run=run_client(cmd_results_get))
