"""Every `docket ...` command line in the Dockerfile, the compose file and the Kubernetes
manifests parses with the real CLI parser: renaming a subcommand or a flag cannot silently
break a container, a healthcheck or a probe."""

import argparse
import contextlib
import io
import re
import shlex

import pytest

from docket.cli import build_parser
from tests.deploy.manifests import COMPOSE, DEPLOY, docket_commands

COMMANDS = list(docket_commands())

# Commands the docs tell an operator to type: `... exec <pod> -- docket ARGS` and
# `docker compose ... run --rm <docket service> ARGS` (whose entrypoint is docket).
DOC_COMMAND = re.compile(r"(?:-- docket|run --rm (?:migrate|api|worker)) ([^#\n`]+)")


def documented_commands() -> list[tuple[str, list[str]]]:
    found = []
    for path in (DEPLOY / "README.md", COMPOSE):
        for match in DOC_COMMAND.finditer(path.read_text()):
            found.append((path.name, ["docket", *shlex.split(match.group(1))]))
    return found


def parse(argv: list[str]) -> argparse.Namespace:
    assert argv[0] == "docket", argv
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            return build_parser().parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"`{' '.join(argv)}` is not a valid docket command: {stderr.getvalue()}")


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[where for where, _ in COMMANDS])
def test_command_exists_in_the_cli(where: str, argv: list[str]) -> None:
    assert callable(parse(argv).run)


def test_commands_in_the_docs_exist_too() -> None:
    documented = documented_commands()
    assert documented, "the README's examples were not found"
    for _, argv in documented:
        parse(argv)


def test_every_production_process_is_deployed() -> None:
    used = {argv[1] for _, argv in COMMANDS}
    assert {"api", "worker", "migrate", "health"} <= used, used


def test_a_bad_command_fails_the_check() -> None:
    with pytest.raises(pytest.fail.Exception, match="not a valid docket command"):
        parse(["docket", "health", "--workers"])
