"""Meta's vPDQ as the reference matcher for the robustness benchmark: vpdq hashes a clip (every
frame or 1 frame/s) in a child process, so its CPU is counted the way bench/ingest.py counts
it (wait4 user + sys), and two clips are compared the way ThreatExchange's vPDQ matcher does.

    .venv/bin/python -m bench.vpdq_reference    # a 10 s clip against a copy cut at 2.5 s

vpdq is built from PyPI against Debian's libav*-dev: `make bench-deps` installs it.
"""

import importlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
# vpdq decodes videos only; stills get one PDQ feature from pdqhash instead.
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
# The children import only what hashing needs, as bench/ingest.py's vpdq child does, so the
# CPU figures of the two benchmarks are alike. Arguments come in through sys.argv.
VIDEO_CHILD = """\
import json, sys
import vpdq
features = vpdq.computeHash(sys.argv[1], seconds_per_hash=float(sys.argv[2]))
json.dump([[f.timestamp, f.hex, f.quality] for f in features], sys.stdout)
"""
IMAGE_CHILD = """\
import json, sys
import numpy as np
import pdqhash
from PIL import Image, ImageOps
from mvq.media.ingest.hashing import bits_to_hex
with Image.open(sys.argv[1]) as image:
    pixels = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
bits, quality = pdqhash.compute(pixels)
json.dump([[0.0, bits_to_hex(bits), int(quality)]], sys.stdout)
"""
# Rows of the query compared at once: bounds the XOR block to about 32 MiB however long the
# target, so a 60 s every-frame clip (1500-1800 features a side) needs no more memory.
BLOCK_BYTES = 32 << 20


@dataclass(frozen=True)
class Hashes:
    """One clip's vPDQ features and the CPU it cost to compute them."""

    features: list[tuple[float, str, int]]  # (timestamp seconds, 64-hex PDQ, quality)
    cpu_seconds: float  # user+sys of the child process that computed them


