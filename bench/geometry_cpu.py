"""CPU per upload with the geometric stage (issue 29): mvq's whole pipeline against vPDQ every
frame, one after the other on the same clips: 8 copies of the seed-29 robustness corpus drawn at
random (short, 960x540 or smaller; run `python -m bench.robustness --seed 29 --sources 8
--lookalikes 8` first) and one 60 s 1080p clip.

    .venv/bin/python -m bench.geometry_cpu
"""

import glob
import random
import statistics
from pathlib import Path

from bench import vpdq_reference
from testkit import footage
from testkit.robustness import CACHE, analyse

files = sorted(glob.glob(str(CACHE / "seed29" / "copies" / "*" / "*.mp4")))
random.Random(29).shuffle(files)
rows = []
for f in files[:8]:
    ours = analyse("x", Path(f)).cpu
    every = vpdq_reference.hash_clip(Path(f), every_frame=True).cpu_seconds
    rows.append((f.split("copies/")[1], ours, every))
    print(rows[-1], round(ours / every, 2), flush=True)
print(
    "short median ratio",
    statistics.median(o / e for _, o, e in rows),
    "mvq",
    statistics.median(o for _, o, _ in rows),
    "vpdq",
    statistics.median(e for *_, e in rows),
    flush=True,
)
long = CACHE / "long" / "astronaut-60s-1080p.mp4"
long.parent.mkdir(parents=True, exist_ok=True)
if not long.exists():
    footage.drone_clip("astronaut", long, seconds=60, size="1920x1080")
ours = analyse("long", long).cpu
every = vpdq_reference.hash_clip(long, every_frame=True).cpu_seconds
print("long", ours, every, round(ours / every, 3), flush=True)
