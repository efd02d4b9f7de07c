"""A scripted senior settles two-claim disputes from /disputes in Chromium, using the
suggestion. Each dispute is one clip uploaded by two units (crf 31 first, crf 24 second)
through the real queue and workers, both claims approved.

A script reads nothing, so reading is modelled: the words a senior reads before pressing `a`
(the heading, the suggestion and its reasons, each claim's header, file line and signals), at
200 words a minute, a careful pace for a second language. The machine's part is measured: the
page's load, the key, the settlement and the page that says so.

    .venv/bin/python -m bench.dispute_settle [--disputes 3]
"""

import argparse
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from playwright.sync_api import sync_playwright

from bench.report import write_section
from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from mvq.rules import service as rules
from mvq.scoring.disputes import reading
from mvq.scoring.models import Dispute, DisputeStatus
from testkit import footage, harness
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, Reviewer
from testkit.claims import upload_claim, wait_for_status
from testkit.people import make_staff, make_unit

WORDS_PER_MINUTE = 200
READ = ("section.dispute h2, .suggestion, .member h3, .member [data-file], .member .for-it, "
        ".member .signals")  # fmt: skip
PHOTOS = ("rocket", "astronaut", "chelsea", "coffee", "motorcycle_left")


def approve(stack: harness.Stack, ids: list[str]) -> None:
    with session_factory()() as session:
        token = make_staff(session, Role.reviewer)
    with stack.client(token) as api:
        for _ in ids:
            item = api.post("/api/v1/review/claim").json()
            api.post(f"/api/v1/review/{item['item_id']}/decision",
                     json={"lease_token": item["lease_token"], "decision": "approve"}
                     ).raise_for_status()  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--disputes", type=int, default=3)
    args = parser.parse_args()
    runs: list[dict[str, float]] = []
    heights: dict[str, int] = {}
    with TemporaryDirectory(prefix="mvq-settle-") as tmp, \
            harness.temporary_backing("mvq-bench-") as backing:  # fmt: skip
        url = harness.fresh_database(backing, "postgres")
        harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
        with session_factory(url)() as session:
            rules.seed_demo_rules(session, now=utcnow())
            session.commit()
        stack = harness.start_stack(backing, url, workers=1)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                senior = Reviewer(browser, stack, Role.senior)
                senior.login()
                page = senior.page
                for n in range(args.disputes):
                    photo = PHOTOS[n % len(PHOTOS)]
                    source = footage.clip(photo, Path(tmp) / f"{n}-{photo}.mp4", seconds=8,
                                          lossless=True)  # fmt: skip
                    with session_factory()() as session:
                        first, second = make_unit(session)[1], make_unit(session)[1]
                    copy = upload_claim(stack, first, footage.at_crf(source, 31))
                    wait_for_status(stack, first, copy, "in_queue")
                    original = upload_claim(stack, second, footage.at_crf(source, 24))
                    wait_for_status(stack, second, original, "in_queue")
                    approve(stack, [copy, original])
                    with session_factory()() as session:
                        found = reading.member_of(session, submission_id=original)
                        assert found is not None
                        dispute_id = found[0].id
                    if n == 0:
                        for lang in ("en", "uk"):
                            for width, tall in ((1366, 768), (390, 844)):
                                page.set_viewport_size({"width": width, "height": tall})
                                page.goto(f"/disputes?lang={lang}")
                                heights[f"{lang} {width}x{tall}"] = page.evaluate(
                                    "() => document.documentElement.scrollHeight")  # fmt: skip
                        page.goto("/disputes?lang=en")
                    page.set_viewport_size({"width": 1366, "height": 768})
                    started = time.perf_counter()
                    page.goto("/disputes")
                    section = page.locator(f'section.dispute[data-dispute="{dispute_id}"]')
                    words = sum(len(t.split()) for t in section.locator(READ).all_inner_texts())
                    loaded = time.perf_counter()
                    section.locator(".accept-button").focus()
                    page.keyboard.press("a")
                    page.locator(".notice").first.wait_for()
                    settled = time.perf_counter()
                    with session_factory()() as session:
                        row = session.get_one(Dispute, dispute_id)
                        assert row.status == DisputeStatus.settled
                    runs.append({"words": words, "load": loaded - started,
                                 "settle": settled - loaded,
                                 "read": words / WORDS_PER_MINUTE * 60})  # fmt: skip
                senior.close()
                browser.close()
        finally:
            stack.group.stop()
    total = [r["load"] + r["settle"] + r["read"] for r in runs]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(runs, heights)
    shown = ", ".join(f"{k}: {v} px" for k, v in heights.items())
    body = f"""## A senior settles a two-claim dispute from the page

`.venv/bin/python -m bench.dispute_settle --disputes {args.disputes}` (2 cores, Chromium).
{args.disputes} disputes, each one clip uploaded by two units (crf 31 first, crf 24 second)
through the real queue, both approved. A scripted senior opens `/disputes` at 1366x768 and
presses `a` to accept the suggestion (all to the crf 24 claim); the dispute is settled.
Reading is modelled, not measured: the {med["words"]:.0f} words read before the key (heading,
suggestion and reasons, each claim's header, file line and signals) at {WORDS_PER_MINUTE}
words a minute.

| median per dispute | seconds |
|---|---:|
| page load | {med["load"]:.2f} |
| reading ({med["words"]:.0f} words) | {med["read"]:.1f} |
| key `a` to the settled page | {med["settle"]:.2f} |
| **total** (worst of {len(runs)}: {max(total):.1f}) | **{statistics.median(total):.1f}** |

Goal ≤ 60 s. Page heights with one two-claim dispute: {shown} (two laptop screens are
1536 px; four phone screens 3376 px).
"""
    write_section("dispute-settle", body)


if __name__ == "__main__":
    main()
