"""PDQ perceptual hashes (Meta's PDQ through pdqhash), as the hex that vpdq writes."""

import numpy as np
import numpy.typing as npt
import pdqhash


def bits_to_hex(bits: npt.NDArray[np.integer]) -> str:
    """The text form Meta's vpdq and ThreatExchange use: pdqhash's bit 0 is the top bit of the
    first hex digit (checked against vpdq on the same frames: distance 0)."""
    return bytes(np.packbits(bits.astype(np.uint8))).hex()


def pdq(rgb: npt.NDArray[np.uint8]) -> tuple[str, int]:
    bits, quality = pdqhash.compute(rgb)
    return bits_to_hex(bits), int(quality)


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()
