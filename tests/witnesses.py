"""A real witness (`mvq witness`) in its own process, its own store and key, for the tests of
the transparency log."""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deploy import servers
from mvq.audit import signing
from testkit import harness


@dataclass
class WitnessProcess:
    url: str
    public_key: str
    proc: subprocess.Popen[str]


def start_witness(store: Path, log_key: str) -> WitnessProcess:
    port = servers.free_port()
    argv = servers.mvq_argv("witness", "--store", str(store), "--port", str(port),
                            "--log-key", log_key)  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=harness.ROOT)
    assert proc.stdout is not None
    ready = proc.stdout.readline()  # "witness NAME key HEX on URL for ORIGINS"
    assert ready.startswith("witness "), ready
    servers.wait_for_port(port)
    return WitnessProcess(f"http://127.0.0.1:{port}", ready.split()[3], proc)


@contextmanager
def witnessed_sqlite(
    backing: harness.Backing, store: Path, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, dict[str, str], WitnessProcess]]:
    """A fresh SQLite database with a signing key of its own and a witness cosigning its
    checkpoints: (its URL, the environment set for this process and to give a stack, the
    witness). On exit the witness stops and later modules get the session's key back."""
    url = harness.fresh_database(backing, "sqlite")
    before = {k: os.environ.get(k, "") for k in ("MVQ_DATABASE_URL", "MVQ_WITNESSES")}
    env = {"MVQ_DATABASE_URL": url, "MVQ_SIGNING_KEY": os.urandom(32).hex(), **(extra_env or {})}
    harness.use_env({**backing.env, **env})
    witness = start_witness(store, signing.public_key_hex())
    env["MVQ_WITNESSES"] = f"{witness.url} {witness.public_key}"
    harness.use_env(env)
    try:
        yield url, env, witness
    finally:
        witness.proc.terminate()
        witness.proc.wait(timeout=10)
        harness.use_env({**backing.env, **before})
