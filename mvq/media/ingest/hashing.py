"""PDQ perceptual hashes (Meta's PDQ through pdqhash), as the hex that vpdq writes."""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pdqhash


def bits_to_hex(bits: npt.NDArray[np.integer]) -> str:
    """The text form Meta's vpdq and ThreatExchange use: pdqhash's bit 0 is the top bit of the
    first hex digit (checked against vpdq on the same frames: distance 0)."""
    return bytes(np.packbits(bits.astype(np.uint8))).hex()


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


BORDER_LUMA = 32  # black bars after a lossy re-encode sit well below this
CROP_FRACTION = 0.95
UPPER = 0.8  # captions and burned-in text sit in the bottom fifth
MIRROR = 5  # pdqhash.compute_dihedral's order: index 5 is the left-right mirror


@dataclass(frozen=True)
class FrameHashes:
    """PDQ of a frame's picture (dark bars removed), of its upper 80%, of its central 95%,
    and of its mirror image. Plain PDQ misses padding, captions, crops and flipped copies:
    a bold caption across the bottom moves PDQ by 40-60 bits on dark or plain footage."""

    pdq: str
    quality: int
    upper: str
    center: str
    mirror: str


def trim_borders(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Drops uniform dark bars (letterbox, pillarbox, padding) around the picture."""
    luma = rgb.max(axis=2)
    rows = np.flatnonzero(luma.max(axis=1) > BORDER_LUMA)
    cols = np.flatnonzero(luma.max(axis=0) > BORDER_LUMA)
    if rows.size == 0 or cols.size == 0:
        return rgb
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if (bottom - top) * (right - left) < 0.3 * luma.size:
        return rgb  # mostly dark: a night shot, not bars
    return np.ascontiguousarray(rgb[top:bottom, left:right])


def central(rgb: npt.NDArray[np.uint8], fraction: float = CROP_FRACTION) -> npt.NDArray[np.uint8]:
    h, w = rgb.shape[:2]
    dh, dw = round(h * (1 - fraction) / 2), round(w * (1 - fraction) / 2)
    return np.ascontiguousarray(rgb[dh : h - dh, dw : w - dw])


def frame_hashes(rgb: npt.NDArray[np.uint8]) -> FrameHashes:
    picture = trim_borders(rgb)
    variants, quality = pdqhash.compute_dihedral(picture)
    center, _ = pdqhash.compute(central(picture))
    upper, _ = pdqhash.compute(np.ascontiguousarray(picture[: round(picture.shape[0] * UPPER)]))
    return FrameHashes(bits_to_hex(variants[0]), int(quality), bits_to_hex(upper),
                       bits_to_hex(center), bits_to_hex(variants[MIRROR]))  # fmt: skip
