"""Issue 28, "the crawl": staff of every role linked to unit A, the marketplace's account and
a member of unit B fetch every GET route of the application's route table (API and pages), then
follow the same-site links and presigned URLs the answers hold, a bounded number of hops.
Nothing may name unit A's claims or ledger: no claim id (nor its media, review item or appeal),
no ledger entry id, no stored object key, and (where a claim is shown) not the unit. A GET
route whose path parameters the crawl cannot fill fails the test, so a new route is crawled
from the day it is added.

Units A and B hold copies of the same footage, a dispute and appeals between them, and ledger
entries with receipts (the `copies` fixture). A request whose own URL names a secret (the crawl
tries A's ids too, as an attacker would) is judged on the secrets its URL did not name."""

import io
import re
import zipfile
from collections import deque
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from sqlalchemy import select

from mvq.audit import tree
from mvq.auth.models import Role, StaffUser
from mvq.db import session_factory
from mvq.review.models import ReviewItem
from mvq.webhooks.models import WebhookEndpoint
from testkit import harness
from testkit.people import make_login, make_staff, web_login
from tests.routes import fill, get_routes

MAX_DEPTH = 2
MAX_REQUESTS = 300  # per person
LINK = re.compile(r"""(?:href|src|data-other-src|action)=["']([^"']+)["']|"(https?://[^"\s]+)\"""")
# Pages that only name the person's own unit (their account, the units an admin manages, the
# leaderboard's ranking of every unit by its points) say nothing of its claims: the unit's name
# is checked on every other answer, its claims' and its ledger entries' ids everywhere.
UNIT_NAME_ALLOWED = ("/account", "/admin", "/api/v1/units", "/leaderboard", "/api/v1/leaderboard")
# Routes that change state on GET would be a bug of their own; logging out ends the crawl.
SKIP = {"/logout"}


def leaks(url: str, text: str, secrets: set[str], unit_name: str, unit_id: str) -> set[str]:
    path = urlsplit(url).path
    judged = {s for s in secrets if s not in url}
    if path.startswith(UNIT_NAME_ALLOWED) or unit_id in url:
        judged -= {unit_name, unit_id}
    return {s for s in judged if s in text}


def crawl(
    clients: dict[str, httpx.Client], starts: list[str], stack_url: str, s3_url: str, copies, who
) -> tuple[int, dict[str, set[str]]]:
    unit_name = next(s for s in copies.secrets if s.startswith("unit-"))
    found: dict[str, set[str]] = {}
    seen: set[str] = set()
    todo = deque((url, 0) for url in starts)
    count = 0
    while todo and count < MAX_REQUESTS:
        url, depth = todo.popleft()
        if url in seen:
            continue
        seen.add(url)
        count += 1
        if url.startswith(s3_url):
            answer = httpx.get(url, timeout=30)
        else:
            client = clients["api" if url.startswith("/api/") else "web"]
            answer = client.get(url, headers={"Accept": "text/html"}
                                if not url.startswith("/api/") else {})  # fmt: skip
        text = answer.text if "image" not in answer.headers.get("content-type", "") else ""
        if answer.content.startswith(b"PK"):  # an archive (export, evidence): what it holds
            with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
                text = "\n".join(archive.read(n).decode("utf-8", "replace")
                                  for n in archive.namelist())  # fmt: skip
        bad = leaks(url, text, copies.secrets, unit_name, copies.unit_a)
        if bad:
            found[f"{who} GET {url} -> {answer.status_code}"] = bad
        if depth >= MAX_DEPTH:
            continue
        for link in LINK.findall(text):
            target = (link[0] or link[1]).replace("&amp;", "&")
            if target.startswith(s3_url):
                todo.append((target, depth + 1))
            elif target.startswith(stack_url):
                todo.append((target[len(stack_url) :], depth + 1))
            elif target.startswith("/") and not target.startswith("//"):
                path = urlsplit(urljoin("/", target)).path
                if path not in SKIP and not path.startswith("/static/"):
                    todo.append((target, depth + 1))
    return count, found


