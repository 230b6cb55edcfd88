"""`contact-gateway`: serve, demo, sync, check-config, print-schema. Thin: parse, build, hand over."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from gateway import logs
from gateway.config import ConfigError, GatewaySettings, load_config

if TYPE_CHECKING:
    from gateway.serving import WorkerPort

EXIT_CONFIG = 2
EXIT_PROBE_FAILED = 3  # like `query`'s partial answer: some backends failed, named on stderr


def _load(path: str, overrides: dict[str, dict[str, Any]] | None = None) -> GatewaySettings:
    from gateway.backends.registry import settings_models

    return load_config(path, settings_models(), overrides=overrides)


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _load(args.file)
    names = ", ".join(f"{n} ({b.vendor})" for n, b in settings.backends.items()) or "none"
    index = settings.index_description()
    if settings.index_url() is not None:
        index += f" ({settings.index.describe_schedule()})"
    print(f"OK: {args.file}: backends {names}; index {index}")
    if not args.probe:
        return 0
    from gateway.probe import probe_backends, probe_table

    results = asyncio.run(probe_backends(settings))
    sys.stdout.write(probe_table(results))
    failed = [r.backend for r in results if not r.ok]
    if failed:
        print(f"probe failed for: {', '.join(failed)}", file=sys.stderr)
        return EXIT_PROBE_FAILED
    return 0


def cmd_print_schema(args: argparse.Namespace) -> int:
    from schema import build_schema

    print(build_schema().as_str())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.app import create_app
    from gateway.serving import WorkerPort, bind, is_loopback, make_server, serve_all

    settings = _load(args.config, {"server": {"workers": args.workers}} if args.workers else None)
    workers = settings.server.workers
    if not settings.auth.api_keys and not is_loopback(args.host):
        print(
            f"WARNING: serving on {args.host} with no auth.api_keys configured: anyone who can"
            " reach this address can read and change contacts.",
            file=sys.stderr,
        )
    if settings.server.cursor_secret is None:
        print(
            "WARNING: server.cursor_secret is not set: paging cursors are signed with a key derived"
            " from the backends' credentials, and stop working when those rotate.",
            file=sys.stderr,
        )
    if workers > 1:
        port = WorkerPort.reserve(args.host, args.port)
        return _serve_workers(args, workers, port, f"http://{args.host}:{port.getsockname()[1]}/graphql")
    sock = bind(args.host, args.port)
    url = f"http://{args.host}:{sock.getsockname()[1]}/graphql"
    server = make_server(create_app(settings), log_level="info")

    def banner() -> None:
        print(f"contact-gateway: serving on {url}", flush=True)

    asyncio.run(serve_all([(server, sock)], on_ready=banner, settle=True))
    return 0


def _serve_workers(args: argparse.Namespace, workers: int, port: WorkerPort, url: str) -> int:
    """Several worker processes on one port, each with a listening socket of its own (WorkerPort),
    sharing the Redis cache; uvicorn's supervisor restarts a worker that dies and stops them all
    on Ctrl-C or SIGTERM."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from gateway.app import CONFIG_ENV, LOG_FORMAT_ENV

    os.environ[CONFIG_ENV] = str(Path(args.config).resolve())
    os.environ[LOG_FORMAT_ENV] = args.log_format
    config = uvicorn.Config(
        "gateway.app:app_from_environment",
        factory=True,
        workers=workers,
        log_config=None,
        log_level="info",
        access_log=False,
        lifespan="on",
    )
    print(f"contact-gateway: serving on {url} with {workers} workers", flush=True)
    supervisor = Multiprocess(config, sockets=[port])
    supervisor.run()
    # A worker that could not start (its reason is on stderr) stopped them all: not a clean exit.
    return 1 if any(worker.exitcode == STARTUP_FAILURE for worker in supervisor.processes) else 0


