"""The robustness suite on footage carrying a drone's on-screen display (issue 29): each source
and look-alike of the corpus with a display burned in (testkit.osd: time, position, altitude
in a drawn layout, font, size, corner and contrast), and the copies made of those through
every transform. Measured: whether each copy is still caught (both upload orders, the rule mvq
is configured with: nothing here was tuned on), whether its display is still read, and whether
osd_mismatch behaves on it as on its original: raised against a claim a day and 50 km off,
never against an honest one. vPDQ at every frame runs on the same copies in the same run.

    .venv/bin/python -m bench.robustness_osd --seed 29 --sources 3 --lookalikes 3

Sources and look-alikes are drawn as bench.robustness draws them (never those parameters were
chosen on); every overlay and every copy's parameters are printed.
"""

import argparse
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

from bench.report import write_section
from bench.robustness import VpdqResult, drawn, vpdq_recall
from mvq.matching.service import ClipRule
from mvq.settings import get_settings
from testkit import osd
from testkit.robustness import Evaluation, evaluate, recall_and_false_positives

AS_UPLOADED = "as uploaded (no copy)"
# A copy's first frame may show a later clock than its original's: cut up to 4.7 s in, or
# run up to 1.5x faster. The flag's own tolerance is hours; this only judges the reading.
SLACK_SECONDS = 30
COLUMNS = ["clips", "n", "caught, copy second", "caught, copy first", "vPDQ every frame",
           "time read", "place read", "given", "false flags", "flagged", "same"]  # fmt: skip
HEADER = f"| {' | '.join(COLUMNS)} |\n" + "|---" * len(COLUMNS) + "|"


@dataclass
class Row:
    name: str
    transform: str
    verdict: osd.Verdict
    same: bool  # read and flagged as its original was


def verdicts(ev: Evaluation, seed: int) -> list[Row]:
    """Every clip's display as read, judged against the truth it was burned with; a copy also
    against its original's reading."""

    def judge(clip: str, source: str) -> osd.Verdict:
        overlay, start = ev.overlays[source]
        rng = random.Random(f"{seed}/claims/{clip}")
        return osd.verdict(ev.analysed[clip].facts, overlay, start, rng,
                           slack_seconds=SLACK_SECONDS)  # fmt: skip

    own = {c.name: judge(c.name, c.name) for c in ev.originals + ev.lookalikes}
    rows = [Row(name, AS_UPLOADED, v, True) for name, v in own.items()]
    for c in ev.copies:
        v, was = judge(c.name, c.source), own[c.source]
        same = (v.time_read, v.place_read, v.false_flag, v.caught) == (
            was.time_read, was.place_read, was.false_flag, was.caught)  # fmt: skip
        rows.append(Row(c.name, c.transform, v, same))
    return rows


