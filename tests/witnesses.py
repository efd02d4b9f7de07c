"""A real witness (`mvq witness`) in its own process, its own store and key, for the tests of
the transparency log."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploy import servers
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
