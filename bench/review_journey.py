"""Reviewer journey (issue 17): one reviewer in Chromium works through 30 queued claims with
real footage by keyboard only, as the UI stands when this runs, and a second reviewer gives the
four-eyes claims their second approval. Then an item matching 50 other claims is measured.

    .venv/bin/python -m bench.review_journey [--seed N] [--rounds 3] [--items 30] [--matches 50]

On a stack like `make dev`'s (API, 2 workers, Postgres, Redis, SeaweedFS; testkit/harness.py),
footage goes through the units' own upload path and the real workers. The mix: clean claims,
re-used copies of another unit's paid footage (cross_unit_duplicate, already credited) and
four-eyes claims (mlrs destroyed, 50 points). The journey does not assume a flow: after each
decision it looks where it landed (the queue, or the next item), presses `n` if it must, and a
second `a` if a confirmation is shown, and counts what it took. It records, per decision:
keystrokes, page loads (`load` events) and navigations (`framenavigated`), and the time from the
key press that sent the decision to the next item's <video> firing `canplay` (readyState >= 3).
Each round has its own database, stack and seed (seed, seed + 1, ...); the figures are pooled
over the rounds and given per round. Prints a JSON summary with the seeds; writes the section
"review-journey" of docs/BENCHMARKS.md (MVQ_BENCH_DOC sends a trial run's figures elsewhere).
"""

