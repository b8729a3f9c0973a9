"""``runs-client schema-check``: do the operations we send still fit the server?

The operations (``runs_gql/graphql/*.graphql``, shipped in the wheel) are
checked against the schema a server reports by introspection (or an SDL file)
for compatibility, not equality: what the client sends must be accepted and
what it reads must parse. So a server may be stricter than the client needs
(non-null where the client accepts null), name an object type differently
(validation still checks every field selected on it), or have more fields and
arguments; it may not lack a field or argument, serve a scalar the client
cannot read (a ``String`` where it parses an ``Int``), answer null where the
client requires a value, or take an argument of a type the client's value
does not fit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLSchema,
    GraphQLType,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_client_schema,
    build_schema,
    get_introspection_query,
    is_leaf_type,
    parse,
    validate,
    visit,
)

from runs_client import Api

__all__ = [
    "OPTIONAL_OPERATIONS",
    "check_schema",
    "check_server",
    "load_schema",
    "operations",
    "shipped_schema",
]

_SCHEMA_FILE = "schema.graphql"

# The served scalars a reader of each scalar accepts: the client reading a
# field's value (pydantic: str, int, float, datetime, Any), or the server
# reading an argument's value the client sends. Same wire form, same meaning.
_READS: dict[str, frozenset[str]] = {
    "String": frozenset({"String", "ID", "JSONString"}),
    "ID": frozenset({"ID", "String"}),
    "JSONString": frozenset({"JSONString", "String"}),
    "Int": frozenset({"Int"}),
    "Int64": frozenset({"Int64", "Int"}),
    "Float": frozenset({"Float", "Int", "Int64"}),
    "Duration": frozenset({"Duration", "Int", "Int64"}),
    "Boolean": frozenset({"Boolean"}),
    "DateTime": frozenset({"DateTime"}),
}
# The client reads Int into a Python int, which holds any Int64 too.
_CLIENT_READS = {**_READS, "Int": frozenset({"Int", "Int64"})}
_ANY = "JSON"

_POSITION = re.compile(
    r"Variable '\$(?P<var>\w+)' of type '(?P<ours>[^']+)' used in position "
    r"expecting type '(?P<theirs>[^']+)'\."
)


def _graphql_files() -> Any:
    return files("runs_gql") / "graphql"


# Operations a server may lack without harm: runs_server's own extensions,
# which the client asks only for a hint and skips when refused (W&B has no
# Project.runKeys nor ServerInfo.maxPageSize), so schema-check against W&B
# must not fail on them.
OPTIONAL_OPERATIONS = frozenset({"ProjectRunKeys", "ServerPageCap"})


def operations() -> DocumentNode:
    """Every operation the client relies on, as one document (fragments are
    shared); ``OPTIONAL_OPERATIONS`` are left out."""
    sources = [
        f.read_text(encoding="utf-8")
        for f in sorted(_graphql_files().iterdir(), key=lambda f: f.name)
        if f.name.endswith(".graphql") and f.name != _SCHEMA_FILE
    ]
    document = parse("\n".join(sources))
    kept = tuple(
        d
        for d in document.definitions
        if not (
            isinstance(d, OperationDefinitionNode)
            and d.name is not None
            and d.name.value in OPTIONAL_OPERATIONS
        )
    )
    return DocumentNode(definitions=kept)


def shipped_schema() -> GraphQLSchema:
    """The schema the client was generated from."""
    sdl = (_graphql_files() / _SCHEMA_FILE).read_text(encoding="utf-8")
    return build_schema(sdl)


def load_schema(path: Path) -> GraphQLSchema:
    """A schema from an SDL file (``schema-check --schema``)."""
    return build_schema(path.read_text(encoding="utf-8"))


def _reads(reader: str, value: str, table: dict[str, frozenset[str]]) -> bool:
    return reader in (value, _ANY) or value in table.get(reader, ())


def output_fits(expected: GraphQLType, served: GraphQLType) -> str | None:
    """Why the client, reading ``expected``, cannot read ``served``; None if it can."""
    if isinstance(expected, GraphQLNonNull):
        if not isinstance(served, GraphQLNonNull):
            return "nullable"
        return output_fits(expected.of_type, served.of_type)
    if isinstance(served, GraphQLNonNull):
        served = served.of_type  # stricter than the client needs
    if isinstance(expected, GraphQLList) or isinstance(served, GraphQLList):
        if isinstance(expected, GraphQLList) and isinstance(served, GraphQLList):
            return output_fits(expected.of_type, served.of_type)
        return "shape"
    assert isinstance(expected, GraphQLNamedType) and isinstance(
        served, GraphQLNamedType
    )
    if is_leaf_type(expected):
        if not is_leaf_type(served) or not _reads(
            expected.name, served.name, _CLIENT_READS
        ):
            return "shape"
        return None
    # Object types may be named differently: validation checks each field
    # selected on them against the served type.
    return None if not is_leaf_type(served) else "shape"


def input_fits(ours: str, theirs: str) -> bool:
    """Whether a value of our variable type ``ours`` fits an argument of the
    served type ``theirs`` (both printed types, e.g. ``[JSONString!]!``)."""
    if theirs.endswith("!"):
        if not ours.endswith("!"):
            return False  # the server requires a value we may not send
        ours, theirs = ours[:-1], theirs[:-1]
    elif ours.endswith("!"):
        ours = ours[:-1]  # we always send a value where one may be absent
    if theirs.startswith("[") or ours.startswith("["):
        both = theirs.startswith("[") and ours.startswith("[")
        return both and input_fits(ours[1:-1], theirs[1:-1])
    return _reads(theirs, ours, _READS)


class _Uses:
    """Which operations use each operation or fragment (through spreads)."""

    def __init__(self, document: DocumentNode) -> None:
        spreads: dict[str, set[str]] = {}
        for definition in document.definitions:
            name = _definition_name(definition)
            spreads[name] = {
                s.name.value
                for s in _walk(definition)
                if isinstance(s, FragmentSpreadNode)
            }
        self.by: dict[str, list[str]] = {}
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                op = _definition_name(definition)
                seen, todo = {op}, [op]
                while todo:  # bounded: each fragment is visited once
                    for spread in spreads.get(todo.pop(), ()):
                        fragment = f"fragment {spread}"
                        if fragment not in seen:
                            seen.add(fragment)
                            todo.append(fragment)
                for name in seen:
                    self.by.setdefault(name, []).append(op)

    def of(self, definition: str) -> list[str]:
        return self.by.get(definition, [definition])


def _definition_name(definition: Any) -> str:
    if isinstance(definition, FragmentDefinitionNode):
        return f"fragment {definition.name.value}"
    name = getattr(definition, "name", None)
    return name.value if name else "anonymous operation"


def _walk(node: Any) -> Iterable[Any]:
    selection_set = getattr(node, "selection_set", None)
    for selection in selection_set.selections if selection_set else ():
        yield selection
        yield from _walk(selection)


class _TypeComparer(Visitor):
    """Records each field in use whose served type the client cannot read.

    Two ``TypeInfo``s walk the document side by side, one over the client's
    schema and one over the served schema, so a field is compared with the
    field the server resolves it to even where an object type is named
    differently there."""

    def __init__(self, expected: TypeInfo, served: TypeInfo, report: Any) -> None:
        super().__init__()
        self.expected, self.served, self.report = expected, served, report
        self.where = "?"

    def enter_operation_definition(
        self, node: OperationDefinitionNode, *_: Any
    ) -> None:
        self.where = _definition_name(node)

    def enter_fragment_definition(self, node: FragmentDefinitionNode, *_: Any) -> None:
        self.where = _definition_name(node)

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        parent = self.expected.get_parent_type()
        expected, served = self.expected.get_field_def(), self.served.get_field_def()
        if parent is None or expected is None or served is None:
            return  # validation reports a missing field or type
        self._compare(f"{parent.name}.{node.name.value}", expected, served)

    def _compare(self, name: str, expected: GraphQLField, served: GraphQLField) -> None:
        why = output_fits(expected.type, served.type)
        if why == "nullable":
            self.report(
                f"{name}: the client requires a value ({expected.type}), the server "
                f"may answer null ({served.type})",
                self.where,
            )
        elif why:
            self.report(
                f"{name}: the client expects {expected.type}, the server serves "
                f"{served.type}",
                self.where,
            )


def _validation_problem(
    error: GraphQLError, document: DocumentNode, arguments: dict[int, str]
) -> tuple[str | None, str]:
    """The problem a validation error names (None: a compatible difference),
    and the definition it is in."""
    where = "?"
    offset = error.nodes[0].loc.start if error.nodes and error.nodes[0].loc else -1
    for definition in document.definitions:
        if definition.loc and definition.loc.start <= offset < definition.loc.end:
            where = _definition_name(definition)
    position = _POSITION.fullmatch(error.message)
    if position is None:
        return error.message, where
    ours, theirs = position["ours"], position["theirs"]
    if input_fits(ours, theirs):
        return None, where
    usage = error.nodes[-1].loc if error.nodes else None
    argument = arguments.get(usage.start if usage else -1, f"${position['var']}")
    return f"{argument}: the client sends {ours}, the server takes {theirs}", where


def _argument_names(document: DocumentNode, schema: GraphQLSchema) -> dict[int, str]:
    """Where each variable is passed (its offset) -> ``Type.field(arg:)``."""
    names: dict[int, str] = {}
    info = TypeInfo(schema)

    class Arguments(Visitor):
        def __init__(self) -> None:
            super().__init__()
            self.fields: list[str] = []

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            parent = info.get_parent_type()
            self.fields.append(f"{parent.name if parent else '?'}.{node.name.value}")

        def leave_field(self, *_: Any) -> None:
            self.fields.pop()

        def enter_argument(self, node: Any, *_: Any) -> None:
            if self.fields and node.value.loc is not None:
                names[node.value.loc.start] = f"{self.fields[-1]}({node.name.value}:)"

    visit(document, TypeInfoVisitor(info, Arguments()))
    return names


def check_schema(
    served: GraphQLSchema, document: DocumentNode | None = None
) -> list[str]:
    """One line per problem: what does not fit, and which operations use it."""
    document = document or operations()
    uses = _Uses(document)
    found: dict[str, list[str]] = {}

    def report(problem: str, where: str) -> None:
        users = found.setdefault(problem, [])
        users.extend(op for op in uses.of(where) if op not in users)

    expected = shipped_schema()
    arguments = _argument_names(document, expected)
    for error in validate(served, document):
        problem, where = _validation_problem(error, document, arguments)
        if problem is not None:
            report(problem, where)
    ours, theirs = TypeInfo(expected), TypeInfo(served)
    comparer = _TypeComparer(ours, theirs, report)
    visit(document, TypeInfoVisitor(ours, TypeInfoVisitor(theirs, comparer)))
    return [
        problem + (f" (used by {', '.join(users)})" if users else "")
        for problem, users in found.items()
    ]


def check_server(api: Api, schema_file: Path | None = None) -> list[str]:
    """Check our operations against ``api``'s server (by introspection) or
    against ``schema_file``."""
    if schema_file is None:
        response = api.client.execute(get_introspection_query(), "IntrospectionQuery")
        served = build_client_schema(api.client.get_data(response))  # type: ignore[arg-type]
        against = api.base_url
    else:
        served, against = load_schema(schema_file), str(schema_file)
    problems = check_schema(served)
    count = len(operations().definitions)
    if not problems:
        print(
            f"{against}: all {count} operations and fragments the client sends "
            "fit the schema."
        )
    return problems
