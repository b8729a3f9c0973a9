"""Imports point one way: down the server's layers and the client's rooms,
never between the packages.

Every module of every package is read with ``ast`` (imports inside functions
and ``TYPE_CHECKING`` blocks count too; relative imports are resolved), so a
module or subpackage added later is checked without touching this file; a new
subpackage of ``runs_server`` or ``runs_client`` must be given a layer in
``SERVER_LAYERS`` or ``CLIENT_LAYERS`` first.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "runs_gql": ROOT / "generated" / "runs_gql",
    "runs_client": ROOT / "runs_client",
    "runs_server": ROOT / "runs_server",
    "runs_cli": ROOT / "runs_cli",
    "runs_mirror": ROOT / "runs_mirror",
}
# Which of our packages each one may import (besides itself).
MAY_IMPORT = {
    "runs_gql": set(),
    "runs_client": {"runs_gql"},
    "runs_server": set(),
    "runs_cli": {"runs_client", "runs_gql", "runs_server", "runs_mirror"},
    # Reads through the client, writes through the store's API (see below).
    "runs_mirror": {"runs_client", "runs_gql", "runs_server"},
}
# Of runs_server, runs_mirror may use only the store (its typed API).
MIRROR_MAY_USE = ("runs_server.store",)
# runs_server's parts by layer, as in its __init__ docstring: a part may import
# only itself and parts of lower layers (same layer: side by side, no imports).
SERVER_LAYERS = {
    "__init__": 5,
    "__main__": 6,  # runs command
    "command": 5,
    "http": 4,
    "graphql": 3,
    "web": 3,  # static pages beside graphql: they call it over HTTP only
    "listing": 2,
    "history": 2,
    "loaders": 2,
    "writes": 2,
    "store": 1,
}
# runs_client's rooms by layer (see the rooms' __init__ docstrings): the
# domain objects at the top (every top-level module not named here), the
# history room below them, the transport room below that, and the exception
# tree under everything (a leaf every room raises from).
CLIENT_DOMAIN_LAYER = 3
CLIENT_LAYERS = {
    "__init__": 5,
    # The async client: AsyncApi and its objects, over the domain objects'
    # shared cores; nothing but the package's __init__ imports it.
    "aio": 4,
    "history": 2,
    "transport": 1,
    "_exceptions": 0,
}


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_only_nodes(tree: ast.Module) -> set[ast.AST]:
    """The import statements inside ``if TYPE_CHECKING:`` blocks."""
    found: set[ast.AST] = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        name = getattr(test, "id", None) or getattr(test, "attr", None)
        if name == "TYPE_CHECKING":
            for inner in node.body:  # type: ignore[attr-defined]
                found.update(ast.walk(inner))
    return found


def _imports(module: str, path: Path, *, runtime_only: bool = False) -> set[str]:
    """Our modules ``path`` imports (``from p import n``: ``p.n`` if a module);
    with ``runtime_only``, not those imported for type checking only."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_only_nodes(tree) if runtime_only else set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(tree):
        if node in skip:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                names.add(full if full in MODULES else base)
    return {n for n in names if n.split(".")[0] in PACKAGES and n != module}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}
RUNTIME_GRAPH = {
    name: _imports(name, path, runtime_only=True) for name, path in MODULES.items()
}


def _server_part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_server_part_has_a_layer() -> None:
    parts = {_server_part(m) for m in MODULES if m.startswith("runs_server")}
    undeclared = parts - SERVER_LAYERS.keys()
    assert not undeclared, f"give these runs_server parts a layer: {undeclared}"


def test_packages_import_only_what_they_may() -> None:
    bad = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if (src := module.split(".")[0]) != (dst := target.split(".")[0])
        and dst not in MAY_IMPORT[src]
    ]
    assert not bad


def test_server_layers_point_down() -> None:
    bad = []
    for module, targets in GRAPH.items():
        if not module.startswith("runs_server"):
            continue
        src = _server_part(module)
        for target in targets:
            dst = _server_part(target)
            upward = SERVER_LAYERS[dst] >= SERVER_LAYERS[src]
            if target.startswith("runs_server") and dst != src and upward:
                bad.append(f"{module} imports {target}")
    assert not bad, "a lower (or same) layer imported: " + "; ".join(bad)


def _client_part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _client_layer(module: str) -> int:
    return CLIENT_LAYERS.get(_client_part(module), CLIENT_DOMAIN_LAYER)


def test_client_rooms_point_down() -> None:
    # Type-only imports count too: a room never names the objects above it.
    bad = []
    for module, targets in GRAPH.items():
        if not module.startswith("runs_client"):
            continue
        src, layer = _client_part(module), _client_layer(module)
        for target in targets:
            if not target.startswith("runs_client") or _client_part(target) == src:
                continue
            if layer < CLIENT_DOMAIN_LAYER and _client_layer(target) >= layer:
                bad.append(f"{module} imports {target}")
    assert not bad, "a client room imported upward: " + "; ".join(bad)


def test_every_client_room_has_a_layer() -> None:
    rooms = {
        _client_part(m)
        for m, path in MODULES.items()
        if m.startswith("runs_client.") and path.name == "__init__.py"
    }
    assert rooms <= CLIENT_LAYERS.keys(), f"give these rooms a layer: {rooms}"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    # Depth-first search over module imports; a back edge is a cycle.
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_no_import_cycles_at_run_time() -> None:
    cycle = _cycle(RUNTIME_GRAPH)
    assert cycle is None, " -> ".join(cycle)


def test_type_only_cycles_stay_among_the_client_domain_objects() -> None:
    # Run.sweep is a Sweep and Sweep.runs a Runs: the domain objects may name
    # each other's types; everything else has no cycle even counting types.
    graph = {
        m: {t for t in targets if not _is_client_domain(m) or not _is_client_domain(t)}
        for m, targets in GRAPH.items()
    }
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def _is_client_domain(module: str) -> bool:
    return module.startswith("runs_client.") and (
        _client_layer(module) == CLIENT_DOMAIN_LAYER
    )


def test_mirror_uses_only_the_servers_store() -> None:
    bad = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module.startswith("runs_mirror")
        for target in targets
        if target.startswith("runs_server") and not target.startswith(MIRROR_MAY_USE)
    ]
    assert not bad, "runs_mirror may use runs_server.store only: " + "; ".join(bad)
