"""Every operation in queries/ validates against schema/ (graphql-core)."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = build_schema(
    "\n".join(p.read_text() for p in sorted((ROOT / "schema").glob("*.graphql")))
)
QUERY_FILES = sorted((ROOT / "queries").glob("*.graphql"))
# Fragments may be shared between files, so operations validate as one document.
ALL_OPERATIONS = "\n".join(path.read_text() for path in QUERY_FILES)


def test_there_are_operations() -> None:
    assert len(QUERY_FILES) >= 6


def test_all_operations_validate_together() -> None:
    errors = validate(SCHEMA, parse(ALL_OPERATIONS))
    assert errors == []


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.name)
def test_each_file_parses(path: Path) -> None:
    document = parse(path.read_text())
    assert document.definitions


def test_invalid_operation_is_caught() -> None:
    bad = parse("query { project(name: 1) { noSuchField } }")
    messages = [e.message for e in validate(SCHEMA, bad)]
    assert any("noSuchField" in m for m in messages)
