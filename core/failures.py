"""Failures recorded in Temporal carry no absolute paths of the machine that raised them.

Temporal keeps every failure (message, stack trace, causes) in the workflow's history, which
the UI, the CLI and anyone with namespace access can read, and the job's error shown to
users is taken from it. Python's stack traces name every frame's file by its absolute path
(the checkout, the virtualenv's site-packages), and an OSError's message names the file it
failed on (the storage directory, a temporary copy). `ScrubbingFailureConverter` is the
SDK's default converter with one more step: every message and stack trace of the failure
and of its causes is scrubbed before it leaves the process:

- a path under an import root (sys.path: the checkout, site-packages, the stdlib) becomes
  the module path relative to it, as it reads in the source tree
  (`activities/parse.py`, `temporalio/worker/_activity.py`);
- any other absolute path of this machine (the storage root, the temp dir, a home
  directory) becomes `…/` and its last component (a blob key, a temporary file's name):
  what it was, not where. Text that only looks like one (`/v1/projects`, whose `/v1` is
  not a directory at this machine's root) and URLs are left alone.

Every client Docket connects (core/temporal.py `connect_config`: the API's, the worker's,
`docket temporal setup`'s) carries `data_converter()`; a worker takes its client's
converter, for activities and, inside the sandbox, for workflows.
"""

import functools
import os
import re
import sys
import sysconfig

import temporalio.api.failure.v1
from temporalio.converter import DataConverter, DefaultFailureConverter, PayloadConverter

# An absolute POSIX path of at least two components, not part of a URL or of a relative
# path (nothing path-like or word-like right before its first slash), or a file:// URL's.
ABSOLUTE_PATH = re.compile(r"(?:(?<=file://)|(?<![\w.~:/@-]))(?:/[\w.@+~=-]+){2,}/?")
REDACTED = "…/"
# sysconfig's install locations that hold importable code or the interpreter's own files.
INSTALL_PATHS = ("stdlib", "platstdlib", "purelib", "platlib", "scripts", "data")


@functools.cache
def top_directories() -> frozenset[str]:
    """The names at this machine's file-system root: a path starting with none of them
    (`/v1/projects` in a message) is not a path of this machine, and is left alone."""
    try:
        return frozenset(os.listdir(os.sep))
    except OSError:
        return frozenset()


@functools.cache
def import_roots() -> tuple[str, ...]:
    """Where this process imports code from, longest first (so a virtualenv's
    site-packages wins over the prefix holding it). Pure string work: it may first run
    inside the workflow sandbox."""
    install = sysconfig.get_paths()
    candidates = [*sys.path, *(install[name] for name in INSTALL_PATHS if name in install)]
    roots = {os.path.normpath(path) for path in candidates if path and os.path.isabs(path)}
    return tuple(sorted((root for root in roots if root != os.sep), key=len, reverse=True))


def _scrub_path(match: re.Match[str]) -> str:
    path = match.group(0)
    if path.split("/", 2)[1] not in top_directories():
        return path
    for root in import_roots():
        if path.startswith(root + os.sep):
            return path[len(root) + 1 :]
    trailing = path.endswith("/")
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return REDACTED + last + ("/" if trailing else "")


def scrub(text: str) -> str:
    """`text` with every absolute path relativised to its import root or redacted."""
    return ABSOLUTE_PATH.sub(_scrub_path, text) if "/" in text else text


def scrub_failure(failure: temporalio.api.failure.v1.Failure) -> None:
    """Scrub a failure and its chain of causes in place."""
    while True:
        failure.message = scrub(failure.message)
        failure.stack_trace = scrub(failure.stack_trace)
        if not failure.HasField("cause"):
            return
        failure = failure.cause


class ScrubbingFailureConverter(DefaultFailureConverter):
    """The SDK's default failure converter, with the paths scrubbed (module docstring)."""

    def to_failure(
        self,
        exception: BaseException,
        payload_converter: PayloadConverter,
        failure: temporalio.api.failure.v1.Failure,
    ) -> None:
        super().to_failure(exception, payload_converter, failure)
        scrub_failure(failure)


def data_converter() -> DataConverter:
    """The SDK's default data converter with the scrubbing failure converter."""
    # Computed here, outside the workflow sandbox (which refuses file-system calls), once
    # for the process.
    top_directories()
    import_roots()
    return DataConverter(failure_converter_class=ScrubbingFailureConverter)
