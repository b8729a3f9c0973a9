"""Generate the typed GraphQL client package ``runs_gql``, or check it is fresh.

    python codegen/generate.py            regenerate generated/runs_gql
    python codegen/generate.py --check    regenerate into a temporary folder and
                                          fail on any difference (stale, edited or
                                          leftover files)

ariadne-codegen never deletes modules no operation produces any more, so the
package is removed before generating. The schema (its files joined into one)
and the operations are copied into the package as data: the server and schema
checks read them from an installed wheel.

Two codegen runs read the same schema and operations: the sync one makes the
package; the async one (``async_client = true``) goes to a scratch folder,
of which only its client module and base client are kept, beside the sync
client, so that both clients return the same model classes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = Path("generated/runs_gql")
INPUTS = ("schema", "queries", "codegen")
CONFIG = "codegen/ariadne-codegen.toml"
ASYNC_CONFIG = "codegen/ariadne-codegen-async.toml"
# The async run's scratch package (its target in ASYNC_CONFIG) and what is kept.
ASYNC_SCRATCH = Path(".codegen-async/runs_gql_async")
ASYNC_MODULES = ("async_client.py", "async_base_client.py")


def _codegen(root: Path, config: str) -> None:
    codegen = Path(sys.executable).with_name("ariadne-codegen")
    result = subprocess.run(
        [str(codegen), "--config", config, "client"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"ariadne-codegen failed (exit {result.returncode})")


def generate(root: Path) -> None:
    """Regenerate ``root/generated/runs_gql`` from the inputs under ``root``."""
    package = root / PACKAGE
    shutil.rmtree(package, ignore_errors=True)
    package.parent.mkdir(parents=True, exist_ok=True)
    _codegen(root, CONFIG)
    scratch = root / ASYNC_SCRATCH
    shutil.rmtree(scratch.parent, ignore_errors=True)
    scratch.parent.mkdir()
    try:
        _codegen(root, ASYNC_CONFIG)
        for name in ASYNC_MODULES:
            shutil.copy(scratch / name, package / name)
    finally:
        shutil.rmtree(scratch.parent, ignore_errors=True)
    data = package / "graphql"
    data.mkdir()
    # One SDL file for the server and schema checks: schema/*.graphql joined
    # in the order ariadne-codegen reads them (sorted paths).
    parts = sorted((root / "schema").glob("*.graphql"))
    (data / "schema.graphql").write_text(
        "\n".join(p.read_text(encoding="utf-8") for p in parts), encoding="utf-8"
    )
    for query in sorted((root / "queries").glob("*.graphql")):
        shutil.copy(query, data / query.name)
    (package / "py.typed").write_text("")


def differences(left: Path, right: Path) -> list[str]:
    """Relative paths whose bytes differ, or that exist on one side only."""

    def files(top: Path) -> dict[str, bytes]:
        return {
            path.relative_to(top).as_posix(): path.read_bytes()
            for path in top.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }

    a, b = files(left), files(right)
    return sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))


def check(root: Path) -> int:
    """Regenerate into a temporary copy of the inputs and compare."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for name in INPUTS:
            shutil.copytree(
                root / name,
                scratch / name,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        generate(scratch)
        stale = differences(scratch / PACKAGE, root / PACKAGE)
    if stale:
        print("generated/runs_gql is stale; run `make generate`. Differences:")
        for path in stale:
            print(f"  {path}")
        return 1
    print("generated/runs_gql is fresh")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if stale")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository")
    args = parser.parse_args()
    if args.check:
        return check(args.root.resolve())
    generate(args.root.resolve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
