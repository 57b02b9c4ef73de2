"""The `docket` command. Subcommands import what they run lazily, so `docket --help` stays
fast and the core does not depend on the layers above it at import time."""

import argparse
import asyncio
import gc
import json
import logging
import signal
import sys
from collections.abc import Sequence

from core.settings import Settings, get_settings

log = logging.getLogger("docket")


def configure_logging(settings: Settings) -> None:
    # Text by default; DOCKET_LOG_FORMAT=json for one JSON object per line (core/logs.py).
    from core import logs

    logs.configure(settings.log_level, settings.log_format)


def cmd_dev(settings: Settings, args: argparse.Namespace) -> int:
    """Run the dev stack until SIGINT/SIGTERM/SIGHUP (then stop it in order: API and worker,
    Temporal, Postgres), or until a process dies beyond what supervision restarts."""
    from docket.devstack import DevStack, StartupError
    from docket.supervise import STOP_SIGNALS

    stack = DevStack(settings)
    previous = {sig: signal.signal(sig, stack.request_stop) for sig in STOP_SIGNALS}
    try:
        stack.start()
        ui = stack.temporal.ui_url if stack.temporal else None
        # The API key only goes to the terminal banner, not to logs that may be collected.
        log.info("ready: api=%s docs=%s/docs temporal_ui=%s", stack.api_url, stack.api_url, ui)
        log.info(
            "account %s; credentials in %s", stack.credentials["account_id"], stack.credentials_path
        )
        sys.stdout.write(stack.banner())
        sys.stdout.flush()
        return stack.wait()
    except (RuntimeError, OSError) as exc:
        if stack.stop_requested:  # a signal during startup: not an error
            log.info("interrupted during startup; stopping")
            return 0
        log.error("docket dev failed: %s", exc)
        return exc.code if isinstance(exc, StartupError) else 1
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    config = uvicorn.Config(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        # Keep the logging configured above (text or JSON) for uvicorn's own loggers too.
        log_config=None,
        timeout_graceful_shutdown=int(settings.worker_graceful_shutdown_seconds),
    )
    server = uvicorn.Server(config)
    # uvicorn drains on SIGINT and SIGTERM only; a hangup gets the same graceful shutdown
    # (its handler stays installed, so the signal uvicorn re-raises on exit is harmless).
    signal.signal(signal.SIGHUP, server.handle_exit)
    server.run()
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from docket.worker import run_worker

    asyncio.run(run_worker(settings))
    return 0


def cmd_health(settings: Settings, args: argparse.Namespace) -> int:
    """An exec probe: exit 0 if the worker's heartbeat file is fresh, 1 if not."""
    from docket import health

    healthy, reason = health.check(settings.worker_health_path, args.max_age)
    sys.stdout.write(f"worker {'healthy' if healthy else 'unhealthy'}: {reason}\n")
    return 0 if healthy else 1


async def _with_connection(settings: Settings, action: str, account: str | None) -> object:
    import asyncpg

    from db.accounts import create_key
    from db.migrate import migrate
    from db.pool import SERVER_SETTINGS, require_database_url

    conn = await asyncpg.connect(require_database_url(settings), server_settings=SERVER_SETTINGS)
    try:
        if action == "migrate":
            return await migrate(conn)
        assert account is not None
        return await create_key(conn, account)
    finally:
        await conn.close()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    applied = asyncio.run(_with_connection(settings, "migrate", None))
    log.info("migrations applied: %s", applied or "none (up to date)")
    return 0


def cmd_keys_create(settings: Settings, args: argparse.Namespace) -> int:
    from db.accounts import CreatedKey

    created = asyncio.run(_with_connection(settings, "key", args.account))
    assert isinstance(created, CreatedKey)
    if args.json:
        sys.stdout.write(
            json.dumps(
                {
                    "account_id": created.account_id,
                    "api_key": created.api_key,
                    "key_id": created.key_id,
                }
            )
            + "\n"
        )
    else:
        sys.stdout.write(
            f"account_id: {created.account_id}\nkey_id:     {created.key_id}\n"
            f"api_key:    {created.api_key}\n(the key is shown once; only its hash is stored)\n"
        )
    return 0


def cmd_temporal_setup(settings: Settings, args: argparse.Namespace) -> int:
    """Register Docket's search attributes on the configured cluster (idempotent)."""
    from core.temporal import connect
    from docket.visibility import register_search_attributes

    async def setup() -> None:
        client = await connect(settings)
        await register_search_attributes(client, settings.temporal_namespace)
        # Drop the client while the loop still runs: its Rust core released during
        # interpreter shutdown could abort the process (PyGILState_Release).
        del client
        gc.collect()
        await asyncio.sleep(0)

    asyncio.run(setup())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="docket", description=__doc__)
    parser.add_argument("--data-dir", help="data directory (env DOCKET_DATA_DIR)")
    parser.add_argument("--api-port", type=int, help="API port (env DOCKET_API_PORT)")
    parser.add_argument("--api-host", help="API bind address (env DOCKET_API_HOST)")
    parser.add_argument("--log-level", help="log level (env DOCKET_LOG_LEVEL)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="run everything on embedded defaults").set_defaults(run=cmd_dev)
    sub.add_parser("api", help="run the HTTP API").set_defaults(run=cmd_api)
    sub.add_parser("worker", help="run a Temporal worker").set_defaults(run=cmd_worker)
    from docket.health import BEAT_INTERVAL_SECONDS, DEFAULT_MAX_AGE_SECONDS

    health = sub.add_parser("health", help="probe a process's health (exit 0 healthy, 1 not)")
    health.add_argument(
        "--worker", action="store_true", required=True, help="the worker on this host/container"
    )
    health.add_argument(
        "--max-age",
        type=float,
        default=DEFAULT_MAX_AGE_SECONDS,
        help=f"seconds a heartbeat stays fresh (default {DEFAULT_MAX_AGE_SECONDS:g}; "
        f"the worker beats every {BEAT_INTERVAL_SECONDS:g})",
    )
    health.set_defaults(run=cmd_health)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)
    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(dest="keys", required=True)
    create = keys.add_parser("create", help="create an API key (printed once)")
    create.add_argument("--account", required=True, help="account name (created if new)")
    create.add_argument("--json", action="store_true", help="print one JSON line")
    create.set_defaults(run=cmd_keys_create)
    temporal = sub.add_parser("temporal", help="Temporal cluster tasks")
    tasks = temporal.add_subparsers(dest="temporal", required=True)
    setup = tasks.add_parser(
        "setup", help="register Docket's search attributes in TEMPORAL_NAMESPACE (idempotent)"
    )
    setup.set_defaults(run=cmd_temporal_setup)
    from docket.cli_client import add_commands

    add_commands(sub)  # parse, jobs, results: the SDK from a shell (docket/cli_client.py)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {
        key: value
        for key, value in {
            "data_dir": args.data_dir,
            "api_port": args.api_port,
            "api_host": args.api_host,
            "log_level": args.log_level,
        }.items()
        if value is not None
    }
    settings = get_settings(**overrides)
    configure_logging(settings)
    result: int = args.run(settings, args)
    return result
