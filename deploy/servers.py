"""Start and stop the backing servers on loopback: Redis, SeaweedFS (`weed mini`) and a
throwaway Postgres cluster. Used by the dev runner and by the test harness alike."""

import contextlib
import ctypes
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from urllib3.exceptions import InsecureRequestWarning

from mvq.backup import postgres as pg_backup
from mvq.settings import get_settings

LOOPBACK = "127.0.0.1"
# SeaweedFS puts each gRPC port at its HTTP port + 10000.
GRPC_OFFSET = 10000
FIRST_PORT = 10000  # free_port's lowest: above the well-known ports


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    argv: Sequence[str] = ()
    env: Mapping[str, str] | None = None
    cwd: Path | None = None

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Group:
    """Processes started together and stopped together, newest first."""

    procs: list[Proc] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Proc:
        log_dir.mkdir(parents=True, exist_ok=True)
        proc = _spawn(name, argv, log_path=log_dir.resolve() / f"{name}.log", env=env, cwd=cwd)
        self.procs.append(proc)
        return proc

    def restart(self, proc: Proc) -> Proc:
        """Start a dead process again in its old place, so stopping order is kept."""
        fresh = _spawn(proc.name, proc.argv, log_path=proc.log_path, env=proc.env, cwd=proc.cwd)
        self.procs[self.procs.index(proc)] = fresh
        return fresh

    def stop(self, timeout: float = 15) -> None:
        for proc in reversed(self.procs):
            stop_process(proc, timeout=timeout)
        self.procs.clear()


def _spawn(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None,
    cwd: Path | None,
) -> Proc:
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            # Own process group: Ctrl-C reaches the runner only, which then stops each child
            # in order instead of all at once.
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()) if _on_main_thread() else None,
        )
    return Proc(name, popen, log_path, argv, env, cwd)


_PR_SET_PDEATHSIG = 1


def _on_main_thread() -> bool:
    # Linux sends the death signal when the starting *thread* ends: a child started from a
    # short-lived thread (a test's chaos thread) would die with it.
    return threading.current_thread() is threading.main_thread()


def _die_with_parent(parent: int) -> Callable[[], None]:
    """In the child, before exec: ask Linux for SIGTERM when the starter dies, so a runner that
    is killed outright (kill -9, a crashed test run) leaves no server holding its ports.
    No library wraps this one prctl call; ctypes reaches it without a compiled dependency."""
    libc = ctypes.CDLL(None, use_errno=True)

    def arrange() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the starter died before the request took effect
            os._exit(1)

    return arrange


def stop_process(proc: Proc, *, timeout: float = 15) -> None:
    """SIGTERM to the child, which stops its own children in its own way (an RQ worker lets its
    job finish); then SIGKILL to whatever is left in its process group."""
    if proc.alive():
        proc.popen.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout)
    # The leader may be gone while a child it forked still runs in its group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.popen.pid, signal.SIGKILL)
    proc.popen.wait()


