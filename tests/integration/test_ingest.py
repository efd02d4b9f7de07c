"""The ingest pipeline on real media through the real stack: every format it must read, the
facts and flags it must find, and a hostile set that must fail cleanly and leak nothing."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from mvq import storage
from mvq.db import session_factory
from mvq.media.models import Media
from testkit import footage, harness
from testkit.claims import upload_claim, wait_for_status
from testkit.people import Accounts

CAPTURED = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
WHERE = (48.1, 37.6)


@dataclass
class Sample:
    path: Path
    content_type: str
    video_codec: str | None


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sample]:
    d = tmp_path_factory.mktemp("formats")
    stamp = CAPTURED.strftime("%Y-%m-%dT%H:%M:%SZ")
    place = f"+{WHERE[0]:.4f}+{WHERE[1]:08.4f}/"
    exif_time = CAPTURED.strftime("%Y:%m:%d %H:%M:%S")
    return {
        "h264": Sample(footage.phone_clip(d / "phone.mp4", captured_at=stamp, location=place),
                       "video/mp4", "h264"),
        "hevc": Sample(footage.phone_clip(d / "phone-hevc.mp4", codec="hevc", captured_at=stamp,
                                          location=place), "video/quicktime", "hevc"),
        "vp9": Sample(footage.webm_clip(d / "clip.webm"), "video/webm", "vp9"),
        "klv": Sample(footage.klv_ts(d / "drone.ts", start_micros=int(CAPTURED.timestamp() * 1e6),
                                     lat=WHERE[0], lon=WHERE[1]), "video/mp2t", "h264"),
        "srt": Sample(footage.srt_clip(d / "dji.mp4", start=CAPTURED, lat=WHERE[0], lon=WHERE[1]),
                      "video/mp4", "h264"),
        "exif": Sample(footage.exif_photo(d / "photo.jpg", taken=exif_time,
                                          lat=WHERE[0], lon=WHERE[1]), "image/jpeg", None),
    }  # fmt: skip


def claim_at(when: datetime, lat: float, lon: float) -> dict[str, object]:
    return {"occurred_at": when.isoformat(), "lat": lat, "lon": lon}


@pytest.mark.parametrize("name", ["h264", "hevc", "vp9", "klv", "srt", "exif"])
def test_each_format_is_processed_with_its_facts(
    stack: harness.Stack, accounts: Accounts, samples: dict[str, Sample], name: str
) -> None:
    sample = samples[name]
    submission_id = upload_claim(stack, accounts.unit_token, sample.path, sample.content_type,
                                 **claim_at(CAPTURED + timedelta(minutes=20), *WHERE))  # fmt: skip
    body = wait_for_status(stack, accounts.unit_token, submission_id, "in_queue", "failed")
    media = body["media"][0]
    assert body["status"] == "in_queue", media
    facts, frames = media["metadata"], media["frames"]
    assert facts.get("video_codec") == sample.video_codec
    assert frames and all(len(f["pdq"]) == 64 and f["pdq_quality"] >= 50 for f in frames)
    if sample.video_codec:
        assert len(frames) == 4  # a 4 s clip at 1 frame a second
        # Each still is the first decoded frame on or after its second, stamped with its own
        # time: the decoder skips frames nothing refers to, so it may be a frame or two late.
        times = [f["t_seconds"] for f in frames]
        assert all(n <= t < n + 0.1 for n, t in enumerate(times)), times
    kinds = {flag["kind"] for flag in body["flags"]}
    # Time and place agree with the claim wherever the file records them.
    assert not kinds & {"capture_time_mismatch", "location_mismatch"}, body["flags"]
    if name in ("h264", "hevc", "exif"):
        assert facts["captured_at"].startswith(CAPTURED.strftime("%Y-%m-%dT%H:%M"))
        assert round(facts["lat"], 3) == WHERE[0] and round(facts["lon"], 3) == WHERE[1]
        assert facts["device_make"] in ("Apple", "Canon")
        assert "reencoded" not in kinds and "no_capture_time" not in kinds
    if name in ("klv", "srt"):
        telemetry = facts["telemetry"]
        assert telemetry["source"] == {"klv": "misb0601", "srt": "srt"}[name]
        assert telemetry["samples"] == 4
        assert telemetry["start"].startswith(CAPTURED.strftime("%Y-%m-%dT%H:%M"))
        assert round(telemetry["first_position"][0], 3) == WHERE[0]
        assert "no_capture_time" not in kinds
    if name == "vp9":
        assert "no_capture_time" in kinds
    assert facts["c2pa"]["status"] == "absent"


def test_contact_sheet_frames_and_derivation_are_stored(
    stack: harness.Stack, accounts: Accounts, samples: dict[str, Sample]
) -> None:
    submission_id = upload_claim(stack, accounts.unit_token, samples["h264"].path,
                                 **claim_at(CAPTURED, *WHERE))  # fmt: skip
    body = wait_for_status(stack, accounts.unit_token, submission_id, "in_queue")
    with session_factory(stack.database_url)() as session:
        media = session.get_one(Media, body["media"][0]["id"])
    assert media.contact_sheet_key and media.thumbnail_key
    sheet = httpx.get(storage.presign_get(media.contact_sheet_key))
    assert sheet.status_code == 200 and sheet.content[:3] == b"\xff\xd8\xff"
    derivation = media.probe["derivation"]
    assert derivation["tools"]["ffmpeg"].startswith("ffmpeg version")
    assert derivation["frames"]["fps"] == 1.0
    assert (media.device_make, media.video_codec, media.captured_at) == ("Apple", "h264", CAPTURED)


def test_claim_far_from_the_files_record_is_flagged(
    stack: harness.Stack, accounts: Accounts, samples: dict[str, Sample]
) -> None:
    far = claim_at(CAPTURED + timedelta(hours=30), WHERE[0] + 0.5, WHERE[1])
    submission_id = upload_claim(stack, accounts.unit_token, samples["h264"].path, **far)
    body = wait_for_status(stack, accounts.unit_token, submission_id, "in_queue")
    flags = {f["kind"]: f["evidence"] for f in body["flags"]}
    assert flags["capture_time_mismatch"]["difference_minutes"] == 30 * 60
    assert 55 < flags["location_mismatch"]["distance_km"] < 56
    assert flags["location_mismatch"]["source"] == "file metadata"


def test_messenger_copy_is_flagged_reencoded(
    stack: harness.Stack, accounts: Accounts, samples: dict[str, Sample], tmp_path: Path
) -> None:
    copy = footage.messenger_copy(samples["h264"].path, tmp_path / "forwarded.mp4")
    submission_id = upload_claim(stack, accounts.unit_token, copy, **claim_at(CAPTURED, *WHERE))
    body = wait_for_status(stack, accounts.unit_token, submission_id, "in_queue")
    flags = {f["kind"]: f["evidence"] for f in body["flags"]}
    assert "reencoded" in flags and flags["reencoded"]["signals"]
    assert "no_capture_time" in flags


HOSTILE_REASONS = {
    "truncated.mp4": "truncated", "random.mp4": "unsupported_format",
    "hls-passwd.mp4": "unsupported_format", "concat-passwd.mp4": "unsupported_format",
    "page.mp4": "unsupported_format", "bomb.mp4": "too_large",
    "huge-resolution.mp4": "too_large",
}  # fmt: skip


def test_hostile_files_fail_with_their_reason_and_leak_nothing(
    stack: harness.Stack, accounts: Accounts, samples: dict[str, Sample], tmp_path: Path
) -> None:
    files = footage.hostile_set(tmp_path / "hostile", samples["h264"].path)
    assert set(files) == set(HOSTILE_REASONS)
    ids = {name: upload_claim(stack, accounts.unit_token, path) for name, path in files.items()}
    passwd = Path("/etc/passwd").read_text().splitlines()[0]
    for name, submission_id in ids.items():
        body = wait_for_status(stack, accounts.unit_token, submission_id, "failed")
        media = body["media"][0]
        assert media["failure_reason"] == HOSTILE_REASONS[name], (name, media)
        assert passwd not in json.dumps(body) and "/tmp/" not in json.dumps(body)
    # The worker survived them all: a good file right after is processed as usual.
    good = upload_claim(stack, accounts.unit_token, samples["h264"].path,
                        **claim_at(CAPTURED + timedelta(minutes=1), *WHERE))  # fmt: skip
    assert wait_for_status(stack, accounts.unit_token, good, "in_queue", "failed")["status"] == (
        "in_queue")  # fmt: skip


def test_an_empty_file_is_refused_at_registration(stack: harness.Stack, accounts: Accounts) -> None:
    with stack.client(accounts.unit_token) as api:
        claim = {"target_type": "tank", "outcome": "destroyed", "occurred_at": CAPTURED.isoformat()}
        created = api.post("/api/v1/submissions", json=claim)
        response = api.post(f"/api/v1/submissions/{created.json()['id']}/media", json={
            "filename": "empty.mp4", "size": 0, "sha256": "e3b0c44298fc1c149afbf4c8996fb924"
            "27ae41e4649b934ca495991b7852b855", "content_type": "video/mp4"})  # fmt: skip
    assert response.status_code == 422


def test_analyze_command_reports_like_the_worker(
    samples: dict[str, Sample], tmp_path: Path
) -> None:
    done = harness.run_cli(["analyze", str(samples["klv"].path), "--occurred-at",
                            (CAPTURED + timedelta(days=1)).isoformat()], {})  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["metadata"]["telemetry"]["source"] == "misb0601"
    assert len(report["frames"]) == 4 and len(report["frames"][0]["pdq"]) == 64
    assert [f["kind"] for f in report["flags"]] == ["capture_time_mismatch"]
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    refused = harness.run_cli(["analyze", str(empty)], {})
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["reason"] == "unsupported_format"


def test_limits_end_in_too_long_and_timeout(samples: dict[str, Sample]) -> None:
    clip = str(samples["h264"].path)
    too_long = harness.run_cli(["analyze", clip], {"MVQ_MAX_DURATION_SECONDS": "2"})
    assert json.loads(too_long.stdout)["reason"] == "too_long"
    slow = harness.run_cli(["analyze", clip], {"MVQ_FFMPEG_TIMEOUT_SECONDS": "0.001"})
    assert json.loads(slow.stdout)["reason"] == "timeout"
