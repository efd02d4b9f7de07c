"""PDQ perceptual hashes (Meta's PDQ through pdqhash), as the hex that vpdq writes."""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image


def bits_to_hex(bits: npt.NDArray[np.integer]) -> str:
    """The text form Meta's vpdq and ThreatExchange use: pdqhash's bit 0 is the top bit of the
    first hex digit (checked against vpdq on the same frames: distance 0)."""
    return bytes(np.packbits(bits.astype(np.uint8))).hex()


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


# PDQ boils every picture down to 64x64 before its DCT, so hashing a 320 px picture instead of
# a 640 px one costs a seventh (0.55 against 3.8 ms here) and loses nothing a match needs.
# Both sides of every comparison are hashed at this size: PDQ of one frame moves by about 8
# bits between 320 and 640 px, which would eat into the match threshold.
HASH_SIDE = 320
BORDER_LUMA = 32  # black bars after a lossy re-encode sit well below this
CROP_FRACTION = 0.95
UPPER = 0.8  # captions and burned-in text sit in the bottom fifth
# pdqhash.compute_dihedral's order (checked against rotated and flipped pictures):
# 0 as is, 1 turned 90° anticlockwise, 2 turned 180°, 3 turned 90° clockwise, 4 flipped top to
# bottom, 5 mirrored left to right, 6 transposed, 7 anti-transposed.
MIRROR = 5
ROTATIONS = (1, 2, 3)
VERTICAL = {"9x16": 9 / 16, "4x5": 4 / 5}  # the centre crops a vertical repost makes


@dataclass(frozen=True)
class FrameHashes:
    """PDQ of a frame's picture (dark bars removed) in its eight rotations and mirrors, of its
    upper 80%, of its central 95%, and of its centre cut to 9:16 and 4:5. Plain PDQ misses
    padding, captions, crops, turned or flipped copies and vertical reposts: a bold caption
    across the bottom alone moves PDQ by 40-60 bits on dark or plain footage."""

    dihedral: tuple[str, ...]
    quality: int
    upper: str
    center: str
    vertical_9x16: str
    vertical_4x5: str

    @property
    def pdq(self) -> str:
        return self.dihedral[0]

    @property
    def mirror(self) -> str:
        return self.dihedral[MIRROR]


def trim_borders(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Drops uniform dark bars (letterbox, pillarbox, padding) around the picture."""
    # The brightest channel, taken plane by plane: numpy's max over a last axis of 3 costs
    # ten times as much, and this runs on every decoded frame.
    luma = np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    rows = np.flatnonzero(luma.max(axis=1) > BORDER_LUMA)
    cols = np.flatnonzero(luma.max(axis=0) > BORDER_LUMA)
    if rows.size == 0 or cols.size == 0:
        return rgb
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if (bottom - top) * (right - left) < 0.3 * luma.size:
        return rgb  # mostly dark: a night shot, not bars
    return np.ascontiguousarray(rgb[top:bottom, left:right])


def shrink(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The frame at about HASH_SIDE, the size every hash is taken at (a box filter, whole
    factors only)."""
    factor = max(rgb.shape[:2]) // HASH_SIDE
    return np.asarray(Image.fromarray(rgb).reduce(factor)) if factor > 1 else rgb


def central(rgb: npt.NDArray[np.uint8], fraction: float = CROP_FRACTION) -> npt.NDArray[np.uint8]:
    h, w = rgb.shape[:2]
    dh, dw = round(h * (1 - fraction) / 2), round(w * (1 - fraction) / 2)
    return np.ascontiguousarray(rgb[dh : h - dh, dw : w - dw])


def centre_cut(rgb: npt.NDArray[np.uint8], aspect: float) -> npt.NDArray[np.uint8] | None:
    """The full-height centre of a wider picture at `aspect` (width / height); None when the
    picture is not clearly wider than that (a vertical frame has no vertical crop to make)."""
    h, w = rgb.shape[:2]
    width = round(h * aspect)
    if width > 0.9 * w:
        return None
    left = (w - width) // 2
    return np.ascontiguousarray(rgb[:, left : left + width])


def dihedral(picture: npt.NDArray[np.uint8]) -> tuple[tuple[str, ...], int]:
    """All eight rotations and mirrors in one pass: PDQ computes them from one DCT."""
    variants, quality = pdqhash.compute_dihedral(picture)
    return tuple(bits_to_hex(v) for v in variants), int(quality)


def complete(
    frame: npt.NDArray[np.uint8], turned: tuple[tuple[str, ...], int] | None = None
) -> FrameHashes:
    """Every hash of a shrunk frame; `turned` is the `dihedral` of its trimmed picture when
    known. Crops are cut from the frame as shown, dark parts and all, then trimmed, as a
    copier's crop is: a fractal zoom or a night shot with a black edge would otherwise be cut
    somewhere else than the copier cut it."""
    picture = trim_borders(frame)
    variants, quality = turned or dihedral(picture)
    plain = variants[0]

    def cut(part: npt.NDArray[np.uint8] | None) -> str:
        return plain if part is None else bits_to_hex(pdqhash.compute(trim_borders(part))[0])

    return FrameHashes(
        dihedral=variants,
        quality=quality,
        upper=cut(np.ascontiguousarray(picture[: round(picture.shape[0] * UPPER)])),
        center=cut(central(frame)),
        vertical_9x16=cut(centre_cut(frame, VERTICAL["9x16"])),
        vertical_4x5=cut(centre_cut(frame, VERTICAL["4x5"])),
    )


def frame_hashes(rgb: npt.NDArray[np.uint8]) -> FrameHashes:
    return complete(shrink(rgb))