import argparse
import json
import os
import random
import re
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from bench.report import median, percentile, write_section
from mvq import storage
from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from mvq.media.models import Frame, Media, MediaStatus
from mvq.review.models import ReviewItem
from mvq.rules import service as rules
from mvq.settings import get_settings
from mvq.submissions.models import Flag, Submission, SubmissionStatus
from testkit import footage, harness
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, Reviewer
from testkit.claims import upload_claim, wait_for_status
from testkit.people import make_staff, make_unit

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(os.environ.get("MVQ_ARTIFACTS_DIR", Path(__file__).parents[1] / "artifacts"))
ITEM_PATH = re.compile(r"/review/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
CONFIRM_KINDS = {"cross_unit_duplicate", "exact_duplicate", "already_credited"}

# Every document the reviewer opens records when its videos could play: a capturing listener
# set before the page's own scripts, stamped with the wall clock the journey's key presses use.
RECORDER = """(() => {
  const j = window.__journey = {doc: Math.random().toString(36).slice(2), ready: [], data: []};
  document.addEventListener("canplay", (ev) => {
    if (ev.target instanceof HTMLVideoElement) j.ready.push(Date.now());
  }, true);
  document.addEventListener("loadeddata", (ev) => {
    if (ev.target instanceof HTMLVideoElement) j.data.push(Date.now());
  }, true);
})();"""

# Where the reviewer is: which document, which item (and whether it is theirs to decide), a
# visible confirmation, the page's notices.
STATE = """() => {
  const j = window.__journey || {};
  const item = document.getElementById("item");
  const shown = (el) => el && !el.hidden && el.getClientRects().length > 0;
  const confirm = [...document.querySelectorAll('[role="alertdialog"], dialog[open]')].some(shown);
  return {doc: j.doc || null, url: location.href, ready: j.ready || [], data: j.data || [],
          item: item ? item.dataset.itemId || null : null,
          deciding: shown(document.getElementById("approve-form")) ||
                    shown(document.getElementById("approve")),
          confirm, notices: [...document.querySelectorAll(".notice, [role=status]")]
                              .map((n) => n.textContent.trim()).filter(Boolean).join(" | "),
          focus: (document.activeElement || {}).id || null,
          hasVideo: !!document.querySelector("video")};
}"""


# ---------------------------------------------------------------------------------- footage


def _stills(rng: random.Random) -> list[tuple[str, np.ndarray]]:
    """Distinct pictures from scikit-image's bundled photos: whole photos, and the quarters of
    three large ones."""
    from skimage import data

    def rgb(a: np.ndarray) -> np.ndarray:
        if a.dtype == bool:
            a = a.astype(np.uint8) * 255
        if a.ndim == 2:
            a = np.stack([a] * 3, axis=-1)
        return a[..., :3]

    whole = ["camera", "chelsea", "coins", "clock", "moon", "brick", "grass", "gravel",
             "colorwheel", "page", "text", "horse", "logo", "cell", "immunohistochemistry",
             "retina", "hubble_deep_field"]  # fmt: skip
    found = [(name, rgb(getattr(data, name)())) for name in whole]
    found.append(("motorcycle", rgb(data.stereo_motorcycle()[0])))
    # Quarters only of photos whose quarters look nothing alike, even mirrored (a retina's or a
    # star field's do: the matcher rightly pairs them).
    for name in ("astronaut", "coffee", "rocket"):
        a = rgb(getattr(data, name)())
        h, w = a.shape[0] // 2, a.shape[1] // 2
        for q, (y, x) in enumerate(((0, 0), (0, w), (h, 0), (h, w))):
            found.append((f"{name}-{q}", a[y : y + h, x : x + w]))
    rng.shuffle(found)
    return found


def make_clip(name: str, pixels: np.ndarray, directory: Path) -> Path:
    footage.PHOTOS[name] = lambda: pixels
    return footage.clip(name, directory / f"{name}.mp4")


# ------------------------------------------------------------------------------------- data


@dataclass
class Claim:
    submission_id: str
    kind: str  # clean | duplicate | four_eyes
    decision: str  # what the reviewer will do: approve | reject
    flags: list[str] = field(default_factory=list)  # as the workers flagged it
    made: str = ""  # how a copy was made


def approve_via_api(stack: harness.Stack, submission_ids: set[str]) -> None:
    """The originals of the copies: approved (paid) before the journey, over the API."""
    with session_factory()() as session:
        token = make_staff(session, Role.reviewer)
    left = set(submission_ids)
    with stack.client(token) as api:
        while left:
            lease = api.post("/api/v1/review/claim")
            assert lease.status_code == 200, lease.text
            claim = lease.json()
            body = {"lease_token": claim["lease_token"], "decision": "approve"}
            done = api.post(f"/api/v1/review/{claim['item_id']}/decision", json=body)
            assert done.status_code == 200, done.text
            left.discard(claim["submission_id"])


def build_queue(
    stack: harness.Stack, clips: Path, rng: random.Random, items: int
) -> tuple[list[Claim], list[tuple[str, Path]]]:
    """`items` claims waiting: about a quarter re-used copies of footage another unit was paid
    for, a sixth four-eyes, the rest clean. Returns the claims and the paid originals."""
    duplicates, four_eyes = max(1, items // 4), max(1, items // 6)
    clean = items - duplicates - four_eyes
    stills = _stills(rng)
    assert len(stills) >= items, f"only {len(stills)} distinct pictures"
    with session_factory()() as session:
        owner, copier = make_unit(session)[1], make_unit(session)[1]
        others = [make_unit(session)[1] for _ in range(3)]
    now = datetime.now(UTC)

    def when() -> str:  # a distinct time in the last week: no two claims of one strike
        return (now - timedelta(hours=2 + rng.uniform(0, 160))).isoformat()

    # The originals, paid first: their frames are indexed before the copies arrive.
    originals: list[tuple[str, Path]] = []
    for name, pixels in stills[:duplicates]:
        path = make_clip(name, pixels, clips)
        originals.append((upload_claim(stack, owner, path, occurred_at=when()), path))
    for sid, _ in originals:
        wait_for_status(stack, owner, sid, "in_queue")
    approve_via_api(stack, {sid for sid, _ in originals})

    plan: list[tuple[str, str, Path]] = []  # kind, unit token, file
    made: dict[Path, str] = {}
    for n, (_, path) in enumerate(originals):
        copy = clips / f"copy-{n}.mp4"
        if n % 2:
            footage.messenger_copy(path, copy)
            made[copy] = "messenger copy (re-encoded, 480 px wide)"
        else:
            start = 0.4 + rng.uniform(0, 0.5)
            footage.reused(path, copy, start=start)
            made[copy] = f"cut from {start:.2f} s and re-encoded"
        plan.append(("duplicate", copier, copy))
    rest = stills[duplicates : duplicates + clean + four_eyes]
    for n, (name, pixels) in enumerate(rest):
        kind = "four_eyes" if n < four_eyes else "clean"
        plan.append((kind, others[n % len(others)], make_clip(name, pixels, clips)))
    rng.shuffle(plan)
    claims = []
    for kind, token, path in plan:
        target = "mlrs" if kind == "four_eyes" else "tank"
        sid = upload_claim(stack, token, path, target_type=target, occurred_at=when())
        decision = "reject" if kind == "duplicate" and rng.random() < 0.5 else "approve"
        claims.append(Claim(sid, kind, decision, made=made.get(path, "")))
    tokens = {sid: token for (_, token, _), sid in zip(plan, [c.submission_id for c in claims],
                                                          strict=True)}  # fmt: skip
    for c in claims:
        wait_for_status(stack, tokens[c.submission_id], c.submission_id, "in_queue")
    return claims, originals


def flags_of(submission_ids: list[str]) -> dict[str, set[str]]:
    with session_factory()() as session:
        rows = session.execute(
            select(Flag.submission_id, Flag.kind).where(Flag.submission_id.in_(submission_ids))
        ).all()
    found: dict[str, set[str]] = {sid: set() for sid in submission_ids}
    for sid, kind in rows:
        found[sid].add(kind)
    return found


def submission_of(item_id: str) -> str:
    with session_factory()() as session:
        sid = session.scalar(select(ReviewItem.submission_id).where(ReviewItem.id == item_id))
    assert sid is not None, item_id
    return sid


# ---------------------------------------------------------------------------------- journey


@dataclass
class Step:
    """One decision, from its first key to the next item's footage ready to play."""

    who: str
    submission_id: str
    kind: str
    decision: str
    flags: list[str]
    keys: list[str] = field(default_factory=list)
    loads: int = 0
    navigations: int = 0
    landed: str = ""  # next_item | queue | end
    via_queue: bool = False
    confirmed: bool = False
    ready_ms: float | None = None  # decision key -> next item's canplay
    data_ms: float | None = None  # decision key -> next item's first frame (loadeddata)


class Journey:
    def __init__(self, person: Reviewer, who: str) -> None:
        self.person, self.who, self.page = person, who, person.page
        self.keys: list[str] = []
        self.loads = self.navigations = 0
        person.context.add_init_script(RECORDER)
        self.page.on("load", lambda _: self._count("loads"))
        self.page.on("framenavigated", self._navigated)
        self.page.on("dialog", self._dialog)

    def _count(self, name: str) -> None:
        setattr(self, name, getattr(self, name) + 1)

    def _navigated(self, frame: Any) -> None:
        if frame == self.page.main_frame:
            self.navigations += 1

    def _dialog(self, dialog: Any) -> None:  # a native confirm(): Enter accepts it
        self.keys.append("Enter(dialog)")
        dialog.accept()

    def press(self, key: str) -> float:
        self.keys.append(key)
        at = time.time() * 1000
        self.page.keyboard.press(key)
        return at

    def state(self) -> dict[str, Any]:
        while True:
            try:
                return self.page.evaluate(STATE)  # type: ignore[no-any-return]
            except PlaywrightError:  # between two documents
                time.sleep(0.01)

    def change(self, before: dict[str, Any], timeout: float = 20) -> dict[str, Any] | None:
        """Wait until the reviewer is elsewhere (another document or item) or is asked to
        confirm; None if nothing changed in `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.state()
            if now["doc"] is not None and (
                now["doc"] != before["doc"] or now["item"] != before["item"]
                or (now["confirm"] and not before["confirm"])
            ):  # fmt: skip
                self.page.wait_for_load_state("domcontentloaded")
                return self.state() if now["doc"] != before["doc"] else now
            time.sleep(0.01)
        return None

    def claim_from_queue(self) -> dict[str, Any] | None:
        """`n` on the queue: the item it opens, or None when the queue has nothing more."""
        before = self.state()
        self.press("n")
        after = self.change(before, timeout=15)
        if after is None or not after["item"]:
            return None
        return after

    def ready(self, since: float, timeout: float = 20) -> tuple[float | None, float | None]:
        """Milliseconds from `since` to the current document's first canplay (and first frame)
        after it; None if the footage did not get there within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.state()
            ready = [t for t in s["ready"] if t >= since]
            if ready:
                data = [t for t in s["data"] if t >= since]
                return ready[0] - since, (data[0] - since) if data else None
            time.sleep(0.01)
        return None, None

    def decide(self, here: dict[str, Any], claim: Claim) -> tuple[Step, dict[str, Any] | None]:
        step = Step(self.who, claim.submission_id, claim.kind, claim.decision, claim.flags)
        keys0, loads0, navs0 = len(self.keys), self.loads, self.navigations
        if claim.decision == "approve":
            sent = self.press("a")
        else:  # the first reason, then Enter: as the keys on the page say
            self.press("r")
            self.press("ArrowDown")
            sent = self.press("Enter")
        now = self.change(here)
        tries = 0
        while now is not None and now["confirm"] and now["doc"] == here["doc"] and tries < 3:
            step.confirmed = True
            tries += 1
            key = "a" if tries == 1 else "Enter"
            sent = self.press(key)
            now = self.change(now, timeout=5 if tries == 1 else 20)
        if now is None:
            raise RuntimeError(f"nothing happened after the decision keys: {self.state()}")
        if now["item"] and now["item"] != here["item"] and now["deciding"]:
            step.landed = "next_item"
        elif now["item"] == here["item"]:
            raise RuntimeError(f"still on the item after deciding: {now}")
        else:
            step.landed, step.via_queue = "queue", True
            mark = len(self.keys), self.loads, self.navigations
            now = self.claim_from_queue()
            if now is None:  # the queue had nothing more: that `n` was no part of the decision
                step.landed, step.via_queue = "end", False
                del self.keys[mark[0] :]
                self.loads, self.navigations = mark[1], mark[2]
        if now is not None:
            step.ready_ms, step.data_ms = self.ready(sent)
        self.page.wait_for_load_state("load")  # the page's own load counts for this step
        step.keys = self.keys[keys0:]
        step.loads, step.navigations = self.loads - loads0, self.navigations - navs0
        return step, now

    def run(self, claims: dict[str, Claim], limit: int) -> list[Step]:
        self.page.goto("/review")
        here = self.claim_from_queue()
        self.page.wait_for_load_state("load")  # the first item's load is not the first decision's
        steps: list[Step] = []
        while here is not None and len(steps) < limit:
            sid = submission_of(here["item"])
            claim = claims[sid]
            if self.who == "second":  # the second approval of a four-eyes claim
                claim = Claim(sid, claim.kind, "approve", claim.flags)
            step, here = self.decide(here, claim)
            steps.append(step)
        return steps


# ---------------------------------------------------------------------- an item with 50 matches


def fifty_match_item(stack: harness.Stack, clips: Path, original: tuple[str, Path], matches: int,
                     rng: random.Random) -> tuple[str, int]:  # fmt: skip
    """A re-posted clip, really uploaded and processed, whose duplicate flags name `matches`
    other claims: the matcher's own entries (the paid original, and any copy of it already
    reviewed), and enough claims by other units carrying the same footage (media and stills
    copied from the original), listed as the matcher lists them. Its submission id and the
    number of claims its flags name."""
    with session_factory()() as session:
        token = make_unit(session)[1]
        units = [make_unit(session)[0] for _ in range(8)]
    source_id, path = original
    repost = upload_claim(stack, token, footage.messenger_copy(path, clips / "repost.mp4"))
    wait_for_status(stack, token, repost, "in_queue")
    with session_factory()() as session:
        src = session.scalars(select(Media).where(Media.submission_id == source_id)).one()
        frames = session.scalars(select(Frame).where(Frame.media_id == src.id)).all()
        flags = session.scalars(
            select(Flag).where(Flag.submission_id == repost,
                               Flag.kind.in_(("near_duplicate", "cross_unit_duplicate")))
        ).all()  # fmt: skip
        assert flags, "the repost was not flagged as a copy"
        real = next(m for f in flags for m in f.evidence["matches"])
        named = {m["submission_id"] for f in flags for m in f.evidence["matches"]}
        extra = []
        statuses = [SubmissionStatus.approved, SubmissionStatus.in_queue,
                    SubmissionStatus.rejected]  # fmt: skip
        for n in range(matches - len(named)):  # the real ones count: `matches` in all
            unit_id = units[n % len(units)]
            s = Submission(unit_id=unit_id, status=statuses[n % 3], target_type="tank",
                           outcome="destroyed",
                           occurred_at=utcnow() - timedelta(days=3 + n))  # fmt: skip
            session.add(s)
            session.flush()
            m = Media(submission_id=s.id, status=MediaStatus.processed, filename=src.filename,
                      content_type=src.content_type, declared_size=src.declared_size,
                      declared_sha256=uuid.uuid4().hex * 2, sha256=uuid.uuid4().hex * 2,
                      size=src.size, kind=src.kind, container=src.container,
                      duration_seconds=src.duration_seconds, width=src.width, height=src.height,
                      video_codec=src.video_codec, fps=src.fps, encoder=src.encoder,
                      probe=src.probe, thumbnail_key=src.thumbnail_key,
                      contact_sheet_key=src.contact_sheet_key,
                      s3_key=f"bench/{s.id}/original", processed_at=utcnow())  # fmt: skip
            session.add(m)
            session.flush()
            storage.copy(src.s3_key, m.s3_key)
            session.add_all(
                Frame(media_id=m.id, index=f.index, t_seconds=f.t_seconds, s3_key=f.s3_key,
                      width=f.width, height=f.height, pdq=f.pdq, pdq_quality=f.pdq_quality,
                      pdq_center=f.pdq_center, pdq_mirror=f.pdq_mirror, pdq_upper=f.pdq_upper,
                      pdq_9x16=f.pdq_9x16, pdq_4x5=f.pdq_4x5)
                for f in frames
            )  # fmt: skip
            share = round(rng.uniform(0.55, 1.0), 3)
            extra.append(real | {"media_id": m.id, "submission_id": s.id, "unit_id": unit_id,
                                 "share_this": share, "share_other": share,
                                 "min_distance": rng.randint(0, 24)})  # fmt: skip
        for flag in flags:
            flag.evidence = {**flag.evidence, "matches": [*flag.evidence["matches"], *extra]}
            flag_modified(flag, "evidence")
        session.commit()
    return repost, len(named) + len(extra)


def page_height(page: Page, viewport: dict[str, int]) -> dict[str, Any]:
    page.set_viewport_size(viewport)
    page.wait_for_timeout(300)
    height = page.evaluate("() => document.documentElement.scrollHeight")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    return {"viewport": f"{viewport['width']}x{viewport['height']}", "height_px": height,
            "screens": round(height / viewport["height"], 2),
            "sideways_scroll": width > viewport["width"]}  # fmt: skip


def measure_fifty(browser: Browser, stack: harness.Stack, item_sid: str) -> dict[str, Any]:
    person = Reviewer(browser, stack, Role.reviewer)
    try:
        page = person.login()
        page.set_viewport_size(LAPTOP)
        with session_factory()() as session:
            item_id = session.scalar(
                select(ReviewItem.id).where(ReviewItem.submission_id == item_sid)
            )
        page.keyboard.press("n")  # the re-post is the only claim waiting: it is leased to us
        page.wait_for_url(ITEM_PATH)
        if f"/review/{item_id}" not in page.url:
            page.goto(f"/review/{item_id}")
        page.wait_for_load_state("load")
        others = page.evaluate(
            """() => new Set([...document.querySelectorAll('a[href*="/review/"]')]
                .map((a) => a.pathname).filter((p) => /[0-9a-f]{8}-/.test(p))).size"""
        )
        laptop = page_height(page, LAPTOP)
        person.screenshot("journey-item-50-matches-1366")
        phone = page_height(page, PHONE)
        person.screenshot("journey-item-50-matches-390")
        return {"laptop": laptop, "phone": phone, "item_links_on_page": others}
    finally:
        person.close()


# ------------------------------------------------------------------------------------ report


def summarise(steps: list[Step]) -> dict[str, Any]:
    timed = [s.ready_ms for s in steps if s.ready_ms is not None]
    data = [s.data_ms for s in steps if s.data_ms is not None]
    keys = [len(s.keys) for s in steps]
    loads = [s.loads for s in steps]

    def stats(values: list[float]) -> dict[str, float | int | None]:
        if not values:
            return {"n": 0, "p50": None, "p95": None, "max": None}
        return {"n": len(values), "p50": round(median(values), 1),
                "p95": round(percentile(values, 95), 1), "max": round(max(values), 1)}  # fmt: skip

    def spread(values: list[int]) -> dict[str, float | int]:
        return {"median": median(values), "mean": round(sum(values) / len(values), 2),
                "max": max(values), "total": sum(values)}  # fmt: skip

    by_kind: dict[str, dict[str, Any]] = {}
    for label in sorted({f"{s.kind}/{s.decision}/{s.who}" for s in steps}):
        group = [s for s in steps if f"{s.kind}/{s.decision}/{s.who}" == label]
        by_kind[label] = {"decisions": len(group),
                          "keys_median": median([len(s.keys) for s in group]),
                          "loads_median": median([s.loads for s in group]),
                          "confirmed": sum(s.confirmed for s in group),
                          "via_queue": sum(s.via_queue for s in group)}  # fmt: skip
    return {
        "decisions": len(steps),
        "keys_per_decision": spread(keys),
        "page_loads_per_decision": spread(loads),
        "navigations_total": sum(s.navigations for s in steps),
        "returned_to_queue": sum(s.via_queue for s in steps if s.landed != "end"),
        "landed_on_next_item": sum(s.landed == "next_item" for s in steps),
        "decision_to_canplay_ms": stats(timed),
        "decision_to_first_frame_ms": stats(data),
        "not_ready_in_20s": sum(1 for s in steps if s.landed != "end" and s.ready_ms is None),
        "by_kind": by_kind,
    }


def section(result: dict[str, Any], args: argparse.Namespace) -> str:
    j, rounds = result["pooled"], result["per_round"]
    t = j["decision_to_canplay_ms"]
    keys, loads = j["keys_per_decision"], j["page_loads_per_decision"]
    heights = [r["fifty_matches"]["laptop"]["screens"] for r in rounds]
    pixels = [r["fifty_matches"]["laptop"]["height_px"] for r in rounds]
    phones = [r["fifty_matches"]["phone"]["screens"] for r in rounds]
    one_key = keys["median"] <= 1 and loads["median"] <= 1 and j["returned_to_queue"] == 0
    met = {
        "keys": "met" if one_key else "not met",
        "latency": "met" if t["p95"] is not None and t["p95"] < 1000 else "not met",
        "height": "met" if max(heights) <= 2 else "not met",
    }
    per_round = ", ".join(
        f"{r['journey']['decision_to_canplay_ms']['p50']}/{r['journey']['decision_to_canplay_ms']['p95']}"
        for r in rounds
    )
    mix = rounds[0]["mix"]
    goals = [
        ("one key and one page load per decision, no return to the queue",
         f"keys per decision: median {keys['median']:g}, mean {keys['mean']}, max {keys['max']}; "
         f"page loads: median {loads['median']:g}, mean {loads['mean']}, max {loads['max']}; "
         f"back on the queue after {j['returned_to_queue']} of {j['decisions']} decisions",
         met["keys"]),
        ("decision to the next video ready to play: p95 under 1 s",
         f"p50 {t['p50']} ms, p95 {t['p95']} ms, max {t['max']} ms ({t['n']} samples; "
         f"p50/p95 per round: {per_round} ms)", met["latency"]),
        (f"item with {args.matches} matches at 1366x768: at most 2 screens",
         f"{' / '.join(map(str, pixels))} px = {' / '.join(map(str, heights))} screens "
         "in the rounds "
         f"(390x844: {' / '.join(map(str, phones))} screens)", met["height"]),
    ]  # fmt: skip
    goal_rows = "\n".join(f"| {goal} | {got} | {verdict} |" for goal, got, verdict in goals)
    kinds = "\n".join(
        f"| {label} | {v['decisions']} | {v['keys_median']:g} | {v['loads_median']:g} | "
        f"{v['confirmed']} | {v['via_queue']} |"
        for label, v in j["by_kind"].items()
    )
    flagged = sum(r["copies_flagged"] for r in rounds)
    stray = sum(r["others_flagged_as_copies"] for r in rounds)
    missed = [m for r in rounds for m in r["copies_not_flagged"]]
    missed_text = f" (not flagged: {'; '.join(missed)})" if missed else ""
    return f"""## Reviewer journey (issue 17)

Command: `.venv/bin/python -m bench.review_journey --seed {args.seed} --rounds {args.rounds}
--items {args.items} --matches {args.matches}` (commit `{result["commit"]}`). Each round: a fresh
Postgres database and the stack of `testkit/harness.py` (API, 2 workers, Redis, SeaweedFS) on this
machine; Debian's Chromium through Playwright, headless, 1366x768. {args.items} claims with real
footage uploaded through the units' API and processed by the workers: {mix["clean"]} clean,
{mix["duplicate"]} re-used copies of footage another unit was paid for, {mix["four_eyes"]}
four-eyes (mlrs destroyed, 50 points >= `four_eyes_points` {result["four_eyes_points"]}). The
matcher flagged {flagged} of the {mix["duplicate"] * args.rounds} copies over the rounds as
another unit's footage{missed_text}, and {stray} of the other claims. A reviewer works through the
queue by keyboard only, as the UI allowed at that commit (`n` on the queue, `a` to approve, a
second `a` where a confirmation is shown, `r` ArrowDown Enter to reject with the first reason;
about half the copies are rejected); a second reviewer gives the four-eyes claims their second
approval. The footage veil stays on (`u` is not pressed). Time: from the key press that sent
the decision to the next item's `<video>` firing `canplay`, stamped in the page. Figures are
pooled over the {args.rounds} rounds (seeds {args.seed} to {args.seed + args.rounds - 1}).

| goal (issue 17) | measured | |
|---|---|---|
{goal_rows}

| claim / decision / reviewer | decisions | keys | page loads | confirmed | via the queue |
|---|---|---|---|---|---|
{kinds}

Keys and page loads per group are medians; "confirmed": decisions that needed the second key
because the claim was flagged as a copy or as already credited. "One key" holds for approving
a clean claim and for either four-eyes approval; a flagged approval takes the second key the
issue asks for, and a rejection three (`r`, a reason, Enter). The JSON the script prints
has every figure (`artifacts/review-journey.json` every decision); screenshots of the
{args.matches}-match item: `artifacts/journey-item-50-matches-1366.png` and `-390.png`.
"""


def git_commit() -> str:
    def git(*args: str) -> str:
        root = str(Path(__file__).resolve().parents[1])
        done = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True,
                              timeout=10, check=False)  # fmt: skip
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return (git("rev-parse", "--short", "HEAD") or "unknown") + (" + local edits" if dirty else "")


def one_round(backing: harness.Backing, browser: Browser, args: argparse.Namespace,
              seed: int) -> dict[str, Any]:  # fmt: skip
    """A fresh database and stack, the queue built from `seed`, both reviewers through it, then
    the 50-match item."""
    rng = random.Random(seed)
    clips = Path(tempfile.mkdtemp(prefix="mvq-journey-clips-"))
    url = harness.fresh_database(backing, "postgres")
    harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
    with session_factory(url)() as session:
        rules.seed_demo_rules(session, now=utcnow())
        session.commit()
    stack = harness.start_stack(backing, url, workers=2)
    try:
        started = time.monotonic()
        claims, originals = build_queue(stack, clips, rng, args.items)
        print(f"seed {seed}: queue built in {time.monotonic() - started:.0f} s", flush=True)
        flags = flags_of([c.submission_id for c in claims])
        for c in claims:  # what the matcher made of it, not what was planned
            c.flags = sorted(flags[c.submission_id])
        by_sid = {c.submission_id: c for c in claims}
        steps: list[Step] = []
        for who in ("first", "second"):
            person = Reviewer(browser, stack, Role.reviewer)
            try:
                person.login()
                person.page.set_viewport_size(LAPTOP)
                steps += Journey(person, who).run(by_sid, limit=2 * args.items)
            finally:
                person.close()
        with session_factory()() as session:
            left = list(session.scalars(
                select(Submission.status).where(Submission.id.in_(list(by_sid)))
            ))  # fmt: skip
        fifty_sid, named = fifty_match_item(stack, clips, originals[0], args.matches, rng)
        fifty = measure_fifty(browser, stack, fifty_sid) | {"claims_in_flags": named}
    finally:
        stack.group.stop()
    copies = [c for c in claims if c.kind == "duplicate"]
    return {
        "seed": seed,
        "mix": {k: sum(c.kind == k for c in claims) for k in ("clean", "duplicate", "four_eyes")},
        "copies_flagged": sum(bool(set(c.flags) & CONFIRM_KINDS) for c in copies),
        "others_flagged_as_copies": sum(bool(set(c.flags) & CONFIRM_KINDS)
                                        for c in claims if c.kind != "duplicate"),
        "copies_not_flagged": [c.made for c in copies if not set(c.flags) & CONFIRM_KINDS],
        "rejected": sum(c.decision == "reject" for c in claims),
        "statuses_after": {st: left.count(st) for st in sorted(set(left))},
        "journey": summarise(steps),
        "fifty_matches": fifty,
        "steps": steps,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--matches", type=int, default=50)
    args = parser.parse_args()
    print(f"seed {args.seed}", flush=True)
    rounds = []
    with harness.temporary_backing("mvq-bench-journey-") as backing, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for n in range(args.rounds):
                rounds.append(one_round(backing, browser, args, args.seed + n))
        finally:
            browser.close()
    steps = [s for r in rounds for s in r.pop("steps")]
    result = {"seed": args.seed, "rounds": args.rounds, "commit": git_commit(),
              "four_eyes_points": get_settings().four_eyes_points,
              "pooled": summarise(steps), "per_round": rounds}  # fmt: skip
    print(json.dumps(result, indent=2, default=str))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "review-journey.json").write_text(
        json.dumps(result | {"steps": [s.__dict__ for s in steps]}, indent=2, default=str)
    )
    write_section("review-journey", section(result, args))


if __name__ == "__main__":
    main()
