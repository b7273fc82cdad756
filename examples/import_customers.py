#!/usr/bin/env python3
"""Import customers from a CSV file through the customer-graph API.

    python examples/import_customers.py customers.csv --url http://127.0.0.1:8000/graphql \\
        --email admin@demo.local --password-env CG_PASSWORD

The CSV has a header row with firstName, lastName and optionally email, phone, company (first_name/last_name
and other snake_case spellings are accepted too). Each row is one `createCustomer` call as an ADMIN or SALES user.
Retryable failures (server unreachable, database down, 502/503/504) are retried with backoff; a row the server
refuses (VALIDATION, CONFLICT, ...) is reported with the field and the reason. Exit status: 0 when every row was
imported, 1 when any row failed, 2 when the import could not start (file, sign-in)."""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))
from graphql_client import Client, GraphQLError  # noqa: E402

CREATE_CUSTOMER = """
mutation ImportCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id email }
    errors { code message field retryAfter }
  }
}
"""
COLUMNS = {"firstname": "firstName", "lastname": "lastName", "email": "email", "phone": "phone", "company": "company"}


@dataclass
class Failure:
    line: int
    who: str
    reason: str


def column_name(header: str) -> str | None:
    return COLUMNS.get(re.sub(r"[^a-z]", "", header.lower()))


def read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        mapping = {h: column_name(h) for h in reader.fieldnames or []}
        missing = {"firstName", "lastName"} - set(mapping.values())
        if missing:
            has = ", ".join(reader.fieldnames or [])
            raise ValueError(f"the header row lacks {', '.join(sorted(missing))} (has: {has})")
        rows = []
        for row in reader:
            values = {mapping[k]: (v or "").strip() for k, v in row.items() if k in mapping and mapping[k]}
            # blank optional columns are left out (the server would store them as null anyway)
            rows.append((reader.line_num, {k: v for k, v in values.items() if v or k in ("firstName", "lastName")}))
        return rows


class Progress:
    """A one-line progress bar on a terminal; a line per 10% otherwise (logs, CI)."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out, self.done, self.failed = total, out, 0, 0
        self.tty = out.isatty()
        self.started = time.monotonic()
        self._last_decile = -1

    def step(self, ok: bool) -> None:
        self.done += 1
        self.failed += 0 if ok else 1
        width = 30
        filled = width * self.done // max(self.total, 1)
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
            f" ({self.failed} failed, {rate:.1f} rows/s)"
        )
        if self.tty:
            self.out.write("\r" + line + ("\n" if self.done == self.total else ""))
            self.out.flush()
        else:
            decile = 10 * self.done // max(self.total, 1)
            if decile != self._last_decile or self.done == self.total:
                self._last_decile = decile
                print(line, file=self.out, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", type=Path, help="the CSV file")
    parser.add_argument("--url", default=os.environ.get("CG_URL", "http://127.0.0.1:8000/graphql"))
    parser.add_argument("--email", default=os.environ.get("CG_EMAIL"), help="sign in as (ADMIN or SALES)")
    parser.add_argument("--password-env", default="CG_PASSWORD", help="environment variable holding the password")
    parser.add_argument("--token-env", default="CG_TOKEN", help="or: environment variable holding a bearer token")
    parser.add_argument("--max-attempts", type=int, default=5, help="tries per row for retryable failures")
    args = parser.parse_args(argv)

    try:
        rows = read_rows(args.csv)
    except (OSError, ValueError, csv.Error) as error:
        print(f"import: cannot read {args.csv}: {error}", file=sys.stderr)
        return 2

    client = Client(args.url, token=os.environ.get(args.token_env), max_attempts=args.max_attempts)
    try:
        if not client.token:
            password = os.environ.get(args.password_env)
            if not args.email or not password:
                need = f"--email and the password in ${args.password_env} (or a token in ${args.token_env})"
                print(f"import: give {need}", file=sys.stderr)
                return 2
            try:
                user = client.login(args.email, password)
            except GraphQLError as error:
                print(f"import: sign-in failed: {error}", file=sys.stderr)
                return 2
            print(f"Signed in as {user['email']} ({user['role']}); importing {len(rows)} rows", file=sys.stderr)

        failures: list[Failure] = []
        progress = Progress(len(rows), sys.stderr)
        for line, values in rows:
            who = values.get("email") or f"{values.get('firstName', '')} {values.get('lastName', '')}".strip()
            reason = None
            try:
                data = client.execute(CREATE_CUSTOMER, {"input": values}, retry_payload="createCustomer")
                errors = data["createCustomer"]["errors"]
                if errors:
                    reason = "; ".join(
                        f"{e['code']}" + (f" ({'.'.join(e['field'])})" if e.get("field") else "") + f": {e['message']}"
                        for e in errors
                    )
            except GraphQLError as error:
                reason = str(error)
                if error.code in ("UNAUTHENTICATED", "FORBIDDEN"):
                    failures.append(Failure(line, who, reason))
                    progress.step(False)
                    print(f"import: stopped: {reason}", file=sys.stderr)
                    break
            if reason:
                failures.append(Failure(line, who, reason))
            progress.step(reason is None)
    finally:
        client.close()

    imported = progress.done - len(failures)
    print(f"\nImported {imported} of {len(rows)} customers; {len(failures)} failed; {client.retries} retries.")
    if failures:
        print("Failed rows:")
        for failure in failures:
            print(f"  line {failure.line}: {failure.who}: {failure.reason}")
    not_tried = len(rows) - progress.done
    if not_tried:
        print(f"{not_tried} rows were not tried.")
    return 1 if failures or not_tried else 0


if __name__ == "__main__":
    sys.exit(main())