def tile_paths(size: int) -> list[str]:
    """The C2SP tlog-tiles index of the first full tile and of today's partial one, as an
    auditor who read the checkpoint would ask for them (1234567 leaves: x004/x822/.p/135)."""

    def name(n: int) -> str:
        digits = f"{n:03d}"
        digits = "0" * (-len(digits) % 3) + digits
        groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
        return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])

    full, width = divmod(size, 256)
    return ["000"] + ([f"{name(full)}.p/{width}"] if width else [])


def test_tile_paths_name_the_partial_tile_as_the_spec_does() -> None:
    assert tile_paths(3) == ["000", "000.p/3"]
    assert tile_paths(256) == ["000"]
    assert tile_paths(1234067 * 256 + 5) == ["000", "x001/x234/067.p/5"]


def test_every_get_route_hides_the_linked_units_claims(stack: harness.Stack, copies) -> None:
    """As staff of every role linked to unit A, as the marketplace's account (linked to A, and
    not linked to any unit), and as a member of unit B: nothing of A's claims or ledger."""
    # (API token, web login) per person; the web login is made once the accounts exist.
    people: dict[str, tuple[str, tuple[str, str]]] = {}
    with session_factory()() as session:
        for role in (Role.reviewer, Role.senior, Role.admin, Role.auditor, Role.marketplace):
            token = make_staff(session, role, unit_id=copies.unit_a)
            people[f"{role.value} linked to A"] = (token, make_login(role, unit_id=copies.unit_a))
        people["marketplace"] = (make_staff(session, Role.marketplace),
                                 make_login(Role.marketplace))  # fmt: skip
        people["member of B"] = (copies.unit_b_token,
                                 make_login(Role.unit, unit_id=copies.unit_b))  # fmt: skip
        users = list(session.scalars(select(StaffUser.id)))
        items = list(session.scalars(select(ReviewItem.id)))
        # Each unit's webhook endpoint: its page and its delivery log are crawled too.
        hooks = [WebhookEndpoint(url="https://hooks.example/mvq", unit_id=unit, events=["*"],
                                 sealed_secret="unused", created_by="test")
                 for unit in (copies.unit_a, copies.unit_b)]  # fmt: skip
        session.add_all(hooks)
        session.commit()
        webhooks = [h.id for h in hooks]
    # The ledger entries' receipts need a checkpoint: one sweep integrates the log and signs
    # it. Nothing else integrates during the crawl, so today's partial tile stays this wide.
    swept = harness.run_cli(["sweep"], stack.env)
    assert swept.returncode == 0, swept.stderr
    with session_factory()() as session:
        size = tree.size(session)
        assert size > 0
    values = {
        "unit_id": [copies.unit_a, copies.unit_b],
        "submission_id": [copies.a_claim, copies.b_claim, copies.b_disputed, copies.b_appealed],
        "item_id": items,
        "user_id": users[:6],
        "endpoint_id": webhooks,
        # Both units' real entries: A's receipts are asked for by id, as by an attacker who
        # learnt one (the URL naming the id, the answer is judged on the rest).
        "entry_id": [*copies.a_entries, *copies.b_entries],
        # The audit log's tiles: the first full one and today's partial one, of each kind.
        "level": ["0"],
        "index": tile_paths(size),
        "reason_code": ["not_visible"],
    }
    starts = [url for path in get_routes() for url in fill(path, values)]
    s3_url = stack.env["MVQ_S3_ENDPOINT_URL"].rstrip("/")
    leaked: dict[str, set[str]] = {}
    for who, (token, login) in people.items():
        web = web_login(stack, *login)
        api = stack.client(token)
        with api:
            count, found = crawl({"api": api, "web": web.client}, starts, stack.url, s3_url,
                                 copies, who)  # fmt: skip
        assert count > len(starts) / 2, (who, count)
        leaked |= found
    assert not leaked, "\n".join(f"{k}: {sorted(v)}" for k, v in sorted(leaked.items()))


@pytest.mark.parametrize("path", ["/review/{item_id}", "/api/v1/webhooks/{endpoint_id}"])
def test_the_crawl_refuses_a_route_it_cannot_fill(path: str) -> None:
    with pytest.raises(AssertionError, match="cannot fill"):
        fill(path, {})
