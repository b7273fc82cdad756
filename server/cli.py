"""The `customer-graph` command: dev, serve, worker, migrate, seed, create-admin, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

import uvicorn
from alembic import command
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from db.engine import async_url
from schema.root import build_schema
from server import migrate
from server import settings as config
from server.admin import create_admin
from server.app import ConfigError, database_url
from server.documents import register_folder
from server.embedded_pg import EmbeddedUnavailable, load_pgserver
from server.logs import configure_logging
from server.relay import run_worker
from server.retention import run_purge_command
from server.seed import seed_bulk, seed_demo_once
from server.settings import get_settings


class CliError(Exception):
    """What the operator must fix, said in one line."""


def _fail(message: str) -> int:
    print(f"customer-graph: {message}", file=sys.stderr)
    return 2


def _check_url(url: str) -> None:
    """A malformed or non-PostgreSQL DATABASE_URL fails here, in one line, before anything starts."""
    try:
        async_url(url)
    except Exception as error:
        raise CliError(f"DATABASE_URL is not usable: {_first_line(error)}")


def _url_or_embedded() -> str:
    settings = get_settings()
    problems = settings.problems()
    if problems:
        raise CliError("; ".join(problems))
    if settings.database.url:
        _check_url(settings.database.url)
        return settings.database.url
    return database_url(settings)  # starts the embedded cluster


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def cmd_migrate(args: argparse.Namespace) -> int:
    url = _url_or_embedded()
    if args.action == "upgrade":
        migrate.upgrade(url, args.revision or "head")
    elif args.action == "downgrade":
        migrate.downgrade(url, args.revision or "-1")
    else:
        command.current(migrate.alembic_config(url), verbose=False)
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    sdl = build_schema().as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl)
        print(f"wrote {args.output}")
    return 0


def cmd_register_documents(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        raise CliError(f"{folder} is not a directory")
    report = register_folder(_url_or_embedded(), folder)
    for line in report.invalid:
        print(f"not registered: {line}", file=sys.stderr)
    counts = (len(report.registered), len(report.unchanged), len(report.invalid))
    print("{} registered, {} already registered, {} invalid".format(*counts))
    return 1 if report.invalid else 0


def _serve(host: str, port: int, workers: int, reload: bool = False) -> None:
    uvicorn.run(
        "server.app:create_app_from_env",  # an import string: each worker process builds its own app
        factory=True,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        reload=reload,
        log_config=None,
        access_log=False,  # our own request line (server/request_log.py) replaces uvicorn's access log
        proxy_headers=False,  # X-Forwarded-For only from APP_TRUSTED_PROXIES: server/proxies.py
        loop="uvloop",  # both come with uvicorn[standard]; named so a missing one fails loudly, not slowly
        http="httptools",
        ws="websockets-sansio",
    )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    problems = settings.problems()
    if problems:
        return _fail("; ".join(problems))
    if args.workers is None:  # one worker per core; the embedded database serves one process
        args.workers = (os.cpu_count() or 1) if settings.database.url else 1
    if not settings.database.url and args.workers > 1:
        return _fail("--workers > 1 needs DATABASE_URL (the embedded database serves one process)")
    if settings.database.url:
        _check_url(settings.database.url)  # an unreachable database still starts: /ready reports it
    else:
        load_pgserver()  # the embedded database must be installed: say so here, not in a worker's traceback
    _serve(args.host or settings.app.host, args.port or settings.app.port, args.workers)
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    """Embedded PostgreSQL when DATABASE_URL is unset, migrations, demo data once, then serve with GraphiQL."""
    os.environ.setdefault("APP_ENV", "development")
    get_settings.cache_clear()
    settings = get_settings()
    url = _url_or_embedded()
    if not settings.database.url:
        print(f"embedded PostgreSQL running, data in {Path(settings.app.data_dir).resolve() / 'pgdata'}")
        os.environ["DATABASE_URL"] = url  # the server (same process) reuses the running embedded cluster
        get_settings.cache_clear()
    migrate.upgrade(url)
    logins = seed_demo_once(url)
    host, port = args.host or settings.app.host, args.port or settings.app.port
    print(f"\ncustomer-graph: GraphiQL at http://{host}:{port}/graphql")
    if settings.email.backend == "file":
        print(f"Emails (sign-up verification links too) go to {Path(settings.app.data_dir).resolve() / 'mail'}")
    _print_logins(logins)
    print(flush=True)
    if args.no_serve:
        return 0
    _serve(host, port, 1)
    return 0


def _print_logins(logins: list[tuple[str, str, str]]) -> None:
    if logins:
        print("Demo logins (sign in with the `login` mutation):")
        for email, role, password in logins:
            print(f"  {role:<9} {email:<28} password: {password}")
    else:
        print("Users already exist: demo data not loaded (demo logins, if any, are unchanged).")


def cmd_seed(args: argparse.Namespace) -> int:
    if args.customers < 0:
        return _fail("--customers must be a positive number")
    url = _url_or_embedded()
    migrate.upgrade(url)
    if args.customers:
        seed_bulk(url, customers=args.customers, chunk=args.chunk)
    else:
        _print_logins(seed_demo_once(url))
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    return run_purge_command(_url_or_embedded(), older_than=args.older_than, dry_run=args.dry_run)


def cmd_create_admin(args: argparse.Namespace) -> int:
    url = _url_or_embedded()
    if not get_settings().database.url:  # the embedded database is ours to bring to head; a real one is not
        migrate.upgrade(url)
    return create_admin(
        url,
        email=args.email,
        first_name=args.first_name,
        last_name=args.last_name,
        password=args.password,
    )


def cmd_worker(args: argparse.Namespace) -> int:
    """The outbox relay on its own (run any number); stops cleanly on SIGTERM or Ctrl-C."""
    url = _url_or_embedded()
    asyncio.run(run_worker(get_settings(), url, metrics_port=args.metrics_port))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="customer-graph", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="run locally: embedded DB (if DATABASE_URL unset), migrate, demo data, serve")
    dev.add_argument("--host")
    dev.add_argument("--port", type=int)
    dev.add_argument("--no-serve", action="store_true", help="prepare everything, then exit")
    dev.set_defaults(func=cmd_dev)

    serve = sub.add_parser("serve", help="serve with uvicorn")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers", type=int, default=None, help="processes (default: one per core with DATABASE_URL, else 1)"
    )
    serve.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="apply or revert migrations")
    mig.add_argument("action", choices=["upgrade", "downgrade", "current"], nargs="?", default="upgrade")
    mig.add_argument("revision", nargs="?")
    mig.set_defaults(func=cmd_migrate)

    seed = sub.add_parser("seed", help="load demo data, or --customers N generated rows")
    seed.add_argument("--customers", type=int, default=0, help="generate N customers (5 requests, 2 chats each)")
    seed.add_argument("--chunk", type=int, default=10_000, help="customers per transaction with --customers")
    seed.set_defaults(func=cmd_seed)

    admin = sub.add_parser("create-admin", help="create (or reset) an ADMIN user")
    admin.add_argument("--email", required=True)
    admin.add_argument("--first-name", default="Admin")
    admin.add_argument("--last-name", default="User")
    admin.add_argument("--password", help="prompted when omitted")
    admin.set_defaults(func=cmd_create_admin)

    purge = sub.add_parser("purge", help="erase customers archived for longer than a period (GDPR retention)")
    purge.add_argument("--older-than", help="e.g. 365d, 52w, 12h (default: RETENTION_ARCHIVED_DAYS)")
    purge.add_argument("--dry-run", action="store_true", help="only count the customers that are due")
    purge.set_defaults(func=cmd_purge)

    worker = sub.add_parser("worker", help="deliver outbox messages (email); run any number of these")
    worker.add_argument("--metrics-port", type=int, help="serve this process's Prometheus metrics on this port")
    worker.set_defaults(func=cmd_worker)

    docs = sub.add_parser("register-documents", help="register a folder of .graphql files as trusted documents")
    docs.add_argument("folder")
    docs.set_defaults(func=cmd_register_documents)

    export = sub.add_parser("export-schema", help="print or write the GraphQL SDL")
    export.add_argument("output", nargs="?", default="-")
    export.set_defaults(func=cmd_export_schema)
    return parser


def _describe(error: BaseException) -> str:
    """One line for the operator: what is wrong, never a stack trace (and never a password)."""
    if isinstance(error, (CliError, ConfigError, EmbeddedUnavailable)):
        return str(error)
    if isinstance(error, ValidationError):
        prefixes = {
            cls.__name__: str(cls.model_config.get("env_prefix", ""))
            for cls in vars(config).values()
            if isinstance(cls, type) and issubclass(cls, BaseSettings) and cls is not BaseSettings
        }
        first = error.errors()[0]
        name = prefixes.get(error.title, "") + "_".join(str(part) for part in first["loc"])
        return f"invalid setting {name.upper()}: {first['msg']}"
    if isinstance(error, (OSError, TimeoutError)) or type(error).__module__.startswith("asyncpg"):
        return f"cannot reach the database: {type(error).__name__}: {_first_line(error)}"
    return f"{type(error).__name__}: {_first_line(error)}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        configure_logging(get_settings().app.log_level)
        for chatty in ("pgserver", "alembic.runtime.plugins"):  # their INFO lines drown the useful ones
            logging.getLogger(chatty).setLevel(logging.WARNING)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # one line for the operator, no stack trace
        return _fail(_describe(error))


if __name__ == "__main__":
    sys.exit(main())