def port_is_free(port: int) -> bool:
    """Free for a server to listen on: Redis, weed and uvicorn all set SO_REUSEADDR, so a port
    left in TIME_WAIT by the last run's connections is free to them, and must be here too."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _ephemeral_low() -> int:
    """Where the kernel's range for outgoing connections' ports starts (Linux: 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(*, with_grpc: bool = False) -> int:
    """A free loopback port (and its +10000 twin when SeaweedFS needs one), below the kernel's
    range for outgoing connections' ports. A port the kernel handed out (bind to 0) lies in
    that range, and any connection opened before the server binds it may take it: that killed
    a test run's SeaweedFS at start ("failed to listen on grpc port ...: address already in
    use"), with its dozen ports open for a second or two under a loaded machine."""
    top = _ephemeral_low() - 1 - (GRPC_OFFSET if with_grpc else 0)
    for _ in range(200):
        port = FIRST_PORT + secrets.randbelow(top - FIRST_PORT + 1)
        if port_is_free(port) and (not with_grpc or port_is_free(port + GRPC_OFFSET)):
            return port
    raise RuntimeError("no free port found")


def is_listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((LOOPBACK, port)) == 0


def wait_for_port(port: int, *, proc: Proc | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.tail()}")
        if is_listening(port):
            return
        time.sleep(0.1)
    tail = proc.tail() if proc else ""
    raise TimeoutError(f"port {port} did not open within {timeout}s\n{tail}")


def uvicorn_argv(
    *, host: str, port: int, workers: int = 1, forwarded_allow_ips: str | None = None
) -> list[str]:
    """The API server's command. Forwarded headers are believed only from the proxies in
    MVQ_FORWARDED_ALLOW_IPS; uvicorn's own default would believe any loopback peer."""
    if forwarded_allow_ips is None:
        forwarded_allow_ips = get_settings().forwarded_allow_ips
    proxies = (["--proxy-headers", "--forwarded-allow-ips", forwarded_allow_ips]
               if forwarded_allow_ips.strip() else ["--no-proxy-headers"])  # fmt: skip
    return [sys.executable, "-m", "uvicorn", "asgi.app:app", "--host", host, "--port", str(port),
            "--workers", str(workers), "--no-server-header", *proxies,
            # The app writes its own JSON access line, with the request id and route template.
            "--no-access-log"]  # fmt: skip


def mvq_argv(*args: str) -> list[str]:
    """The `mvq` command of this environment, whichever venv runs us."""
    return [str(Path(sys.executable).parent / "mvq"), *args]


def redis_argv(
    *, port: int, data_dir: Path, persist: bool, password: str | None = None
) -> list[str]:
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = ["redis-server"]
    if password is not None:
        # In an owner-only file, not on the command line where `ps` shows it to every user.
        conf = data_dir / "auth.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"requirepass {password}\n")
        argv.append(str(conf))
    argv += [
        "--bind",
        LOOPBACK,
        "--port",
        str(port),
        "--dir",
        str(data_dir),
        "--protected-mode",
        "yes",
        "--daemonize",
        "no",
    ]
    if persist:
        return [*argv, "--appendonly", "yes", "--save", "60 1"]
    return [*argv, "--appendonly", "no", "--save", ""]


@dataclass(frozen=True)
class WeedPorts:
    s3: int
    master: int
    volume: int
    filer: int
    webdav: int
    admin: int


def weed_binary() -> str:
    return shutil.which("weed") or str(Path(sys.executable).parent / "weed")


@dataclass(frozen=True)
class S3Https:
    """A second S3 port speaking HTTPS, beside the plain one the app uses: pgBackRest's S3
    client speaks only HTTPS. Its certificate is self-signed (write_s3_certificate)."""

    port: int
    cert: Path
    key: Path


def weed_argv(
    *, ports: WeedPorts, data_dir: Path, bucket: str, https: S3Https | None = None
) -> list[str]:
    data_dir = data_dir.resolve()  # weed runs in its config directory, not ours
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        weed_binary(),
        "mini",
        f"-dir={data_dir}",
        f"-ip={LOOPBACK}",
        f"-ip.bind={LOOPBACK}",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        # WebDAV serves every object by path to anyone; S3 (with keys) is all mvq uses.
        "-webdav=false",
        # The master's HTTP admin API (/col/delete drops a bucket's data) answers anyone;
        # its parts talk gRPC, which security.toml guards where the dev runner writes one.
        "-disableHttp",
        f"-bucket={bucket}",
    ]
    for name in ("s3", "master", "volume", "filer"):
        port = getattr(ports, name)
        argv += [f"-{name}.port={port}", f"-{name}.port.grpc={port + GRPC_OFFSET}"]
    argv += [
        f"-webdav.port={ports.webdav}",
        f"-admin.port={ports.admin}",
        f"-admin.port.grpc={ports.admin + GRPC_OFFSET}",
    ]
    if https is not None:
        argv += [f"-s3.port.https={https.port}", f"-s3.cert.file={https.cert.resolve()}",
                 f"-s3.key.file={https.key.resolve()}"]  # fmt: skip
    return argv


# Every gRPC service of `weed mini` that its own parts call, and `client` for the calls.
_WEED_GRPC = ("master", "volume", "filer", "s3", "admin", "worker", "mq", "msg_broker", "msg_agent")


def write_weed_security(config_dir: Path) -> None:
    """`security.toml` for a `weed mini` started in `config_dir`: fresh keys at each start.

    Without it the filer's HTTP port serves every object by path and its gRPC port lists and
    deletes them, with no credentials. Signed JWTs then guard the filer and volume HTTP ports,
    and mutual TLS with a certificate only this directory holds guards every gRPC port.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    ca_key, node_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = _certificate("mvq-weed-ca", ca_key.public_key(), ca_key, ca=True)
    node = _certificate("mvq-weed", node_key.public_key(), ca_key, ca=False)
    pem = serialization.Encoding.PEM
    unencrypted = (pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    files = {
        "ca.crt": ca.public_bytes(pem),
        "node.crt": node.public_bytes(pem),
        "node.key": node_key.private_bytes(*unencrypted),
    }
    cert, key = config_dir / "node.crt", config_dir / "node.key"
    lines = []
    for section in (
        "jwt.signing",
        "jwt.signing.read",
        "jwt.filer_signing",
        "jwt.filer_signing.read",
    ):
        lines += [f"[{section}]", f'key = "{secrets.token_hex(32)}"']
    lines += ["[grpc]", f'ca = "{config_dir / "ca.crt"}"']
    for service in _WEED_GRPC:
        lines += [f"[grpc.{service}]", f'cert = "{cert}"', f'key = "{key}"',
                  f'client_cert = "{cert}"', f'client_key = "{key}"',
                  'allowed_commonNames = "mvq-weed"']  # fmt: skip
    lines += ["[grpc.client]", f'cert = "{cert}"', f'key = "{key}"']
    files["security.toml"] = "\n".join(lines).encode() + b"\n"
    for name, content in files.items():
        fd = os.open(config_dir / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)


def write_s3_certificate(config_dir: Path, *, port: int) -> S3Https:
    """A fresh self-signed certificate for SeaweedFS's HTTPS S3 port, owner-only."""
    config_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate("mvq-s3", key.public_key(), key, ca=False, issuer="mvq-s3")
    pem = serialization.Encoding.PEM
    files = {
        "s3.crt": cert.public_bytes(pem),
        "s3.key": key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    }
    for name, content in files.items():
        fd = os.open(config_dir / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
    return S3Https(port=port, cert=config_dir / "s3.crt", key=config_dir / "s3.key")


def _certificate(
    name: str,
    public: ec.EllipticCurvePublicKey,
    signer: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    issuer: str = "mvq-weed-ca",
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name = subject if ca else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(LOOPBACK)), x509.DNSName("localhost")]
            ),
            critical=False,
        ).add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    return builder.sign(signer, hashes.SHA256())


