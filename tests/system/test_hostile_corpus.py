"""A corpus of 25+ malformed and malicious files through the real workers: each ends `failed`
with a reason, no worker dies or hangs, and good footage right after is still processed."""

import random
import zlib
from pathlib import Path

import pytest
from sqlalchemy import select

from mvq.db import session_factory
from mvq.media.models import Media
from testkit import footage, harness
from testkit.claims import Refused, upload
from testkit.people import units


def corpus(where: Path, good: Path) -> dict[str, Path]:
    rng = random.Random(11)
    data = good.read_bytes()
    files: dict[str, bytes] = {
        "empty.mp4": b"",
        "one-byte.mp4": b"\x00",
        "ftyp-only.mp4": data[:32],
        "mp4-header-no-moov.mp4": data[:2048],
        "truncated-10pc.mp4": data[: len(data) // 10],
        "truncated-30pc.mp4": data[: len(data) * 3 // 10],
        "random-1k.mp4": rng.randbytes(1024),
        "random-100k.mp4": rng.randbytes(100_000),
        "random-2m.mp4": rng.randbytes(2_000_000),
        "zeros.mp4": bytes(500_000),
        "hls-passwd.mp4": b"#EXTM3U\n#EXTINF:1.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
        "hls-http.mp4": b"#EXTM3U\n#EXTINF:1.0,\nhttp://127.0.0.1:1/x.ts\n#EXT-X-ENDLIST\n",
        "concat-passwd.mp4": b"ffconcat version 1.0\nfile '/etc/passwd'\n",
        "concat-subfile.mp4": (
            b"ffconcat version 1.0\nfile 'subfile,,start,0,end,9,,:/etc/passwd'\n"
        ),
        "html.mp4": b"<!doctype html><script>fetch('/api')</script>",
        "svg.mp4": b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        "pdf.mp4": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        "zip.mp4": b"PK\x03\x04" + rng.randbytes(5000),
        "elf.mp4": b"\x7fELF\x02\x01\x01" + bytes(500),
        "gzip.mp4": zlib.compress(rng.randbytes(10_000)),
        "jpeg-header-only.mp4": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        "png-header-only.mp4": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "webm-magic-garbage.mp4": b"\x1a\x45\xdf\xa3" + rng.randbytes(50_000),
        "ts-sync-garbage.mp4": b"".join(b"\x47" + rng.randbytes(187) for _ in range(200)),
        "text.mp4": b"this is not a video\n" * 1000,
    }
    paths = {name: where / name for name in files}
    for name, content in files.items():
        paths[name].write_bytes(content)
    hostile = footage.hostile_set(where / "classic", good)
    paths["png-bomb.mp4"] = hostile["bomb.mp4"]
    paths["8200x4400.mp4"] = hostile["huge-resolution.mp4"]
    return paths


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return footage.clip("chelsea", tmp_path_factory.mktemp("good") / "good.mp4", seconds=3)


@pytest.mark.timeout(900)
def test_every_hostile_file_fails_with_a_reason_and_workers_keep_working(
    stack: harness.Stack, good: Path, tmp_path: Path
) -> None:
    files = corpus(tmp_path, good)
    assert len(files) >= 25
    ((_, token),) = units(1)
    ids, refused = {}, {}
    for name, path in files.items():
        try:
            ids[name] = upload(stack, token, path)
        except Refused as exc:  # turned down before any byte is stored
            refused[name] = exc.response
    assert set(refused) <= {"empty.mp4"}, set(refused)
    for response in refused.values():
        assert response.status_code == 422 and response.json()["error"]["code"]

    def outcomes() -> dict[str, Media] | None:
        with session_factory()() as session:
            rows = session.scalars(select(Media).where(Media.submission_id.in_(ids.values())))
            by_submission = {m.submission_id: m for m in rows}
        done = {
            n: by_submission[s]
            for n, s in ids.items()
            if s in by_submission and by_submission[s].status in ("failed", "processed")
        }
        return done if len(done) == len(ids) else None

    done = harness.wait_until(outcomes, timeout=400, interval=2, what="every file decided")
    for name, media in done.items():
        assert media.status == "failed" and media.failure_reason, (name, media.status)
        assert "/etc/passwd" not in (media.failure_detail or "") and "root:" not in str(media.probe)
    assert all(p.alive() for p in stack.group.procs), "a server died"
    after = upload(stack, token, good)
    harness.wait_until(lambda: _status(after) == "in_queue", timeout=120, what="good file")


def _status(submission_id: str) -> str | None:
    from mvq.submissions.models import Submission

    with session_factory()() as session:
        return session.scalar(select(Submission.status).where(Submission.id == submission_id))
