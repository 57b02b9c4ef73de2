"""The job kernel's registry: every operation Docket runs, with its workflow and how the
workflow's input is built. The API's create and cancel paths, the reconciler and the worker
read it; adding an operation adds an entry here (plus its workflow, activities and router)
and no line in the cancel path, the reconciler or the state machine.

What stays generic, for every entry: the job row and its history (db/jobs.py), the state
machine (db/transitions.py), the result fence (db/results.py), `progress` (counted from the
job's children, whatever the operation), cancel (api/cancel.py) and idempotency.

Not imported by workflow code: starting is I/O (workflows/client.py).
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from core.contracts import BatchInput, JobInput
from core.enums import JobOperationType
from core.settings import Settings
from workflows.batch import BatchParseWorkflow
from workflows.chunk import ChunkWorkflow
from workflows.parse import ParseWorkflow
from workflows.vector_store import IndexResultWorkflow, VectorStoreWorkflow


def single_job_input(settings: Settings, job_id: str) -> JobInput:
    return JobInput(job_id=job_id, heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds)


def batch_input(settings: Settings, job_id: str) -> BatchInput:
    return BatchInput(
        job_id=job_id,
        heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds,
        max_concurrency=settings.batch_max_concurrency,
        children_per_run=settings.batch_children_per_run,
    )


@dataclass(frozen=True)
class Operation:
    """One operation of the kernel.

    `workflow`: the `@workflow.defn` class (workflow id = job id); `run`: its `@workflow.run`
    method; `make_input`: the workflow's input from the settings and the job id (parameters
    live on the job row, so inputs stay tiny). `child_workflows`: workflows it starts as
    children, registered on the worker with it.
    """

    operation: JobOperationType
    workflow: type
    run: Callable[..., Any]
    make_input: Callable[[Settings, str], object]
    child_workflows: tuple[type, ...] = ()


class UnsupportedOperation(LookupError):
    """An operation in the contract's enum that Docket does not run (yet)."""


class Registry:
    def __init__(self, operations: Iterable[Operation]) -> None:
        self._by_operation = {op.operation: op for op in operations}

    def __getitem__(self, operation: JobOperationType) -> Operation:
        try:
            return self._by_operation[operation]
        except KeyError:
            raise UnsupportedOperation(f"Docket does not run {operation} jobs") from None

    def __iter__(self) -> Iterator[Operation]:
        return iter(self._by_operation.values())

    def __contains__(self, operation: object) -> bool:
        return operation in self._by_operation

    def with_operation(self, operation: Operation) -> "Registry":
        """A copy with one more (or a replaced) operation: how tests plug one in."""
        return Registry([*self, operation])

    def workflows(self) -> list[type]:
        """Every workflow class to register on a worker, once each."""
        found: dict[str, type] = {}
        for op in self:
            for cls in (op.workflow, *op.child_workflows):
                found.setdefault(cls.__qualname__, cls)
        return list(found.values())


def default_registry() -> Registry:
    return Registry(
        [
            Operation(JobOperationType.PARSE, ParseWorkflow, ParseWorkflow.run, single_job_input),
            Operation(
                JobOperationType.BATCH_PARSE,
                BatchParseWorkflow,
                BatchParseWorkflow.run,
                batch_input,
                child_workflows=(ParseWorkflow, IndexResultWorkflow),
            ),
            Operation(JobOperationType.CHUNK, ChunkWorkflow, ChunkWorkflow.run, single_job_input),
            Operation(
                JobOperationType.VECTOR_STORE,
                VectorStoreWorkflow,
                VectorStoreWorkflow.run,
                batch_input,
                child_workflows=(IndexResultWorkflow,),
            ),
        ]
    )