def share(values: list[bool]) -> str:
    return f"{sum(values)}/{len(values)}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--sources", type=int, default=3)
    parser.add_argument("--lookalikes", type=int, default=3)
    parser.add_argument("--no-vpdq", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    print(f"seed {args.seed}", flush=True)
    sources, lookalikes = drawn(args.seed, args.sources, args.lookalikes)
    ev = evaluate(args.seed, sources=sources, lookalikes=lookalikes, displays=True)
    for name, (o, start) in sorted(ev.overlays.items()):
        print(f"  {name}: {o.layout} {o.font} {o.size} {o.corner} {o.style} shown "
              f"{o.start:%Y-%m-%d %H:%M:%S} (UTC {start:%H:%M}) at {o.lat},{o.lon}")  # fmt: skip
    for c in ev.copies:
        print(f"  {c.name}: {json.dumps({k: v for k, v in c.params.items() if k != 'path'})}")
    settings = get_settings()
    rule = ClipRule(settings.match_min_share, settings.match_min_frames)
    recall, fps = recall_and_false_positives(ev.forward, rule)
    reverse, reverse_fps = recall_and_false_positives(ev.reverse, rule)
    rows = verdicts(ev, args.seed)
    for r in rows:
        read = ev.analysed[r.name].facts.get("osd") or {}
        print(f"  {r.name} [{r.transform}]: {r.verdict} same={r.same} read {read.get('text')}")
    vp = vpdq_recall(ev.originals, ev.copies) if not args.no_vpdq else None
    report(args, ev, rule, (recall, fps), (reverse, reverse_fps), rows, vp,
           time.monotonic() - started)  # fmt: skip


Measured = tuple[dict[str, float], int]  # recall per transform, false positives


def report(
    args: argparse.Namespace, ev: Evaluation, rule: ClipRule, forward: Measured,
    reverse: Measured, rows: list[Row], vp: VpdqResult | None, seconds: float,
) -> None:  # fmt: skip
    by: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by[r.transform].append(r)
    lines = []
    for transform, items in by.items():
        v = [r.verdict for r in items]
        copied = transform != AS_UPLOADED
        cells = [
            f"{forward[0].get(transform, 0):.2f}" if copied else "-",
            f"{reverse[0].get(transform, 0):.2f}" if copied else "-",
            vp.rows.get(transform, ("-", "-"))[0] if vp and copied else "-",
            share([x.time_read for x in v]), share([x.place_read for x in v]),
            share([x.given for x in v]), share([x.false_flag for x in v]),
            share([x.caught for x in v]), share([r.same for r in items]) if copied else "-",
        ]  # fmt: skip
        lines.append(f"| {transform} | {len(items)} | {' | '.join(cells)} |")
    copies = [r for r in rows if r.transform != AS_UPLOADED]
    cpu = ""
    if vp:
        ours = statistics.median(ev.analysed[c.name].cpu for c in ev.copies
                                 if c.path.suffix == ".mp4")  # fmt: skip
        every = statistics.median(vp.every_cpu)
        cpu = (f"CPU per copied clip, median: mvq {ours:.2f} s (the display's reading included), "
               f"vPDQ every frame {every:.2f} s ({ours / every:.2f} x).")  # fmt: skip
    body = f"""## Robustness with a drone's on-screen display burned in (issue 29)

Command: `.venv/bin/python -m bench.robustness_osd {" ".join(sys.argv[1:])}` (prints every
overlay and every copy's parameters). {len(ev.originals)} sources
({", ".join(o.name for o in ev.originals)}) and {len(ev.lookalikes)} look-alikes
({", ".join(x.name for x in ev.lookalikes)}), none used to choose a parameter, each with a
display burned in (testkit/osd.py: layout, font, text height, corner and contrast drawn per
clip; a look-alike's display copies an original's style with its own time and place), then
every source through every transform of the robustness suite ({len(ev.copies)} copies).
Clip rule as configured, not tuned here: {rule.min_frames} frames, {rule.min_share:.0%}.

*Caught*: the copy's source found (copy second: the copy probes an index of the sources and
look-alikes; copy first: the source probes an index of the copies). *Time read*: the display's
clock at the clip's start within {SLACK_SECONDS} s. *Place read*: within 50 m. *Given*: the
display stands in as the capture time or place, named as its source (the files carry neither).
*False flags*: osd_mismatch against an honest claim (true time plus 0-20 min, within about
1 km). *Flagged*: osd_mismatch against a claim a day and 50 km off. *Same*: time, place and
both flags as on the copy's original.

{HEADER}
{chr(10).join(lines)}

Duplicate false positives over the run (look-alikes wearing the same display style among the
queries): {forward[1]} copy second, {reverse[1]} copy first. Over all {len(copies)} copies:
false osd_mismatch flags {sum(r.verdict.false_flag for r in copies)}, reading as the original's
{sum(r.same for r in copies)}. {cpu}
Whole run: {seconds:.0f} s.
"""
    print(body)
    write_section("robustness-osd", body)


if __name__ == "__main__":
    main()
