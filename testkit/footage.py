"""Real test footage, made from real photos shipped with scikit-image: a slow pan and zoom
over a photo, encoded like a phone clip. Synthetic test patterns hash alike and prove little."""

import random
import struct
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image
from skimage import data

PHOTOS = {
    "astronaut": data.astronaut,
    "coffee": data.coffee,
    "chelsea": data.chelsea,
    "rocket": data.rocket,
    "motorcycle_left": lambda: data.stereo_motorcycle()[0],
}


def photo(name: str, dest: Path) -> Path:
    pixels = PHOTOS[name]() if name in PHOTOS else getattr(data, name)()
    Image.fromarray(pixels).convert("RGB").save(dest, quality=92)
    return dest


def clip(
    name: str,
    dest: Path,
    *,
    seconds: float = 4,
    size: str = "640x360",
    lossless: bool = False,
    zoom_step: float = 0.0015,
) -> Path:
    """`lossless` makes a large file from a short clip (about 6 MB/s at 720p): multipart tests.
    `zoom_step` 0: a still camera, every frame the same picture."""
    still = photo(name, dest.with_suffix(".src.jpg"))
    frames = int(seconds * 25)
    pan = (
        f"zoompan=z='min(zoom+{zoom_step},1.3)':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'"
        f":d={frames}:s={size}:fps=25"
    )
    quality = ["-qp", "0", "-preset", "ultrafast"] if lossless else ["-preset", "veryfast"]
    argv = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-loop", "1", "-i", str(still),
            "-vf", pan, "-t", str(seconds), "-c:v", "libx264", *quality,
            "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(dest)]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return dest


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True,
                   capture_output=True, timeout=180)  # fmt: skip


def phone_clip(
    dest: Path,
    *,
    codec: str = "h264",
    captured_at: str,
    location: str,
    make: str = "Apple",
    model: str = "iPhone 14",
) -> Path:
    """A clip tagged the way a phone tags it: capture time, ISO 6709 position, device, and the
    phone's own encoder name instead of ffmpeg's (bitexact drops the Lavf/Lavc tags)."""
    source = clip("coffee", dest.with_suffix(".src.mp4"))
    encoder = {"h264": ["-c:v", "libx264"], "hevc": ["-c:v", "libx265", "-tag:v", "hvc1"]}[codec]
    _ffmpeg("-i", str(source), *encoder, "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-fflags", "+bitexact", "-flags:v", "+bitexact",
            "-metadata:s:v:0", f"encoder={codec.upper()}",
            "-metadata", f"creation_time={captured_at}", "-metadata", f"location={location}",
            "-metadata", f"make={make}", "-metadata", f"model={model}",
            "-movflags", "+use_metadata_tags", str(dest))  # fmt: skip
    return dest


def at_crf(source: Path, crf: int) -> Path:
    """The same clip re-encoded at another quality (x264's CRF), beside it: two files of one
    recording, the lower CRF the better one."""
    dest = source.with_name(f"{source.stem}-crf{crf}.mp4")
    _ffmpeg("-i", str(source), "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf),
            "-pix_fmt", "yuv420p", str(dest))  # fmt: skip
    return dest


def messenger_copy(source: Path, dest: Path) -> Path:
    """What a messenger does to a clip: re-encoded smaller, device tags gone."""
    _ffmpeg("-i", str(source), "-c:v", "libx264", "-crf", "30", "-preset", "veryfast",
            "-map_metadata", "-1", "-vf", "scale=480:-2", str(dest))  # fmt: skip
    return dest


def webm_clip(dest: Path) -> Path:
    source = clip("rocket", dest.with_suffix(".src.mp4"))
    _ffmpeg("-i", str(source), "-c:v", "libvpx-vp9", "-b:v", "300k", "-deadline", "realtime",
            "-cpu-used", "8", str(dest))  # fmt: skip
    return dest


MISB_KEY = bytes.fromhex("060E2B34020B01010E01030101000000")