def hash_clip(path: Path, *, every_frame: bool) -> Hashes:
    """vpdq's features of a clip (every frame, or 1 frame/s), computed in a child process so
    its CPU can be read from wait4 like every other CPU figure in bench/. A still image gets
    one feature from pdqhash (the PDQ vpdq runs on each frame; vpdq itself reads videos
    only), measured in a child the same way."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        argv = [sys.executable, "-c", IMAGE_CHILD, str(path)]
    else:
        seconds_per_hash = "0" if every_frame else "1"  # vpdq: 0 hashes every frame
        argv = [sys.executable, "-c", VIDEO_CHILD, str(path), seconds_per_hash]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        out = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if proc.returncode != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip().splitlines()[-1:]
            raise RuntimeError(f"hashing {path} failed: {' '.join(message)}")
    features = [(float(t), str(h), int(q)) for t, h, q in json.loads(out)]
    return Hashes(features, usage.ru_utime + usage.ru_stime)


def _prepared(hashes: Hashes, quality: int) -> npt.NDArray[np.uint64]:
    """The features vPDQ's matcher compares: identical hashes kept once (the first), then
    those below `quality` dropped, in that order as ThreatExchange does; as 4 uint64 words
    each (XOR and bit counts do not care how the bytes are grouped)."""
    seen: set[str] = set()
    kept: list[str] = []
    for _, pdq, q in hashes.features:
        if pdq not in seen:
            seen.add(pdq)
            if q >= quality:
                kept.append(pdq)
    raw = np.frombuffer(bytes.fromhex("".join(kept)), dtype=np.uint8).reshape(-1, 32)
    return raw.view(np.uint64)


def _popcount(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8]:
    """Set bits per word: np.bitwise_count where numpy has it (2.0+), else unpackbits."""
    if hasattr(np, "bitwise_count"):
        counts: npt.NDArray[np.uint8] = np.bitwise_count(words)
        return counts
    bits = np.unpackbits(words.view(np.uint8), axis=-1)
    summed: npt.NDArray[np.uint8] = bits.reshape(*words.shape, 64).sum(axis=-1, dtype=np.uint8)
    return summed


def match(
    query: Hashes, target: Hashes, *, distance: int = 31, quality: int = 50
) -> tuple[float, float]:
    """vPDQ's two match shares, (query, target), as fractions 0-1 (vPDQ reports them x100).

    Definition: ThreatExchange's python-threatexchange/threatexchange/extensions/vpdq/
    vpdq_brute_matcher.py (match_VPDQ_hash_brute, with dedupe and quality_filter from
    vpdq_util.py, whose defaults are quality 50 and distance 31): each side deduplicated by
    identical hash, then features of quality < `quality` dropped; the query share is the
    fraction of the query's remaining features with a target feature at Hamming distance
    <= `distance`, the target share the same the other way round. (The C++ matchTwoHash.cpp
    in vpdq/cpp counts distance < tolerance and does not dedupe; the Python matcher is the
    one ThreatExchange's signal type uses.) A side with no features left scores 0, as in the
    C++ (the Python one divides by zero)."""
    q, t = _prepared(query, quality), _prepared(target, quality)
    if not len(q) or not len(t):
        return 0.0, 0.0
    q_hit = np.zeros(len(q), dtype=bool)
    t_hit = np.zeros(len(t), dtype=bool)
    rows = max(1, BLOCK_BYTES // (len(t) * 32))
    for start in range(0, len(q), rows):
        block = q[start : start + rows, None, :] ^ t[None, :, :]  # (rows, len(t), 4)
        near = _popcount(block).sum(axis=-1, dtype=np.uint16) <= distance
        q_hit[start : start + rows] = near.any(axis=1)
        t_hit |= near.any(axis=0)
    return float(q_hit.mean()), float(t_hit.mean())


def is_match(query: Hashes, target: Hashes, *, min_share: float = 0.5) -> bool:
    """A clip-level match for the recall tables: either share >= `min_share`. That is mvq's
    clip rule (mvq.matching.service._judge: either side's share of matched frames >=
    settings.match_min_share, 0.5), so the two recall columns are like for like. mvq also
    wants at least settings.match_min_frames (3) matched frames and counts the other clip's
    share within the span the matches cover; vPDQ's shares have neither, so vPDQ is judged on
    its own definition and not given mvq's extra guards."""
    return max(match(query, target)) >= min_share


def _cut(source: Path, dest: Path, start: float) -> Path:
    """A copy that starts `start` s in: -ss after -i decodes and drops frames up to there,
    so the cut is frame-accurate, and the rest is re-encoded as a re-upload would be."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source),
                    "-ss", str(start), "-c:v", "libx264", "-preset", "veryfast",
                    "-pix_fmt", "yuv420p", str(dest)], check=True)  # fmt: skip
    return dest


def main() -> None:
    # Test footage only when run as a script; imported by name so that mypy on this file does
    # not type-check testkit/footage.py (scikit-image is untyped) along with it.
    footage = importlib.import_module("testkit.footage")

    with tempfile.TemporaryDirectory() as tmp:
        original = footage.clip("astronaut", Path(tmp) / "original.mp4", seconds=10,
                                size="960x540")  # fmt: skip
        cut = _cut(original, Path(tmp) / "cut.mp4", 2.5)
        print("query: the copy cut at 2.5 s; target: the 10 s original (960x540)")
        for every_frame in (True, False):
            q = hash_clip(cut, every_frame=every_frame)
            t = hash_clip(original, every_frame=every_frame)
            q_share, t_share = match(q, t)
            # Shares are of the distinct hashes: a slow pan repeats frames exactly.
            counts = [f"{len(_prepared(h, 50))} distinct of {len(h.features)}" for h in (q, t)]
            print(f"{'every frame' if every_frame else '1 frame/s':>11}: "
                  f"query {q_share:.1%} ({counts[0]}), target {t_share:.1%} ({counts[1]}), "
                  f"match {is_match(q, t)}; CPU cut {q.cpu_seconds:.2f} s, "
                  f"original {t.cpu_seconds:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
