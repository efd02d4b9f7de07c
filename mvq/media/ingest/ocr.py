"""Reading the text a drone burned into its picture, from a few of the clip's stills.

RapidOCR (`rapidocr-onnxruntime`) runs PP-OCRv4 detection and recognition from ONNX models
shipped inside its wheel: nothing is fetched at run time. It is imported on first use, so
`mvq analyze` and the workers start no slower for it.

Cost is kept small three ways: only a few stills are read (an overlay stays on screen the
whole clip), only the bands along the top and bottom edges where overlays sit, stacked into
one picture for one detection pass, and a clip whose first still read shows no overlay is not
read further. Figures: docs/BENCHMARKS.md (bench/osd.py).
"""

import io
import threading
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from mvq.media.ingest.frames import Still
from mvq.media.ingest.osd import StillText, agree

BAND = 0.25  # the top and bottom quarter of the frame: where drone overlays sit
GAP = 8  # black rows between the two bands, so no text line spans them
MIN_SCORE = 0.5
# Detection scales the picture so that its longer side is this long: at the stills' 640 px it
# leaves text at its size. RapidOCR's default scales the *shorter* side up to 736 px, which for
# a band 640x360 high makes a 2,600 px wide picture and costs four times as much.
DET_SIDE = 960

_engine: Any = None
_lock = threading.Lock()


def engine() -> Any:
    global _engine
    with _lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-untyped]

            # Two threads: a worker shares its two cores with ffmpeg and the other jobs.
            _engine = RapidOCR(det_limit_side_len=DET_SIDE, det_limit_type="max",
                               intra_op_num_threads=2, inter_op_num_threads=1)  # fmt: skip
    return _engine


def bands(rgb: npt.NDArray[np.uint8], band: float = BAND) -> npt.NDArray[np.uint8]:
    height = rgb.shape[0]
    rows = max(1, round(height * band))
    gap = np.zeros((GAP, rgb.shape[1], 3), np.uint8)
    return np.ascontiguousarray(np.vstack([rgb[:rows], gap, rgb[height - rows :]]))


def text_of(rgb: npt.NDArray[np.uint8]) -> list[str]:
    """The lines read, top to bottom and left to right, that the recogniser is sure of."""
    found, _ = engine()(rgb, use_cls=False)
    boxes = sorted(((box[0][1] + box[2][1]) / 2, box[2][1] - box[0][1], box[0][0], text)
                   for box, text, score in found or []
                   if float(score) >= MIN_SCORE and text.strip())  # fmt: skip
    # Boxes of one line of text, whose middles sit within half a box's height, are read left
    # to right: "N48.51" before "E35.01" even when the second box sits a pixel higher.
    lines: list[list[tuple[float, str]]] = []
    last_middle = -1e9
    for middle, height, left, text in boxes:
        if not lines or middle - last_middle > height / 2:
            lines.append([])
            last_middle = middle
        lines[-1].append((left, text))
    return [" ".join(text for _, text in sorted(line)) for line in lines]


def still_text(still: Still, band: float = BAND) -> StillText:
    with Image.open(io.BytesIO(still.jpeg)) as img:
        rgb = np.asarray(img.convert("RGB"))
    return StillText(still.index, still.t_seconds, text_of(bands(rgb, band)))


def spread(stills: list[Still], count: int) -> list[Still]:
    """`count` stills evenly spread over the clip, its middle first: a clip's first second is
    often a fade or a black frame, and the middle is where the overlay is surely on."""
    if not stills or count <= 0:
        return []
    n = len(stills)
    even = [stills[round(i * (n - 1) / max(1, count - 1))] for i in range(count)]
    picks = [stills[n // 2], *even]
    unique = list({s.index: s for s in picks}.values())
    return unique[:count]


def read_stills(stills: list[Still], *, count: int) -> list[StillText]:
    texts: list[StillText] = []
    for still in spread(stills, count):
        texts.append(still_text(still))
        if len(texts) == 1 and texts[0].reading.empty:
            break  # no overlay on the clip's middle: most footage has none, and pays one read
        if any(agree(texts[-1], earlier) for earlier in texts[:-1]):
            break  # two stills say the same: a third would not outvote them
    return texts
