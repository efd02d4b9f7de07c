import json
from pathlib import Path

import pytest

from mvq.settings import MissingSecretError, Settings


def test_production_refuses_to_start_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(MissingSecretError, match="MVQ_SECRET_KEY"):
        Settings(env="production", data_dir=tmp_path)
    assert not (tmp_path / "secrets.json").exists()


def test_production_starts_with_explicit_secrets(tmp_path: Path) -> None:
    settings = Settings(
        env="production",
        data_dir=tmp_path,
        s3_access_key="a",
        s3_secret_key="b",
        secret_key="c",
        signing_key="d",
    )  # type: ignore[arg-type]
    assert settings.secret("secret_key") == "c"


def test_dev_generates_secrets_once_and_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Settings(env="dev", data_dir=tmp_path)
    second = Settings(env="dev", data_dir=tmp_path)
    assert first.secret("secret_key") == second.secret("secret_key")
    assert len(first.secret("secret_key")) >= 32
    stored = tmp_path / "secrets.json"
    assert stored.stat().st_mode & 0o077 == 0  # owner-only
    assert json.loads(stored.read_text())["s3_secret_key"] == first.secret("s3_secret_key")


def test_secrets_are_not_shown_in_repr(tmp_path: Path) -> None:
    settings = Settings(env="dev", data_dir=tmp_path, secret_key="hunter2-very-secret")  # type: ignore[arg-type]
    assert "hunter2-very-secret" not in repr(settings)
    assert "hunter2-very-secret" not in str(settings.model_dump())


def test_default_urls_follow_the_configured_ports(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, redis_port=16380, s3_port=18334)
    password = json.loads((tmp_path / "secrets.json").read_text())["redis_password"]
    assert settings.redis_url == f"redis://:{password}@127.0.0.1:16380/0"
    assert settings.s3_endpoint_url == "http://127.0.0.1:18334"
    assert settings.database_url.startswith("sqlite:///") and str(tmp_path) in settings.database_url


def test_a_given_redis_url_is_used_as_is(tmp_path: Path) -> None:
    given = "redis://elsewhere.example:6379/2"
    assert Settings(data_dir=tmp_path, redis_url=given).redis_url == given


def test_a_relative_data_dir_is_made_absolute_where_the_run_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dev runner starts SeaweedFS in another directory: a relative `.data` handed to it
    would put its data, and look for its certificates, somewhere else."""
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=Path(".data"))
    assert settings.data_dir == tmp_path / ".data"
    assert settings.index_dir == tmp_path / ".data" / "index"
    monkeypatch.chdir("/")
    assert settings.data_dir.is_absolute() and (settings.data_dir / "secrets.json").exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [("prune_batch_rows", 100_000), ("index_max_segment_rows", (1 << 24) + 1)],
)
def test_limits_past_what_the_code_can_hold_are_refused(
    tmp_path: Path, name: str, value: int
) -> None:
    """A prune batch's rows are bound parameters (Postgres takes 65,535 a statement: a batch
    of 100,000 failed there); a packed segment's positions are 24 bits."""
    with pytest.raises(ValueError, match=name):
        Settings(data_dir=tmp_path, **{name: value})  # type: ignore[arg-type]
