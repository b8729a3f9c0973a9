"""``runs-client schema-check``: do the operations we send still fit the server?

The operations (``runs_gql/graphql/*.graphql``, shipped in the wheel) are
validated against the schema the server reports by introspection; that
finds fields and arguments the server lacks and variables of the wrong type.
Validation alone accepts a field whose type changed between two scalars (a
``String`` where we parse an ``Int``), so every field and argument in use is
also compared with its type in the schema the client was generated from.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_client_schema,
    build_schema,
    get_introspection_query,
    parse,
    validate,
    visit,
)

from runs_client import Api

__all__ = [
    "OPTIONAL_OPERATIONS",
    "check_schema",
    "check_server",
    "operations",
    "shipped_schema",
]

_SCHEMA_FILE = "schema.graphql"


def _graphql_files() -> Any:
    return files("runs_gql") / "graphql"


# Operations a server may lack without harm: runs_server's own extensions,
# which the client asks only for a hint and skips when refused (W&B has no
# Project.runKeys), so schema-check against W&B must not fail on them.
OPTIONAL_OPERATIONS = frozenset({"ProjectRunKeys"})


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


class _TypeComparer(Visitor):
    """Records each field and argument in use whose served type differs."""

    def __init__(
        self, info: TypeInfo, served: GraphQLSchema, found: dict[str, list[str]]
    ):
        super().__init__()
        self.info, self.served, self.found = info, served, found
        self.where = "?"

    def enter_operation_definition(
        self, node: OperationDefinitionNode, *_: Any
    ) -> None:
        self.where = node.name.value if node.name else "anonymous operation"

    def enter_fragment_definition(self, node: FragmentDefinitionNode, *_: Any) -> None:
        self.where = f"fragment {node.name.value}"

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        parent = self.info.get_parent_type()
        expected = self.info.get_field_def()
        if parent is None or expected is None:
            return
        served_parent = self.served.get_type(parent.name)
        if not isinstance(served_parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return
        served = served_parent.fields.get(node.name.value)
        if served is None:
            return  # validation reports the missing field
        name = f"{parent.name}.{node.name.value}"
        if str(served.type) != str(expected.type):
            self._add(
                f"{name}: the client expects {expected.type}, the server serves "
                f"{served.type}"
            )
        self._compare_arguments(node, name, expected, served)

    def _compare_arguments(
        self, node: FieldNode, name: str, expected: GraphQLField, served: GraphQLField
    ) -> None:
        for argument in node.arguments or ():
            arg = argument.name.value
            ours, theirs = expected.args.get(arg), served.args.get(arg)
            if ours is None or theirs is None:
                continue  # validation reports an unknown argument
            if str(ours.type) != str(theirs.type):
                self._add(
                    f"{name}({arg}:): the client sends {ours.type}, the server "
                    f"takes {theirs.type}"
                )

    def _add(self, problem: str) -> None:
        users = self.found.setdefault(problem, [])
        if self.where not in users:
            users.append(self.where)


def check_schema(
    served: GraphQLSchema, document: DocumentNode | None = None
) -> list[str]:
    """One line per problem: what differs, and which operations use it."""
    document = document or operations()
    found: dict[str, list[str]] = {}
    for error in validate(served, document):
        found.setdefault(error.message, [])
    expected = shipped_schema()
    info = TypeInfo(expected)
    visit(document, TypeInfoVisitor(info, _TypeComparer(info, served, found)))
    return [
        problem + (f" (used by {', '.join(users)})" if users else "")
        for problem, users in found.items()
    ]


def check_server(api: Api) -> list[str]:
    """Introspect ``api``'s server and check our operations against it."""
    response = api.client.execute(get_introspection_query(), "IntrospectionQuery")
    served = build_client_schema(api.client.get_data(response))  # type: ignore[arg-type]
    problems = check_schema(served)
    count = len(operations().definitions)
    if not problems:
        print(
            f"{api.base_url}: all {count} operations and fragments the client "
            "sends match the served schema."
        )
    return problems
