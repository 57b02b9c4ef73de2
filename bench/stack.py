"""A throwaway Docket stack for a benchmark: the real `docket dev` processes on free ports
in a temporary data dir (or, with DATABASE_URL/TEMPORAL_ADDRESS set, real servers)."""

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from docket.devstack import DevStack
from docket.settings import get_settings


@contextlib.contextmanager
def running_stack(**overrides: object) -> Iterator[DevStack]:
    with tempfile.TemporaryDirectory(prefix="docket-bench-") as tmp:
        settings = get_settings(
            data_dir=Path(tmp) / "data",
            api_port=0,
            postgres_port=0,
            temporal_port=0,
            temporal_ui_port=0,
            log_level="WARNING",
            **overrides,
        )
        stack = DevStack(settings)
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()
