"""The product's source, parsed: for checks that read the code itself (tests/unit/test_owners.py,
tests/unit/test_import_rules.py)."""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("mvq", "api", "web", "workers", "cli", "deploy")


def modules(*packages: str) -> Iterator[tuple[str, ast.Module]]:
    """Each module of these top-level packages: its path from the repository root, and its tree."""
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "vendor" in path.parts:
                continue
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path))


def where(path: str, node: ast.AST) -> str:
    return f"{path}:{getattr(node, 'lineno', 0)}"
