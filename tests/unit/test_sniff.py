from pathlib import Path

import pytest

from mvq.media.ingest import tools
from mvq.media.ingest.pipeline import Rejected, analyse, file_sha256
from mvq.media.ingest.sniff import sniff


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "kind", "demuxer"),
    [
        (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100, "video", "mov"),
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 100, "video", "matroska"),
        (b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 100, "video", "avi"),
        ((b"\x47" + b"\x00" * 187) * 4, "video", "mpegts"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "image", None),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image", None),
    ],
)
def test_known_containers_are_identified_by_their_bytes(
    tmp_path: Path, data: bytes, kind: str, demuxer: str | None
) -> None:
    sniffed = sniff(write(tmp_path, "upload.bin", data))
    assert sniffed is not None
    assert (sniffed.kind, sniffed.demuxer) == (kind, demuxer)


def test_a_playlist_named_mp4_is_not_a_video(tmp_path: Path) -> None:
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n"
    assert sniff(write(tmp_path, "clip.mp4", playlist)) is None


def test_a_concat_script_named_mp4_is_not_a_video(tmp_path: Path) -> None:
    assert sniff(write(tmp_path, "clip.mp4", b"ffconcat version 1.0\nfile /etc/passwd\n")) is None


def test_analyse_rejects_a_checksum_mismatch_before_reading_the_content(tmp_path: Path) -> None:
    path = write(tmp_path, "clip.mp4", b"#EXTM3U\n")
    with pytest.raises(Rejected) as info:
        analyse(path, declared_sha256="0" * 64)
    assert info.value.reason == "checksum_mismatch"


def test_analyse_rejects_unknown_content_as_unsupported(tmp_path: Path) -> None:
    path = write(tmp_path, "clip.mp4", b"#EXTM3U\nfile:///etc/passwd\n")
    with pytest.raises(Rejected) as info:
        analyse(path, declared_sha256=file_sha256(path)[0])
    assert info.value.reason == "unsupported_format"


def test_analyse_reports_a_video_cut_before_its_index_as_truncated(tmp_path: Path) -> None:
    # The unit can act on "truncated" (send the whole file again), not on "corrupt".
    path = write(tmp_path, "clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    with pytest.raises(Rejected) as info:
        analyse(path, declared_sha256=file_sha256(path)[0])
    assert info.value.reason == "truncated"


def test_failure_reason_tells_truncation_from_other_damage() -> None:
    assert tools.failure_reason("[mov] moov atom not found\nInvalid data") == "truncated"
    assert tools.failure_reason("stream 0, offset 0x524a1: partial file") == "truncated"
    assert tools.failure_reason("Invalid NAL unit size (1234 > 99)") == "corrupt"
