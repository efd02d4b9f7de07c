import numpy as np
import pdqhash
from skimage import data

from mvq.media.ingest.frames import sample_rate, scaled_size
from mvq.media.ingest.hashing import bits_to_hex, frame_hashes, hamming, trim_borders


def test_one_frame_a_second_until_the_cap() -> None:
    assert sample_rate(60, fps=1, max_frames=600) == 1
    assert sample_rate(1800, fps=1, max_frames=600) == 600 / 1800
    assert sample_rate(0, fps=1, max_frames=600) == 1


def test_frames_are_scaled_to_even_sides_within_the_limit() -> None:
    assert scaled_size(1920, 1080) == (640, 360)
    assert scaled_size(1080, 1920) == (360, 640)
    assert scaled_size(320, 240) == (320, 240)
    assert all(side % 2 == 0 for side in scaled_size(1281, 721))


def test_pdq_hex_is_vpdqs_layout_and_distance_counts_bits() -> None:
    bits = np.zeros(256, dtype=np.int64)
    bits[0] = 1  # the top bit of the first hex digit
    bits[9] = 1  # the second bit of the second byte
    bits[255] = 1  # the bottom bit of the last
    assert bits_to_hex(bits) == "8040" + "0" * 59 + "1"
    rgb = data.astronaut()
    hashes = frame_hashes(rgb)
    assert len(hashes.pdq) == 64 and hashes.quality >= 50
    assert hamming(hashes.pdq, bits_to_hex(pdqhash.compute(rgb)[0])) <= 2
    darker = (rgb * 0.8).astype(np.uint8)
    other = frame_hashes(data.coffee()).pdq
    assert hamming(hashes.pdq, frame_hashes(darker).pdq) <= 31 < hamming(hashes.pdq, other)


def test_second_signals_catch_padding_crops_and_mirrors() -> None:
    rgb = data.astronaut()
    plain = frame_hashes(rgb)
    h, w = rgb.shape[:2]
    padded = np.zeros((int(h * 1.2), int(w * 1.2), 3), np.uint8)
    padded[h // 10 : h // 10 + h, w // 10 : w // 10 + w] = rgb
    assert trim_borders(padded).shape == rgb.shape
    assert hamming(frame_hashes(padded).pdq, plain.pdq) <= 4
    cropped = rgb[round(h * 0.025) : h - round(h * 0.025), round(w * 0.025) : w - round(w * 0.025)]
    assert hamming(frame_hashes(np.ascontiguousarray(cropped)).pdq, plain.center) <= 31
    mirrored = np.ascontiguousarray(rgb[:, ::-1])
    assert hamming(frame_hashes(mirrored).pdq, plain.mirror) <= 31


def test_a_burned_in_caption_is_caught_by_the_upper_hash() -> None:
    from PIL import Image, ImageDraw, ImageFont

    rgb = (data.moon()[:, :, None].repeat(3, axis=2) // 2).astype(np.uint8)  # dark, plain
    captioned = Image.fromarray(rgb)
    font = ImageFont.truetype("DejaVuSans-Bold.ttf", 48)
    ImageDraw.Draw(captioned).text((20, 440), "CONFIRMED HIT", font=font, fill="white")
    plain, caption = frame_hashes(rgb), frame_hashes(np.asarray(captioned))
    assert hamming(plain.upper, caption.upper) <= 31 < hamming(plain.pdq, caption.pdq)


def test_turned_and_vertical_copies_meet_the_originals_variants() -> None:
    """A frame turned by a quarter, a half or three quarters, or flipped, hashes close to one
    of the original's eight dihedral hashes; a 9:16 or 4:5 centre crop of a wide frame hashes
    close to the original's vertical cut, and nothing else comes close."""
    rgb = np.ascontiguousarray(data.chelsea())  # 451x300, wider than tall
    plain = frame_hashes(rgb)
    for turns in (1, 2, 3):
        turned = frame_hashes(np.ascontiguousarray(np.rot90(rgb, turns))).pdq
        nearest = min(range(8), key=lambda n: hamming(turned, plain.dihedral[n]))
        assert hamming(turned, plain.dihedral[nearest]) <= 31 and nearest != 0
    h, w = rgb.shape[:2]
    for name, aspect in (("vertical_9x16", 9 / 16), ("vertical_4x5", 4 / 5)):
        width = round(h * aspect)
        crop = np.ascontiguousarray(rgb[:, (w - width) // 2 : (w - width) // 2 + width])
        cropped = frame_hashes(crop).pdq
        assert hamming(cropped, getattr(plain, name)) <= 31 < hamming(cropped, plain.pdq)
        # A frame already that narrow has no such crop to make: the cut falls back to its hash.
        assert getattr(frame_hashes(crop), name) == cropped
