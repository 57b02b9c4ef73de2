"""Replay recorded event histories against the current workflow code: the deploy gate for
workflow changes.

A history recorded by an earlier version stands for an execution that may still be open
when a new worker version takes over. If today's code would issue different commands for
the same events, the new worker cannot continue it (nondeterminism). Replaying needs no
server: the Replayer feeds the stored events to the workflow code and compares commands.
The files come from `tests/replay/record.py`.
"""

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, WorkflowRunner

from core.settings import get_settings
from docket.worker import build_worker
from tests.replay.record import HISTORIES
from tests.replay.scenarios import SCENARIOS
from workflows.registry import default_registry

FILES = sorted(HISTORIES.glob("*.json"))
WORKFLOWS = default_registry().workflows()


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def workflow_type(path: Path) -> str:
    first = json.loads(path.read_text())["events"][0]
    name: str = first["workflowExecutionStartedEventAttributes"]["workflowType"]["name"]
    return name


@pytest.fixture(scope="module")
async def production_runner(time_skipping_env: WorkflowEnvironment) -> WorkflowRunner:
    """The sandbox configuration production workers run with (its passthrough modules
    change what the sandbox re-imports), read from the worker `build_worker` makes. Building
    a Worker needs a connected client; it is never started, so nothing polls."""
    worker = build_worker(time_skipping_env.client, get_settings(), activities=[])
    runner: WorkflowRunner = worker.config()["workflow_runner"]
    return runner


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_history_replays_on_current_code(
    path: Path, production_runner: WorkflowRunner
) -> None:
    replayer = Replayer(workflows=list(WORKFLOWS), workflow_runner=production_runner)
    history = load(path)
    # Raises temporalio.workflow.NondeterminismError (or the task's failure) on a mismatch.
    await replayer.replay_workflow(history)


def test_every_workflow_type_has_histories() -> None:
    """A new workflow type must come with recorded histories, or its changes go unchecked."""
    recorded = {workflow_type(path) for path in FILES}
    registered = {getattr(wf, "__temporal_workflow_definition").name for wf in WORKFLOWS}
    assert registered <= recorded, f"no history recorded for {sorted(registered - recorded)}"


def test_every_scenario_has_its_history() -> None:
    """Deleting (instead of keeping) an old history silently weakens the gate."""
    stems = {path.stem for path in FILES}
    missing = [name for name in SCENARIOS if not any(s.startswith(name) for s in stems)]
    assert not missing, f"run `python -m tests.replay.record {' '.join(missing)}`"
