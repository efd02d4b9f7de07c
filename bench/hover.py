"""Deduplicated stills on the footage they are for: a drone hovering over one spot.

The robustness corpus flies, pans and zooms; almost no two consecutive stills of it are alike,
so deduplication has nothing to do there (bench.robustness: recall unchanged, 0.0% fewer
stills). Here every source hovers: a photo held with the small shake and roll of a drone in
the air, 14-20 s, rendered by testkit/corpus.py with seeded parameters (printed). Each is copied
through the transforms a re-upload of a hover goes through (a cut starting anywhere, a speed
change, a re-encode at 360p, a caption). Both upload orders, with the clip rule mvq is
configured with; the index holds the deduplicated stills, and, as the baseline in the same run,
every still.

    .venv/bin/python -m bench.hover [--seed 31]
"""

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from bench.report import write_section
from mvq.matching.service import DEDUPE_DISTANCE, ClipRule, candidates
from mvq.settings import get_settings
from testkit import corpus
from testkit.robustness import (
    CACHE,
    Query,
    analyse_all,
    catalogue_of,
    recall_and_false_positives,
)

THRESHOLD = 31
TRANSFORMS = ("cut", "speed", "crf 35, 360p", "text overlay")


def hovers(directory: Path, rng: random.Random) -> list[corpus.Clip]:
    u = rng.uniform
    named = []
    for photo in sorted(corpus.PHOTOS):
        x, y, s = u(0.3, 0.7), u(0.3, 0.7), u(0.55, 0.8)
        spec = {"source": "photo", "photo": photo, **corpus._timing(rng, 14, 20),
                "motion": "hover", "shake_waves": [(u(0.3, 2.5), u(0, 6.3)) for _ in range(4)],
                "spin": 0.0, "s0": s, "s1": s, "x0": x, "x1": x, "y0": y, "y1": y,
                "shake": u(0.0003, 0.001), "roll": u(0.05, 0.15)}  # fmt: skip
        named.append((f"hover-{photo}", "photo", spec))
    return corpus._build(directory, named)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=31)
    args = parser.parse_args()
    started = time.monotonic()
    rng = random.Random(args.seed)
    base = CACHE / f"hover-seed{args.seed}"
    originals = hovers(base / "originals", rng)
    filler = corpus.filler_clip(base, rng)
    copies = []
    for original in originals:
        for transform in TRANSFORMS:
            dest = base / "copies" / original.name / f"{transform.replace(' ', '-')}.mp4"
            dest.parent.mkdir(parents=True, exist_ok=True)
            record = dest.with_suffix(".json")
            if not record.exists():
                seeded = random.Random(f"{args.seed}/{original.name}/{transform}")
                params = corpus.make_copy(original, transform, dest, seeded, filler)
                record.write_text(json.dumps(params))
            params = json.loads(record.read_text())
            print(f"  {original.name}/{transform}: "
                  f"{json.dumps({k: v for k, v in params.items() if k != 'path'})}")  # fmt: skip
            copies.append((original.name, transform, f"{original.name}/{transform}", dest))
    done = analyse_all([(o.name, o.path) for o in originals]
                       + [(name, path) for _, _, name, path in copies])  # fmt: skip
    settings = get_settings()
    rule = ClipRule(settings.match_min_share, settings.match_min_frames)
    results = {}
    for deduplicated in (True, False):
        forward_index = catalogue_of((done[o.name] for o in originals), deduplicated=deduplicated)
        reverse_index = catalogue_of((done[c[2]] for c in copies), deduplicated=deduplicated)
        forward = [Query("test", transform, source, candidates(
            forward_index, done[name].probes, exclude_media=None, threshold=THRESHOLD))
            for source, transform, name, _ in copies]  # fmt: skip
        reverse = []
        for o in originals:
            found = candidates(reverse_index, done[o.name].probes, exclude_media=None,
                               threshold=THRESHOLD)  # fmt: skip
            reverse.append(
                Query(
                    "test",
                    None,
                    None,
                    [m for m in found if not m.media_id.startswith(f"{o.name}/")],
                )
            )
            for transform in TRANSFORMS:
                expected = f"{o.name}/{transform}"
                reverse.append(
                    Query("test", transform, expected, [m for m in found if m.media_id == expected])
                )
        results[deduplicated] = (recall_and_false_positives(forward, rule),
                                 recall_and_false_positives(reverse, rule))  # fmt: skip
    stills = [len(done[o.name].stills) for o in originals]
    kept = [len(done[o.name].rows) for o in originals]
    all_stills = sum(len(a.stills) for a in done.values())
    all_kept = sum(len(a.rows) for a in done.values())
    rows = []
    for transform in TRANSFORMS:
        (fwd, _), (rev, _) = results[True]
        (fwd_all, _), (rev_all, _) = results[False]
        rows.append(f"| {transform} | {fwd[transform]:.2f} | {rev[transform]:.2f} | "
                    f"{fwd_all[transform]:.2f} | {rev_all[transform]:.2f} |")  # fmt: skip
    fps = {d: results[d][0][1] + results[d][1][1] for d in (True, False)}
    print("\n".join(rows), fps)
    write_section(
        "hover",
        f"""## Deduplicated stills on hovering footage

Command: `.venv/bin/python -m bench.hover --seed {args.seed}` (module docstring; the command
prints every copy's random parameters). {len(originals)} hovering sources, 14-20 s at 960x540,
each copied {len(TRANSFORMS)} ways ({len(copies)} copies). Stills are indexed once for each run
of consecutive ones within {DEDUPE_DISTANCE} bits on every hash. Rule: {rule.min_frames}
frames, {rule.min_share:.0%} (as configured).

Stills indexed: originals {sum(kept):,} of {sum(stills):,} (median per source
{statistics.median(kept):.0f} of {statistics.median(stills):.0f}); all files {all_kept:,} of
{all_stills:,} ({1 - all_kept / all_stills:.0%} fewer).

| transform | recall, copy second | recall, copy first | every still: copy second | copy first |
|---|---|---|---|---|
{chr(10).join(rows)}

False positives among the hovers (every copy against every other source, every original against
the other sources' copies): {fps[True]} deduplicated, {fps[False]} with every still.
Whole run: {time.monotonic() - started:.0f} s.
""",
    )


if __name__ == "__main__":
    main()
