"""OCR of real stills with an overlay drawn on them, with the models shipped in the wheel: no
network, and no start-up cost for whoever never reads an overlay."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mvq.media.ingest import ocr
from mvq.media.ingest.frames import Still
from mvq.media.ingest.hashing import frame_hashes
from testkit.osd import still_with

ROOT = Path(__file__).resolve().parents[2]


def still(index: int, jpeg: bytes) -> Still:
    import io

    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    return Still(index, float(index), jpeg, 640, 360, frame_hashes(pixels))


def test_an_overlay_along_either_edge_is_read() -> None:
    top = still(0, still_with(["2026-11-20 10:00:00", "N 48.51234  E 35.01234  ALT 120m"]))
    bottom = still(1, still_with(["36U XU 55126 74005", "20.11.2026 10:00:01"], top=False,
                                 font="serif", photo="coffee"))  # fmt: skip
    first, second = ocr.still_text(top).reading, ocr.still_text(bottom).reading
    assert (str(first.day), str(first.clock), first.lat, first.lon, first.altitude_m) == (
        "2026-11-20", "10:00:00", 48.51234, 35.01234, 120.0)  # fmt: skip
    assert (str(second.day), str(second.clock), second.position_format) == (
        "2026-11-20", "10:00:01", "mgrs")  # fmt: skip


def test_degrees_minutes_and_seconds_are_read_off_the_picture() -> None:
    shown = still(0, still_with(["2026-11-20 10:00:00", "48°30'44.4\"N 35°00'44.4\"E"],
                                photo="chelsea"))  # fmt: skip
    reading = ocr.still_text(shown).reading
    assert (reading.lat, reading.lon, reading.position_format) == (
        pytest.approx(48.51233, abs=1e-4),
        pytest.approx(35.01233, abs=1e-4),
        "dms",
    )


def test_footage_without_an_overlay_costs_one_read() -> None:
    plain = [still(n, still_with([], photo="chelsea")) for n in range(5)]
    texts = ocr.read_stills(plain, count=3)
    assert len(texts) == 1 and texts[0].reading.empty and texts[0].index == 2


def test_importing_the_pipeline_loads_no_ocr() -> None:
    code = ("import sys, mvq.media.ingest.pipeline, cli.app; "
            "print('rapidocr_onnxruntime' in sys.modules, "
            "'onnxruntime' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)  # fmt: skip
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="a network namespace of its own needs root and unshare")  # fmt: skip
def test_reading_needs_no_network() -> None:
    """In a network namespace with no interface up: a model fetched at run time would fail."""
    code = ("from testkit.osd import still_with; from mvq.media.ingest import ocr; "
            "import numpy as np, io; from PIL import Image; "
            "rgb = np.asarray(Image.open(io.BytesIO(still_with(['12:34:56']))).convert('RGB')); "
            "print(ocr.text_of(ocr.bands(rgb)))")  # fmt: skip
    out = subprocess.run(["unshare", "-n", sys.executable, "-c", code], cwd=ROOT, text=True,
                         capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "12:34:56" in out.stdout