def klv_packet(micros: int, lat: float, lon: float, centre: tuple[float, float]) -> bytes:
    def item(tag: int, value: bytes) -> bytes:
        return bytes([tag, len(value)]) + value

    def angle(value: float, span: float) -> bytes:
        return struct.pack(">i", round(value / span * (2**31 - 1)))

    body = (item(2, struct.pack(">Q", micros)) + item(13, angle(lat, 90))
            + item(14, angle(lon, 180)) + item(23, angle(centre[0], 90))
            + item(24, angle(centre[1], 180)))  # fmt: skip
    return MISB_KEY + bytes([len(body)]) + body


def klv_ts(dest: Path, *, start_micros: int, lat: float, lon: float) -> Path:
    """MPEG-TS with a MISB ST 0601 data stream: one packet a second along a short track."""
    source = clip("astronaut", dest.with_suffix(".src.mp4"))
    klv = dest.with_suffix(".klv")
    klv.write_bytes(b"".join(
        klv_packet(start_micros + n * 1_000_000, lat + n * 0.001, lon, (lat + 0.01, lon + 0.01))
        for n in range(4)))  # fmt: skip
    _ffmpeg("-i", str(source), "-f", "data", "-i", str(klv), "-map", "0:v", "-map", "1:0",
            "-c", "copy", "-f", "mpegts", str(dest))  # fmt: skip
    return dest


def srt_clip(dest: Path, *, start: datetime, lat: float, lon: float) -> Path:
    """A drone-style clip: DJI SRT telemetry as a subtitle track, one record a second."""
    source = clip("motorcycle_left", dest.with_suffix(".src.mp4"))
    srt = dest.with_suffix(".srt")
    stamps = [
        (start + timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] for n in range(4)
    ]
    srt.write_text("".join(
        f"{n + 1}\n00:00:0{n},000 --> 00:00:0{n + 1},000\n"
        f"<font size=\"28\">FrameCnt: {n * 30 + 1}, DiffTime: 33ms\n{stamps[n]}\n"
        f"[iso: 100] [shutter: 1/500.0] [latitude: {lat + n * 0.0005:.6f}] "
        f"[longitude: {lon:.6f}] [rel_alt: 80.000 abs_alt: 210.000] </font>\n\n"
        for n in range(4)))  # fmt: skip
    _ffmpeg("-i", str(source), "-i", str(srt), "-map", "0:v", "-map", "1:0", "-c:v", "copy",
            "-c:s", "mov_text", str(dest))  # fmt: skip
    return dest


def exif_photo(dest: Path, *, taken: str, lat: float, lon: float) -> Path:
    img = Image.fromarray(data.chelsea())
    exif = Image.Exif()
    exif[271], exif[272] = "Canon", "EOS R6"
    exif.get_ifd(0x8769)[36867] = taken  # DateTimeOriginal, "YYYY:MM:DD HH:MM:SS"

    def dms(value: float) -> tuple[float, float, float]:
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        return (degrees, minutes, round((value - degrees - minutes / 60) * 3600, 2))

    gps = exif.get_ifd(0x8825)
    gps.update({1: "N" if lat >= 0 else "S", 2: dms(abs(lat)), 3: "E" if lon >= 0 else "W",
                4: dms(abs(lon))})  # fmt: skip
    img.save(dest, "JPEG", quality=90, exif=exif)
    return dest


