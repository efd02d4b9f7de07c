"""Which file is the original, measured: originals and copies made with known transforms
(re-encoded at a higher crf, scaled down, trimmed, cropped, captioned, filmed off a screen,
re-muxed without metadata), uploaded in random order by different units through the real API,
queue and workers; then each original-copy pair ranked from what ingest stored.

Half the originals carry a camera's tags (make, model, capture time, its own encoder name);
half are plain files (an ffmpeg muxer tag, no camera tags), where the evidence is thinner and
"can't tell" is the honest answer for a caption or a re-mux.

    .venv/bin/python -m bench.provenance [--seed 31] [--originals 10]
"""

import argparse
import random
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from bench.report import write_section
from mvq.db import session_factory, utcnow
from mvq.review import provenance
from mvq.rules import service as rules
from testkit import corpus, footage, harness
from testkit.claims import upload_claim, wait_for_status
from testkit.people import make_unit

TRANSFORMS = ("re-encode at a higher crf", "scale down", "trim", "crop", "caption",
              "re-film off a screen", "re-mux without metadata")  # fmt: skip
# A copier's editor exporting at a higher quality than the original: more bits, no more
# detail. Measured on its own (--transforms), as the case the bit-rate rule can get wrong.
HIGHER_QUALITY = "re-encode at a lower crf"
CAVEATS = """Caveats: every copy here is made by ffmpeg from its original, and every original is of
higher quality than its copies. A copy exported at a higher quality than its original (more
bits, no more detail) is measured on its own below. Re-filmed copies are testkit's screen
re-film (keystoned, blurred, grainy, 640x360 at crf 32), lower in resolution than any original
here. Pairs linked only by the scene's geometry (the re-films, and crops PDQ misses) weigh only
capture times and containment, since a phone filming a screen is itself a camera's original
with more pixels and bits to show: these files carry neither, so "can't tell" is the answer
by design. Pairs the matcher does not link are not ranked at all."""
HQ_NOTE = """The bit-rate rule reads more bits as the source; an editor's export at a lower crf
than the original turns that round. Camera tags on the original outweigh it (can't tell, or
right); on a plain original nothing does."""
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
FFMPEG = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
CANT = "can't tell"


def _ffmpeg(*args: str) -> None:
    subprocess.run([*FFMPEG, *args], check=True, capture_output=True, timeout=300)


def original(rng: random.Random, photo: str, dest: Path, *, camera: bool) -> float:
    """A pan and zoom over a photo, 12-16 s; with a camera's tags or as a plain ffmpeg file."""
    seconds = round(rng.uniform(12, 16), 2)
    still = dest.with_suffix(".jpg")
    from PIL import Image

    Image.fromarray(corpus.PHOTOS[photo]()).convert("RGB").save(still, quality=95)
    frames, drift = round(seconds * 30), rng.uniform(4, 10)
    fly = ("scale=1920:1080:force_original_aspect_ratio=increase,crop=1920:1080,"
           f"zoompan=z='1.2+0.003*on':x='iw/2-(iw/zoom/2)-300+on*{drift:.2f}':y='ih/2-(ih/zoom/2)'"
           f":d={frames}:s=1280x720:fps=30")  # fmt: skip
    tags: list[str] = []
    if camera:
        shot = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(200_000))
        tags = ["-fflags", "+bitexact", "-flags:v", "+bitexact",
                "-metadata:s:v:0", "encoder=H264",
                "-metadata", f"creation_time={shot.isoformat()}",
                "-metadata", "make=Apple", "-metadata", "model=iPhone 14",
                "-movflags", "+use_metadata_tags"]  # fmt: skip
    _ffmpeg("-loop", "1", "-i", str(still), "-vf", fly, "-t", str(seconds), "-c:v", "libx264",
            "-preset", "veryfast", "-crf", str(rng.randint(18, 21)), "-g", "30",
            "-pix_fmt", "yuv420p", *tags, str(dest))  # fmt: skip
    return seconds


def copy(rng: random.Random, source: Path, seconds: float, transform: str, dest: Path) -> None:
    """The copy as a copier makes it; every re-encode by ffmpeg, as messengers and editors do."""
    encode = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    if transform == HIGHER_QUALITY:
        _ffmpeg("-i", str(source), *encode, "-crf", str(rng.randint(12, 15)), str(dest))
    elif transform == "re-encode at a higher crf":
        _ffmpeg("-i", str(source), *encode, "-crf", str(rng.randint(28, 33)), str(dest))
    elif transform == "scale down":
        width = rng.choice((640, 720, 854))
        _ffmpeg("-i", str(source), "-vf", f"scale={width}:-2", *encode, "-crf", "23", str(dest))
    elif transform == "trim":
        keep = seconds * rng.uniform(0.45, 0.7)
        start = rng.uniform(0, seconds - keep)
        _ffmpeg("-i", str(source), "-ss", f"{start:.3f}", "-t", f"{keep:.3f}", *encode,
                "-crf", "23", str(dest))  # fmt: skip
    elif transform == "crop":
        share = rng.uniform(0.85, 0.95)
        _ffmpeg("-i", str(source), "-vf", f"crop=iw*{share:.3f}:ih*{share:.3f}", *encode,
                "-crf", "23", str(dest))  # fmt: skip
    elif transform == "re-film off a screen":
        footage.refilmed(source, dest)
    elif transform == "caption":
        text = rng.choice(corpus.CAPTIONS)
        draw = (f"drawtext=fontfile={FONT}:text='{text}':fontcolor=white:fontsize=42:"
                "box=1:boxcolor=black@0.5:x=(w-text_w)/2:y=h-90")  # fmt: skip
        _ffmpeg("-i", str(source), "-vf", draw, *encode, "-crf", "23", str(dest))
    else:  # re-muxed: the same frames and bits, the file's own tags dropped
        _ffmpeg("-i", str(source), "-c", "copy", "-map_metadata", "-1", str(dest))


