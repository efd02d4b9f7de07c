"""Staged chunks (mvq.media.chunks) without storage: where a chunk may lie, and which staged
chunks make up a part."""

import pytest

from mvq.errors import Invalid
from mvq.media import chunks
from mvq.media.chunks import Chunk
from mvq.media.models import Media

MiB = 1024**2
PART = 5 * MiB
SHA = "ab" * 32


def media(size: int = 12 * MiB) -> Media:
    return Media(id="m", declared_size=size, part_size=PART)


@pytest.mark.parametrize(
    ("offset", "size", "code"),
    [
        (PART - MiB // 2, MiB, "chunk_crosses_part"),  # straddles parts 1 and 2
        (0, 1000, "chunk_too_small"),  # small, and not the end of its part
        (12 * MiB - 10, 100, "bad_chunk"),  # past the file's end
    ],
)
def test_a_chunk_lies_within_one_part_and_the_file(offset: int, size: int, code: str) -> None:
    with pytest.raises(Invalid) as refused:
        chunks._check(media(), Chunk(offset, size, SHA))
    assert refused.value.code == code


def test_a_short_chunk_may_end_its_part_or_the_file() -> None:
    chunks._check(media(), Chunk(PART - 1000, 1000, SHA))  # the end of part 1
    chunks._check(media(), Chunk(12 * MiB - 1000, 1000, SHA))  # the end of the file


def test_a_part_is_a_run_of_chunks_end_to_end() -> None:
    half = MiB // 2
    held = [Chunk(at, half, SHA) for at in range(0, PART, half)]
    run = chunks._run(held, 0, PART)
    assert run is not None and [c.offset for c in run] == list(range(0, PART, half))
    # A gap leaves the part to be sent again: nothing is stitched from a partial run.
    assert chunks._run([c for c in held if c.offset != 2 * half], 0, PART) is None
    # A chunk running past the part's end is not used for it (the last part is shorter).
    assert chunks._run([Chunk(0, MiB, SHA)], 0, half) is None
    # The key names offset, size and hash, all a listing needs to find the chunk again.
    assert held[1].key("m") == f"staging/m/{half:012d}-{half}-{SHA}"
