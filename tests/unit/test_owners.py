"""One owner for each rule, read from the source: only the claim's life cycle writes a claim's
status, and only the policy decides what a role may do. A second writer or a second judge
fails here with its file and line, whatever the tests of behaviour happen to cover."""

import ast

from tests.source import PRODUCT, modules, where

LIFE_CYCLE = "mvq/submissions/lifecycle.py"  # the claim's transition table and its one mover
POLICY = "mvq/auth/policy.py"

# Names under which code holds a claim: `submission.status = …`, `claim.status = …`.
CLAIM_NAMES = ("submission", "claim")


def _holder(node: ast.expr) -> str:
    """The last name of an attribute chain: `self.claim` -> "claim", `item.submission` ->
    "submission"."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _is_claim(node: ast.expr) -> bool:
    return any(name in _holder(node).lower() for name in CLAIM_NAMES)


def _sets_status(call: ast.Call) -> bool:
    """`.values(status=…)`, `.values({"status": …})`, `.update({"status": …})`."""
    if any(k.arg == "status" for k in call.keywords):
        return True
    return any(
        isinstance(arg, ast.Dict)
        and any(isinstance(k, ast.Constant) and k.value == "status" for k in arg.keys)
        for arg in call.args
    )


def _on_submissions(call: ast.Call) -> bool:
    """The chain below this call starts at `update(Submission)` or `query(Submission)`."""
    node: ast.expr = call.func
    while True:
        if isinstance(node, ast.Call):
            name = _holder(node.func)
            if name in ("update", "query") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Name) and first.id == "Submission":
                    return True
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            return False


def claim_status_writes(path: str, tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and target.attr == "status"
                and (_is_claim(target.value))
            ):
                found.append(where(path, node))
        if not isinstance(node, ast.Call):
            continue
        name = _holder(node.func)
        if name in ("values", "update") and _sets_status(node) and _on_submissions(node):
            found.append(where(path, node))
        if name in ("setattr", "set_committed_value") and len(node.args) >= 2:
            holder, attribute = node.args[0], node.args[1]
            if (
                isinstance(attribute, ast.Constant)
                and attribute.value == "status"
                and (_is_claim(holder))
            ):
                found.append(where(path, node))
    return found


def test_only_the_life_cycle_writes_a_claims_status() -> None:
    writers = [
        line
        for path, tree in modules(*PRODUCT)
        if path != LIFE_CYCLE
        for line in claim_status_writes(path, tree)
    ]
    assert writers == [], f"only {LIFE_CYCLE} may move a claim: {writers}"
    # The check finds the owner's own move, so it is not looking at nothing.
    owner = dict(modules("mvq"))[LIFE_CYCLE]
    assert claim_status_writes(LIFE_CYCLE, owner)


def _is_column(node: ast.expr) -> bool:
    """`StaffUser.role`: a model's column, in a query's WHERE, picks rows and decides nothing."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and (node.value.id[:1].isupper())
    )


def _is_role(node: ast.expr) -> bool:
    """A person's role: `principal.role`, `user.role`, or a bare `role`."""
    if isinstance(node, ast.Attribute) and node.attr == "role":
        return not _is_column(node)
    return isinstance(node, ast.Name) and node.id == "role"


def _is_role_member(node: ast.expr) -> bool:
    """`Role.admin`: compared with anything (`r != Role.unit` builds a role set)."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and (node.value.id == "Role")
    )


def role_questions(path: str, tree: ast.Module) -> list[str]:
    """Each comparison of a person's role (`==`, `!=`, `in` a role set), each comparison
    with a role by name outside a query's WHERE, each `match` on a role."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if all(_is_role(o) for o in operands):
                continue  # one role against another (`role == user.role`: no change) asks nothing
            if any(_is_role(o) for o in operands) or (
                any(_is_role_member(o) for o in operands)
                and not any(isinstance(o, ast.Attribute) and o.attr == "role" for o in operands)
            ):
                found.append(where(path, node))
        elif isinstance(node, ast.Match) and _is_role(node.subject):
            found.append(where(path, node))
    return sorted(set(found), key=lambda line: (line.split(":")[0], int(line.split(":")[1])))


def test_only_the_policy_decides_what_a_role_may_do() -> None:
    judges = [
        line
        for path, tree in modules(*PRODUCT)
        if path != POLICY
        for line in role_questions(path, tree)
    ]
    assert judges == [], f"only {POLICY} may ask about a role: {judges}"
    owner = dict(modules("mvq"))[POLICY]
    assert role_questions(POLICY, owner), "the check finds nothing in the policy itself"