def hostile_set(directory: Path, good: Path) -> dict[str, Path]:
    """Files an attacker or a broken phone would send, each named like a video."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {
        "truncated.mp4": good.read_bytes()[: len(good.read_bytes()) // 3],
        "random.mp4": random.Random(7).randbytes(200_000),
        "hls-passwd.mp4": (b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n"
                           b"file:///etc/passwd\n#EXT-X-ENDLIST\n"),
        "concat-passwd.mp4": b"ffconcat version 1.0\nfile '/etc/passwd'\n",
        "page.mp4": b"<!doctype html><html><body><script>alert(1)</script></body></html>",
    }  # fmt: skip
    paths = {name: directory / name for name in files}
    for name, content in files.items():
        paths[name].write_bytes(content)
    paths["bomb.mp4"] = _png_bomb(directory / "bomb.mp4")
    paths["huge-resolution.mp4"] = directory / "huge-resolution.mp4"
    _ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=8200x4400:d=0.2", "-frames:v", "1",
            "-c:v", "libx264", "-preset", "ultrafast",
            str(paths["huge-resolution.mp4"]))  # fmt: skip
    return paths


def _png_bomb(dest: Path) -> Path:
    """A small PNG that claims 30000x30000 pixels (900 MP): a decompression bomb."""
    import zlib

    width = height = 30000
    row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload)))  # fmt: skip

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    dest.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))  # fmt: skip
    return dest


def drone_clip(name: str, dest: Path, *, seconds: float = 8, size: str = "640x360") -> Path:
    """A photo flown over like a drone at 30 fps: a steady sideways drift and a slow zoom, so
    that frames half a second apart differ by more than PDQ's match threshold (a copy cut
    between two sampled seconds shares no sampled picture with its original)."""
    still = photo(name, dest.with_suffix(".src.jpg"))
    frames = round(seconds * 30)
    fly = ("scale=1920:1080:force_original_aspect_ratio=increase,crop=1920:1080,"
           "zoompan=z='1.3+0.004*on':x='iw/2-(iw/zoom/2)-400+on*12':y='ih/2-(ih/zoom/2)'"
           f":d={frames}:s={size}:fps=30")  # fmt: skip
    _ffmpeg("-loop", "1", "-i", str(still), "-vf", fly, "-t", str(seconds), "-c:v", "libx264",
            "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p", str(dest))  # fmt: skip
    return dest


def reused(source: Path, dest: Path, *, start: float = 0, vf: str = "null") -> Path:
    """A copy as a copier makes one: cut from `start` (any moment, seeking exactly), filtered
    by `vf` (a speed change, a turn, a vertical crop) and re-encoded."""
    _ffmpeg("-i", str(source), "-ss", f"{start:.3f}", "-vf", vf, "-c:v", "libx264",
            "-preset", "veryfast", "-crf", "26", "-pix_fmt", "yuv420p", str(dest))  # fmt: skip
    return dest


def inset(source: Path, background: Path, dest: Path, *, width: float, x: float, y: float) -> Path:
    """Picture-in-picture: `source` scaled to `width` of the frame over `background`, its top
    left corner at (`x`, `y`) as shares of the frame."""
    graph = (f"[1:v]scale=iw*{width}:-2,setsar=1[in];"
             f"[0:v][in]overlay=W*{x}:H*{y}:shortest=1")  # fmt: skip
    _ffmpeg("-i", str(background), "-i", str(source), "-filter_complex", graph, "-c:v", "libx264",
            "-preset", "veryfast", "-crf", "26", "-pix_fmt", "yuv420p", str(dest))  # fmt: skip
    return dest


# A screen filmed from the left and below: its corners (x0:y0:x1:y1:x2:y2:x3:y3, shares of the
# frame) where a monitor turned about 15 degrees lands; a dark room around it.
SCREEN_CORNERS = (0.10, 0.16, 0.86, 0.06, 0.12, 0.86, 0.88, 0.95)


def refilmed(source: Path, dest: Path) -> Path:
    """Filmed off a screen with a phone: keystoned, soft, grainy, flat, re-encoded hard."""
    corners = ":".join(
        f"{'W' if n % 2 == 0 else 'H'}*{share}" for n, share in enumerate(SCREEN_CORNERS)
    )
    vf = (f"pad=iw*1.1:ih*1.1:(ow-iw)/2:(oh-ih)/2:color=0x141414,"
          f"perspective={corners}:sense=destination,gblur=sigma=1.3,noise=alls=16:allf=t,"
          "eq=contrast=0.88:brightness=0.03,scale=640:360")  # fmt: skip
    _ffmpeg("-i", str(source), "-vf", vf, "-c:v", "libx264", "-preset", "veryfast", "-crf", "32",
            "-pix_fmt", "yuv420p", str(dest))  # fmt: skip
    return dest
