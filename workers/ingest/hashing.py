"""PDQ perceptual hashes (Meta's PDQ through pdqhash), in the reference hex layout."""

import numpy as np
import numpy.typing as npt
import pdqhash


def bits_to_hex(bits: npt.NDArray[np.integer]) -> str:
    """PDQ's reference text form: sixteen 16-bit words, the highest word first."""
    words = np.packbits(bits.astype(np.uint8).reshape(16, 16)[:, ::-1], axis=1)
    return "".join(f"{int(w[0]) << 8 | int(w[1]):04x}" for w in words[::-1])


def pdq(rgb: npt.NDArray[np.uint8]) -> tuple[str, int]:
    bits, quality = pdqhash.compute(rgb)
    return bits_to_hex(bits), int(quality)


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()
