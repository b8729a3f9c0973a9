"""Our operations use only what public evidence shows of W&B's schema.

``evidence/wandb_schema.json`` holds, per type and field, what the public
sources show (weave's ``wb_schema.gql``, the official SDK 0.31's generated
models, the Go core's generated client, the operations both SDKs send). Every
field and argument an operation in ``queries/`` uses must be shown by one of
them, or be marked under ``unconfirmed`` with the client's fallback; and
``schema/`` must declare every type a source declares in full, and the
nullability a typed client shows.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLNonNull,
    GraphQLSchema,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_schema,
    parse,
    visit,
)

ROOT = Path(__file__).resolve().parents[2]
EVIDENCE_FILE = Path(__file__).with_name("evidence") / "wandb_schema.json"
EVIDENCE: dict[str, Any] = json.loads(EVIDENCE_FILE.read_text())
SCHEMA = build_schema((ROOT / "schema" / "schema.graphql").read_text())


def operations() -> DocumentNode:
    texts = [p.read_text() for p in sorted((ROOT / "queries").glob("*.graphql"))]
    return parse("\n".join(texts))


class _Uses(Visitor):
    """Records each ``Type.field`` and argument in use, by operation."""

    def __init__(self, info: TypeInfo) -> None:
        super().__init__()
        self.info = info
        self.where = "?"
        self.uses: list[tuple[str, str, list[str]]] = []

    def enter_operation_definition(
        self, node: OperationDefinitionNode, *_: Any
    ) -> None:
        self.where = node.name.value if node.name else "anonymous operation"

    def enter_fragment_definition(self, node: FragmentDefinitionNode, *_: Any) -> None:
        self.where = f"fragment {node.name.value}"

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        parent = self.info.get_parent_type()
        if parent is None or node.name.value.startswith("__"):
            return
        arguments = [a.name.value for a in node.arguments or ()]
        self.uses.append((self.where, f"{parent.name}.{node.name.value}", arguments))


def unshown_uses(
    document: DocumentNode, schema: GraphQLSchema, evidence: dict[str, Any]
) -> list[str]:
    """One line per field or argument in use that no source shows and no
    ``unconfirmed`` entry marks."""
    info = TypeInfo(schema)
    uses = _Uses(info)
    visit(document, TypeInfoVisitor(info, uses))
    problems = []
    for where, field, arguments in uses.uses:
        if field in evidence["unconfirmed"]:
            continue
        type_name, name = field.split(".")
        shown = evidence["types"].get(type_name, {}).get(name)
        if not shown or not shown["sources"]:
            problems.append(
                f"{where}: {field} is shown by no source; add its evidence to "
                f"{EVIDENCE_FILE.name} or mark it under 'unconfirmed' with its fallback"
            )
            continue
        for argument in arguments:
            if argument not in shown.get("args", {}):
                problems.append(f"{where}: {field}({argument}:) is shown by no source")
    return problems


def schema_departures(schema: GraphQLSchema, evidence: dict[str, Any]) -> list[str]:
    """Where ``schema`` lacks a type, field or argument the evidence lists, or
    declares a type, nullability or argument type other than a source shows."""
    problems = []
    for type_name, fields in evidence["types"].items():
        ours = schema.get_type(type_name)
        if ours is None:
            problems.append(f"type {type_name} is missing (W&B's name)")
            continue
        for name, shown in fields.items():
            field = ours.fields.get(name)  # type: ignore[union-attr]
            where = f"{type_name}.{name}"
            if field is None:
                problems.append(f"{where} is missing")
                continue
            if "type" in shown and str(field.type) != shown["type"]:
                problems.append(f"{where}: ours {field.type}, W&B {shown['type']}")
            nullable = not isinstance(field.type, GraphQLNonNull)
            if shown.get("nullable", nullable) != nullable:
                want = "nullable" if shown["nullable"] else "non-null"
                problems.append(f"{where}: ours {field.type}, W&B's is {want}")
            for arg, arg_type in shown.get("args", {}).items():
                mine = field.args.get(arg)
                if mine is None:
                    problems.append(f"{where}({arg}:) is missing")
                elif arg_type is not None and str(mine.type) != arg_type:
                    problems.append(
                        f"{where}({arg}:): ours {mine.type}, W&B {arg_type}"
                    )
    return problems


def test_every_field_and_argument_our_operations_use_is_shown() -> None:
    assert unshown_uses(operations(), SCHEMA, EVIDENCE) == []


def test_schema_declares_what_the_sources_declare() -> None:
    assert schema_departures(SCHEMA, EVIDENCE) == []


def test_a_new_operation_selecting_an_unshown_field_fails_unless_marked() -> None:
    document = parse(
        'query NewOne { project(name: "p") { run(name: "r") { fileCount '
        'history(samples: 5, pattern: "x") } } }'
    )
    problems = unshown_uses(document, SCHEMA, EVIDENCE)
    assert problems == [
        "NewOne: Run.fileCount is shown by no source; add its evidence to "
        "wandb_schema.json or mark it under 'unconfirmed' with its fallback",
        "NewOne: Run.history(pattern:) is shown by no source",
    ]
    marked = copy.deepcopy(EVIDENCE)
    marked["unconfirmed"]["Run.fileCount"] = "dropped when W&B refuses it"
    marked["types"]["Run"]["history"]["args"]["pattern"] = None
    assert unshown_uses(document, SCHEMA, marked) == []


def test_a_departure_from_a_declared_type_is_reported() -> None:
    text = (ROOT / "schema" / "schema.graphql").read_text()
    for before, after in [
        ('createdAt: DateTime!\n  "When the', 'createdAt: DateTime\n  "When the'),
        ("type ParquetHistory {", "type RunParquetHistory {"),
        ("): ParquetHistory!", "): RunParquetHistory!"),
        ("  method: String!\n", "  method: String\n"),
    ]:
        assert before in text
        text = text.replace(before, after)
    departed = build_schema(text)
    assert sorted(schema_departures(departed, EVIDENCE)) == [
        "Project.createdAt: ours DateTime, W&B DateTime!",
        "Run.parquetHistory: ours RunParquetHistory!, W&B ParquetHistory!",
        "Sweep.method: ours String, W&B's is non-null",
        "type ParquetHistory is missing (W&B's name)",
    ]


def test_every_entry_names_known_sources_and_fields() -> None:
    sources = set(EVIDENCE["sources"])
    for type_name, fields in EVIDENCE["types"].items():
        for name, shown in fields.items():
            assert set(shown["sources"]) <= sources, (type_name, name)
            assert shown["sources"], f"{type_name}.{name} names no source"
    for section in ("unconfirmed", "weak_types"):
        for field, fallback in EVIDENCE[section].items():
            type_name, name = field.split(".")
            assert name in SCHEMA.get_type(type_name).fields  # type: ignore[union-attr]
            assert len(fallback) > 20, f"{field}: say what the client does"


@pytest.mark.parametrize("field", sorted(EVIDENCE["weak_types"]))
def test_weak_types_are_shown_to_exist(field: str) -> None:
    type_name, name = field.split(".")
    assert EVIDENCE["types"][type_name][name]["sources"]
    assert "type" not in EVIDENCE["types"][type_name][name]
