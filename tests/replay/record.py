"""Record the event histories that `test_replay.py` replays against the current workflow code.

    .venv/bin/python -m tests.replay.record            # every scenario
    .venv/bin/python -m tests.replay.record NAME ...   # only these

Each scenario runs the real workflows on the time-skipping test server, on a worker built
by `docket.worker.build_worker` (the production worker options), with the activities mocked
by name by the same fakes the workflow tests use. It then saves the execution's history as
`histories/<scenario>.json` (`WorkflowHistory.to_json()`, indented for review).

Record a new history whenever a workflow gains a code path, and keep the old files: they
stand for executions that may still be open in production when the next version deploys.
Never re-record a file to make a failing replay pass — that hides exactly the
nondeterminism the test exists to catch (see deploy/README.md, "Versioning workflows").
"""

import asyncio
import json
import os
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from docket.embedded import temporal_test_server_path
from tests.replay.scenarios import SCENARIOS

HISTORIES = Path(__file__).parent / "histories"


async def record(names: list[str]) -> list[Path]:
    HISTORIES.mkdir(exist_ok=True)
    written = []
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path()
    )
    try:
        for name in names:
            for file_stem, handle in await SCENARIOS[name](env, name):
                history = await handle.fetch_history()
                path = HISTORIES / f"{file_stem}.json"
                path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
                written.append(path)
    finally:
        await env.shutdown()
    return written


def main(argv: list[str]) -> int:
    unknown = set(argv) - set(SCENARIOS)
    if unknown:
        sys.stderr.write(f"unknown scenarios {sorted(unknown)}; known: {sorted(SCENARIOS)}\n")
        return 2
    for path in asyncio.run(record(argv or list(SCENARIOS))):
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the Temporal runtime's Rust threads can abort a finalizing
    # interpreter ("PyGILState_Release ... must be current", temporalio/sdk-python#300),
    # which would turn a successful recording into exit code 134.
    os._exit(code)