def cmd_sync(args: argparse.Namespace) -> int:
    from gateway.index_cli import run_sync

    settings = _load(args.config)
    return asyncio.run(run_sync(settings, args.backend, out=sys.stdout, err=sys.stderr))


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.demo import main as demo_main

    demo_main(args.host, args.port, args.contacts)
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from gateway import analyst, tabular
    from schema import build_schema

    def refuse(message: str) -> int:
        print(f"contact-gateway: {message}", file=sys.stderr)
        return analyst.EXIT_BAD_INPUT

    try:
        query = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        return refuse(f"cannot read {args.file}: {exc.strerror or exc}")
    try:
        variables = json.loads(args.variables) if args.variables else None
    except json.JSONDecodeError as exc:
        return refuse(f"--variables is not JSON: {exc.msg}")
    if variables is not None and not isinstance(variables, dict):
        return refuse("--variables must be a JSON object")
    if args.explode and args.format == "json":
        return refuse("--explode lays out csv and table output; JSON keeps the answer's own shape")
    # Checked before any backend is called: a typo costs no vendor calls, and says where it is.
    types = build_schema()._schema
    document, problems = tabular.check_document(types, query)
    for problem in problems:
        code = "GRAPHQL_PARSE_FAILED" if document is None else "GRAPHQL_VALIDATION_FAILED"
        entry = {**problem.formatted, "extensions": {"code": code}}
        print(analyst.describe_error(entry, args.file), file=sys.stderr)
    if problems:
        return analyst.EXIT_BAD_INPUT
    try:
        plan = tabular.plan_table(types, document, args.operation, args.explode) if args.format != "json" else None
    except tabular.TableError as exc:
        return refuse(str(exc))
    if args.config:
        settings, transports = _load(args.config), None
    else:
        from gateway.demo import in_process_demo

        settings, transports = in_process_demo()
        print("(no --config: querying the demo's simulated vendors)", file=sys.stderr)
    result = asyncio.run(
        analyst.run_query(
            settings,
            query,
            variables,
            operation_name=args.operation,
            all_pages=args.all_pages,
            transports=transports,
            progress=sys.stderr,
        )
    )
    for error in result.errors:
        print(analyst.describe_error(error, args.file), file=sys.stderr)
    status = analyst.exit_status(result, allow_partial=args.allow_partial)
    if status == analyst.EXIT_BAD_INPUT:
        return status  # nothing worth writing: the question was wrong
    if status == analyst.EXIT_PARTIAL:
        print(
            f"contact-gateway: partial answer ({len(result.errors)} errors above); exit {status}"
            " (--allow-partial accepts it)",
            file=sys.stderr,
        )
    if plan is None:
        text = orjson.dumps(result.body, option=orjson.OPT_INDENT_2).decode() + "\n"
    else:
        rows = [row for page in result.pages for row in tabular.table_rows(plan, page.get("data"))]
        if args.format == "csv":
            text = tabular.to_csv(plan.columns, rows, bom=args.bom)
        else:
            text = tabular.to_text_table(plan.columns, rows)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return status


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="contact-gateway",
        description="One GraphQL Contact API in front of your contact-center backends.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the gateway with a config file")
    serve.add_argument("--config", required=True, help="the gateway.yaml to use")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-format", choices=["text", "json"], default="text", help="json: one JSON object a line")
    serve.add_argument(
        "--workers",
        type=_positive,
        help="worker processes sharing the port (needs a redis:// cache); overrides server.workers",
    )
    serve.set_defaults(func=cmd_serve)
    demo = sub.add_parser("demo", help="start simulated vendors and the gateway in front of them")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--log-format", choices=["text", "json"], default="text")
    demo.add_argument(
        "--contacts", type=_positive, help="N generated contacts per simulated vendor (people shared across vendors)"
    )
    demo.set_defaults(func=cmd_demo)
    sync = sub.add_parser("sync", help="one full pass of every backend (or one) into the contact index")
    sync.add_argument("--config", required=True, help="the gateway.yaml to use")
    sync.add_argument("--backend", action="append", help="only this backend (repeatable)")
    sync.set_defaults(func=cmd_sync)
    check = sub.add_parser("check-config", help="validate a config file and say what is wrong")
    check.add_argument("file")
    check.add_argument("--probe", action="store_true", help="also call each backend once and print a table")
    check.set_defaults(func=cmd_check_config)
    query = sub.add_parser("query", help="run a .graphql file against the backends, without a server")
    query.add_argument("file", help="the .graphql file to run")
    query.add_argument("--variables", help="variables as a JSON object")
    query.add_argument("--format", choices=["json", "csv", "table"], default="json")
    query.add_argument("--config", help="the gateway.yaml to use (default: the demo's simulated vendors)")
    query.add_argument("--all-pages", action="store_true", help="follow pageInfo.endCursor through $after")
    query.add_argument("--output", "-o", help="write here instead of standard output")
    query.add_argument("--operation", help="the operation to run when the file holds several")
    query.add_argument(
        "--allow-partial", action="store_true", help="exit 0 when some backends failed but others answered"
    )
    query.add_argument(
        "--explode", metavar="FIELD", help="csv/table: one row per item of this list of objects (default: a JSON cell)"
    )
    query.add_argument("--bom", action="store_true", help="csv: start with a UTF-8 byte order mark (for Excel)")
    query.set_defaults(func=cmd_query)
    printer = sub.add_parser("print-schema", help="print the GraphQL SDL")
    printer.set_defaults(func=cmd_print_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(getattr(args, "log_format", "text"))
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print("config refused:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        print(f"contact-gateway: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
