"""`make dev`'s preflight: every port it needs is checked before anything starts, and a port it
cannot have is named with the variable that moves it — in use, or (for SeaweedFS, which also
listens on port+10000) too high to have a gRPC twin. CI once drew 59287 from the ephemeral
range for MVQ_S3_PORT and the runner died of an OverflowError instead of saying so."""

import socket
from collections.abc import Iterator

import pytest

from deploy import servers
from deploy.dev import port_problems
from mvq.settings import Settings


@pytest.fixture(autouse=True)
def own_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner starts Redis, SeaweedFS and the witness itself unless told of others."""
    for name in ("MVQ_WITNESSES", "MVQ_REDIS_URL", "MVQ_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", servers.free_port()))
        holder.listen()
        yield int(holder.getsockname()[1])


def _settings(**ports: int) -> Settings:
    free = {
        "port": servers.free_port(),
        "redis_port": servers.free_port(),
        "witness_port": servers.free_port(),
        "s3_port": servers.free_port(with_grpc=True),
        "weed_master_port": servers.free_port(with_grpc=True),
        "weed_volume_port": servers.free_port(with_grpc=True),
        "weed_filer_port": servers.free_port(with_grpc=True),
        "weed_webdav_port": servers.free_port(with_grpc=True),
        "weed_admin_port": servers.free_port(with_grpc=True),
    }
    return Settings(**(free | ports))


def test_free_ports_raise_no_problem() -> None:
    assert port_problems(_settings()) == []


def test_a_taken_port_is_named_with_its_variable(held_port: int) -> None:
    assert port_problems(_settings(redis_port=held_port)) == [
        f"port {held_port} (MVQ_REDIS_PORT) is already in use"
    ]


def test_a_seaweedfs_port_without_room_for_its_grpc_twin_is_named_not_a_crash() -> None:
    problems = port_problems(_settings(s3_port=59287))
    assert len(problems) == 1
    assert problems[0].startswith("port 69287 (the gRPC twin of MVQ_S3_PORT, +10000) is outside")
    assert "below 55536" in problems[0]


def test_with_backups_on_the_postgres_and_https_ports_are_checked_too(held_port: int) -> None:
    """MVQ_PG_BACKUP=pgbackrest starts a Postgres and SeaweedFS's HTTPS port as well."""
    https = servers.free_port()
    assert port_problems(_settings(pg_port=held_port)) == []  # not wanted without backups
    with_backups = _settings(pg_port=held_port, s3_https_port=https)
    with_backups.pg_backup = "pgbackrest"
    assert port_problems(with_backups) == [f"port {held_port} (MVQ_PG_PORT) is already in use"]