def weed_env(access_key: str, secret_key: str) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}


def postgres_bin(name: str) -> str:
    for version_dir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (version_dir / name).exists():
            return str(version_dir / name)
    raise FileNotFoundError(f"{name} not found: install Debian's postgresql package")


def _as_postgres_user(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def start_postgres(
    group: Group,
    *,
    port: int,
    data_dir: Path,
    log_dir: Path,
    settings: Mapping[str, str] | None = None,
) -> str:
    """A throwaway cluster (or the one already in `data_dir`); returns a SQLAlchemy URL for
    its `mvq` database. `settings` are passed as `-c` and win over the defaults here."""
    data_dir.mkdir(parents=True, exist_ok=True)
    socket_dir = data_dir / "sock"
    socket_dir.mkdir(exist_ok=True)
    cluster = data_dir / "cluster"
    if os.geteuid() == 0:
        shutil.chown(data_dir, "postgres")
        shutil.chown(socket_dir, "postgres")
    if not (cluster / "PG_VERSION").exists():
        _initdb(cluster)
    extra = [arg for name, value in (settings or {}).items() for arg in ("-c", f"{name}={value}")]
    proc = group.start(
        "postgres",
        _as_postgres_user(
            [
                postgres_bin("postgres"),
                "-D",
                str(cluster),
                "-p",
                str(port),
                "-c",
                f"listen_addresses={LOOPBACK}",
                "-k",
                str(socket_dir),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
                *extra,
            ]
        ),
        log_dir=log_dir,
    )
    wait_for_port(port, proc=proc, timeout=60)
    deadline = time.monotonic() + 30
    while True:
        done = subprocess.run(
            [postgres_bin("createdb"), "-h", LOOPBACK, "-p", str(port), "-U", "mvq", "mvq"],
            capture_output=True,
            check=False,
        )
        if done.returncode == 0 or b"already exists" in done.stderr:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(done.stderr.decode())
        time.sleep(0.3)
    return f"postgresql+psycopg://mvq@{LOOPBACK}:{port}/mvq"


def _initdb(cluster: Path) -> None:
    done = subprocess.run(
        _as_postgres_user(
            [
                postgres_bin("initdb"),
                "-D",
                str(cluster),
                "-U",
                "mvq",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=False,
        capture_output=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed: {done.stderr.decode(errors='replace')[-500:]}")


# What is backed up is written as production writes it: each commit flushed before it is
# acknowledged, whole pages after each checkpoint (the fast defaults above give that up).
DURABLE_POSTGRES = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


def start_archived_postgres(
    group: Group,
    *,
    port: int,
    data_dir: Path,
    log_dir: Path,
    repo: pg_backup.S3Repo,
    config: Path,
    stanza: str = "mvq",
    archive_timeout: int,
) -> tuple[str, pg_backup.Stanza]:
    """A cluster (new, or the one in `data_dir`) that archives every WAL segment to `repo`
    with pgBackRest, its stanza made and checked; returns its URL and the stanza. The first
    base backup is the caller's to take (pg_backup.backup)."""
    ensure_bucket(repo)
    backups = pg_backup.write_config(
        config,
        stanza=stanza,
        data_dir=data_dir / "cluster",
        port=port,
        socket_dir=data_dir / "sock",
        user="mvq",
        repo=repo,
    )
    archiving = pg_backup.archive_settings(backups, timeout_seconds=archive_timeout)
    url = start_postgres(group, port=port, data_dir=data_dir, log_dir=log_dir,
                         settings={**DURABLE_POSTGRES, **archiving})  # fmt: skip
    pg_backup.stanza_create(backups)
    return url, backups


def ensure_bucket(repo: pg_backup.S3Repo) -> None:
    """pgBackRest writes into a bucket but never makes one."""
    s3 = boto3.client(
        "s3",
        endpoint_url=f"https://{repo.host}:{repo.port}",
        region_name=repo.region,
        aws_access_key_id=repo.access_key,
        aws_secret_access_key=repo.secret_key,
        verify=repo.verify_tls,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    with warnings.catch_warnings():
        # A dev endpoint's self-signed certificate, not checked on purpose (verify_tls).
        warnings.simplefilter("ignore", InsecureRequestWarning)
        try:
            s3.head_bucket(Bucket=repo.bucket)
        except ClientError:
            s3.create_bucket(Bucket=repo.bucket)
