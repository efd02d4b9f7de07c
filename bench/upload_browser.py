"""The unit's upload page on a front-line link, in Chromium with DevTools' throttling: this
branch's page beside main's (today's) from the same run, same database and storage.

- First load of /unit/upload for a signed-in member at 50 KB/s with 400 ms latency: cold (a new
  browser context, nothing cached) and warm (the same page opened again), to the `load` event
  (every stylesheet and script run).
- An upload at 250 KB/s (300 ms latency), the link dropping for 10 s every 60 s, the page
  reloaded once at a seeded random moment: bytes storage received ÷ the file's size (counted by
  a proxy in front of storage, testkit/s3_counter.py: every presigned PUT, whole parts and
  staged chunks alike), time from Send to done, the pieces storage took by kind, and whether
  the member had to choose the file again (the page keeps it: never, on either page now).

Service workers are blocked: DevTools' throttling reaches the page's requests, not a worker's.

    .venv/bin/python -m bench.upload_browser [--size-mib 100] [--seed 30]
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from bench.report import write_section
from deploy import servers
from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from mvq.rules import service as rules
from testkit import harness, upload_page
from testkit.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from testkit.people import make_login, make_unit
from testkit.s3_counter import S3Counter

ROOT = Path(__file__).parents[1]
KB = 1000
FIRST_LOAD = {"offline": False, "latency": 400, "downloadThroughput": 50 * KB,
              "uploadThroughput": 50 * KB}  # fmt: skip
UPLOAD_LINK = {"offline": False, "latency": 300, "downloadThroughput": 250 * KB,
               "uploadThroughput": 250 * KB}  # fmt: skip
DROP_EVERY, DROP_FOR = 60.0, 10.0
GIVE_UP = 4  # times the clean transfer time


def main_checkout(repo: Path) -> Path:
    """main as committed, beside this tree: its API serves today's page."""
    where = Path(tempfile.mkdtemp(prefix="mvq-bench-main-"))
    archive = subprocess.run(["git", "-C", str(repo), "archive", "main"], check=True,
                             capture_output=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    # Its static files hashed and gzipped as its install makes them: a fair first load.
    subprocess.run([sys.executable, "-m", "web.static_build"], cwd=where, check=True,
                   env={**os.environ, "PYTHONPATH": str(where)})  # fmt: skip
    return where


def start_api(group: servers.Group, name: str, env: dict[str, str], cwd: Path, logs: Path) -> str:
    port = servers.free_port()
    argv = servers.uvicorn_argv(host="127.0.0.1", port=port)
    proc = group.start(name, argv, env={**env, "PYTHONPATH": str(cwd)}, log_dir=logs, cwd=cwd)
    servers.wait_for_port(port, proc=proc)
    return f"http://127.0.0.1:{port}"


def login(browser: Browser, base: str, email: str, password: str) -> BrowserContext:
    context = browser.new_context(base_url=base, locale="uk-UA", service_workers="block")
    page = context.new_page()
    page.goto("/unit/upload")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    page.press('input[name="password"]', "Enter")
    page.wait_for_url("**/unit/upload")
    page.close()
    return context


def throttle(context: BrowserContext, page: Page, link: dict[str, Any]) -> Any:
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", link)
    return cdp


def load_time(page: Page) -> float:
    page.goto("/unit/upload", wait_until="load", timeout=120_000)
    return float(page.evaluate(
        "() => performance.getEntriesByType('navigation')[0].loadEventEnd / 1000"))  # fmt: skip


def first_load(browser: Browser, base: str, who: tuple[str, str], rounds: int) -> dict[str, Any]:
    cold, warm, sizes = [], [], []
    signed_in = login(browser, base, *who)
    cookies = signed_in.cookies()
    signed_in.close()
    for _ in range(rounds):
        # A new context: its own empty cache and its own connections, signed in by cookie.
        context = browser.new_context(base_url=base, locale="uk-UA", service_workers="block")
        context.add_cookies(cookies)  # type: ignore[arg-type]
        page = context.new_page()
        throttle(context, page, FIRST_LOAD)
        got: list[int] = []
        page.on(
            "response", lambda r, got=got: got.append(int(r.headers.get("content-length") or 0))
        )
        cold.append(load_time(page))
        sizes.append(sum(got))
        warm.append(load_time(page))
        context.close()
    return {"cold_s": median(cold), "warm_s": median(warm), "cold_all": cold, "warm_all": warm,
            "cold_bytes": median(sizes)}  # fmt: skip


def upload(browser: Browser, base: str, who: tuple[str, str], clip: Path, counter: S3Counter,
           rng: random.Random, variant: str, *, cut: bool) -> dict[str, Any]:  # fmt: skip
    context = login(browser, base, *who)
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/unit/upload")
    page.set_input_files("#files", str(clip))
    page.select_option("#choice", index=1)
    # Hashed before the claim goes.
    page.wait_for_selector('#file-list li.file[data-state="kept"]', timeout=300_000)
    cdp = throttle(context, page, UPLOAD_LINK)
    counter.counts.reset()
    # The reload lands somewhere in the first 80 % of the clean transfer time.
    transfer = clip.stat().st_size / UPLOAD_LINK["uploadThroughput"]
    reload_at = rng.uniform(0.1, 0.8) * transfer
    started = time.monotonic()
    page.click("#send")
    done_sel = '#queue li.claim-card[data-state="done"]'
    reloaded = picked_again = False
    offline = False
    while True:
        now = time.monotonic() - started
        if page.locator(done_sel).count():
            break
        if now > GIVE_UP * transfer:  # a page that stopped (today's can): told, not waited on
            break
        # The link: down DROP_FOR seconds out of every DROP_EVERY.
        down = (now % DROP_EVERY) >= DROP_EVERY - DROP_FOR
        if down != offline:
            offline = down
            cdp.send("Network.emulateNetworkConditions", {**UPLOAD_LINK, "offline": down})
            context.set_offline(down)
            if down and cut:
                counter.cut()
        if not reloaded and now >= reload_at and not offline:
            reloaded = True
            page.reload()
            cdp.send("Network.emulateNetworkConditions", UPLOAD_LINK)
        if reloaded and page.locator('#queue li.file[data-state="failed"]').count():
            picked_again = True  # the page lost its copy: the member would choose it again
            break
        page.wait_for_timeout(500)
    took = time.monotonic() - started
    finished = bool(page.locator(done_sel).count())
    context.close()
    sent = counter.counts.bytes_received / clip.stat().st_size
    return {"finished": finished, "sent_ratio": sent, "time_s": took, "reload_at_s": reload_at,
            "picked_again": picked_again, "puts": counter.counts.puts,
            "pieces": dict(upload_page.pieces(counter)),
            "stored_twice": len(upload_page.stored_twice(counter)),
            "clean_transfer_s": transfer}  # fmt: skip


def section(result: dict[str, Any]) -> str:
    b, m = result["branch"], result["main"]
    size = result["size_mib"]

    def row(name: str, r: dict[str, Any]) -> str:
        up, fl = r["upload"], r["first_load"]
        took = f"{up['time_s']:.0f} s" if up["finished"] else f"not done in {up['time_s']:.0f} s"
        kinds = ", ".join(f"{n} {kind}s" for kind, n in sorted(up["pieces"].items()))
        return (
            f"| {name} | {up['sent_ratio']:.3f} | {took} "
            f"(reload at {up['reload_at_s']:.0f} s) | {kinds}; {up['stored_twice']} twice "
            f"| {'yes' if up['picked_again'] else 'no'} "
            f"| {fl['cold_s']:.2f} s ({fl['cold_bytes'] / 1000:.0f} kB) | {fl['warm_s']:.2f} s |"
        )

    drops = ("each drop kills the PUTs in flight at the proxy, as a phone changing cell would "
             "(`--cut`)" if result["cut"] else
             "a drop stalls the PUTs in flight (DevTools' offline), as an outage TCP rides out "
             "does")  # fmt: skip
    title = "drops that cut the PUTs in flight" if result["cut"] else "drops that stall"
    return f"""## Upload page on a front-line link, {title} (issue 30)

`{result["command"]}` — Chromium (Debian's, Playwright), DevTools' throttling, this branch's
page (small staged chunks on a slow link, stitched into S3 parts by the server) and main's
({result["main_commit"]}: plain fetch, 5 MiB parts) from the same run, one database, one
SeaweedFS behind a counting proxy. Upload: a {size} MiB file at 250 KB/s up and down, 300 ms
latency (DevTools; the proxy holds all PUTs together to 250 KB/s, since DevTools throttles each
request on its own), the link down 10 s of every 60 s ({drops}), one reload at a seeded random
moment (seed
{result["seed"]}); bytes counted where storage receives them. First load: a signed-in member's
`/unit/upload` at 50 KB/s, 400 ms latency, to the `load` event; cold is a new browser context
(empty cache), warm the same page opened again; medians of {result["rounds"]}.

| page | bytes sent ÷ size | Send → done | pieces storage took | file picked again \
| first load, cold (bytes) | warm |
|---|---|---|---|---|---|---|
{row("this branch", b)}
{row("main (today)", m)}

A page not done within {GIVE_UP} times the clean transfer time
({b["upload"]["clean_transfer_s"]:.0f} s) is stopped there: its bytes are what it had sent.

Ratios, branch ÷ main: bytes sent {b["upload"]["sent_ratio"] / m["upload"]["sent_ratio"]:.2f},
time {b["upload"]["time_s"] / m["upload"]["time_s"]:.2f}, cold load
{b["first_load"]["cold_s"] / m["first_load"]["cold_s"]:.2f}. Goals: ≤ 1.1 times the bytes, ≤ 3 s
cold, ≤ 0.5 s warm. One run of each page (a 100 MiB upload at this rate takes about ten
minutes), on 2 cores."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--seed", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="first-load rounds")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the git repository with main")
    parser.add_argument("--cut", action="store_true",
                        help="each drop kills the PUTs in flight (a phone changing cell), "
                             "rather than stalling them (an outage TCP rides out)")  # fmt: skip
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="mvq-bench-upload-browser-"))
    clip = work / "clip.mp4"  # random bytes: what is measured is the transfer
    clip.write_bytes(rng.randbytes(args.size_mib * 1024 * 1024))
    main_tree = main_checkout(args.repo)
    main_commit = subprocess.run(["git", "-C", str(args.repo), "rev-parse", "--short", "main"],
                                 capture_output=True, text=True).stdout.strip()  # fmt: skip
    result: dict[str, Any] = {"seed": args.seed, "size_mib": args.size_mib, "rounds": args.rounds,
                              "main_commit": main_commit, "cut": args.cut,
                              "command": f"python -m bench.upload_browser --size-mib "
                                         f"{args.size_mib} --seed {args.seed}"
                                         f"{' --cut' if args.cut else ''}"}  # fmt: skip
    backing_dir = harness.temporary_backing("mvq-bench-upload-browser-")
    with backing_dir as backing, sync_playwright() as pw:
        # The link's 250 KB/s up is shared by every part at once, as a real link's is.
        rate = UPLOAD_LINK["uploadThroughput"]
        counter = S3Counter(backing.env["MVQ_S3_ENDPOINT_URL"], rate=rate)
        url = harness.fresh_database(backing, "postgres")
        env = {**backing.env, "MVQ_DATABASE_URL": url, "MVQ_S3_ENDPOINT_URL": counter.url}
        harness.use_env(env)
        with session_factory(url)() as session:
            rules.seed_demo_rules(session, now=utcnow())
            session.commit()
        group = servers.Group()
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            logs = work / "logs"
            bases = {"branch": start_api(group, "api-branch", env, ROOT, logs),
                     "main": start_api(group, "api-main", env, main_tree, logs)}  # fmt: skip
            for variant, base in bases.items():
                with session_factory()() as session:
                    unit_id = make_unit(session)[0]
                who = make_login(Role.unit, unit_id=unit_id)
                fl = first_load(browser, base, who, args.rounds)
                print(variant, "first load", json.dumps(fl), flush=True)
                up = upload(browser, base, who, clip, counter, random.Random(args.seed), variant,
                            cut=args.cut)  # fmt: skip
                print(variant, "upload", json.dumps(up), flush=True)
                result[variant] = {"first_load": fl, "upload": up}
        finally:
            browser.close()
            group.stop()
            counter.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = "upload-browser-cut" if args.cut else "upload-browser"
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    write_section(name, section(result))
    print(json.dumps(result, indent=2))
    os.environ.pop("MVQ_DATABASE_URL", None)


if __name__ == "__main__":
    main()
