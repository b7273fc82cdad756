"""Audit and outbox rows are built in one place: the unit of work. Checked on the source text of the app."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP_PACKAGES = ("server", "schema", "resolvers", "db", "integrations")
BUILDERS = re.compile(
    r"\b(?:AuditRecord|OutboxMessage)\(|INSERT\s+INTO\s+(?:audit_records|outbox)\b|insert\((?:AuditRecord|OutboxMessage)",
    re.IGNORECASE,
)
HOME = ROOT / "resolvers" / "unit_of_work.py"


def builds_row(line: str) -> bool:
    return bool(BUILDERS.search(line)) and not line.lstrip().startswith(("class ", "#"))


def test_only_the_unit_of_work_builds_audit_and_outbox_rows():
    found = []
    for package in APP_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == HOME:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if builds_row(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_the_check_would_see_a_hand_built_row():
    assert builds_row('session.add(models.AuditRecord(action="x"))')
    assert builds_row("INSERT INTO audit_records (action) VALUES ('x')")
    assert builds_row("    insert into outbox (topic) values ('x')")
    assert not builds_row("class AuditRecord(Node):")
