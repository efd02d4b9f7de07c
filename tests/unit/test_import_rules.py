"""Who may import whom among tests, benches and what they share: no test module (a `test_*.py`
or a `conftest.py`) is imported by another module, `bench` and `tests` never import each
other, and `testkit` (what both use) imports neither. Helpers live in modules of their own."""

import ast
from collections.abc import Iterator

from tests.source import modules, where


def imported(tree: ast.Module) -> Iterator[tuple[ast.AST, str]]:
    """Every module a file names: `import a.b`, `from a.b import c` (as `a.b` and `a.b.c`),
    and `importlib.import_module("a.b")`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports hide what is imported"
            base = node.module or ""
            yield node, base
            for alias in node.names:
                yield node, f"{base}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            yield node, str(node.args[0].value)


def is_test_module(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return name.startswith("tests.") and (last == "conftest" or last.startswith("test_"))


def top(name: str) -> str:
    return name.split(".", 1)[0]


def broken_rules() -> list[str]:
    found = []
    for path, tree in modules("tests", "bench", "testkit"):
        package = path.split("/", 1)[0]
        for node, name in imported(tree):
            if is_test_module(name):
                found.append(f"{where(path, node)} imports the test module {name}")
            forbidden = {"tests": {"bench"}, "bench": {"tests"}, "testkit": {"tests", "bench"}}
            if top(name) in forbidden[package]:
                found.append(f"{where(path, node)} ({package}) imports {name}")
    return found


def test_no_test_module_is_imported_and_bench_and_tests_stay_apart() -> None:
    assert broken_rules() == []


def test_the_rules_see_a_broken_import() -> None:
    tree = ast.parse(
        "from tests.integration.conftest import make_unit\nimport bench.report\n"
        "import importlib\nimportlib.import_module('tests.browser.test_review_ui')\n"
    )
    names = [name for _, name in imported(tree)]
    assert [n for n in names if is_test_module(n)] == [
        "tests.integration.conftest",
        "tests.browser.test_review_ui",
    ]
    assert "bench.report" in names
