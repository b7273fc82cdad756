"""The `customer-graph` command: dev, serve, migrate, seed, create-admin, export-schema."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from server.settings import get_settings


def _fail(message: str) -> int:
    print(f"customer-graph: {message}", file=sys.stderr)
    return 2


def _url_or_embedded() -> str:
    from server.app import ConfigError, database_url

    settings = get_settings()
    problems = settings.problems()
    if problems:
        raise ConfigError("; ".join(problems))
    return database_url(settings)


def cmd_migrate(args: argparse.Namespace) -> int:
    from server import migrate

    url = _url_or_embedded()
    if args.action == "upgrade":
        migrate.upgrade(url, args.revision or "head")
    elif args.action == "downgrade":
        migrate.downgrade(url, args.revision or "-1")
    else:
        from alembic import command

        command.current(migrate.alembic_config(url), verbose=False)
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from schema.root import build_schema

    sdl = build_schema().as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl)
        print(f"wrote {args.output}")
    return 0


def _serve(host: str, port: int, workers: int, reload: bool = False) -> None:
    import uvicorn

    uvicorn.run(
        "server.main:app",
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        reload=reload,
        log_config=None,
        proxy_headers=True,
        ws="websockets-sansio",
    )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    problems = settings.problems()
    if problems:
        return _fail("; ".join(problems))
    if not settings.database.url and args.workers > 1:
        return _fail("--workers > 1 needs DATABASE_URL (the embedded database serves one process)")
    _serve(args.host or settings.app.host, args.port or settings.app.port, args.workers)
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    """Embedded PostgreSQL when DATABASE_URL is unset, migrations, demo data once, then serve with GraphiQL."""
    from server import migrate
    from server.seed import seed_demo_once

    settings = get_settings()
    os.environ.setdefault("APP_ENV", "development")
    url = _url_or_embedded()
    if not settings.database.url:
        os.environ["DATABASE_URL"] = url  # the server process reuses the running embedded cluster
        get_settings.cache_clear()
    migrate.upgrade(url)
    logins = seed_demo_once(url)
    host, port = args.host or settings.app.host, args.port or settings.app.port
    print(f"\ncustomer-graph is starting: GraphiQL at http://{host}:{port}/graphql")
    if logins:
        print("Demo logins (password for all: see below):")
        for email, role, password in logins:
            print(f"  {role:<9} {email:<32} {password}")
    print(flush=True)
    if args.no_serve:
        return 0
    _serve(host, port, 1)
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from server import migrate
    from server.seed import seed_bulk, seed_demo_once

    url = _url_or_embedded()
    migrate.upgrade(url)
    if args.customers:
        seed_bulk(url, customers=args.customers)
    else:
        seed_demo_once(url)
    return 0


def cmd_create_admin(args: argparse.Namespace) -> int:
    from server.admin import create_admin

    return create_admin(
        _url_or_embedded(),
        email=args.email,
        first_name=args.first_name,
        last_name=args.last_name,
        password=args.password,
    )


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
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="apply or revert migrations")
    mig.add_argument("action", choices=["upgrade", "downgrade", "current"], nargs="?", default="upgrade")
    mig.add_argument("revision", nargs="?")
    mig.set_defaults(func=cmd_migrate)

    seed = sub.add_parser("seed", help="load demo data, or --customers N generated rows")
    seed.add_argument("--customers", type=int, default=0)
    seed.set_defaults(func=cmd_seed)

    admin = sub.add_parser("create-admin", help="create (or reset) an ADMIN user")
    admin.add_argument("--email", required=True)
    admin.add_argument("--first-name", default="Admin")
    admin.add_argument("--last-name", default="User")
    admin.add_argument("--password", help="prompted when omitted")
    admin.set_defaults(func=cmd_create_admin)

    export = sub.add_parser("export-schema", help="print or write the GraphQL SDL")
    export.add_argument("output", nargs="?", default="-")
    export.set_defaults(func=cmd_export_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from server.logs import configure_logging

    configure_logging(get_settings().app.log_level)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # one line for the operator, no stack trace
        from server.app import ConfigError

        if isinstance(error, ConfigError):
            return _fail(str(error))
        first = str(error).splitlines()[0] if str(error) else ""
        return _fail(f"{type(error).__name__}: {first}")


if __name__ == "__main__":
    sys.exit(main())
