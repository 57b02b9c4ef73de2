"""deploy/Dockerfile, read statically (no Docker engine here): the shape the issue asks for
(multi-stage, slim, venv only, non-root, `docket` entrypoint) and that it copies every
package the wheel needs, so a new top-level package cannot be left out of the image."""

import fnmatch
import tomllib
from pathlib import Path

from tests.deploy.manifests import (
    DEPLOY,
    dockerfile_env,
    dockerfile_stages,
    exec_form,
    runtime_stage,
)

ROOT = DEPLOY.parent
VENV = "/opt/docket"


def copied_sources(instructions: list[str]) -> list[str]:
    sources = []
    for rest in instructions:
        parts = [p for p in rest.split() if not p.startswith("--")]
        sources.extend(parts[:-1])
    return sources


def wheel_packages() -> set[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return {pattern.rstrip("*") for pattern in include}


def test_two_stages_on_the_same_slim_python() -> None:
    stages = dockerfile_stages()
    assert [s.name for s in stages] == ["build", "runtime"]
    text = (DEPLOY / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    # The venv's scripts point at the base image's interpreter: both stages must share it.
    assert {s.args("FROM")[0].split()[0] for s in stages} == {"${PYTHON_IMAGE}"}


def test_build_stage_copies_every_package_of_the_wheel() -> None:
    sources = copied_sources(dockerfile_stages()[0].args("COPY"))
    missing = wheel_packages() - set(sources)
    assert not missing, (
        f"the wheel includes {sorted(missing)} but the Dockerfile does not COPY them"
    )
    assert {"pyproject.toml", "README.md"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"


def test_dockerignore_keeps_what_the_build_copies() -> None:
    patterns = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for source in copied_sources(dockerfile_stages()[0].args("COPY")):
        hits = [p for p in patterns if fnmatch.fnmatch(source, p)]
        assert not hits, f"{source} is COPYed but excluded from the context by {hits}"


def test_runtime_stage_holds_only_the_venv_and_runs_unprivileged() -> None:
    runtime = runtime_stage()
    copies = runtime.args("COPY")
    assert copies == [f"--from=build {VENV} {VENV}"], copies
    for command in runtime.args("RUN"):
        for tool in ("apt-get", "pip ", "gcc", "build-essential"):
            assert tool not in command, f"runtime stage installs build tooling: {command}"
    user = runtime.args("USER")[-1].split(":")[0]
    assert user not in ("", "0", "root"), f"runs as {user!r}"
    assert exec_form(runtime.args("ENTRYPOINT")[-1]) == ["docket"]
    assert exec_form(runtime.args("CMD")[-1]) == ["api"]


def test_runtime_environment_suits_a_container() -> None:
    env = dockerfile_env(runtime_stage())
    assert env["PATH"].startswith(f"{VENV}/bin:")
    assert env["DOCKET_API_HOST"] == "0.0.0.0"  # 127.0.0.1 is unreachable from outside
    data_dir = Path(env["DOCKET_DATA_DIR"])
    health_file = Path(env["DOCKET_WORKER_HEALTH_FILE"])
    assert data_dir not in health_file.parents, "the health file must not be on shared storage"


def test_the_parser_reads_continuations_and_inner_comments() -> None:
    stages = dockerfile_stages(
        'FROM base AS one\nRUN a \\\n  # note\n  && b\nFROM one AS two\nCMD ["x"]\n'
    )
    assert [s.name for s in stages] == ["one", "two"]
    assert [kw for kw, _ in stages[0].instructions] == ["FROM", "RUN"]
    assert stages[0].args("RUN")[0].split() == ["a", "&&", "b"]
    assert exec_form(stages[1].args("CMD")[0]) == ["x"]
