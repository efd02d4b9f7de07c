"""The chain of custody names the ffmpeg that made the frames, asked once per binary."""

import os
import shutil
from pathlib import Path

import pytest

from mvq.media.ingest import pipeline, tools


def test_ffmpeg_is_asked_once_and_again_when_the_binary_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline._version_of.cache_clear()
    calls: list[str] = []
    real_run = tools.run

    def counting(argv: list[str], **kwargs: object) -> bytes:
        calls.append(argv[0])
        return real_run(argv)

    monkeypatch.setattr(tools, "run", counting)
    first = pipeline.derivation(25.0)["tools"]["ffmpeg"]
    assert first.startswith("ffmpeg version ")
    assert pipeline.derivation(None)["tools"]["ffmpeg"] == first
    assert len(calls) == 1  # the second file did not run ffmpeg -version

    # A different binary on PATH (an upgrade under a running worker): asked again.
    upgraded = tmp_path / "ffmpeg"
    upgraded.write_text('#!/bin/sh\necho "ffmpeg version 99.0-test Copyright (c) the test"\n')
    upgraded.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert shutil.which("ffmpeg") == str(upgraded)
    assert pipeline.derivation(None)["tools"]["ffmpeg"] == "ffmpeg version 99.0-test"
    assert len(calls) == 2
    pipeline._version_of.cache_clear()