@dataclass
class Pair:
    original: str
    copy: str
    transform: str
    camera: bool
    verdict: str = ""  # "right", "wrong", "can't tell", "unmatched"


def run(
    seed: int, originals: int, workers: int, transforms: tuple[str, ...]
) -> tuple[list[Pair], float, float]:
    rng = random.Random(seed)
    photos = rng.sample(sorted(corpus.PHOTOS), originals)
    with TemporaryDirectory(prefix="mvq-provenance-") as tmp, \
            harness.temporary_backing("mvq-bench-") as backing:  # fmt: skip
        work = Path(tmp)
        files: list[tuple[str, Path, bool, str | None]] = []  # (group, path, camera, transform)
        started = time.perf_counter()
        for n, photo in enumerate(photos):
            camera = n % 2 == 0
            source = work / f"{n:02d}-original.mp4"
            seconds = original(rng, photo, source, camera=camera)
            files.append((str(n), source, camera, None))
            for t, transform in enumerate(transforms):
                dest = work / f"{n:02d}-copy-{t}.mp4"
                copy(rng, source, seconds, transform, dest)
                files.append((str(n), dest, camera, transform))
        made = time.perf_counter() - started
        url = harness.fresh_database(backing, "postgres")
        harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
        with session_factory(url)() as session:
            rules.seed_demo_rules(session, now=utcnow())
            tokens = [make_unit(session)[1] for _ in range(8)]
            session.commit()
        stack = harness.start_stack(backing, url, workers=workers)
        try:
            rng.shuffle(files)  # uploaded in random order, each by a randomly drawn unit
            started = time.perf_counter()
            uploaded = []
            for group, path, camera, transform in files:
                token = rng.choice(tokens)
                hit = datetime.now(UTC) - timedelta(hours=3, minutes=rng.randrange(60))
                sid = upload_claim(stack, token, path, occurred_at=hit.isoformat())
                uploaded.append((group, sid, token, camera, transform))
            for _, sid, token, *_ in uploaded:
                wait_for_status(stack, token, sid, "in_queue", "failed")
            ingest = time.perf_counter() - started
        finally:
            stack.group.stop()
        pairs = []
        for group, sid, _, camera, transform in uploaded:
            if transform is None:
                continue
            source = next(s for g, s, _, _, t in uploaded if g == group and t is None)
            pairs.append(Pair(source, sid, transform, camera))
        with session_factory(url)() as session:
            for pair in pairs:
                verdict = provenance.for_pair(session, pair.original, pair.copy)
                pair.verdict = ("unmatched" if verdict is None else "can't tell"
                                if verdict.original is None else "right"
                                if verdict.original == pair.original else "wrong")  # fmt: skip
    return pairs, made, ingest


def table(pairs: list[Pair], transforms: tuple[str, ...]) -> str:
    rows = ["| transform | originals | pairs | answered | right | wrong | can't tell | unmatched |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for transform in transforms:
        for camera in (True, False):
            mine = [p for p in pairs if p.transform == transform and p.camera == camera]
            count = Counter(p.verdict for p in mine)
            answered = count["right"] + count["wrong"]
            rows.append(f"| {transform} | {'camera tags' if camera else 'plain'} | {len(mine)} | "
                        f"{answered} | {count['right']} | {count['wrong']} | "
                        f"{count[CANT]} | {count['unmatched']} |")  # fmt: skip
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--originals", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--transforms", choices=("usual", "higher-quality"), default="usual")
    args = parser.parse_args()
    transforms = TRANSFORMS if args.transforms == "usual" else (HIGHER_QUALITY,)
    print(f"seed {args.seed}, {args.originals} originals x {len(transforms)} transforms")
    pairs, made, ingest = run(args.seed, args.originals, args.workers, transforms)
    count = Counter(p.verdict for p in pairs)
    matched = len(pairs) - count["unmatched"]
    answered = count["right"] + count["wrong"]
    accuracy = count["right"] / answered if answered else 0.0
    summary = (f"{len(pairs)} pairs, {matched} linked by the matcher; answered "
               f"{answered} of {matched} ({answered / max(1, matched):.0%}); original ranked "
               f"first in {count['right']} of {answered} answered ({accuracy:.1%}); wrong "
               f"{count['wrong']}; can't tell {count[CANT]}")  # fmt: skip
    print(summary)
    print(table(pairs, transforms))
    command = (f".venv/bin/python -m bench.provenance --seed {args.seed} "
               f"--originals {args.originals} --workers {args.workers} "
               f"--transforms {args.transforms}")  # fmt: skip
    title = "" if args.transforms == "usual" else ": copies of higher quality than the original"
    body = f"""## Which file is the original (provenance ranking{title})

`{command}`
(2 cores). {args.originals} originals (pan and zoom over scikit-image photos, 12-16 s, 1280x720,
crf 18-21; every other one with a phone's tags), each with {len(transforms)} copies by ffmpeg:
{", ".join(transforms)}. All {len(pairs) + args.originals} files uploaded in a random order by 8
units through the API, the queue and {args.workers} workers ({ingest:.0f} s; making the files
took {made:.0f} s); each original-copy pair then ranked by `mvq.review.provenance` from what
ingest stored. Goal: the original first in ≥ 95 % of the pairs it answers, and "can't tell"
rather than a wrong answer where the evidence is thin.

**{summary}.**

{table(pairs, transforms)}

{CAVEATS if args.transforms == "usual" else HQ_NOTE}
"""
    write_section("provenance" if args.transforms == "usual" else "provenance-hq", body)


if __name__ == "__main__":
    main()
