"""Permissions in one layer: the services ask the policy, the routes only say who is asking. A
route that checks a role itself (`policy.require`, `policy.allows`, an `allowed(...)`
dependency) fails here with its file and line: its service would then go unguarded for every
other caller, or the two checks would drift apart."""

import ast

from tests.source import modules, where

# The API's routes and the pages' routes; web/deps.py's `WebUser.can` stays, for templates
# that ask the policy what to show.
ROUTES = ("api", "web/routes")
ASKS = ("require", "allows")


def _called(call: ast.Call) -> tuple[str, str]:
    """(holder, name) of a call: `policy.require(...)` -> ("policy", "require")."""
    func = call.func
    if isinstance(func, ast.Attribute):
        holder = func.value.id if isinstance(func.value, ast.Name) else ""
        return holder, func.attr
    if isinstance(func, ast.Name):
        return "", func.id
    return "", ""


def role_checks(path: str, tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("auth.policy"):
            found += [f"{where(path, node)} imports {a.name}" for a in node.names
                      if a.name in ASKS]  # fmt: skip
        if not isinstance(node, ast.Call):
            continue
        holder, name = _called(node)
        if (holder == "policy" and name in ASKS) or name.startswith("allowed"):
            found.append(f"{where(path, node)} calls {holder + '.' if holder else ''}{name}")
    return found


def test_routes_only_authenticate() -> None:
    checks = [line for path, tree in modules(*ROUTES) for line in role_checks(path, tree)]
    assert checks == [], f"a route checks a role; let its service ask the policy: {checks}"


def test_the_check_finds_a_route_that_checks() -> None:
    route = ast.parse(
        "from mvq.auth.policy import require\n"
        "def page(user=allowed(Action.edit_labels)):\n"
        "    policy.require(user.principal, Action.view_queue)\n"
        "    return policy.allows(user.principal, Action.review)\n"
    )
    assert len(role_checks("web/routes/example.py", route)) == 4
